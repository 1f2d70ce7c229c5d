package objstore

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/slipway-dev/slipway/internal/ids"
	"github.com/slipway-dev/slipway/internal/store"
)

// Scope holds every bucket: bucket names are global, as in S3.
var Scope = store.Scope{Account: "-", Region: "s3"}

const (
	kindBucket = "s3.bucket"
	kindObject = "s3.object"
	kindUpload = "s3.upload"
)

// Local keeps object bytes as files under dir and metadata in st. An object
// becomes visible when its record commits, after its file is complete and
// synced; a crash before that leaves only an unreferenced file, removed by
// the next GC.
type Local struct {
	st  store.Store
	dir string
}

var _ Store = (*Local)(nil)

// NewLocal returns a store keeping files under dir.
func NewLocal(st store.Store, dir string) (*Local, error) {
	for _, d := range []string{"blobs", "tmp", "parts"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o750); err != nil {
			return nil, err
		}
	}
	return &Local{st: st, dir: dir}, nil
}

func objectID(bucket, key string) string { return bucket + "/" + key }

func (l *Local) blobPath(name string) string { return filepath.Join(l.dir, "blobs", name) }

// CreateBucket implements Store.
func (l *Local) CreateBucket(ctx context.Context, b Bucket) error {
	body, _ := json.Marshal(b)
	return l.st.Update(ctx, func(tx store.Tx) error {
		err := tx.Insert(&store.Record{Scope: Scope, Kind: kindBucket, ID: b.Name, SortKey: b.Name, Created: b.Created, Updated: b.Created, Body: body})
		if errors.Is(err, store.ErrExists) {
			return ErrBucketExists
		}
		return err
	})
}

func getBucket(tx store.Tx, name string) (*Bucket, error) {
	rec, err := tx.Get(Scope, kindBucket, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoSuchBucket
	} else if err != nil {
		return nil, err
	}
	var b Bucket
	return &b, json.Unmarshal(rec.Body, &b)
}

// HeadBucket implements Store.
func (l *Local) HeadBucket(ctx context.Context, name string) (*Bucket, error) {
	var b *Bucket
	err := l.st.View(ctx, func(tx store.Tx) error {
		var err error
		b, err = getBucket(tx, name)
		return err
	})
	return b, err
}

// DeleteBucket implements Store.
func (l *Local) DeleteBucket(ctx context.Context, name string) error {
	return l.st.Update(ctx, func(tx store.Tx) error {
		if _, err := getBucket(tx, name); err != nil {
			return err
		}
		n, err := tx.Count(Scope, kindObject, name)
		if err != nil {
			return err
		}
		if n > 0 {
			return ErrBucketNotEmpty
		}
		return tx.Delete(Scope, kindBucket, name)
	})
}

// ListBuckets implements Store.
func (l *Local) ListBuckets(ctx context.Context) ([]Bucket, error) {
	var out []Bucket
	err := l.st.View(ctx, func(tx store.Tx) error {
		out = nil // the store may run this again
		recs, err := tx.List(store.ListQuery{Scope: Scope, Kind: kindBucket, Limit: 10000})
		for _, r := range recs {
			var b Bucket
			if err := json.Unmarshal(r.Body, &b); err != nil {
				return err
			}
			out = append(out, b)
		}
		return err
	})
	return out, err
}

func getObject(tx store.Tx, bucket, key string) (*store.Record, *Object, error) {
	rec, err := tx.Get(Scope, kindObject, objectID(bucket, key))
	if errors.Is(err, store.ErrNotFound) {
		if _, berr := getBucket(tx, bucket); berr != nil {
			return nil, nil, berr
		}
		return nil, nil, ErrNoSuchKey
	} else if err != nil {
		return nil, nil, err
	}
	var o Object
	return rec, &o, json.Unmarshal(rec.Body, &o)
}

// Head implements Store.
func (l *Local) Head(ctx context.Context, bucket, key string) (*Object, error) {
	var o *Object
	err := l.st.View(ctx, func(tx store.Tx) error {
		var err error
		_, o, err = getObject(tx, bucket, key)
		return err
	})
	return o, err
}

// Open implements Store.
func (l *Local) Open(ctx context.Context, bucket, key string) (*Object, Reader, error) {
	o, err := l.Head(ctx, bucket, key)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(l.blobPath(o.Blob))
	if err != nil {
		return nil, nil, err
	}
	return o, f, nil
}

