package sqlitestore

import (
	"bytes"
	"sync"

	"github.com/slipway-dev/slipway/internal/store"
)

// recordCache keeps recently written and read records for speculations.
// A reader connection's page cache is emptied whenever the database
// changes, so each speculative Get would otherwise read its pages from
// the file again; most of what a step reads was written by the step
// before it. An entry is the record as of batch at (nil: absent) and is
// current for as long as versions shows no write of it after at. Only
// speculations use it: they validate every read anyway, so a record that
// is current now is as good as their snapshot's (if the two differ the
// speculation conflicts and the writer runs it).
type recordCache struct {
	mu sync.Mutex
	m  map[vkey]cachedRecord
}

type cachedRecord struct {
	rec *store.Record
	at  uint64
}

// cacheSize bounds the entries (records are a few KB).
const cacheSize = 2048

// get returns the current record of k (nil when absent) if the cache
// knows it.
func (c *recordCache) get(v *versions, k vkey) (*store.Record, bool) {
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if !ok || !v.unchangedKey(e.at, k) {
		return nil, false
	}
	if e.rec == nil {
		return nil, true
	}
	return copyRecord(e.rec), true
}

// getAt returns k's record as of batch at (nil when absent) if the cache
// knows it: an entry neither it nor at is older than a write of k.
func (c *recordCache) getAt(v *versions, k vkey, at uint64) (*store.Record, bool) {
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if !ok || !v.unchangedKey(min(at, e.at), k) {
		return nil, false
	}
	if e.rec == nil {
		return nil, true
	}
	return copyRecord(e.rec), true
}

// put remembers rec (nil: absent) as k's record as of batch at, unless a
// newer entry is there. rec must not change afterwards.
func (c *recordCache) put(k vkey, rec *store.Record, at uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[vkey]cachedRecord{}
	}
	if e, ok := c.m[k]; ok && e.at > at {
		return
	}
	if len(c.m) >= cacheSize {
		// Drop a quarter, in map order (arbitrary, which is fine for a
		// cache whose misses cost one read).
		n := cacheSize / 4
		for key := range c.m {
			delete(c.m, key)
			if n--; n == 0 {
				break
			}
		}
	}
	c.m[k] = cachedRecord{rec: rec, at: at}
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

// queryCache keeps recent List and Count results for views, each as of a
// batch and valid while no record of its kind in its scope is written
// after it (versions' kind keys), like recordCache's records.
type queryCache struct {
	mu sync.Mutex
	m  map[queryKey]cachedQuery
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

const queryCacheSize = 1024

func (c *queryCache) getAt(v *versions, k queryKey, at uint64) (cachedQuery, bool) {
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if !ok || !v.unchangedKey(min(at, e.at), kindKey(k.q.Scope, k.q.Kind)) {
		return cachedQuery{}, false
	}
	return e, true
}

// put remembers a result as of batch at; recs must not change afterwards.
func (c *queryCache) put(k queryKey, e cachedQuery) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[queryKey]cachedQuery{}
	}
	if old, ok := c.m[k]; ok && old.at > e.at {
		return
	}
	if len(c.m) >= queryCacheSize {
		n := queryCacheSize / 4
		for key := range c.m {
			delete(c.m, key)
			if n--; n == 0 {
				break
			}
		}
	}
	c.m[k] = e
}
