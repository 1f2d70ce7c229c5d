package sftpd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"

	"github.com/slipway-dev/slipway/internal/objstore"
	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/transfer"
)

// mapping is a logical directory: what the user sees and where it lives.
type mapping struct {
	entry  string
	target string
	file   bool
	root   *os.Root // EFS: the target directory, opened as a confinement root
	owned  bool     // root was opened for this mapping (not a file system's root)
}

// vfs is one SFTP session's view: the real /bucket/key or /fs-id/path tree
// (PATH users) or the synthetic tree of their mappings (LOGICAL users).
type vfs struct {
	ctx       context.Context
	sup       *Supervisor
	scope     store.Scope
	user      *transfer.User
	server    *transfer.Server
	sessionID string
	logical   bool
	mappings  []*mapping // longest entry first
	roots     map[string]*os.Root
	start     string
}

func newVFS(sup *Supervisor, scope store.Scope, sess *session, sessionID string) (*vfs, error) {
	u := sess.user
	v := &vfs{ctx: context.Background(), sup: sup, scope: scope, user: u, server: sess.server, sessionID: sessionID,
		logical: u.HomeDirectoryType == transfer.HomeLogical, roots: map[string]*os.Root{}, start: "/"}
	if v.logical {
		for _, m := range u.HomeDirectoryMappings {
			target := strings.ReplaceAll(m.Target, "${transfer:UserName}", u.UserName)
			mp := &mapping{entry: path.Clean(m.Entry), target: path.Clean(target), file: m.Type == "FILE"}
			if v.efs() && !mp.file {
				r, owned, err := v.openEFS(mp.target)
				if err != nil {
					v.close()
					return nil, fmt.Errorf("mapping %s -> %s: %w", m.Entry, m.Target, err)
				}
				mp.root, mp.owned = r, owned
			}
			v.mappings = append(v.mappings, mp)
		}
		sort.Slice(v.mappings, func(i, j int) bool { return len(v.mappings[i].entry) > len(v.mappings[j].entry) })
	}
	if u.HomeDirectory != "" {
		v.start = path.Clean(u.HomeDirectory)
	}
	return v, nil
}

func (v *vfs) efs() bool { return v.server.Domain == transfer.DomainEFS }

