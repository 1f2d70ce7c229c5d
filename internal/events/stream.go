package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/slipway-dev/slipway/internal/store"
)

// The live stream is fed from the store, not from the process that
// delivered an event: a fan-out records the event in a short journal and
// notifies Topic, and every replica's dispatcher reads what is new and
// hands it to its own subscribers. So a dashboard connected to any
// replica sees every event once.

// Topic is the store notification that events were recorded.
const Topic = "events"

const (
	kindJournal = "events.journal"
	// journalSeq numbers the journal. It is server metadata, so a reset
	// (which empties the journal) never reuses a number a reader passed.
	journalSeq = "events-journal-seq"
	// journalKeep is how long a recorded event stays for streams to read.
	journalKeep = 10 * time.Minute
)

// journalScope holds the journal; it is no account's scope.
var journalScope = store.Scope{Account: "~events", Region: "~"}

func journalKey(n int64) string { return fmt.Sprintf("%016d", n) }

// record appends ev to the journal in tx, numbered in commit order (the
// number is one row, which concurrent recorders write and so serialize
// on), and drops entries older than journalKeep.
func record(tx store.Tx, ev Event, now time.Time) error {
	// Read the oldest entries before writing any: a store that runs
	// transactions on a snapshot first cannot list a kind it has written.
	old, err := tx.List(store.ListQuery{Scope: journalScope, Kind: kindJournal, Limit: 16})
	if err != nil {
		return err
	}
	n, err := journalNumber(tx)
	if err != nil {
		return err
	}
	n++
	if err := tx.PutMeta(journalSeq, []byte(strconv.FormatInt(n, 10))); err != nil {
		return err
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	key := journalKey(n)
	if err := tx.Insert(&store.Record{Scope: journalScope, Kind: kindJournal, ID: key, SortKey: key, Created: now, Updated: now, Body: body}); err != nil {
		return err
	}
	for _, r := range old {
		if now.Sub(r.Created) < journalKeep {
			break
		}
		if err := tx.Delete(journalScope, kindJournal, r.ID); err != nil {
			return err
		}
	}
	tx.Notify(Topic)
	return nil
}

// Watch feeds this dispatcher's subscribers from the journal in st, from
// the events recorded after now, until Close. A notification starts a
// read at once; a read every poll covers a notification lost with a
// connection.
func (d *Dispatcher) Watch(st store.Store, poll time.Duration, log *slog.Logger) error {
	cursor, err := journalEnd(st)
	if err != nil {
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
		for {
			select {
			case <-closed:
				return
			case <-kick:
			case <-t.C:
			}
			next, err := d.readJournal(st, cursor)
			if err != nil {
				log.Warn("events: reading the journal failed", "error", err)
				continue
			}
			cursor = next
		}
	}()
	return nil
}

// journalNumber is the number of the newest recorded event (0: none).
func journalNumber(tx store.Tx) (int64, error) {
	b, err := tx.Meta(journalSeq)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	return strconv.ParseInt(string(b), 10, 64)
}

// journalEnd is the key of the newest recorded event.
func journalEnd(st store.Store) (string, error) {
	var n int64
	err := st.View(context.Background(), func(tx store.Tx) error {
		var err error
		n, err = journalNumber(tx)
		return err
	})
	return journalKey(n), err
}

// readJournal publishes the events after cursor and returns the new cursor.
func (d *Dispatcher) readJournal(st store.Store, cursor string) (string, error) {
	for {
		var recs []*store.Record
		err := st.View(context.Background(), func(tx store.Tx) error {
			var err error
			recs, err = tx.List(store.ListQuery{Scope: journalScope, Kind: kindJournal, After: cursor, Limit: 500})
			return err
		})
		if err != nil {
			return cursor, err
		}
		for _, r := range recs {
			var ev Event
			if err := json.Unmarshal(r.Body, &ev); err == nil {
				d.publish(ev)
			}
			cursor = r.SortKey
		}
		if len(recs) < 500 {
			return cursor, nil
		}
	}
}
