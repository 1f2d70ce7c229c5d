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
