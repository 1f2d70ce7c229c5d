package sqlitestore

import (
	"os"
	"path/filepath"
	"sync"
)

// syncer makes committed batches durable before their callers hear the
// outcome, overlapping each fsync with the next batch's work.
//
// The writer connection runs with synchronous=NORMAL: a commit appends its
// pages to the write-ahead log without waiting for the disk. Before any
// caller of a committed batch is answered, the syncer fsyncs the log, so
// an acknowledged write survives power loss exactly as with
// synchronous=FULL. While one fsync runs the writer executes the next
// batch, and one fsync covers every batch committed before it started
// (docs/decisions.md, "Durable acknowledgements off the writer").
type syncer struct {
	dir, wal string

	mu      sync.Mutex
	pending []syncWaiter
	kick    chan struct{}
	done    chan struct{}
	f       *os.File     // the log, opened at the first sync
	syncFn  func() error // sync, replaced by tests
}

type syncWaiter struct {
	wrote  bool        // the batch committed writes (else nothing to sync)
	answer func(error) // tells the batch's callers, with the sync's error
}

func newSyncer(dir, dbPath string) *syncer {
	y := &syncer{dir: dir, wal: dbPath + "-wal", kick: make(chan struct{}, 1), done: make(chan struct{})}
	y.syncFn = y.sync
	go y.loop()
	return y
}

// after answers a batch's callers once everything committed up to now is
// on disk. Batches are answered in the order they committed.
func (y *syncer) after(wrote bool, answer func(error)) {
	y.mu.Lock()
	y.pending = append(y.pending, syncWaiter{wrote, answer})
	y.mu.Unlock()
	select {
	case y.kick <- struct{}{}:
	default:
	}
}

// close answers what is pending and stops; the writer has stopped.
func (y *syncer) close() {
	close(y.kick)
	<-y.done
	if y.f != nil {
		y.f.Close()
	}
}

func (y *syncer) loop() {
	defer close(y.done)
	for range y.kick {
		for {
			y.mu.Lock()
			group := y.pending
			y.pending = nil
			y.mu.Unlock()
			if len(group) == 0 {
				break
			}
			var err error
			for _, w := range group {
				if w.wrote {
					err = y.syncFn()
					break
				}
			}
			for _, w := range group {
				w.answer(err)
			}
		}
	}
}

// sync fsyncs the write-ahead log (Linux syncs a file through any of its
// descriptors). The first time, it also syncs the directory, so the log's
// own entry is on disk.
func (y *syncer) sync() error {
	if y.f == nil {
		f, err := os.OpenFile(y.wal, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		if err := syncDir(y.dir); err != nil {
			f.Close()
			return err
		}
		y.f = f
	}
	return y.f.Sync()
}

func syncDir(dir string) error {
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
