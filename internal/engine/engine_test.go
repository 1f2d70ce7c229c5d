package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// fileStore opens the file store: exclusive, with speculation and the
// syncer, as the embedded deployment runs.
func fileStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), t.TempDir())
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
	claimed, _, err := crashed.claim(context.Background(), batch, false) // claims, then "dies"
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
	if claimed, _, _ := first.claim(context.Background(), batch, false); len(claimed) != 1 {
		t.Fatal("not claimed")
	}
	// Paused work far ahead is not read, let alone touched.
	for i := 0; i < 100; i++ {
		enqueue(t, st, Item{ID: fmt.Sprintf("later-%d", i), Type: "t", Scope: scope, Due: now.Add(time.Hour)})
	}
	var ran atomic.Bool
	var reclaimed int
	second := New(st, nil, Options{Now: clock, Exclusive: true, Reclaimed: func(n int) { reclaimed = n }})
	second.Register("t", func(context.Context, Item) (func(store.Tx) error, error) { ran.Store(true); return nil, nil })
	if err := second.reclaimAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	second.RunOnce(context.Background())
	if !ran.Load() || reclaimed != 1 {
		t.Fatalf("the item of a dead process was not reclaimed at start (%d reclaimed)", reclaimed)
	}
}

// TestSlowHandlerDoesNotHoldUpOthers blocks one handler until every other
// item has been handled: with handlers run one at a time it would never
// finish.
func TestSlowHandlerDoesNotHoldUpOthers(t *testing.T) {
	t.Parallel()
	st := memStore(t)
	e := New(st, nil, Options{Workers: 4, Poll: 10 * time.Millisecond})
	const others = 20
	var handled atomic.Int32
	release := make(chan struct{})
	e.Register("slow", func(ctx context.Context, it Item) (func(store.Tx) error, error) {
		select {
		case <-release:
		case <-time.After(10 * time.Second):
			return nil, errors.New("the others never ran")
		}
		handled.Add(1)
		return nil, nil
	})
	e.Register("quick", func(ctx context.Context, it Item) (func(store.Tx) error, error) {
		if handled.Add(1) == others {
			close(release)
		}
		return nil, nil
	})
	now := time.Now()
	enqueue(t, st, Item{ID: "slow", Type: "slow", Scope: scope, Due: now.Add(-time.Second)})
	for i := range others {
		enqueue(t, st, Item{ID: "q" + string(rune('a'+i)), Type: "quick", Scope: scope, Due: now})
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	deadline := time.Now().Add(15 * time.Second)
	for handled.Load() < others+1 {
		if time.Now().After(deadline) {
			t.Fatalf("handled %d of %d", handled.Load(), others+1)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLongHandlerKeepsItsLease runs a handler for several leases: renewal
// keeps the item from being claimed again, so it runs once.
func TestLongHandlerKeepsItsLease(t *testing.T) {
	t.Parallel()
	st := memStore(t)
	e := New(st, nil, Options{Lease: 150 * time.Millisecond, Poll: 10 * time.Millisecond})
	var runs, commits atomic.Int32
	e.Register("long", func(ctx context.Context, it Item) (func(store.Tx) error, error) {
		runs.Add(1)
		time.Sleep(600 * time.Millisecond)
		return func(store.Tx) error { commits.Add(1); return nil }, nil
	})
	enqueue(t, st, Item{ID: "long", Type: "long", Scope: scope, Due: time.Now()})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for commits.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a second claim would have started by now
	e.Stop()
	if runs.Load() != 1 || commits.Load() != 1 {
		t.Fatalf("ran %d times, committed %d times; want once", runs.Load(), commits.Load())
	}
}

// TestReplacedItemClaimedAgainKeepsItsCommit replaces an item while its
// handler runs and lets the same engine claim the replacement before the
// first handler commits: the first commit is stale, and the replacement's
// commit still applies.
func TestReplacedItemClaimedAgainKeepsItsCommit(t *testing.T) {
	t.Parallel()
	st := memStore(t)
	now := time.Unix(1000, 0)
	e := New(st, nil, Options{Now: func() time.Time { return now }})
	var committed []string
	e.Register("t", func(_ context.Context, it Item) (func(store.Tx) error, error) {
		return func(store.Tx) error { committed = append(committed, string(it.Payload)); return nil }, nil
	})
	enqueue(t, st, Item{ID: "x", Type: "t", Scope: scope, Due: now, Payload: []byte(`"old"`)})
	first, _, err := e.claim(context.Background(), batch, false)
	if err != nil || len(first) != 1 {
		t.Fatal(first, err)
	}
	enqueue(t, st, Item{ID: "x", Type: "t", Scope: scope, Due: now, Payload: []byte(`"new"`)}) // a signal replaces it
	second, _, err := e.claim(context.Background(), batch, false)
	if err != nil || len(second) != 1 || second[0].Attempt != first[0].Attempt {
		t.Fatal(second, err)
	}
	e.handle(context.Background(), first[0])
	e.handle(context.Background(), second[0])
	if len(committed) != 1 || committed[0] != `"new"` {
		t.Fatalf("committed %v", committed)
	}
}

// TestExclusiveClaimsStayInMemory: on an exclusive store a claim writes
// nothing, an item in hand is not claimed again however often the
// dispatcher looks, a replacement enqueued meanwhile survives the stale
// commit and runs after it, and an item due before the engine started
// counts as a retry.
func TestExclusiveClaimsStayInMemory(t *testing.T) {
	t.Parallel()
	st := fileStore(t)
	ctx := context.Background()
	enqueue(t, st, Item{ID: "old", Type: "t", Scope: scope, Due: time.Now().Add(-time.Minute)})
	e := New(st, nil, Options{Exclusive: true, Poll: 5 * time.Millisecond})
	release := make(chan struct{})
	type run struct {
		payload string
		attempt int
	}
	runs := make(chan run, 10)
	e.Register("t", func(_ context.Context, it Item) (func(store.Tx) error, error) {
		runs <- run{string(it.Payload), it.Attempt}
		if string(it.Payload) == `"first"` {
			<-release
		}
		return nil, nil
	})
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	if r := <-runs; r.attempt < 2 {
		t.Fatalf("an item due before the start ran as attempt %d", r.attempt)
	}
	enqueue(t, st, Item{ID: "x", Type: "t", Scope: scope, Due: time.Now(), Payload: []byte(`"first"`)})
	if r := <-runs; r.payload != `"first"` || r.attempt != 1 {
		t.Fatalf("first run %+v", r)
	}
	time.Sleep(50 * time.Millisecond) // the dispatcher looks several times
	err := st.View(ctx, func(tx store.Tx) error {
		rec, err := tx.Get(queueScope, kindItem, "x")
		if err != nil {
			return err
		}
		var it Item
		if err := json.Unmarshal(rec.Body, &it); err != nil {
			return err
		}
		if it.Lease != "" || it.Attempt != 0 {
			return fmt.Errorf("the claim was written: %+v", it)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, st, Item{ID: "x", Type: "t", Scope: scope, Due: time.Now(), Payload: []byte(`"second"`)})
	select {
	case r := <-runs:
		t.Fatalf("ran %+v while the first claim of x was in hand", r)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if r := <-runs; r.payload != `"second"` {
		t.Fatalf("after the stale commit ran %+v", r)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := QueueDepth(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d items left", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case r := <-runs:
		t.Fatalf("ran again: %+v", r)
	default:
	}
}
