// Package memo keeps values decoded from stored bytes, keyed by the bytes
// themselves. A stored record's body changes whenever the record does, so
// an entry can never be stale and needs no invalidation: reads of a record
// nobody changed skip decoding it (JSON decoding was the largest cost of
// list pages and single-resource reads).
//
// A value handed out is shared by every reader of the same bytes, so callers
// must treat it as read-only: copy before changing anything, nested slices
// and maps included. Under `go test`, every hit is checked against a fresh
// decode, so a caller that changes a shared value fails the test suite.
package memo

import (
	"reflect"
	"sync"

	"github.com/slipway-dev/slipway/internal/selfcheck"
)

// checking verifies hits against a fresh decode (selfcheck: under go test).
var checking = selfcheck.On

// Decoder decodes bytes into T, remembering results within a byte budget.
type Decoder[T any] struct {
	decode func([]byte) (T, error)
	budget int // bytes of keys kept per generation, roughly

	mu   sync.Mutex
	cur  map[string]T
	old  map[string]T
	used int
}

// New returns a Decoder that keeps about budget bytes of decoded input
// (twice that at most, in two generations).
func New[T any](budget int, decode func([]byte) (T, error)) *Decoder[T] {
	return &Decoder[T]{decode: decode, budget: budget, cur: map[string]T{}}
}

// Decode returns b decoded, from memory when the same bytes were decoded
// before. Errors are not remembered.
func (d *Decoder[T]) Decode(b []byte) (T, error) {
	d.mu.Lock()
	v, ok := d.cur[string(b)]
	if !ok {
		if v, ok = d.old[string(b)]; ok {
			d.put(string(b), v) // still in use: carry it into this generation
		}
	}
	d.mu.Unlock()
	if ok {
		if checking() {
			d.verify(b, v)
		}
		return v, nil
	}
	v, err := d.decode(b)
	if err != nil {
		return v, err
	}
	d.mu.Lock()
	d.put(string(b), v)
	d.mu.Unlock()
	return v, nil
}

// put adds an entry; a full generation becomes the old one and the one
// before it is dropped, so the least recently used entries go first.
func (d *Decoder[T]) put(k string, v T) {
	if _, ok := d.cur[k]; ok {
		return
	}
	if d.used+len(k) > d.budget && d.used > 0 {
		d.old, d.cur, d.used = d.cur, map[string]T{}, 0
	}
	d.cur[k] = v
	d.used += len(k)
}

// Len is the number of entries held, for tests.
func (d *Decoder[T]) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.cur) + len(d.old)
}

// verify panics when a remembered value no longer equals what its bytes
// decode to: some caller changed a shared value.
func (d *Decoder[T]) verify(b []byte, v T) {
	fresh, err := d.decode(b)
	if err != nil || !reflect.DeepEqual(fresh, v) {
		panic("memo: a decoded value shared between readers was changed by one of them; copy it before changing it")
	}
}
