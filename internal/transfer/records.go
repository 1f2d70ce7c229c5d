package transfer

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/slipway-dev/slipway/internal/epoch"
	"github.com/slipway-dev/slipway/internal/pagetoken"
	"github.com/slipway-dev/slipway/internal/store"
)

// Epoch is a time that travels as epoch seconds, the JSON 1.1 protocol's
// default timestamp encoding.
type Epoch = epoch.Time

// getRecord reads one record and decodes its body into v, reporting a
// missing record as missing().
func getRecord(tx store.Tx, scope store.Scope, kind, id string, v any, missing func() error) (*store.Record, error) {
	rec, err := tx.Get(scope, kind, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, missing()
	} else if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(rec.Body, v); err != nil {
		return nil, fmt.Errorf("transfer: corrupt %s %s: %w", kind, id, err)
	}
	return rec, nil
}

// putBody re-encodes v into rec and updates it.
func putBody(tx store.Tx, rec *store.Record, v any, now time.Time) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	rec.Body = b
	rec.Updated = now
	return tx.Update(rec)
}

// newRecord encodes v as a new record's body.
func newRecord(scope store.Scope, kind, id, parent, sortKey string, v any, tags []Tag, now time.Time) (*store.Record, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &store.Record{Scope: scope, Kind: kind, ID: id, Parent: parent, SortKey: sortKey, Created: now, Updated: now, Tags: tagMap(tags), Body: b}, nil
}

// listPage reads one page of a kind's records under parent in sort-key
// order, with a page token bound to op and extra; each record goes to each.
func (s *Service) listPage(tx store.Tx, scope store.Scope, op, extra, kind, parent string, maxResults int, nextToken string, each func(*store.Record) error) (string, error) {
	tscope := tokenScope(scope, op, extra)
	cursor, err := s.tokens.Cursor(tscope, nextToken)
	if err != nil {
		return "", err
	}
	max := pagetoken.Limit(maxResults, DefaultMaxResults)
	recs, err := tx.List(store.ListQuery{Scope: scope, Kind: kind, Parent: parent, After: cursor, Limit: max + 1})
	if err != nil {
		return "", err
	}
	next := ""
	if len(recs) > max {
		recs = recs[:max]
		next = s.tokens.Encode(tscope, recs[max-1].SortKey)
	}
	for _, r := range recs {
		if err := each(r); err != nil {
			return "", err
		}
	}
	return next, nil
}

// sequence returns the next creation number of kind, zero-padded so that
// it sorts as text.
func sequence(tx store.Tx, scope store.Scope, kind string, now time.Time) (string, error) {
	n, err := store.Next(tx, scope, kindSequence, kind, now)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%020d", n), nil
}
