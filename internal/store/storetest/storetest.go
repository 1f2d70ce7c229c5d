// Package storetest is the conformance suite every store engine must pass.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/store"
)

// Run runs the suite against stores made by open (a fresh, empty store per
// call).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	scope := store.Scope{Account: "000000000000", Region: "us-east-1"}
	other := store.Scope{Account: "000000000000", Region: "eu-west-1"}
	now := time.UnixMilli(time.Now().UnixMilli()).UTC()
	rec := func(id, parent, sortKey string) *store.Record {
		return &store.Record{Scope: scope, Kind: "k", ID: id, Parent: parent, SortKey: sortKey, Created: now, Updated: now,
			Tags: map[string]string{"t": id}, Body: []byte(`{"id":"` + id + `"}`)}
	}

	t.Run("CRUD", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		err := s.Update(ctx, func(tx store.Tx) error {
			if err := tx.Insert(rec("a", "", "1")); err != nil {
				return err
			}
			if err := tx.Insert(rec("a", "", "2")); !errors.Is(err, store.ErrExists) {
				return fmt.Errorf("duplicate id: %v", err)
			}
			if err := tx.Insert(rec("b", "", "1")); !errors.Is(err, store.ErrExists) {
				return fmt.Errorf("duplicate sort key: %v", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err = s.View(ctx, func(tx store.Tx) error {
			r, err := tx.Get(scope, "k", "a")
			if err != nil {
				return err
			}
			if string(r.Body) != `{"id":"a"}` || r.Tags["t"] != "a" || !r.Created.Equal(now) || r.SortKey != "1" {
				return fmt.Errorf("read back %+v", r)
			}
			if _, err := tx.Get(other, "k", "a"); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("other scope: %v", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Update(ctx, func(tx store.Tx) error {
			r := rec("a", "", "1")
			r.Body = []byte(`{"v":2}`)
			r.Tags = nil
			if err := tx.Update(r); err != nil {
				return err
			}
			if err := tx.Update(rec("zz", "", "9")); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("update missing: %v", err)
			}
			got, err := tx.Get(scope, "k", "a")
			if err != nil || string(got.Body) != `{"v":2}` || len(got.Tags) != 0 {
				return fmt.Errorf("after update %+v %v", got, err)
			}
			if err := tx.Delete(scope, "k", "a"); err != nil {
				return err
			}
			if err := tx.Delete(scope, "k", "a"); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("delete twice: %v", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("RollbackOnError", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		boom := errors.New("boom")
		err := s.Update(ctx, func(tx store.Tx) error {
			if err := tx.Insert(rec("a", "", "1")); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		_ = s.View(ctx, func(tx store.Tx) error {
			if _, err := tx.Get(scope, "k", "a"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("rolled-back insert is visible: %v", err)
			}
			return nil
		})
	})

	t.Run("ConcurrentUpdatesAreIsolated", func(t *testing.T) {
		// Concurrent transactions behave as if run one after another, and
		// one that fails leaves nothing, whatever a store batches together.
		t.Parallel()
		s := open(t)
		const writers = 60
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.Update(ctx, func(tx store.Tx) error {
					if _, err := store.Next(tx, scope, "counter", "c", now); err != nil {
						return err
					}
					if err := tx.Insert(rec(fmt.Sprintf("w%02d", i), "", fmt.Sprintf("w%02d", i))); err != nil {
						return err
					}
					if i%5 == 0 {
						return errors.New("refused")
					}
					return nil
				})
			}()
		}
		wg.Wait()
		ok := 0
		for i, err := range errs {
			if (err != nil) != (i%5 == 0) {
				t.Fatalf("writer %d: %v", i, err)
			}
			if err == nil {
				ok++
			}
		}
		err := s.View(ctx, func(tx store.Tx) error {
			recs, err := tx.List(store.ListQuery{Scope: scope, Kind: "k", Limit: 1000})
			if err != nil {
				return err
			}
			if len(recs) != ok {
				return fmt.Errorf("%d records for %d successful writers", len(recs), ok)
			}
			for _, r := range recs {
				var n int
				fmt.Sscanf(r.ID, "w%d", &n)
				if n%5 == 0 {
					return fmt.Errorf("a failed writer's record %s is there", r.ID)
				}
			}
			c, err := tx.Get(scope, "counter", "c")
			if err != nil {
				return err
			}
			if string(c.Body) != fmt.Sprint(ok) {
				return fmt.Errorf("counter %s, want %d", c.Body, ok)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ListOrderAndCount", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		err := s.Update(ctx, func(tx store.Tx) error {
			for i, k := range []string{"05", "01", "04", "02", "03"} {
				if err := tx.Insert(rec(fmt.Sprint("id", i), "p", k)); err != nil {
					return err
				}
			}
			return tx.Insert(rec("other-parent", "q", "00"))
		})
		if err != nil {
			t.Fatal(err)
		}
		_ = s.View(ctx, func(tx store.Tx) error {
			page, err := tx.List(store.ListQuery{Scope: scope, Kind: "k", Parent: "p", After: "02", Limit: 2})
			if err != nil || len(page) != 2 || page[0].SortKey != "03" || page[1].SortKey != "04" {
				t.Fatalf("page %v %v", page, err)
			}
			n, err := tx.Count(scope, "k", "p")
			if err != nil || n != 5 {
				t.Fatalf("count %d %v", n, err)
			}
			return nil
		})
	})

	t.Run("IdempotencyAndSequences", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		key := store.IdempotencyKey{Scope: scope, Operation: "op", Token: "tok"}
		mismatch := errors.New("mismatch")
		calls := 0
		run := func(fp string) (string, error) {
			return store.Idempotent(ctx, s, key, fp, mismatch, func(tx store.Tx) (string, error) {
				calls++
				n, err := store.Next(tx, scope, "seq", "s", now)
				return fmt.Sprint("result-", n), err
			})
		}
		a, err := run("fp1")
		if err != nil || a != "result-1" {
			t.Fatal(a, err)
		}
		b, err := run("fp1")
		if err != nil || b != a || calls != 1 {
			t.Fatalf("replay %q %v calls=%d", b, err, calls)
		}
		if _, err := run("fp2"); !errors.Is(err, mismatch) {
			t.Fatalf("mismatch: %v", err)
		}
		_ = s.Update(ctx, func(tx store.Tx) error {
			n, err := store.Next(tx, scope, "seq", "s", now)
			if err != nil || n != 2 {
				t.Fatalf("next %d %v", n, err)
			}
			return nil
		})
	})

	t.Run("MetaSurvivesReset", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		err := s.Update(ctx, func(tx store.Tx) error {
			if err := tx.PutMeta("m", []byte("1")); err != nil {
				return err
			}
			if err := tx.PutMeta("m", []byte("2")); err != nil {
				return err
			}
			return tx.Insert(rec("a", "", "1"))
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Reset(ctx); err != nil {
			t.Fatal(err)
		}
		_ = s.View(ctx, func(tx store.Tx) error {
			v, err := tx.Meta("m")
			if err != nil || string(v) != "2" {
				t.Fatalf("meta %q %v", v, err)
			}
			if _, err := tx.Get(scope, "k", "a"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("reset kept a record: %v", err)
			}
			return nil
		})
	})
}