// commit writes o's record (replacing any earlier version) and removes the
// replaced file once the new record is committed.
func (l *Local) commit(ctx context.Context, o *Object, keepTags bool) error {
	if o.ContentType == "" {
		o.ContentType = "binary/octet-stream" // S3's default
	}
	var old string
	err := l.st.Update(ctx, func(tx store.Tx) error {
		if _, err := getBucket(tx, o.Bucket); err != nil {
			return err
		}
		body, err := json.Marshal(o)
		if err != nil {
			return err
		}
		rec := &store.Record{Scope: Scope, Kind: kindObject, ID: objectID(o.Bucket, o.Key), Parent: o.Bucket, SortKey: o.Key, Created: o.LastModified, Updated: o.LastModified, Body: body}
		prevRec, prev, err := getObject(tx, o.Bucket, o.Key)
		switch {
		case errors.Is(err, ErrNoSuchKey):
			return tx.Insert(rec)
		case err != nil:
			return err
		}
		old = prev.Blob
		if keepTags && o.Tags == nil {
			o.Tags = prev.Tags
			if rec.Body, err = json.Marshal(o); err != nil {
				return err
			}
		}
		rec.Created = prevRec.Created
		return tx.Update(rec)
	})
	if err != nil {
		return err
	}
	if old != "" && old != o.Blob {
		_ = os.Remove(l.blobPath(old))
	}
	return nil
}

type localWriter struct {
	l      *Local
	f      *os.File
	md5    hash.Hash
	size   int64
	obj    Object
	etag   string
	closed bool
	// buf gathers small writes; full buffers go to a goroutine that writes,
	// hashes and starts writeback, so a large upload's disk and hash work
	// overlap with receiving the next bytes.
	buf  []byte
	full chan []byte
	done chan struct{}
	err  error // the goroutine's first error; read after done
	// synced is how far writeback has been started; prev is the window
	// before it.
	synced, prev int64
}

const (
	// writeBuffer is the size of the buffers an upload is written in.
	writeBuffer = 1 << 20
	// writebackWindow is how many bytes an upload writes before their
	// writeback starts.
	writebackWindow = 8 << 20
)

var bufPool = sync.Pool{New: func() any { return make([]byte, 0, writeBuffer) }}

// Create implements Store.
func (l *Local) Create(ctx context.Context, bucket, key string, opts PutOptions) (Writer, error) {
	if _, err := l.HeadBucket(ctx, bucket); err != nil {
		return nil, err
	}
	// Written beside the files it joins, so the rename that commits it
	// stays in one directory: a rename across directories takes the file
	// system's rename lock, which concurrent uploads queued on.
	f, err := os.CreateTemp(filepath.Join(l.dir, "blobs"), ".up-")
	if err != nil {
		return nil, err
	}
	return &localWriter{l: l, f: f, md5: md5.New(), obj: Object{Bucket: bucket, Key: key, ContentType: opts.ContentType, Metadata: opts.Metadata, Tags: opts.Tags}}, nil
}

func (w *localWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errors.New("objstore: upload already finished")
	}
	if w.done != nil {
		select {
		case <-w.done:
			return 0, w.err
		default:
		}
	}
	n := len(p)
	for len(p) > 0 {
		if w.buf == nil {
			w.buf = bufPool.Get().([]byte)[:0]
		}
		c := min(len(p), cap(w.buf)-len(w.buf))
		w.buf = append(w.buf, p[:c]...)
		p = p[c:]
		if len(w.buf) == cap(w.buf) {
			if w.full == nil {
				w.full, w.done = make(chan []byte, 1), make(chan struct{})
				go w.drain()
			}
			w.full <- w.buf
			w.buf = nil
		}
	}
	return n, nil
}

// drain writes full buffers in order until the channel closes. After an
// error it keeps receiving (and dropping) so the sender never blocks.
func (w *localWriter) drain() {
	defer close(w.done)
	for b := range w.full {
		if w.err == nil {
			w.err = w.writeOut(b)
		}
		bufPool.Put(b[:0])
	}
}

func (w *localWriter) writeOut(b []byte) error {
	n, err := w.f.Write(b)
	w.md5.Write(b[:n])
	w.size += int64(n)
	if w.size-w.synced >= writebackWindow {
		writeback(w.f, w.prev, w.synced-w.prev, w.synced, w.size-w.synced)
		w.prev, w.synced = w.synced, w.size
	}
	return err
}

// flush hands the last buffer over, stops the goroutine and reports the
// first write error.
func (w *localWriter) flush() error {
	if w.full != nil {
		close(w.full)
		<-w.done
		w.full = nil
	}
	if w.err == nil && w.buf != nil {
		w.err = w.writeOut(w.buf)
	}
	if w.buf != nil {
		bufPool.Put(w.buf[:0])
		w.buf = nil
	}
	return w.err
}

