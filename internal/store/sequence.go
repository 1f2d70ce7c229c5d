package store

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Next returns the next number (1, 2, 3...) of a named sequence inside tx.
// The sequence is a record of the given kind; its numbers are never reused,
// even after the things they numbered are deleted.
func Next(tx Tx, scope Scope, kind, name string, now time.Time) (int64, error) {
	rec, err := tx.Get(scope, kind, name)
	switch {
	case errors.Is(err, ErrNotFound):
		rec = &Record{Scope: scope, Kind: kind, ID: name, SortKey: name, Created: now, Updated: now, Body: []byte("0")}
		if err := tx.Insert(rec); err != nil {
			return 0, err
		}
	case err != nil:
		return 0, err
	}
	n, err := strconv.ParseInt(string(rec.Body), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("store: corrupt sequence %s/%s", kind, name)
	}
	n++
	rec.Body = []byte(strconv.FormatInt(n, 10))
	rec.Updated = now
	return n, tx.Update(rec)
}
