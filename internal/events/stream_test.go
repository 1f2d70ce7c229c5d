package events

import (
	"context"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/store/sqlitestore"
)

// TestJournalReaderPublishesLateEntriesOnce: an entry that commits after a
// newer one was read (its key time is earlier) is still published, and
// nothing is published twice; pruning removes what is older than the
// cutoff.
func TestJournalReaderPublishesLateEntriesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	put := func(id string, at time.Time) {
		t.Helper()
		if err := st.Update(ctx, func(tx store.Tx) error { return record(tx, Event{ID: id}, at) }); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	put("before", start.Add(-time.Second))
	r := &journalReader{cursor: start, seen: map[string]time.Time{}}
	var got []string
	publish := func(ev Event) { got = append(got, ev.ID) }
	if err := r.read(st, func(Event) {}, true); err != nil { // what was there at start
		t.Fatal(err)
	}
	put("b", start.Add(2*time.Second))
	if err := r.read(st, publish, false); err != nil {
		t.Fatal(err)
	}
	put("a", start.Add(time.Second)) // recorded earlier, committed later
	put("c", start.Add(3*time.Second))
	if err := r.read(st, publish, false); err != nil { // a notification: only what is newer
		t.Fatal(err)
	}
	for range 2 { // polls: the late one too, once
		if err := r.read(st, publish, true); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 3 || got[0] != "b" || got[1] != "c" || got[2] != "a" {
		t.Fatalf("published %v, want [b c a]", got)
	}
	if err := prune(st, start.Add(1500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	err = st.View(ctx, func(tx store.Tx) error {
		recs, err := tx.List(store.ListQuery{Scope: journalScope, Kind: kindJournal, Limit: 10})
		if err != nil {
			return err
		}
		if len(recs) != 2 {
			t.Errorf("%d entries after pruning, want b and c", len(recs))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
