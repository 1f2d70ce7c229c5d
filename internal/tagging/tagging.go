// Package tagging implements resource tags once for every service: tags live
// on the resource's record and change in one transaction.
package tagging

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/slipway-dev/slipway/internal/store"
)

// ErrTooMany is returned when tagging would exceed the per-resource limit.
type ErrTooMany struct{ Limit int }

func (e ErrTooMany) Error() string {
	return fmt.Sprintf("a resource can have at most %d tags", e.Limit)
}

// Tag adds or overwrites tags on a record. It returns store.ErrNotFound if
// the record does not exist and ErrTooMany past limit.
func Tag(ctx context.Context, st store.Store, scope store.Scope, kind, id string, add map[string]string, limit int) error {
	return st.Update(ctx, func(tx store.Tx) error {
		rec, err := tx.Get(scope, kind, id)
		if err != nil {
			return err
		}
		next := maps.Clone(rec.Tags)
		if next == nil {
			next = map[string]string{}
		}
		maps.Copy(next, add)
		if limit > 0 && len(next) > limit {
			return ErrTooMany{Limit: limit}
		}
		rec.Tags = next
		rec.Updated = time.Now().UTC()
		return tx.Update(rec)
	})
}

// Untag removes tag keys (absent keys are ignored, as AWS does).
func Untag(ctx context.Context, st store.Store, scope store.Scope, kind, id string, keys []string) error {
	return st.Update(ctx, func(tx store.Tx) error {
		rec, err := tx.Get(scope, kind, id)
		if err != nil {
			return err
		}
		for _, k := range keys {
			delete(rec.Tags, k)
		}
		rec.Updated = time.Now().UTC()
		return tx.Update(rec)
	})
}

// List returns a record's tags.
func List(ctx context.Context, st store.Store, scope store.Scope, kind, id string) (map[string]string, error) {
	var out map[string]string
	err := st.View(ctx, func(tx store.Tx) error {
		rec, err := tx.Get(scope, kind, id)
		if err != nil {
			return err
		}
		out = rec.Tags
		return nil
	})
	if out == nil {
		out = map[string]string{}
	}
	return out, err
}