// SetETag overrides the computed ETag (multipart uploads).
func (w *localWriter) SetETag(etag string) { w.etag = etag }

func (w *localWriter) Commit(ctx context.Context) (*Object, error) {
	if w.closed {
		return nil, errors.New("objstore: upload already finished")
	}
	w.closed = true
	if err := w.flush(); err != nil {
		w.abort()
		return nil, err
	}
	if err := w.f.Sync(); err != nil {
		w.abort()
		return nil, err
	}
	if err := w.f.Close(); err != nil {
		_ = os.Remove(w.f.Name())
		return nil, err
	}
	name := ids.UUID()
	if err := os.Rename(w.f.Name(), w.l.blobPath(name)); err != nil {
		_ = os.Remove(w.f.Name())
		return nil, err
	}
	o := w.obj
	o.Blob, o.Size, o.LastModified = name, w.size, time.Now().UTC().Truncate(time.Millisecond)
	o.ETag = `"` + hex.EncodeToString(w.md5.Sum(nil)) + `"`
	if w.etag != "" {
		o.ETag = w.etag
	}
	if err := w.l.commit(ctx, &o, false); err != nil {
		_ = os.Remove(w.l.blobPath(name))
		return nil, err
	}
	return &o, nil
}

func (w *localWriter) abort() {
	_ = w.flush()
	_ = w.f.Close()
	_ = os.Remove(w.f.Name())
}

func (w *localWriter) Abort() {
	if !w.closed {
		w.closed = true
		w.abort()
	}
}

// Delete implements Store. Deleting a missing key succeeds, as in S3.
func (l *Local) Delete(ctx context.Context, bucket, key string) error {
	var blob string
	err := l.st.Update(ctx, func(tx store.Tx) error {
		_, o, err := getObject(tx, bucket, key)
		if errors.Is(err, ErrNoSuchKey) {
			return nil
		} else if err != nil {
			return err
		}
		blob = o.Blob
		return tx.Delete(Scope, kindObject, objectID(bucket, key))
	})
	if err == nil && blob != "" {
		_ = os.Remove(l.blobPath(blob))
	}
	return err
}

// afterPrefix returns a cursor just before every key starting with prefix.
func afterPrefix(prefix string) string {
	if prefix == "" {
		return ""
	}
	last := prefix[len(prefix)-1]
	if last == 0 {
		return prefix[:len(prefix)-1]
	}
	// No UTF-8 key contains 0xff, so this sorts after every key that shares
	// the shortened prefix and before the prefix itself.
	return prefix[:len(prefix)-1] + string([]byte{last - 1, 0xff})
}

// List implements Store.
func (l *Local) List(ctx context.Context, bucket, prefix, delimiter, after string, max int) (*Listing, error) {
	if max <= 0 {
		max = 1000
	}
	out := &Listing{}
	start := after
	if pa := afterPrefix(prefix); start < pa {
		start = pa
	}
	var cursor string
	err := l.st.View(ctx, func(tx store.Tx) error {
		*out, cursor = Listing{}, start // the store may run this again
		if _, err := getBucket(tx, bucket); err != nil {
			return err
		}
		for {
			recs, err := tx.List(store.ListQuery{Scope: Scope, Kind: kindObject, Parent: bucket, After: cursor, Limit: max + 1})
			if err != nil {
				return err
			}
			if len(recs) == 0 {
				return nil
			}
			for _, r := range recs {
				key := r.SortKey
				if !strings.HasPrefix(key, prefix) {
					return nil
				}
				if len(out.Objects)+len(out.CommonPrefixes) == max {
					out.Truncated = true
					return nil
				}
				if delimiter != "" {
					if i := strings.Index(key[len(prefix):], delimiter); i >= 0 {
						cp := key[:len(prefix)+i+len(delimiter)]
						out.CommonPrefixes = append(out.CommonPrefixes, cp)
						out.Next = cp
						cursor = cp + "\xff"
						break
					}
				}
				var o Object
				if err := json.Unmarshal(r.Body, &o); err != nil {
					return err
				}
				out.Objects = append(out.Objects, o)
				out.Next, cursor = key, key
			}
		}
	})
	return out, err
}