// openEFS opens /fs-id/sub as a root under the EFS directory, creating the
// file system's directory (an EFS file system always has a root). owned
// reports a root opened just for sub (the caller closes it).
func (v *vfs) openEFS(target string) (r *os.Root, owned bool, err error) {
	fsID, rest, _ := strings.Cut(strings.TrimPrefix(target, "/"), "/")
	if fsID == "" || fsID == "." || fsID == ".." || strings.ContainsAny(fsID, `\`) {
		return nil, false, errors.New("bad file system")
	}
	fsRoot, ok := v.roots[fsID]
	if !ok {
		dir := v.sup.efsDir + "/" + fsID
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, false, err
		}
		r, err := os.OpenRoot(dir)
		if err != nil {
			return nil, false, err
		}
		v.roots[fsID] = r
		fsRoot = r
	}
	if rest == "" {
		return fsRoot, false, nil
	}
	// Opened through the file system's root, so the mapping target itself
	// cannot be a symlink out of it.
	sub, err := fsRoot.OpenRoot(rest)
	return sub, err == nil, err
}

func (v *vfs) close() {
	for _, m := range v.mappings {
		if m.owned {
			_ = m.root.Close()
		}
	}
	for _, r := range v.roots {
		_ = r.Close()
	}
}

func (v *vfs) handlers() sftp.Handlers {
	return sftp.Handlers{FileGet: v, FilePut: v, FileCmd: v, FileList: v}
}

// loc is where a client path lives.
type loc struct {
	synthetic bool     // a directory only implied by mappings (or the root)
	dir       string   // the client path of a synthetic directory
	children  []string // of a synthetic directory
	// S3
	bucket, key string
	// EFS
	root *os.Root
	rel  string
	// file is set when a FILE mapping names exactly this object.
	file bool
}

var errNoSuchFile = os.ErrNotExist

// resolve maps a client path (absolute and clean: pkg/sftp cleans it against
// "/", so ".." never climbs above the root) to its location.
func (v *vfs) resolve(p string) (*loc, error) {
	p = path.Clean("/" + p)
	if !v.logical {
		return v.real(p)
	}
	for _, m := range v.mappings {
		rest, ok := within(p, m.entry)
		if !ok {
			continue
		}
		if m.file {
			if rest != "" {
				return nil, errNoSuchFile
			}
			l, err := v.real(m.target)
			if err != nil {
				return nil, err
			}
			l.file = true
			return l, nil
		}
		if m.root != nil {
			return &loc{root: m.root, rel: relOf(rest)}, nil
		}
		return v.real(path.Join(m.target, rest))
	}
	// An ancestor of some entries: a directory that exists only to reach them.
	seen := map[string]bool{}
	var children []string
	for _, m := range v.mappings {
		rest, ok := within(m.entry, p)
		if !ok || rest == "" {
			continue
		}
		child, _, _ := strings.Cut(rest, "/")
		if !seen[child] {
			seen[child] = true
			children = append(children, child)
		}
	}
	if len(children) == 0 {
		return nil, errNoSuchFile
	}
	sort.Strings(children)
	return &loc{synthetic: true, dir: p, children: children}, nil
}

// within reports whether p is base or below it, and the rest of p.
func within(p, base string) (string, bool) {
	if base == "/" {
		return strings.TrimPrefix(p, "/"), true
	}
	if p == base {
		return "", true
	}
	if strings.HasPrefix(p, base+"/") {
		return p[len(base)+1:], true
	}
	return "", false
}

func relOf(rest string) string {
	if rest == "" {
		return "."
	}
	return rest
}

// real resolves a path of the real tree: /bucket/key or /fs-id/path.
func (v *vfs) real(p string) (*loc, error) {
	first, rest, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if first == "" {
		return &loc{synthetic: true}, nil
	}
	if v.efs() {
		r, _, err := v.openEFS("/" + first)
		if err != nil {
			return nil, errNoSuchFile
		}
		return &loc{root: r, rel: relOf(rest)}, nil
	}
	return &loc{bucket: first, key: rest}, nil
}

// fileInfo is an S3 object or prefix as SFTP shows it.
type fileInfo struct {
	name  string
	size  int64
	mode  os.FileMode
	mtime time.Time
}

func (f *fileInfo) Name() string       { return f.name }
func (f *fileInfo) Size() int64        { return f.size }
func (f *fileInfo) Mode() os.FileMode  { return f.mode }
func (f *fileInfo) ModTime() time.Time { return f.mtime }
func (f *fileInfo) IsDir() bool        { return f.mode.IsDir() }
func (f *fileInfo) Sys() any           { return nil }

func dirInfo(name string) os.FileInfo { return &fileInfo{name: name, mode: os.ModeDir | 0o755} }

func objectInfo(name string, o *objstore.Object) os.FileInfo {
	return &fileInfo{name: name, size: o.Size, mode: 0o644, mtime: o.LastModified}
}

type listerAt []os.FileInfo

func (l listerAt) ListAt(out []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(out, l[off:])
	if n < len(out) {
		return n, io.EOF
	}
	return n, nil
}

// storeErr turns storage errors into what SFTP clients understand.
func storeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, objstore.ErrNoSuchBucket), errors.Is(err, objstore.ErrNoSuchKey), errors.Is(err, os.ErrNotExist):
		return sftp.ErrSSHFxNoSuchFile
	case errors.Is(err, os.ErrPermission):
		return sftp.ErrSSHFxPermissionDenied
	}
	return err
}

// stat describes a location.
func (v *vfs) stat(l *loc, name string) (os.FileInfo, error) {
	switch {
	case l.synthetic:
		return dirInfo(name), nil
	case l.root != nil:
		fi, err := l.root.Lstat(l.rel)
		if err != nil {
			return nil, storeErr(err)
		}
		return renamed{fi, name}, nil
	case l.key == "":
		if _, err := v.sup.objects.HeadBucket(v.ctx, l.bucket); err != nil {
			return nil, storeErr(err)
		}
		return dirInfo(name), nil
	}
	if o, err := v.sup.objects.Head(v.ctx, l.bucket, l.key); err == nil {
		return objectInfo(name, o), nil
	} else if !errors.Is(err, objstore.ErrNoSuchKey) {
		return nil, storeErr(err)
	}
	// A prefix is a directory when its marker or anything below it exists.
	page, err := v.sup.objects.List(v.ctx, l.bucket, l.key+"/", "", "", 1)
	if err != nil {
		return nil, storeErr(err)
	}
	if len(page.Objects) > 0 {
		return dirInfo(name), nil
	}
	return nil, sftp.ErrSSHFxNoSuchFile
}

type renamed struct {
	os.FileInfo
	name string
}

func (r renamed) Name() string { return r.name }

// Filelist implements sftp.FileLister: List, Stat and Readlink.
func (v *vfs) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	l, err := v.resolve(r.Filepath)
	if err != nil {
		return nil, storeErr(err)
	}
	name := path.Base(r.Filepath)
	switch r.Method {
	case "Stat", "Lstat":
		fi, err := v.stat(l, name)
		if err != nil {
			return nil, err
		}
		return listerAt{fi}, nil
	case "List":
		return v.list(l)
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}

func (v *vfs) list(l *loc) (sftp.ListerAt, error) {
	var out listerAt
	switch {
	case l.synthetic && v.logical:
		for _, c := range l.children {
			child := path.Join(l.dir, c)
			cl, err := v.resolve(child)
			if err != nil {
				continue
			}
			if fi, err := v.stat(cl, c); err == nil {
				out = append(out, fi)
			} else if !cl.file {
				out = append(out, dirInfo(c))
			}
		}
		return out, nil
	case l.synthetic && v.efs():
		return out, nil
	case l.synthetic:
		buckets, err := v.sup.objects.ListBuckets(v.ctx)
		if err != nil {
			return nil, err
		}
		for _, b := range buckets {
			out = append(out, dirInfo(b.Name))
		}
		return out, nil
	case l.root != nil:
		f, err := l.root.Open(l.rel)
		if err != nil {
			return nil, storeErr(err)
		}
		defer f.Close()
		entries, err := f.Readdir(-1)
		if err != nil {
			return nil, storeErr(err)
		}
		return listerAt(entries), nil
	}
	prefix := ""
	if l.key != "" {
		prefix = l.key + "/"
	}
	after := ""
	for {
		page, err := v.sup.objects.List(v.ctx, l.bucket, prefix, "/", after, 1000)
		if err != nil {
			return nil, storeErr(err)
		}
		for _, cp := range page.CommonPrefixes {
			out = append(out, dirInfo(strings.TrimSuffix(strings.TrimPrefix(cp, prefix), "/")))
		}
		for i := range page.Objects {
			o := &page.Objects[i]
			if o.Key == prefix {
				continue // the directory's own marker
			}
			out = append(out, objectInfo(strings.TrimPrefix(o.Key, prefix), o))
		}
		if !page.Truncated {
			break
		}
		after = page.Next
	}
	if len(out) == 0 && prefix != "" {
		if _, err := v.stat(l, path.Base(l.key)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Fileread implements sftp.FileReader.
func (v *vfs) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	l, err := v.resolve(r.Filepath)
	if err != nil {
		return nil, storeErr(err)
	}
	switch {
	case l.synthetic:
		return nil, sftp.ErrSSHFxFailure
	case l.root != nil:
		f, err := l.root.Open(l.rel)
		if err != nil {
			return nil, storeErr(err)
		}
		return &countingReader{r: f, c: f, sup: v.sup}, nil
	}
	_, rd, err := v.sup.objects.Open(v.ctx, l.bucket, l.key)
	if err != nil {
		return nil, storeErr(err)
	}
	return &countingReader{r: rd, c: rd, sup: v.sup}, nil
}

// countingReader counts the bytes a download reads; pkg/sftp closes it.
type countingReader struct {
	r   io.ReaderAt
	c   io.Closer
	sup *Supervisor
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.sup.countBytes("out", n)
	return n, err
}

func (c *countingReader) Close() error { return c.c.Close() }

// Filewrite implements sftp.FileWriter.
func (v *vfs) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	l, err := v.resolve(r.Filepath)
	if err != nil {
		return nil, storeErr(err)
	}
	if l.synthetic || (l.root == nil && l.key == "") {
		// The root, a bucket, or a directory only implied by mappings.
		return nil, sftp.ErrSSHFxNoSuchFile
	}
	flags := r.Pflags()
	if l.root != nil {
		return v.efsWriter(l, flags)
	}
	if flags.Append {
		return nil, fmt.Errorf("AWS Transfer does not support random access writes to S3 objects")
	}
	meta := map[string]string{"user-agent": "AWSTransfer", "user-agent-id": v.user.UserName + "@" + v.server.ServerID}
	w, err := v.sup.objects.Create(v.ctx, l.bucket, l.key, objstore.PutOptions{Metadata: meta})
	if err != nil {
		return nil, storeErr(err)
	}
	return &s3Writer{v: v, w: w}, nil
}

// s3Writer takes an upload's bytes in order. Pipelining clients may deliver
// a few writes out of order; those wait in a bounded window until the gap
// before them fills. A write before the end (a rewrite) or a gap that never
// fills is random access, refused as on AWS.
type s3Writer struct {
	v       *vfs
	w       objstore.Writer
	mu      sync.Mutex
	off     int64
	pending map[int64][]byte
	held    int
	err     error
	partial bool
	done    bool
}

// maxReorder bounds the bytes held waiting for an earlier write.
const maxReorder = 16 << 20

var errRandomAccess = errors.New("AWS Transfer does not support random access writes to S3 objects")

func (s *s3Writer) WriteAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	switch {
	case off < s.off:
		s.err = errRandomAccess
		return 0, s.err
	case off > s.off:
		if s.held+len(p) > maxReorder || s.pending[off] != nil {
			s.err = errRandomAccess
			return 0, s.err
		}
		if s.pending == nil {
			s.pending = map[int64][]byte{}
		}
		s.pending[off] = append([]byte(nil), p...)
		s.held += len(p)
		return len(p), nil
	}
	if err := s.write(p); err != nil {
		return 0, err
	}
	for {
		q, ok := s.pending[s.off]
		if !ok {
			return len(p), nil
		}
		delete(s.pending, s.off)
		s.held -= len(q)
		if err := s.write(q); err != nil {
			return 0, err
		}
	}
}

func (s *s3Writer) write(p []byte) error {
	n, err := s.w.Write(p)
	s.v.sup.countBytes("in", n)
	s.off += int64(n)
	if err != nil {
		s.err = err
	}
	return err
}

// TransferError is called when the session ends with the file still open.
func (s *s3Writer) TransferError(error) {
	s.mu.Lock()
	s.partial = true
	s.mu.Unlock()
}

func (s *s3Writer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return nil
	}
	s.done = true
	if len(s.pending) > 0 && s.err == nil {
		s.err = errRandomAccess
	}
	if s.err != nil && !s.partial {
		s.w.Abort()
		return s.err
	}
	o, err := s.w.Commit(s.v.ctx)
	if err != nil {
		return storeErr(err)
	}
	s.v.uploaded(o, "", o.Size, s.partial)
	return nil
}

func (v *vfs) uploaded(o *objstore.Object, efsPath string, size int64, partial bool) {
	if v.sup.Hooks == nil || (size == 0 && !partial) {
		return
	}
	u := transfer.Upload{Scope: v.scope, ServerID: v.server.ServerID, UserName: v.user.UserName, SessionID: v.sessionID, Partial: partial, Size: size}
	if o != nil {
		u.File = transfer.File{Domain: transfer.DomainS3, Bucket: o.Bucket, Key: o.Key, ETag: strings.Trim(o.ETag, `"`)}
	} else {
		fsID, p, _ := strings.Cut(strings.TrimPrefix(efsPath, "/"), "/")
		u.File = transfer.File{Domain: transfer.DomainEFS, FileSystemID: fsID, Path: "/" + p}
	}
	if err := v.sup.Hooks.Uploaded(v.ctx, u); err != nil {
		// AWS logs this line when a workflow cannot start.
		v.sup.log.Error("Service failure on starting workflow", "server", u.ServerID, "user", u.UserName, "error", err)
	}
}

