package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"maps"

	"github.com/slipway-dev/slipway/internal/store"
)

// Speculative writes. SQLite has one writer, so whatever an Update's
// function computes inside the write transaction (decoding records,
// deciding, encoding them again) is done one at a time. Instead Update
// first runs the function on a read-only snapshot, on the caller's
// goroutine, recording what it read and buffering what it writes. The
// writer then only checks that nothing read has been written since the
// snapshot and applies the buffered writes; if something changed, or the
// function did what a snapshot cannot answer, the writer runs the
// function itself as before. Either way the outcome is the one the
// function would have had running alone at the writer's turn.

// errUnspeculable stops a speculation that cannot be answered from the
// snapshot (a List after a write of the same kind, a clientToken written
// twice); the writer runs the function instead.
var errUnspeculable = errors.New("sqlitestore: run in the writer")

// specOp is one buffered write.
type specOp struct {
	op   byte // 'i'nsert, 'u'pdate, 'd'elete, 'I'dempotency, 'M'eta
	rec  *store.Record
	del  vkey
	idem *store.IdempotencyRecord
	key  string
	val  []byte
}

// specTx is the Tx a speculation runs against: reads come from the
// snapshot (or the speculation's own writes), writes are buffered.
type specTx struct {
	snap *tx
	at   uint64 // the last batch committed before the snapshot

	reads  map[vkey]struct{}
	exists map[vkey]bool          // what the snapshot says of records
	recs   map[vkey]*store.Record // written here; nil once deleted
	idem   map[vkey]*store.IdempotencyRecord
	meta   map[string][]byte
	dirty  map[vkey]bool // kinds written here
	ops    []specOp
	topics []string
	fail   error
}

// speculation is what a speculative run produced.
type speculation struct {
	at     uint64
	reads  map[vkey]struct{}
	ops    []specOp
	topics []string
	err    error // the function's own result
}

// speculate runs fn on a snapshot. It returns nil when the writer must
// run fn instead.
func (s *Store) speculate(ctx context.Context, fn func(store.Tx) error) *speculation {
	at := s.vers.committed.Load()
	q, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil
	}
	defer q.Rollback()
	t := &specTx{snap: &tx{ctx: ctx, q: q, s: s, db: s.reader}, at: at, reads: map[vkey]struct{}{}, exists: map[vkey]bool{},
		recs: map[vkey]*store.Record{}, dirty: map[vkey]bool{}}
	err = runFn(fn, t)
	if t.fail != nil || ctx.Err() != nil {
		s.stats.unspeculable.Add(1)
		return nil
	}
	return &speculation{at: at, reads: t.reads, ops: t.ops, topics: t.topics, err: err}
}

