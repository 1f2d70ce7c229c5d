package engine

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/store/pgstore"
	"github.com/slipway-dev/slipway/internal/store/pgstore/pgtest"
)

// pgStores opens n stores on one fresh PostgreSQL schema: n replicas.
func pgStores(t *testing.T, n int) []store.Store {
	t.Helper()
	url := pgtest.URL(t)
	out := make([]store.Store, n)
	for i := range out {
		st, err := pgstore.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		out[i] = st
	}
	return out
}

// Three engines on one database share 300 items, each of which enqueues a
// follow-up: every item's effect is committed exactly once (a second
// commit would find its record taken), and work is spread over replicas.
func TestPostgresEnginesShareTheQueue(t *testing.T) {
	t.Parallel()
	stores := pgStores(t, 3)
	const items = 300
	var dup atomic.Bool
	var committed atomic.Int32
	perEngine := make([]atomic.Int32, len(stores))
	finished := make(chan struct{})
	for i, st := range stores {
		observe := func(_, outcome string) {
			if outcome == "committed" {
				perEngine[i].Add(1)
				if committed.Add(1) == 2*items {
					close(finished)
				}
			}
		}
		e := New(st, nil, Options{Poll: time.Minute, Observe: observe})
		e.Register("t", func(_ context.Context, it Item) (func(store.Tx) error, error) {
			return func(tx store.Tx) error {
				err := tx.Insert(&store.Record{Scope: scope, Kind: "done", ID: it.ID, SortKey: it.ID, Body: []byte("{}")})
				if errors.Is(err, store.ErrExists) {
					dup.Store(true)
				}
				if err != nil {
					return err
				}
				if len(it.ID) < 8 { // a first item queues its follow-up
					return Enqueue(tx, Item{ID: it.ID + "-next", Type: "t", Scope: scope, Due: time.Now()})
				}
				return nil
			}, nil
		})
		if err := e.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Stop)
	}
	for i := 0; i < items; i++ {
		enqueue(t, stores[i%len(stores)], Item{ID: fmt.Sprintf("i%05d", i), Type: "t", Scope: scope, Due: time.Now()})
	}
	// The poll is a minute: only notifications get this done in time.
	select {
	case <-finished:
	case <-time.After(60 * time.Second):
		t.Fatalf("committed %d of %d", committed.Load(), 2*items)
	}
	if dup.Load() {
		t.Fatal("an item was committed twice")
	}
	_ = stores[0].View(context.Background(), func(tx store.Tx) error {
		if n, err := tx.Count(scope, "done", ""); n != 2*items || err != nil {
			t.Fatalf("done records %d %v", n, err)
		}
		return nil
	})
	for i := range perEngine {
		if perEngine[i].Load() == 0 {
			t.Errorf("engine %d handled nothing", i)
		}
	}
}

// An item claimed by a replica that then died comes back when its lease
// ends (there is no reclaim-on-start on a shared store), and the dead
// replica's late commit changes nothing.
func TestPostgresDeadReplicasLeaseIsReclaimed(t *testing.T) {
	t.Parallel()
	stores := pgStores(t, 2)
	now := time.Now()
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	nowFn := func() time.Time { return time.Unix(0, clock.Load()) }
	var commits atomic.Int32
	h := func(_ context.Context, it Item) (func(store.Tx) error, error) {
		return func(store.Tx) error { commits.Add(1); return nil }, nil
	}
	dead := New(stores[0], nil, Options{Now: nowFn, Lease: 30 * time.Second})
	dead.Register("t", h)
	alive := New(stores[1], nil, Options{Now: nowFn, Lease: 30 * time.Second})
	alive.Register("t", h)
	enqueue(t, stores[0], Item{ID: "x", Type: "t", Scope: scope, Due: now})
	claimed, _, err := dead.claim(context.Background(), 10, false)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	if n, _, err := alive.RunOnce(context.Background()); n != 0 || err != nil {
		t.Fatalf("a held item was taken: %d %v", n, err)
	}
	clock.Add(int64(31 * time.Second))
	if n, _, err := alive.RunOnce(context.Background()); n != 1 || err != nil || commits.Load() != 1 {
		t.Fatalf("reclaim: %d %v commits %d", n, err, commits.Load())
	}
	dead.handle(context.Background(), claimed[0]) // the dead replica's late commit
	if commits.Load() != 1 {
		t.Fatalf("a stale claim committed: %d", commits.Load())
	}
}
