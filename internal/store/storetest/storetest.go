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
			// A cursor past every key with a prefix ends in 0xFF, which is
			// not UTF-8: keys compare as bytes on every engine.
			page, err = tx.List(store.ListQuery{Scope: scope, Kind: "k", Parent: "p", After: "0\xff", Limit: 10})
			if err != nil || len(page) != 0 {
				t.Fatalf("past 0\\xff: %v %v", page, err)
			}
			page, err = tx.List(store.ListQuery{Scope: scope, Kind: "k", Parent: "p", After: "0\x7f", Limit: 10})
			if err != nil || len(page) != 0 {
				t.Fatalf("past 0\\x7f: %v %v", page, err)
			}
			many, err := tx.GetMany(scope, "k", []string{"id4", "nope", "id0", "other-parent"})
			if err != nil || len(many) != 3 || many["id4"].SortKey != "03" || many["id0"].SortKey != "05" || many["other-parent"] == nil {
				t.Fatalf("GetMany %v %v", many, err)
			}
			if none, err := tx.GetMany(other, "k", []string{"id4"}); err != nil || len(none) != 0 {
				t.Fatalf("GetMany in another scope %v %v", none, err)
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
		run := func(fp string) (string, error) {
			return store.Idempotent(ctx, s, key, fp, mismatch, func(tx store.Tx) (string, error) {
				n, err := store.Next(tx, scope, "seq", "s", now)
				return fmt.Sprint("result-", n), err
			})
		}
		a, err := run("fp1")
		if err != nil || a != "result-1" {
			t.Fatal(a, err)
		}
		b, err := run("fp1")
		if err != nil || b != a {
			t.Fatalf("replay %q %v", b, err)
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

	t.Run("ClaimDueHandsEachRecordOnce", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		err := s.Update(ctx, func(tx store.Tx) error {
			for i := 1; i <= 40; i++ {
				if err := tx.Insert(rec(fmt.Sprintf("q%02d", i), "", fmt.Sprintf("%02d", i))); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// A claim moves what it takes past every bound, as the engine's
		// lease does.
		claim := func(upTo string, limit int) ([]string, error) {
			var ids []string
			err := s.ClaimDue(ctx, store.ListQuery{Scope: scope, Kind: "k", Limit: limit}, upTo, func(tx store.Tx, recs []*store.Record) error {
				ids = ids[:0]
				for _, r := range recs {
					r.SortKey = "z" + r.SortKey
					if err := tx.Update(r); err != nil {
						return err
					}
					ids = append(ids, r.ID)
				}
				return nil
			})
			return ids, err
		}
		ids, err := claim("05", 3)
		if err != nil || fmt.Sprint(ids) != "[q01 q02 q03]" {
			t.Fatalf("first claim %v %v", ids, err)
		}
		ids, err = claim("05", 10)
		if err != nil || fmt.Sprint(ids) != "[q04 q05]" {
			t.Fatalf("bounded claim %v %v", ids, err)
		}
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					ids, err := claim("40", 2)
					if err != nil {
						t.Error(err)
						return
					}
					if len(ids) == 0 {
						return
					}
					mu.Lock()
					for _, id := range ids {
						seen[id]++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		// A claimer that found only locked records may stop early; the
		// rest is still there for the next claim.
		for {
			ids, err := claim("40", 40)
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) == 0 {
				break
			}
			for _, id := range ids {
				seen[id]++
			}
		}
		if len(seen) != 35 {
			t.Fatalf("claimed %d of 35 records", len(seen))
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("%s claimed %d times", id, n)
			}
		}
	})

	t.Run("NotifyOnCommitOnly", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		heard := make(chan string, 16)
		listen := func(topic string) {
			cancel := s.Listen(topic, func() {
				select {
				case heard <- topic:
				default:
				}
			})
			t.Cleanup(cancel)
		}
		notify := func(topic string, err error) error {
			return s.Update(ctx, func(tx store.Tx) error { tx.Notify(topic); return err })
		}
		// A store may tell every topic once when its listening connection
		// opens; once anything is heard, topics added later are not.
		listen("committed")
		if err := notify("committed", nil); err != nil {
			t.Fatal(err)
		}
		select {
		case <-heard:
		case <-time.After(10 * time.Second):
			t.Fatal("no notification")
		}
		listen("rolled-back")
		boom := errors.New("boom")
		if err := notify("rolled-back", boom); !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if err := notify("committed", nil); err != nil {
			t.Fatal(err)
		}
		deadline := time.After(10 * time.Second)
		for {
			select {
			case got := <-heard:
				if got == "rolled-back" {
					t.Fatal("a rolled-back transaction's notification was delivered")
				}
				return // notifications arrive in commit order
			case <-deadline:
				t.Fatal("no notification after commit")
			}
		}
	})
}
