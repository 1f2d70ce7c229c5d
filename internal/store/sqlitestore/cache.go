package sqlitestore

import (
	"bytes"
	"sync"

	"github.com/slipway-dev/slipway/internal/store"
)

// The caches below keep, for speculations and views, records and query
// results as of a write batch. An entry is valid while versions shows no
// write of what it depends on (the record; for a query, any record of its
// kind in its scope) after its batch; readers check that, and views check
// it again when they finish (view.go).
//
// A reader connection's page cache is emptied whenever the database
// changes, so without them each read fetches its pages from the file
// again, and most of what a step reads was written by the step before it.

// bounded is a map holding at most max bytes of entries (as weigh counts
// them); when full it drops a quarter of its entries, in map order, which
// is fine for caches whose misses cost one read.
type bounded[K comparable, V any] struct {
	mu    sync.Mutex
	m     map[K]V
	bytes int
	max   int
	weigh func(V) int
	at    func(V) uint64
}

func (b *bounded[K, V]) get(k K) (V, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[k]
	return v, ok
}

// put stores v under k unless a newer entry is there or v alone would
// take more than an eighth of the budget.
func (b *bounded[K, V]) put(k K, v V) {
	w := b.weigh(v)
	if w > b.max/8 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[K]V{}
	}
	if old, ok := b.m[k]; ok {
		if b.at(old) > b.at(v) {
			return
		}
		b.bytes -= b.weigh(old)
		delete(b.m, k)
	}
	if b.bytes+w > b.max {
		n := len(b.m)/4 + 1
		for key, old := range b.m {
			b.bytes -= b.weigh(old)
			delete(b.m, key)
			if n--; n == 0 {
				break
			}
		}
	}
	b.m[k] = v
	b.bytes += w
}

// cacheBytes bounds each cache.
const cacheBytes = 8 << 20

// recordWeight approximates a record's memory.
func recordWeight(r *store.Record) int {
	if r == nil {
		return 64
	}
	return 160 + len(r.ID) + len(r.SortKey) + len(r.Parent) + len(r.Body)
}

// recordCache holds records by key (nil: absent as of the batch).
type recordCache struct{ b bounded[vkey, cachedRecord] }

type cachedRecord struct {
	rec *store.Record
	at  uint64
}

func newRecordCache() *recordCache {
	return &recordCache{b: bounded[vkey, cachedRecord]{max: cacheBytes,
		weigh: func(e cachedRecord) int { return recordWeight(e.rec) }, at: func(e cachedRecord) uint64 { return e.at }}}
}

// latest asks getAt for the record as it is now, whatever the reader's
// batch: speculations take that, since they validate what they read.
const latest = ^uint64(0)

// getAt returns k's record as of batch at (nil when absent) if the cache
// knows it: no write of k is recorded after the entry's batch or at. The
// record is the cache's: callers that hand it on copy it.
func (c *recordCache) getAt(v *versions, k vkey, at uint64) (*store.Record, bool) {
	e, ok := c.b.get(k)
	if !ok || !v.unchangedKey(min(at, e.at), k) {
		return nil, false
	}
	return e.rec, true
}

// put remembers rec (nil: absent) as k's record as of batch at. rec must
// not change afterwards.
func (c *recordCache) put(k vkey, rec *store.Record, at uint64) {
	c.b.put(k, cachedRecord{rec: rec, at: at})
}

// remember caches r (nil: absent), read as of batch at, unless a write of
// k after at is already recorded: such an entry could never be served, and
// copying it would be wasted (the engine's queue is written by nearly
// every batch).
func (s *Store) remember(k vkey, r *store.Record, at uint64) {
	if !s.vers.unchangedKey(at, k) {
		return
	}
	if r != nil {
		r = written(r)
	}
	s.cache.put(k, r, at)
}

// cachedWrite is a record a write transaction left (nil: deleted).
type cachedWrite struct {
	k   vkey
	rec *store.Record
}

// written captures r for the cache: the caller may reuse its record.
func written(r *store.Record) *store.Record {
	c := copyRecord(r)
	c.Body = bytes.Clone(r.Body)
	return c
}

// queryCache holds List and Count results.
type queryCache struct {
	b bounded[queryKey, cachedQuery]
}

// queryKey is a List query, or a Count (count set) of kind and parent.
type queryKey struct {
	q     store.ListQuery
	count bool
}

type cachedQuery struct {
	recs []*store.Record
	n    int
	at   uint64
}

func newQueryCache() *queryCache {
	return &queryCache{b: bounded[queryKey, cachedQuery]{max: cacheBytes, at: func(e cachedQuery) uint64 { return e.at },
		weigh: func(e cachedQuery) int {
			w := 128
			for _, r := range e.recs {
				w += recordWeight(r)
			}
			return w
		}}}
}

// getAt returns the result as of batch at if the cache knows it.
func (c *queryCache) getAt(v *versions, k queryKey, at uint64) (cachedQuery, bool) {
	e, ok := c.b.get(k)
	if !ok || !v.unchangedKey(min(at, e.at), kindKey(k.q.Scope, k.q.Kind)) {
		return cachedQuery{}, false
	}
	return e, true
}

// put remembers a result; its records must not change afterwards.
func (c *queryCache) put(k queryKey, e cachedQuery) { c.b.put(k, e) }