// replay applies a speculation's writes in the writer's transaction. Any
// outcome other than the one the speculation assumed is an error, and the
// caller rolls the writes back and runs the function instead.
func (sp *speculation) replay(t *tx) error {
	for _, o := range sp.ops {
		var err error
		switch o.op {
		case 'i':
			err = t.Insert(o.rec)
		case 'u':
			err = t.Update(o.rec)
		case 'd':
			err = t.Delete(store.Scope{Account: o.del.a, Region: o.del.b}, o.del.c, o.del.d)
		case 'I':
			err = t.PutIdempotency(o.idem)
		case 'M':
			err = t.PutMeta(o.key, o.val)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (t *specTx) stop(err error) error {
	if t.fail == nil {
		t.fail = err
	}
	return t.fail
}

func copyRecord(r *store.Record) *store.Record {
	c := *r
	c.Tags = maps.Clone(r.Tags)
	return &c
}

// copyRecords copies records as copyRecord does, in one allocation (a page
// is tens of records).
func copyRecords(recs []*store.Record) []*store.Record {
	out, copies := make([]*store.Record, len(recs)), make([]store.Record, len(recs))
	for i, r := range recs {
		copies[i] = *r
		copies[i].Tags = maps.Clone(r.Tags)
		out[i] = &copies[i]
	}
	return out
}

// known tells whether the record exists, asking the snapshot only when
// nothing this speculation did or read says.
func (t *specTx) known(k vkey) (bool, error) {
	if r, ok := t.recs[k]; ok {
		return r != nil, nil
	}
	if e, ok := t.exists[k]; ok {
		return e, nil
	}
	if r, ok := t.snap.s.cache.getAt(t.snap.s.vers, k, latest); ok {
		t.reads[k] = struct{}{}
		t.exists[k] = r != nil
		return r != nil, nil
	}
	var one int
	err := t.snap.queryRow(qExists, k.a, k.b, k.c, k.d).Scan(&one)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, t.stop(err)
	}
	t.reads[k] = struct{}{}
	t.exists[k] = err == nil
	return err == nil, nil
}

func (t *specTx) Get(scope store.Scope, kind, id string) (*store.Record, error) {
	if t.fail != nil {
		return nil, t.fail
	}
	k := recordKey(scope, kind, id)
	if r, ok := t.recs[k]; ok {
		if r == nil {
			return nil, store.ErrNotFound
		}
		return copyRecord(r), nil
	}
	t.reads[k] = struct{}{}
	if r, ok := t.snap.s.cache.getAt(t.snap.s.vers, k, latest); ok {
		t.exists[k] = r != nil
		if r == nil {
			return nil, store.ErrNotFound
		}
		return copyRecord(r), nil
	}
	r, err := t.snap.Get(scope, kind, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, t.stop(err)
	}
	t.exists[k] = err == nil
	t.snap.s.remember(k, r, t.at)
	return r, err
}

func (t *specTx) GetMany(scope store.Scope, kind string, ids []string) (map[string]*store.Record, error) {
	if t.fail != nil {
		return nil, t.fail
	}
	out := map[string]*store.Record{}
	var ask []string
	for _, id := range ids {
		k := recordKey(scope, kind, id)
		if r, ok := t.recs[k]; ok {
			if r != nil {
				out[id] = copyRecord(r)
			}
			continue
		}
		if r, ok := t.snap.s.cache.getAt(t.snap.s.vers, k, latest); ok {
			t.reads[k] = struct{}{}
			t.exists[k] = r != nil
			if r != nil {
				out[id] = r
			}
			continue
		}
		ask = append(ask, id)
	}
	got, err := t.snap.GetMany(scope, kind, ask)
	if err != nil {
		return nil, t.stop(err)
	}
	for _, id := range ask {
		k := recordKey(scope, kind, id)
		t.reads[k] = struct{}{}
		r, ok := got[id]
		t.exists[k] = ok
		if ok {
			out[id] = r
		}
	}
	return out, nil
}

func (t *specTx) write(k vkey, r *store.Record) {
	t.recs[k] = r
	t.dirty[kindKey(store.Scope{Account: k.a, Region: k.b}, k.c)] = true
}

// Insert assumes a record the snapshot has not shown to exist can be
// inserted; the replay proves it (or the writer runs the function).
func (t *specTx) Insert(r *store.Record) error {
	if t.fail != nil {
		return t.fail
	}
	k := recordKey(r.Scope, r.Kind, r.ID)
	prev, ok := t.recs[k]
	if (ok && prev != nil) || (!ok && t.exists[k]) {
		return store.ErrExists
	}
	c := copyRecord(r)
	t.write(k, c)
	t.ops = append(t.ops, specOp{op: 'i', rec: c})
	return nil
}

func (t *specTx) Update(r *store.Record) error {
	if t.fail != nil {
		return t.fail
	}
	k := recordKey(r.Scope, r.Kind, r.ID)
	ok, err := t.known(k)
	if err != nil {
		return err
	}
	if !ok {
		return store.ErrNotFound
	}
	c := copyRecord(r)
	t.write(k, c)
	t.ops = append(t.ops, specOp{op: 'u', rec: c})
	return nil
}

func (t *specTx) Delete(scope store.Scope, kind, id string) error {
	if t.fail != nil {
		return t.fail
	}
	k := recordKey(scope, kind, id)
	ok, err := t.known(k)
	if err != nil {
		return err
	}
	if !ok {
		return store.ErrNotFound
	}
	t.write(k, nil)
	t.ops = append(t.ops, specOp{op: 'd', del: k})
	return nil
}

// List and Count read a whole kind, so they stand on every record of it:
// after this speculation wrote that kind the snapshot cannot answer.
func (t *specTx) List(q store.ListQuery) ([]*store.Record, error) {
	if t.fail != nil {
		return nil, t.fail
	}
	ck := kindKey(q.Scope, q.Kind)
	if t.dirty[ck] {
		return nil, t.stop(errUnspeculable)
	}
	recs, err := t.snap.List(q)
	if err != nil {
		return nil, t.stop(err)
	}
	t.reads[ck] = struct{}{}
	for _, r := range recs {
		t.exists[recordKey(r.Scope, r.Kind, r.ID)] = true
	}
	return recs, nil
}

func (t *specTx) Count(scope store.Scope, kind, parent string) (int, error) {
	if t.fail != nil {
		return 0, t.fail
	}
	ck := kindKey(scope, kind)
	if t.dirty[ck] {
		return 0, t.stop(errUnspeculable)
	}
	n, err := t.snap.Count(scope, kind, parent)
	if err != nil {
		return 0, t.stop(err)
	}
	t.reads[ck] = struct{}{}
	return n, nil
}

func (t *specTx) Idempotency(k store.IdempotencyKey) (*store.IdempotencyRecord, error) {
	if t.fail != nil {
		return nil, t.fail
	}
	ik := idemKey(k)
	if r, ok := t.idem[ik]; ok {
		c := *r
		return &c, nil
	}
	r, err := t.snap.Idempotency(k)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, t.stop(err)
	}
	t.reads[ik] = struct{}{}
	return r, err
}

// PutIdempotency assumes the token is new (the function looked it up
// first); the replay proves it.
func (t *specTx) PutIdempotency(r *store.IdempotencyRecord) error {
	if t.fail != nil {
		return t.fail
	}
	ik := idemKey(r.IdempotencyKey)
	if t.idem == nil {
		t.idem = map[vkey]*store.IdempotencyRecord{}
	}
	if _, ok := t.idem[ik]; ok {
		return t.stop(errUnspeculable)
	}
	c := *r
	t.idem[ik] = &c
	t.ops = append(t.ops, specOp{op: 'I', idem: &c})
	return nil
}

func (t *specTx) Meta(key string) ([]byte, error) {
	if t.fail != nil {
		return nil, t.fail
	}
	if v, ok := t.meta[key]; ok {
		return append([]byte(nil), v...), nil
	}
	v, err := t.snap.Meta(key)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, t.stop(err)
	}
	t.reads[metaKey(key)] = struct{}{}
	return v, err
}

func (t *specTx) PutMeta(key string, value []byte) error {
	if t.fail != nil {
		return t.fail
	}
	if t.meta == nil {
		t.meta = map[string][]byte{}
	}
	v := append([]byte(nil), value...)
	t.meta[key] = v
	t.ops = append(t.ops, specOp{op: 'M', key: key, val: v})
	return nil
}

func (t *specTx) Notify(topic string) { t.topics = append(t.topics, topic) }