// Copy implements Store. A file's bytes never change once committed, so a
// copy of a single-part object is a second name for the source's file (a
// hard link in the same directory): no bytes written, no inode allocated,
// no fsync of data already on disk. The source's ETag is its bytes' MD5,
// which is what a copy's is. Other copies, and file systems without hard
// links, stream the bytes.
func (l *Local) Copy(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey, ifETag string, opts *PutOptions) (*Object, error) {
	for range 3 {
		o, err := l.linkCopy(ctx, srcBucket, srcKey, dstBucket, dstKey, ifETag, opts)
		switch {
		case errors.Is(err, errSourceReplaced):
			continue // between reading the source and linking its file: read it again
		case errors.Is(err, errNotLinkable):
			return l.streamCopy(ctx, srcBucket, srcKey, dstBucket, dstKey, ifETag, opts)
		}
		return o, err
	}
	return l.streamCopy(ctx, srcBucket, srcKey, dstBucket, dstKey, ifETag, opts)
}

// linkCopy's reasons to let Copy do otherwise.
var (
	errSourceReplaced = errors.New("objstore: the source's file is gone")
	errNotLinkable    = errors.New("objstore: the source is copied byte by byte")
)

func (l *Local) linkCopy(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey, ifETag string, opts *PutOptions) (*Object, error) {
	src, err := l.Head(ctx, srcBucket, srcKey)
	if err != nil {
		return nil, err
	}
	if ifETag != "" && strings.Trim(ifETag, `"`) != strings.Trim(src.ETag, `"`) {
		return nil, ErrPreconditionETag
	}
	if strings.Contains(src.ETag, "-") {
		return nil, errNotLinkable // a multipart ETag is not the bytes' MD5
	}
	if _, err := l.HeadBucket(ctx, dstBucket); err != nil {
		return nil, err
	}
	o := Object{Bucket: dstBucket, Key: dstKey, ContentType: src.ContentType, Metadata: maps.Clone(src.Metadata), Tags: maps.Clone(src.Tags)}
	if opts != nil {
		o.ContentType, o.Metadata, o.Tags = opts.ContentType, opts.Metadata, opts.Tags
	}
	name := ids.UUID()
	if err := os.Link(l.blobPath(src.Blob), l.blobPath(name)); errors.Is(err, os.ErrNotExist) {
		return nil, errSourceReplaced
	} else if err != nil {
		return nil, errNotLinkable // a file system without hard links
	}
	o.Blob, o.Size, o.ETag = name, src.Size, src.ETag
	o.LastModified = time.Now().UTC().Truncate(time.Millisecond)
	if err := l.commit(ctx, &o, false); err != nil {
		_ = os.Remove(l.blobPath(name))
		return nil, err
	}
	return &o, nil
}

// streamCopy copies the source's bytes into a new file.
func (l *Local) streamCopy(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey, ifETag string, opts *PutOptions) (*Object, error) {
	src, r, err := l.Open(ctx, srcBucket, srcKey)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if ifETag != "" && strings.Trim(ifETag, `"`) != strings.Trim(src.ETag, `"`) {
		return nil, ErrPreconditionETag
	}
	po := PutOptions{ContentType: src.ContentType, Metadata: maps.Clone(src.Metadata), Tags: maps.Clone(src.Tags)}
	if opts != nil {
		po = *opts
	}
	w, err := l.Create(ctx, dstBucket, dstKey, po)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Abort()
		return nil, err
	}
	return w.Commit(ctx)
}

// Tags implements Store.
func (l *Local) Tags(ctx context.Context, bucket, key string) (map[string]string, error) {
	o, err := l.Head(ctx, bucket, key)
	if err != nil {
		return nil, err
	}
	if o.Tags == nil {
		return map[string]string{}, nil
	}
	return o.Tags, nil
}

// SetTags implements Store.
func (l *Local) SetTags(ctx context.Context, bucket, key string, tags map[string]string) error {
	return l.st.Update(ctx, func(tx store.Tx) error {
		rec, o, err := getObject(tx, bucket, key)
		if err != nil {
			return err
		}
		o.Tags = tags
		if rec.Body, err = json.Marshal(o); err != nil {
			return err
		}
		return tx.Update(rec)
	})
}

