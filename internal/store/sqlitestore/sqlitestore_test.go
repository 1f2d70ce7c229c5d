package sqlitestore

import (
	"context"
	"testing"

	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/store/storetest"
)

func TestFileStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestMemoryStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := OpenMemory(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	scope := store.Scope{Account: "1", Region: "r"}
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.Insert(&store.Record{Scope: scope, Kind: "k", ID: "a", SortKey: "a", Body: []byte("{}")})
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, dir) // migrations are not re-applied
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.View(ctx, func(tx store.Tx) error { _, err := tx.Get(scope, "k", "a"); return err }); err != nil {
		t.Fatal(err)
	}
}
