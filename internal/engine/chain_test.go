package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/store"
)

// TestCommitHandsOnItsNextItem checks the hand-on itself: the first item
// a commit enqueues due now comes back to the handler's goroutine, stays
// out of every claim's reach until it is in hand, and is the item as
// stored (its nonce); one due later, or cancelled in the same commit, is
// left to the dispatcher.
func TestCommitHandsOnItsNextItem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		then func(tx store.Tx) error
		want string
	}{
		{"due now", func(tx store.Tx) error {
			if err := Enqueue(tx, Item{ID: "later", Type: "t", Scope: scope, Due: time.Now().Add(time.Minute)}); err != nil {
				return err
			}
			if err := Enqueue(tx, Item{ID: "next", Type: "t", Scope: scope, Due: time.Now()}); err != nil {
				return err
			}
			return Enqueue(tx, Item{ID: "second", Type: "t", Scope: scope, Due: time.Now()})
		}, "next"},
		{"cancelled", func(tx store.Tx) error {
			if err := Enqueue(tx, Item{ID: "next", Type: "t", Scope: scope, Due: time.Now()}); err != nil {
				return err
			}
			return Cancel(tx, "next")
		}, ""},
		{"postponed", func(tx store.Tx) error {
			if err := Enqueue(tx, Item{ID: "next", Type: "t", Scope: scope, Due: time.Now()}); err != nil {
				return err
			}
			return Enqueue(tx, Item{ID: "next", Type: "t", Scope: scope, Due: time.Now().Add(time.Minute)})
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := fileStore(t)
			e := New(st, nil, Options{Exclusive: true})
			e.Register("first", func(context.Context, Item) (func(store.Tx) error, error) { return tc.then, nil })
			enqueue(t, st, Item{ID: "first", Type: "first", Scope: scope, Due: time.Now()})
			claimed, _, err := e.claim(ctx, batch, false)
			if err != nil || len(claimed) != 1 {
				t.Fatalf("claim: %v %v", claimed, err)
			}
			e.inflight[claimed[0].Lease] = claimed[0]
			next, ok := e.handleChained(ctx, claimed[0])
			if got := map[bool]string{true: next.ID}[ok]; got != tc.want {
				t.Fatalf("handed on %q, want %q", got, tc.want)
			}
			again, _, err := e.claim(ctx, batch, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range again {
				if it.ID == tc.want {
					t.Fatalf("a claim took %s while it was handed on", it.ID)
				}
			}
			if !ok {
				if len(e.reserved) != 0 {
					t.Fatalf("reservations left: %v", e.reserved)
				}
				return
			}
			err = st.View(ctx, func(tx store.Tx) error {
				rec, err := tx.Get(queueScope, kindItem, next.ID)
				if err != nil {
					return err
				}
				var stored Item
				if err := json.Unmarshal(rec.Body, &stored); err != nil {
					return err
				}
				if stored.Nonce != next.Nonce || next.Nonce == "" {
					return fmt.Errorf("handed on nonce %q, stored %q", next.Nonce, stored.Nonce)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestHandedOnChainsRunOnce runs chains of items, each enqueueing the
// next, while other work keeps the dispatcher claiming: every link runs
// exactly once, in order.
func TestHandedOnChainsRunOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := fileStore(t)
	e := New(st, nil, Options{Exclusive: true, Poll: time.Millisecond})
	const chains, links = 4, 50
	var mu sync.Mutex
	runs := map[string]int{}
	last := map[int]int{}
	var order []string
	e.Register("link", func(_ context.Context, it Item) (func(store.Tx) error, error) {
		var n [2]int
		if err := json.Unmarshal(it.Payload, &n); err != nil {
			return nil, err
		}
		mu.Lock()
		runs[it.ID]++
		if n[1] != last[n[0]] {
			order = append(order, fmt.Sprintf("chain %d ran link %d after %d", n[0], n[1], last[n[0]]))
		}
		last[n[0]] = n[1] + 1
		mu.Unlock()
		return func(tx store.Tx) error {
			if n[1]+1 == links {
				return nil
			}
			p, _ := json.Marshal([2]int{n[0], n[1] + 1})
			return Enqueue(tx, Item{ID: fmt.Sprintf("c%d-%d", n[0], n[1]+1), Type: "link", Scope: scope, Payload: p, Due: time.Now()})
		}, nil
	})
	e.Register("noise", func(context.Context, Item) (func(store.Tx) error, error) { return nil, nil })
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	for c := range chains {
		p, _ := json.Marshal([2]int{c, 0})
		enqueue(t, st, Item{ID: fmt.Sprintf("c%d-0", c), Type: "link", Scope: scope, Payload: p, Due: time.Now()})
	}
	for i := 0; ; i++ {
		enqueue(t, st, Item{ID: fmt.Sprintf("noise-%d", i), Type: "noise", Scope: scope, Due: time.Now()})
		mu.Lock()
		n := len(runs)
		mu.Unlock()
		if n == chains*links {
			break
		}
		if i > 20000 {
			t.Fatalf("%d of %d links ran", n, chains*links)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for id, n := range runs {
		if n != 1 {
			t.Errorf("%s ran %d times", id, n)
		}
	}
	if len(order) > 0 {
		t.Errorf("out of order: %v", order)
	}
}
