package engine

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/store/sqlitestore"
)

func memStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlitestore.OpenMemory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var scope = store.Scope{Account: "1", Region: "r"}

func enqueue(t *testing.T, st store.Store, it Item) {
	t.Helper()
	if err := st.Update(context.Background(), func(tx store.Tx) error { return Enqueue(tx, it) }); err != nil {
		t.Fatal(err)
	}
}

func TestItemsRunOnceInDueOrder(t *testing.T) {
	t.Parallel()
	st := memStore(t)
	now := time.Unix(1000, 0)
	e := New(st, nil, Options{Now: func() time.Time { return now }})
	var order []string
	e.Register("t", func(_ context.Context, it Item) (func(store.Tx) error, error) {
		return func(store.Tx) error { order = append(order, it.ID); return nil }, nil
	})
	enqueue(t, st, Item{ID: "b", Type: "t", Scope: scope, Due: now.Add(-time.Second)})
	enqueue(t, st, Item{ID: "a", Type: "t", Scope: scope, Due: now.Add(-2 * time.Second)})
	enqueue(t, st, Item{ID: "later", Type: "t", Scope: scope, Due: now.Add(time.Minute)})
	n, next, err := e.RunOnce(context.Background())
	if err != nil || n != 2 || !next.Equal(now.Add(time.Minute)) {
		t.Fatalf("run: %d %v %v", n, next, err)
	}
	if n, _, _ := e.RunOnce(context.Background()); n != 0 || len(order) != 2 || order[0] != "a" {
		t.Fatalf("second run handled %d; order %v", n, order)
	}
}

func TestFailedHandlerIsRetriedAndCancelWins(t *testing.T) {
	t.Parallel()
	st := memStore(t)
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	e := New(st, nil, Options{Now: clock})
	var calls atomic.Int32
	e.Register("t", func(_ context.Context, it Item) (func(store.Tx) error, error) {
		if calls.Add(1) == 1 {
			return nil, errors.New("transient")
		}
		return nil, nil
	})
	enqueue(t, st, Item{ID: "x", Type: "t", Scope: scope, Due: now})
	e.RunOnce(context.Background())
	now = now.Add(time.Second) // past the backoff
	e.RunOnce(context.Background())
	if calls.Load() != 2 {
		t.Fatalf("calls %d", calls.Load())
	}
	// A cancelled item's commit does not run.
	committed := false
	e.Register("c", func(_ context.Context, it Item) (func(store.Tx) error, error) {
		_ = st.Update(context.Background(), func(tx store.Tx) error { return Cancel(tx, it.ID) })
		return func(store.Tx) error { committed = true; return nil }, nil
	})
	enqueue(t, st, Item{ID: "y", Type: "c", Scope: scope, Due: now})
	e.RunOnce(context.Background())
	if committed {
		t.Fatal("a cancelled item committed")
	}
}

func TestExpiredLeaseIsReclaimedOnce(t *testing.T) {
	t.Parallel()
	st := memStore(t)
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	var commits atomic.Int32
	h := func(_ context.Context, it Item) (func(store.Tx) error, error) {
		return func(store.Tx) error { commits.Add(1); return nil }, nil
	}
	crashed := New(st, nil, Options{Now: clock, Lease: 10 * time.Second})
	enqueue(t, st, Item{ID: "x", Type: "t", Scope: scope, Due: now})
	claimed, _, err := crashed.claim(context.Background()) // claims, then "dies"
	if err != nil || len(claimed) != 1 {
		t.Fatal(claimed, err)
	}
	other := New(st, nil, Options{Now: clock, Lease: 10 * time.Second})
	other.Register("t", h)
	if n, _, _ := other.RunOnce(context.Background()); n != 0 {
		t.Fatal("a leased item was taken before its lease expired")
	}
	now = now.Add(11 * time.Second)
	if n, _, _ := other.RunOnce(context.Background()); n != 1 || commits.Load() != 1 {
		t.Fatalf("reclaim: %d commits %d", n, commits.Load())
	}
	// The dead worker's late commit is refused: the item is gone.
	crashed.Register("t", h)
	crashed.handle(context.Background(), claimed[0])
	if commits.Load() != 1 {
		t.Fatal("a stale worker committed")
	}
}

func TestReclaimOnStart(t *testing.T) {
	t.Parallel()
	st := memStore(t)
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	first := New(st, nil, Options{Now: clock})
	enqueue(t, st, Item{ID: "x", Type: "t", Scope: scope, Due: now})
	if claimed, _, _ := first.claim(context.Background()); len(claimed) != 1 {
		t.Fatal("not claimed")
	}
	var ran atomic.Bool
	second := New(st, nil, Options{Now: clock, ReclaimOnStart: true})
	second.Register("t", func(context.Context, Item) (func(store.Tx) error, error) { ran.Store(true); return nil, nil })
	if err := second.reclaimAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	second.RunOnce(context.Background())
	if !ran.Load() {
		t.Fatal("the item of a dead process was not reclaimed at start")
	}
}
