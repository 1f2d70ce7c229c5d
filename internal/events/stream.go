package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/slipway-dev/slipway/internal/store"
)

// The live stream is fed from the store, not from the process that
// delivered an event: a fan-out records the event in a short journal and
// notifies Topic, and every replica's dispatcher reads what is new and
// hands it to its own subscribers. So a dashboard connected to any
// replica sees every event once.
//
// A journal entry is keyed by the time it was recorded and the event's ID,
// not by a counter: a counter is one row every fan-out reads and writes,
// so concurrent fan-outs conflicted (and on SQLite could not run
// speculatively). Entries may then commit out of key order: a
// notification makes readers read what sorts after their cursor, and every
// poll they re-read the last journalLag behind it, skipping what they have
// already published, so a late entry is streamed at most a poll late.

// Topic is the store notification that events were recorded.
const Topic = "events"

const (
	kindJournal = "events.journal"
	// journalKeep is how long a recorded event stays for streams to read.
	journalKeep = 10 * time.Minute
	// journalLag bounds how long after its key's time an entry can become
	// visible: the fan-out's commit, and clock differences between
	// replicas.
	journalLag = 10 * time.Second
)

// journalScope holds the journal; it is no account's scope.
var journalScope = store.Scope{Account: "~events", Region: "~"}

// journalKey sorts entries by the time they were recorded.
func journalKey(t time.Time, id string) string { return fmt.Sprintf("%016d|%s", t.UnixMilli(), id) }

// record appends ev to the journal in tx. It reads nothing, so concurrent
// fan-outs never conflict; old entries are pruned by the readers.
func record(tx store.Tx, ev Event, now time.Time) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	key := journalKey(now, ev.ID)
	if err := tx.Insert(&store.Record{Scope: journalScope, Kind: kindJournal, ID: key, SortKey: key, Created: now, Updated: now, Body: body}); err != nil {
		return err
	}
	tx.Notify(Topic)
	return nil
}

// Watch feeds this dispatcher's subscribers from the journal in st, from
// the events recorded after now, until Close. A notification starts a
// read at once; a read every poll covers a notification lost with a
// connection.
func (d *Dispatcher) Watch(st store.Store, poll time.Duration, log *slog.Logger) error {
	// Start from the events recorded after now: what the first look
	// finds is taken as published.
	r := &journalReader{cursor: time.Now(), seen: map[string]time.Time{}}
	if err := r.read(st, func(Event) {}, true); err != nil {
		return err
	}
	kick := make(chan struct{}, 1)
	unlisten := st.Listen(Topic, func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	})
	closed := d.done()
	d.watching = make(chan struct{})
	go func() {
		defer close(d.watching)
		defer unlisten()
		t := time.NewTicker(poll)
		defer t.Stop()
		pruned := time.Now()
		for {
			late := false
			select {
			case <-closed:
				return
			case <-kick:
			case <-t.C:
				late = true
			}
			if err := r.read(st, d.publish, late); err != nil {
				log.Warn("events: reading the journal failed", "error", err)
			}
			if time.Since(pruned) > time.Minute {
				pruned = time.Now()
				if err := prune(st, pruned.Add(-journalKeep)); err != nil {
					log.Warn("events: pruning the journal failed", "error", err)
				}
			}
		}
	}()
	return nil
}

// journalReader follows the journal: cursor is the newest entry time
// published, and seen the keys published within journalLag of it.
type journalReader struct {
	cursor time.Time
	seen   map[string]time.Time
}

// read publishes the entries not yet published that sort after the
// cursor, and with late those up to journalLag behind it.
func (r *journalReader) read(st store.Store, publish func(Event), late bool) error {
	from := r.cursor
	if late {
		from = from.Add(-journalLag)
	}
	after := journalKey(from, "")
	for {
		var recs []*store.Record
		err := st.View(context.Background(), func(tx store.Tx) error {
			var err error
			recs, err = tx.List(store.ListQuery{Scope: journalScope, Kind: kindJournal, After: after, Limit: 500})
			return err
		})
		if err != nil {
			return err
		}
		for _, rec := range recs {
			after = rec.SortKey
			if _, ok := r.seen[rec.ID]; ok {
				continue
			}
			r.seen[rec.ID] = rec.Created
			if rec.Created.After(r.cursor) {
				r.cursor = rec.Created
			}
			var ev Event
			if err := json.Unmarshal(rec.Body, &ev); err == nil {
				publish(ev)
			}
		}
		if len(recs) < 500 {
			break
		}
	}
	for id, t := range r.seen {
		if t.Before(r.cursor.Add(-2 * journalLag)) {
			delete(r.seen, id)
		}
	}
	return nil
}

// prune deletes the entries recorded before cutoff. Every replica prunes;
// an entry another deleted first is simply gone.
func prune(st store.Store, cutoff time.Time) error {
	end := journalKey(cutoff, "")
	return st.Update(context.Background(), func(tx store.Tx) error {
		old, err := tx.List(store.ListQuery{Scope: journalScope, Kind: kindJournal, Limit: 1000})
		if err != nil {
			return err
		}
		for _, rec := range old {
			if rec.SortKey >= end {
				break
			}
			if err := tx.Delete(journalScope, kindJournal, rec.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
}
