package pgstore

import (
	"context"
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

// Replicas start together: each migrates under the advisory lock, and the
// schema is made once.
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
	var n int
	if err := s.pool.QueryRow(context.Background(), "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != 1 {
		t.Fatalf("migrations recorded: %d %v", n, err)
	}
}
