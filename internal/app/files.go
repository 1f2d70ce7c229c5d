package app

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/slipway-dev/slipway/internal/imagebuilder"
	"github.com/slipway-dev/slipway/internal/objstore"
)

// openFiles prepares where Transfer files live: <data-dir>/s3 for buckets and
// <data-dir>/efs for EFS file systems (a temporary directory with
// --in-memory). Files an interrupted upload left behind are removed.
func (a *App) openFiles(ctx context.Context) error {
	base := a.cfg.DataDir
	if a.cfg.InMemory {
		dir, err := os.MkdirTemp("", "slipway-files-")
		if err != nil {
			return err
		}
		a.tmpDir, base = dir, dir
	}
	a.base = base
	objects, err := objstore.NewLocal(a.store, filepath.Join(base, "s3"))
	if err != nil {
		return err
	}
	a.objects = objects
	// Files left by a crash are removed in the background, so start-up
	// does not grow with the objects stored; files written from now on
	// are never candidates.
	gcCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	a.gcDone = make(chan struct{})
	a.stopGC = stop
	go func() {
		defer close(a.gcDone)
		if err := objects.GC(gcCtx, a.gcHorizon()); err != nil && gcCtx.Err() == nil {
			a.log.Error("objects: removing leftover files failed", "error", err)
		}
	}()
	a.efsDir = filepath.Join(base, "efs")
	return os.MkdirAll(a.efsDir, 0o750)
}

// gcHorizon is when files must have last been written for GC to remove
// them: now, or an hour ago when other replicas write into the same
// directory (docs/replicas.md).
func (a *App) gcHorizon() time.Time {
	if a.shared() {
		return time.Now().Add(-time.Hour)
	}
	return time.Now()
}

func (a *App) closeFiles() {
	if a.stopGC != nil {
		a.stopGC()
		<-a.gcDone
	}
	if a.tmpDir != "" {
		_ = os.RemoveAll(a.tmpDir)
	}
}

// resetEFS empties every EFS file system.
func (a *App) resetEFS() error {
	if err := os.RemoveAll(a.efsDir); err != nil {
		return err
	}
	return os.MkdirAll(a.efsDir, 0o750)
}

// readS3 reads Image Builder documents named by S3 URI from the same object
// storage Transfer uses: Slipway's own buckets or the --s3-endpoint service.
func readS3(objects objstore.Store) func(ctx context.Context, bucket, key string, max int64) ([]byte, error) {
	return func(ctx context.Context, bucket, key string, max int64) ([]byte, error) {
		o, r, err := objects.Open(ctx, bucket, key)
		switch {
		case errors.Is(err, objstore.ErrNoSuchBucket):
			return nil, imagebuilder.ErrNoSuchBucket
		case errors.Is(err, objstore.ErrNoSuchKey):
			return nil, imagebuilder.ErrNoSuchKey
		case err != nil:
			return nil, err
		}
		defer r.Close()
		if o.Size > max {
			return nil, imagebuilder.ErrTooLarge
		}
		return io.ReadAll(io.LimitReader(r, max))
	}
}
