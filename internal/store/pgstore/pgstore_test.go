package pgstore

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/store/pgstore/pgtest"
	"github.com/slipway-dev/slipway/internal/store/storetest"
)

func open(t *testing.T, url string) *Store {
	t.Helper()
	s, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPostgresStore(t *testing.T) {
	t.Parallel()
	pgtest.BaseURL(t)
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, pgtest.URL(t)) })
}

// Replicas start together: each migrates under the advisory lock, and
// each migration runs once.
func TestReplicasMigrateTogether(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(context.Background(), url)
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s := open(t, url)
	files, _ := migrations.ReadDir("migrations")
	var n int
	if err := s.pool.QueryRow(context.Background(), "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != len(files) {
		t.Fatalf("migrations recorded: %d of %d %v", n, len(files), err)
	}
}

// A transaction function that replaces the store's error with one of its
// own (as "does not exist" for a failed lookup) is still run again after
// a serialization failure, because the connection saw the conflict.
func TestMaskedConflictIsRetried(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t))
	ctx := context.Background()
	scope := store.Scope{Account: "a", Region: "r"}
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.Insert(&store.Record{Scope: scope, Kind: "counter", ID: "c", SortKey: "c", Body: []byte("0")})
	}); err != nil {
		t.Fatal(err)
	}
	masked := errors.New("masked")
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				err := s.Update(ctx, func(tx store.Tx) error {
					r, err := tx.Get(scope, "counter", "c")
					if err != nil {
						return masked
					}
					n, _ := strconv.Atoi(string(r.Body))
					r.Body = []byte(strconv.Itoa(n + 1))
					if err := tx.Update(r); err != nil {
						return masked
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	_ = s.View(ctx, func(tx store.Tx) error {
		r, err := tx.Get(scope, "counter", "c")
		if err != nil || string(r.Body) != "160" {
			t.Fatalf("counter %s %v", r.Body, err)
		}
		return nil
	})
}