// GC removes the files no object names that were last written before
// before. Files written since may belong to uploads whose records have not
// committed yet: this process's own, or another replica's on a shared
// directory.
func (l *Local) GC(ctx context.Context, before time.Time) error {
	used := map[string]bool{}
	buckets, err := l.ListBuckets(ctx)
	if err != nil {
		return err
	}
	for _, b := range buckets {
		after := ""
		for {
			page, err := l.List(ctx, b.Name, "", "", after, 1000)
			if err != nil {
				return err
			}
			for _, o := range page.Objects {
				used[o.Blob] = true
			}
			if !page.Truncated {
				break
			}
			after = page.Next
		}
	}
	for _, d := range []string{"blobs", "tmp"} {
		entries, err := os.ReadDir(filepath.Join(l.dir, d))
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			if info, err := e.Info(); err != nil || !info.ModTime().Before(before) {
				continue
			}
			if d == "tmp" || !used[e.Name()] {
				if err := os.Remove(filepath.Join(l.dir, d, e.Name())); err != nil {
					return fmt.Errorf("objstore: gc: %w", err)
				}
			}
		}
	}
	return nil
}

// upload is a multipart upload in progress.
type upload struct {
	Bucket string     `json:"bucket"`
	Key    string     `json:"key"`
	Opts   PutOptions `json:"opts"`
}

// ErrNoSuchUpload is an unknown or finished multipart upload.
var ErrNoSuchUpload = errors.New("objstore: no such upload")

// ErrInvalidPart is a completion naming a part that was not uploaded.
var ErrInvalidPart = errors.New("objstore: invalid part")

// CreateMultipart starts a multipart upload.
func (l *Local) CreateMultipart(ctx context.Context, bucket, key string, opts PutOptions) (string, error) {
	id := strings.ReplaceAll(ids.UUID(), "-", "")
	body, _ := json.Marshal(upload{Bucket: bucket, Key: key, Opts: opts})
	err := l.st.Update(ctx, func(tx store.Tx) error {
		if _, err := getBucket(tx, bucket); err != nil {
			return err
		}
		now := time.Now().UTC()
		return tx.Insert(&store.Record{Scope: Scope, Kind: kindUpload, ID: id, SortKey: id, Created: now, Updated: now, Body: body})
	})
	if err != nil {
		return "", err
	}
	return id, os.MkdirAll(filepath.Join(l.dir, "parts", id), 0o750)
}

func (l *Local) getUpload(ctx context.Context, id string) (*upload, error) {
	var u upload
	err := l.st.View(ctx, func(tx store.Tx) error {
		rec, err := tx.Get(Scope, kindUpload, id)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNoSuchUpload
		} else if err != nil {
			return err
		}
		return json.Unmarshal(rec.Body, &u)
	})
	return &u, err
}

// UploadPart stores part n of an upload and returns its ETag.
func (l *Local) UploadPart(ctx context.Context, id string, n int, r io.Reader) (string, error) {
	if _, err := l.getUpload(ctx, id); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(filepath.Join(l.dir, "parts", id), "tmp-")
	if err != nil {
		return "", err
	}
	h := md5.New()
	if _, err := io.Copy(io.MultiWriter(f, h), r); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := os.Rename(f.Name(), filepath.Join(l.dir, "parts", id, fmt.Sprintf("%05d-%s", n, sum))); err != nil {
		return "", err
	}
	return `"` + sum + `"`, nil
}

// CompletedPart names a part in a completion.
type CompletedPart struct {
	Number int
	ETag   string
}

// CompleteMultipart joins the named parts into the object.
func (l *Local) CompleteMultipart(ctx context.Context, id string, parts []CompletedPart) (*Object, error) {
	u, err := l.getUpload(ctx, id)
	if err != nil {
		return nil, err
	}
	w, err := l.Create(ctx, u.Bucket, u.Key, u.Opts)
	if err != nil {
		return nil, err
	}
	all := md5.New()
	for _, p := range parts {
		sum := strings.Trim(p.ETag, `"`)
		f, err := os.Open(filepath.Join(l.dir, "parts", id, fmt.Sprintf("%05d-%s", p.Number, sum)))
		if err != nil {
			w.Abort()
			return nil, ErrInvalidPart
		}
		_, err = io.Copy(w, f)
		f.Close()
		if err != nil {
			w.Abort()
			return nil, err
		}
		b, _ := hex.DecodeString(sum)
		all.Write(b)
	}
	w.(*localWriter).SetETag(fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(all.Sum(nil)), len(parts)))
	o, err := w.Commit(ctx)
	if err != nil {
		return nil, err
	}
	return o, l.AbortMultipart(ctx, id)
}

// AbortMultipart discards an upload and its parts.
func (l *Local) AbortMultipart(ctx context.Context, id string) error {
	err := l.st.Update(ctx, func(tx store.Tx) error {
		err := tx.Delete(Scope, kindUpload, id)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNoSuchUpload
		}
		return err
	})
	if err != nil {
		return err
	}
	return os.RemoveAll(filepath.Join(l.dir, "parts", id))
}
