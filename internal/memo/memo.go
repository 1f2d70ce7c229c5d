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
//
// Bytes passed to Decode must not change afterwards (a record's body never
// does: a change is a new body): reads served from the store's caches hand
// out the same array each time, and an entry is found by that array before
// its bytes are hashed, which for 1–2 KB image documents was about a
// twelfth of a ListImages page. An entry holds its bytes, so their array
// cannot be freed and reused for other bytes while the entry lives.
package memo

import (
	"reflect"
	"sync"
	"unsafe"

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
	// The same entries by the identity of the bytes' array.
	curArr map[array]held[T]
	oldArr map[array]held[T]
}

// array identifies a byte slice's contents by where they are.
type array struct {
	p *byte
	n int
}

type held[T any] struct {
	b []byte // keeps the array alive, so no other bytes can take its place
	v T
}

// New returns a Decoder that keeps about budget bytes of decoded input
// (twice that at most, in two generations).
func New[T any](budget int, decode func([]byte) (T, error)) *Decoder[T] {
	return &Decoder[T]{decode: decode, budget: budget, cur: map[string]T{}, curArr: map[array]held[T]{}}
}

// Decode returns b decoded, from memory when the same bytes were decoded
// before. Errors are not remembered.
func (d *Decoder[T]) Decode(b []byte) (T, error) {
	a := array{unsafe.SliceData(b), len(b)}
	d.mu.Lock()
	v, ok := d.lookup(a, b)
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
	d.hold(a, b, v)
	d.mu.Unlock()
	return v, nil
}

// lookup finds b's entry, by its array first and then by its bytes, and
// carries an entry still in use into the current generation.
func (d *Decoder[T]) lookup(a array, b []byte) (T, bool) {
	if h, ok := d.curArr[a]; ok {
		return h.v, true
	}
	if h, ok := d.oldArr[a]; ok {
		d.hold(a, b, h.v)
		return h.v, true
	}
	v, ok := d.cur[string(b)]
	if !ok {
		if v, ok = d.old[string(b)]; ok {
			d.put(string(b), v)
		}
	}
	if ok {
		d.hold(a, b, v)
	}
	return v, ok
}

// hold finds v by b's array from now on; the array counts against the
// budget, since the entry keeps it.
func (d *Decoder[T]) hold(a array, b []byte, v T) {
	if len(b) == 0 {
		return
	}
	if _, ok := d.curArr[a]; ok {
		return
	}
	d.rotate(len(b))
	d.curArr[a] = held[T]{b, v}
	d.used += len(b)
}

// rotate makes room for n more bytes: a full generation becomes the old
// one and the one before it is dropped, so the least recently used
// entries go first.
func (d *Decoder[T]) rotate(n int) {
	if d.used+n > d.budget && d.used > 0 {
		d.old, d.cur, d.used = d.cur, map[string]T{}, 0
		d.oldArr, d.curArr = d.curArr, map[array]held[T]{}
	}
}

// put adds an entry by its bytes.
func (d *Decoder[T]) put(k string, v T) {
	if _, ok := d.cur[k]; ok {
		return
	}
	d.rotate(len(k))
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