// Filecmd implements sftp.FileCmder.
func (v *vfs) Filecmd(r *sftp.Request) error {
	l, err := v.resolve(r.Filepath)
	if err != nil {
		return storeErr(err)
	}
	if l.root != nil {
		return v.efsCmd(r, l)
	}
	switch r.Method {
	case "Setstat":
		if v.server.ProtocolDetails != nil && v.server.ProtocolDetails.SetStatOption == "ENABLE_NO_OP" {
			v.sup.log.Info("SETSTAT ignored (ENABLE_NO_OP)", "server", v.server.ServerID, "user", v.user.UserName, "path", r.Filepath)
			return nil
		}
		return sftp.ErrSSHFxPermissionDenied
	case "Mkdir":
		if l.synthetic || l.key == "" || l.file {
			return sftp.ErrSSHFxFailure
		}
		if _, err := v.stat(l, ""); err == nil {
			return sftp.ErrSSHFxFailure
		}
		w, err := v.sup.objects.Create(v.ctx, l.bucket, l.key+"/", objstore.PutOptions{})
		if err != nil {
			return storeErr(err)
		}
		_, err = w.Commit(v.ctx)
		return storeErr(err)
	case "Rmdir":
		if l.synthetic || l.key == "" {
			return sftp.ErrSSHFxFailure
		}
		page, err := v.sup.objects.List(v.ctx, l.bucket, l.key+"/", "", "", 2)
		if err != nil {
			return storeErr(err)
		}
		for _, o := range page.Objects {
			if o.Key != l.key+"/" {
				return sftp.ErrSSHFxFailure // not empty
			}
		}
		if len(page.Objects) == 0 {
			return sftp.ErrSSHFxNoSuchFile
		}
		return storeErr(v.sup.objects.Delete(v.ctx, l.bucket, l.key+"/"))
	case "Remove":
		if l.synthetic || l.key == "" {
			return sftp.ErrSSHFxFailure
		}
		if _, err := v.sup.objects.Head(v.ctx, l.bucket, l.key); err != nil {
			return storeErr(err)
		}
		return storeErr(v.sup.objects.Delete(v.ctx, l.bucket, l.key))
	case "Rename":
		to, err := v.resolve(r.Target)
		if err != nil {
			return storeErr(err)
		}
		if l.synthetic || to.synthetic || to.root != nil || l.key == "" || to.key == "" {
			return sftp.ErrSSHFxFailure
		}
		if _, err := v.sup.objects.Copy(v.ctx, l.bucket, l.key, to.bucket, to.key, "", nil); err != nil {
			return storeErr(err)
		}
		return storeErr(v.sup.objects.Delete(v.ctx, l.bucket, l.key))
	}
	// Symlink, Link: S3 has no links.
	return sftp.ErrSSHFxOpUnsupported
}
