package objstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/store/sqlitestore"
)

func newLocal(t *testing.T) *Local {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.OpenMemory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l, err := NewLocal(st, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.CreateBucket(ctx, Bucket{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestLocalWriterLarge writes an object larger than several write buffers
// and writeback windows, in uneven pieces, and reads back the same bytes
// under their MD5 ETag.
func TestLocalWriterLarge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLocal(t)
	data := make([]byte, 3*writebackWindow/2+12345)
	for i := range data {
		data[i] = byte(i*7 + i>>11)
	}
	w, err := l.Create(ctx, "b", "big", PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for off, step := 0, 1; off < len(data); step = step*3%100003 + 1 {
		end := min(off+step, len(data))
		if _, err := w.Write(data[off:end]); err != nil {
			t.Fatal(err)
		}
		off = end
	}
	o, err := w.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(data)
	if want := `"` + hex.EncodeToString(sum[:]) + `"`; o.ETag != want || o.Size != int64(len(data)) {
		t.Fatalf("etag %s size %d, want %s %d", o.ETag, o.Size, want, len(data))
	}
	_, r, err := l.Open(ctx, "b", "big")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes (%v), differ from what was written", len(got), err)
	}
}

// TestLocalWriterAbort leaves no object and no temporary file behind, also
// when the writer had a background goroutine running.
func TestLocalWriterAbort(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLocal(t)
	for _, size := range []int{10, 3 * writeBuffer} {
		w, err := l.Create(ctx, "b", "gone", PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(make([]byte, size)); err != nil {
			t.Fatal(err)
		}
		w.Abort()
		if _, err := l.Head(ctx, "b", "gone"); err == nil {
			t.Fatal("aborted object is visible")
		}
		left, _ := os.ReadDir(filepath.Join(l.dir, "tmp"))
		if len(left) != 0 {
			t.Fatalf("temporary files left: %v", left)
		}
	}
}

// TestLocalGC removes the files no object names that were written before
// the horizon, and keeps objects' files and files written since.
func TestLocalGC(t *testing.T) {
	l := newLocal(t)
	ctx := context.Background()
	w, err := l.Create(ctx, "b", "kept", PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("object"))
	if _, err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	plant := func(dir, name string, at time.Time) string {
		p := filepath.Join(l.dir, dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
		return p
	}
	orphan, oldTmp := plant("blobs", "orphan", old), plant("tmp", "upload-old", old)
	fresh, freshTmp := plant("blobs", "fresh", time.Now()), plant("tmp", "upload-now", time.Now())
	if err := l.GC(ctx, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{orphan: false, oldTmp: false, fresh: true, freshTmp: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s: kept=%v, want %v", filepath.Base(p), err == nil, want)
		}
	}
	o, r, err := l.Open(ctx, "b", "kept")
	if err != nil || o.Size != 6 {
		t.Fatalf("the object's file went: %v", err)
	}
	r.Close()
}

func put(t *testing.T, l *Local, key, body string, opts PutOptions) *Object {
	t.Helper()
	w, err := l.Create(context.Background(), "b", key, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	o, err := w.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func read(t *testing.T, l *Local, key string) string {
	t.Helper()
	_, r, err := l.Open(context.Background(), "b", key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLocalCopy: a copy is the source's bytes under its own name, with the
// source's ETag and metadata (or those given), and outlives the source's
// replacement and deletion; the ETag precondition holds; a multipart
// source is copied byte by byte and gets its bytes' MD5.
func TestLocalCopy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLocal(t)
	src := put(t, l, "src", "first bytes", PutOptions{ContentType: "text/plain", Metadata: map[string]string{"m": "1"}, Tags: map[string]string{"t": "1"}})
	cp, err := l.Copy(ctx, "b", "src", "b", "copy", src.ETag, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cp.ETag != src.ETag || cp.Size != src.Size || cp.ContentType != "text/plain" || cp.Metadata["m"] != "1" || cp.Tags["t"] != "1" || cp.Blob == src.Blob {
		t.Fatalf("copy %+v of %+v", cp, src)
	}
	other, err := l.Copy(ctx, "b", "src", "b", "other", "", &PutOptions{ContentType: "a/b"})
	if err != nil || other.ContentType != "a/b" || other.Metadata != nil || other.Tags != nil {
		t.Fatalf("copy with options: %+v, %v", other, err)
	}
	put(t, l, "src", "second bytes", PutOptions{})
	if got := read(t, l, "copy"); got != "first bytes" {
		t.Fatalf("copy after the source was replaced reads %q", got)
	}
	if _, err := l.Copy(ctx, "b", "src", "b", "stale", src.ETag, nil); err != ErrPreconditionETag {
		t.Fatalf("copy with the replaced ETag: %v", err)
	}
	if err := l.Delete(ctx, "b", "src"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, l, "copy"); got != "first bytes" {
		t.Fatalf("copy after the source was deleted reads %q", got)
	}
	if _, err := l.Copy(ctx, "b", "src", "b", "gone", "", nil); err != ErrNoSuchKey {
		t.Fatalf("copy of a deleted source: %v", err)
	}

	id, err := l.CreateMultipart(ctx, "b", "multi", PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var parts []CompletedPart
	for n, body := range []string{"part one, ", "part two"} {
		etag, err := l.UploadPart(ctx, id, n+1, bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, CompletedPart{Number: n + 1, ETag: etag})
	}
	if _, err := l.CompleteMultipart(ctx, id, parts); err != nil {
		t.Fatal(err)
	}
	mc, err := l.Copy(ctx, "b", "multi", "b", "multi-copy", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum([]byte("part one, part two"))
	if want := `"` + hex.EncodeToString(sum[:]) + `"`; mc.ETag != want || read(t, l, "multi-copy") != "part one, part two" {
		t.Fatalf("copy of a multipart object: %+v", mc)
	}
}
