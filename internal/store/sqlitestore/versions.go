package sqlitestore

import (
	"iter"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/slipway-dev/slipway/internal/store"
)

// versions remembers, for the keys written recently, the number of the
// write batch that last wrote each, so a speculative transaction can prove
// that nothing it read has changed since its snapshot (docs/engine.md,
// "Speculative writes"). Batches are numbered from 1; committed is the
// last one whose commit finished (a snapshot taken after reading it sees
// every batch up to it).
//
// Only the recent past is kept, in two generations: a key missing from
// both was last written before prevStart, so a snapshot at or after
// prevStart-1 may treat it as unchanged and an older one conflicts.
type versions struct {
	committed atomic.Uint64

	mu        sync.Mutex
	pending   uint64 // the batch the writer is running (writer only)
	cur, prev map[vkey]uint64
	curStart  uint64
	prevStart uint64
}

// vkey names what a transaction can read: a record ('R'), all records of
// a kind in a scope ('C', for List and Count), a clientToken ('I') or a
// metadata key ('M').
type vkey struct {
	t          byte
	a, b, c, d string
}

func recordKey(scope store.Scope, kind, id string) vkey {
	return vkey{'R', scope.Account, scope.Region, kind, id}
}

func kindKey(scope store.Scope, kind string) vkey {
	return vkey{'C', scope.Account, scope.Region, kind, ""}
}

func idemKey(k store.IdempotencyKey) vkey {
	return vkey{'I', k.Account, k.Region, k.Operation, k.Token}
}

func metaKey(key string) vkey { return vkey{t: 'M', a: key} }

// generation bounds how many keys each generation holds before the older
// one is dropped; a speculation older than two generations of writes
// simply runs again in the writer.
const generation = 1 << 15

func newVersions() *versions {
	return &versions{cur: map[vkey]uint64{}, prev: map[vkey]uint64{}, curStart: 1, prevStart: 1}
}

// begin numbers the writer's next batch and returns it.
func (v *versions) begin() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.pending = v.committed.Load() + 1
	if len(v.cur) >= generation {
		v.prev, v.prevStart = v.cur, v.curStart
		v.cur, v.curStart = make(map[vkey]uint64, len(v.prev)), v.pending
	}
	return v.pending
}

// end marks the running batch finished, committed or not: its writes are
// visible to new snapshots (or never happened, which only makes the
// versions recorded for it conservative).
func (v *versions) end(n uint64) { v.committed.Store(n) }

// wrote records that the running batch writes k (and so the kind it
// belongs to, for records). Recorded before the commit, so a validation
// that runs while the batch commits already sees it.
func (v *versions) wrote(k vkey) {
	v.mu.Lock()
	v.cur[k] = v.pending
	if k.t == 'R' {
		v.cur[vkey{'C', k.a, k.b, k.c, ""}] = v.pending
	}
	v.mu.Unlock()
}

// forgetAll makes every snapshot taken before the running batch conflict
// (Reset deletes everything).
func (v *versions) forgetAll() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.cur, v.prev = map[vkey]uint64{}, map[vkey]uint64{}
	v.curStart, v.prevStart = v.pending+1, v.pending+1
}

// unchanged reports whether no key in reads was written after the batch
// snap, the last committed when the snapshot was taken.
func (v *versions) unchanged(snap uint64, reads map[vkey]struct{}) bool {
	return v.unchangedIn(snap, maps.Keys(reads))
}

// unchangedAll is unchanged for a list of keys.
func (v *versions) unchangedAll(snap uint64, keys []vkey) bool {
	return v.unchangedIn(snap, slices.Values(keys))
}

// unchangedKey is unchanged for one key (the caches' check, kept free of
// an iterator's call).
func (v *versions) unchangedKey(snap uint64, k vkey) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return snap+1 >= v.prevStart && !v.writtenAfter(snap, k)
}

func (v *versions) unchangedIn(snap uint64, keys iter.Seq[vkey]) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if snap+1 < v.prevStart {
		return false // older than what is remembered
	}
	for k := range keys {
		if v.writtenAfter(snap, k) {
			return false
		}
	}
	return true
}

// writtenAfter tells whether k was last written after batch snap; v.mu is
// held.
func (v *versions) writtenAfter(snap uint64, k vkey) bool {
	n, ok := v.cur[k]
	if !ok {
		n, ok = v.prev[k]
	}
	return ok && n > snap
}
