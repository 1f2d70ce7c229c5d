package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/slipway-dev/slipway/internal/store"
)

// viewTx is a read transaction that answers Get from the record cache when
// it can and opens its SQL transaction only when something needs it, so a
// read of recently written records costs no SQL at all. A cached record
// is served only if versions shows no write of it after the batch the view
// started at (at) nor after the entry's own batch, so it is the record as
// of at. The SQL snapshot starts later and may see later batches, so when
// the function is done, if it opened one, the served keys are checked
// again: still unwritten since at, they are as of the SQL snapshot too;
// otherwise the function runs again on SQL alone. A view answered wholly
// from memory needs no second check: every entry was as of at when read.
type viewTx struct {
	ctx    context.Context
	s      *Store
	at     uint64
	t      *tx // nil until needed
	err    error
	served []vkey // checked again only if the SQL snapshot opens
}

func (v *viewTx) sql() (*tx, error) {
	if v.t == nil && v.err == nil {
		q, err := v.s.reader.BeginTx(v.ctx, &sql.TxOptions{ReadOnly: v.s.reader != v.s.writer})
		if err != nil {
			v.err = fmt.Errorf("sqlitestore: begin: %w", err)
		} else {
			v.t = &tx{ctx: v.ctx, q: q, s: v.s, db: v.s.reader}
		}
	}
	return v.t, v.err
}

// cached returns a copy of k's record from the cache if it is the one as
// of v.at.
func (v *viewTx) cached(k vkey) (*store.Record, bool) {
	r, ok := v.shared(k)
	if ok && r != nil {
		r = copyRecord(r)
	}
	return r, ok
}

// shared is cached without the copy: the record is the cache's own.
func (v *viewTx) shared(k vkey) (*store.Record, bool) {
	r, ok := v.s.cache.getAt(v.s.vers, k, v.at)
	if ok {
		v.served = append(v.served, k)
	}
	return r, ok
}

func (v *viewTx) Get(scope store.Scope, kind, id string) (*store.Record, error) {
	k := recordKey(scope, kind, id)
	if r, ok := v.cached(k); ok {
		if r == nil {
			return nil, store.ErrNotFound
		}
		return r, nil
	}
	t, err := v.sql()
	if err != nil {
		return nil, err
	}
	r, err := t.Get(scope, kind, id)
	if err == nil || errors.Is(err, store.ErrNotFound) {
		v.s.remember(k, r, v.at)
	}
	return r, err
}

func (v *viewTx) GetMany(scope store.Scope, kind string, ids []string) (map[string]*store.Record, error) {
	out := make(map[string]*store.Record, len(ids))
	var ask []string
	for _, id := range ids {
		if r, ok := v.shared(recordKey(scope, kind, id)); ok {
			if r != nil {
				out[id] = r
			}
			continue
		}
		ask = append(ask, id)
	}
	if len(ask) == 0 {
		return out, nil
	}
	t, err := v.sql()
	if err != nil {
		return nil, err
	}
	got, err := t.GetMany(scope, kind, ask)
	if err != nil {
		return nil, err
	}
	for _, id := range ask {
		r := got[id]
		if r != nil {
			out[id] = r
			v.s.remember(recordKey(scope, kind, id), r, v.at)
		}
	}
	return out, nil
}

// List and Count are answered from the query cache the same way, on the
// kind's version: any write of the kind in the scope invalidates them.
func (v *viewTx) List(q store.ListQuery) ([]*store.Record, error) {
	k := queryKey{q: q}
	if e, ok := v.query(k); ok {
		return copyRecords(e.recs), nil
	}
	t, err := v.sql()
	if err != nil {
		return nil, err
	}
	recs, err := t.List(q)
	// A result whose kind was written since at could never be served.
	if err == nil && v.s.vers.unchangedKey(v.at, kindKey(q.Scope, q.Kind)) {
		kept := make([]*store.Record, len(recs))
		for i, r := range recs {
			kept[i] = written(r)
		}
		v.s.queries.put(k, cachedQuery{recs: kept, at: v.at})
	}
	return recs, err
}

func (v *viewTx) Count(scope store.Scope, kind, parent string) (int, error) {
	k := queryKey{q: store.ListQuery{Scope: scope, Kind: kind, Parent: parent}, count: true}
	if e, ok := v.query(k); ok {
		return e.n, nil
	}
	t, err := v.sql()
	if err != nil {
		return 0, err
	}
	n, err := t.Count(scope, kind, parent)
	if err == nil && v.s.vers.unchangedKey(v.at, kindKey(scope, kind)) {
		v.s.queries.put(k, cachedQuery{n: n, at: v.at})
	}
	return n, err
}

// query returns a cached result as of v.at, noting its kind for the
// check at the end.
func (v *viewTx) query(k queryKey) (cachedQuery, bool) {
	e, ok := v.s.queries.getAt(v.s.vers, k, v.at)
	if ok {
		v.served = append(v.served, kindKey(k.q.Scope, k.q.Kind))
	}
	return e, ok
}

func (v *viewTx) Idempotency(k store.IdempotencyKey) (*store.IdempotencyRecord, error) {
	t, err := v.sql()
	if err != nil {
		return nil, err
	}
	return t.Idempotency(k)
}

func (v *viewTx) Meta(key string) ([]byte, error) {
	t, err := v.sql()
	if err != nil {
		return nil, err
	}
	return t.Meta(key)
}

// A view does not write; these fail as the read-only pool fails them.
var errReadOnly = errors.New("sqlitestore: write in a read-only transaction")

func (v *viewTx) Insert(*store.Record) error                    { return errReadOnly }
func (v *viewTx) Update(*store.Record) error                    { return errReadOnly }
func (v *viewTx) Delete(store.Scope, string, string) error      { return errReadOnly }
func (v *viewTx) PutIdempotency(*store.IdempotencyRecord) error { return errReadOnly }
func (v *viewTx) PutMeta(string, []byte) error                  { return errReadOnly }
func (v *viewTx) Notify(string)                                 {}

// servedLists keeps views' lists of served keys between views: a list page
// serves fifty, and growing a new list each time was a tenth of a page's
// allocations. A list never leaves its view.
var servedLists = sync.Pool{New: func() any { l := make([]vkey, 0, 64); return &l }}

// view runs fn in a viewTx, and again without the cache when a record it
// served was written meanwhile.
func (s *Store) view(ctx context.Context, fn func(store.Tx) error) error {
	sp := servedLists.Get().(*[]vkey)
	v := &viewTx{ctx: ctx, s: s, at: s.vers.committed.Load(), served: (*sp)[:0]}
	defer func() {
		if cap(v.served) <= 1024 {
			*sp = v.served[:0]
			servedLists.Put(sp)
		}
	}()
	err := fn(v)
	if v.t != nil {
		if cerr := v.t.q.Rollback(); cerr != nil && err == nil && !errors.Is(cerr, sql.ErrTxDone) {
			err = cerr
		}
	}
	if v.t != nil && len(v.served) > 0 && !s.vers.unchangedAll(v.at, v.served) {
		return s.run(ctx, s.reader, s.reader != s.writer, fn)
	}
	return err
}
