package imagebuilder

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/slipway-dev/slipway/internal/memo"
	"github.com/slipway-dev/slipway/internal/store"
)

// The record helpers every part of the service uses: documents and their
// members, and records read, decoded and written as JSON.

func str(d Doc, k string) string {
	s, _ := d[k].(string)
	return s
}

func boolean(d Doc, k string) bool {
	b, _ := d[k].(bool)
	return b
}

func list(d Doc, k string) []any {
	l, _ := d[k].([]any)
	return l
}

func obj(d Doc, k string) Doc {
	m, _ := d[k].(map[string]any)
	return m
}

func tagsOf(d Doc) map[string]string {
	m := obj(d, "tags")
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k], _ = v.(string)
	}
	return out
}

// body copies the request members that belong on the resource.
func body(in Doc, drop ...string) Doc {
	out := maps.Clone(in)
	for _, k := range append([]string{"clientToken", "dryRun", "tags"}, drop...) {
		delete(out, k)
	}
	return out
}

// withTags returns the document as the API shows it, with its tags.
func withTags(d Doc, tags map[string]string) Doc {
	out := maps.Clone(d)
	if len(tags) > 0 {
		out["tags"] = tags
	}
	return out
}

func insertDoc(tx store.Tx, scope store.Scope, sp spec, id, parent, sortKey string, d Doc, tags map[string]string, now time.Time) error {
	err := insertJSON(tx, &store.Record{Scope: scope, Kind: sp.Kind, ID: id, Parent: parent, SortKey: sortKey, Created: now, Updated: now, Tags: tags}, d)
	if errors.Is(err, store.ErrExists) {
		return alreadyExists(sp, id)
	}
	return err
}

// loadDoc reads a resource; a missing one is a NotFound fault.
func loadDoc(tx store.Tx, scope store.Scope, sp spec, id string) (Doc, *store.Record, error) {
	var d Doc
	rec, err := getJSON(tx, scope, sp.Kind, id, &d)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, notFound(sp, id)
	}
	return d, rec, err
}

func decodeDoc(rec *store.Record) (Doc, error) {
	var d Doc
	return d, decodeInto(rec, &d)
}

// sharedDocs remembers decoded documents for the read paths that only read
// them (GetImage, ListImages); a shared document must not be changed.
var sharedDocs = memo.New(1<<20, func(b []byte) (Doc, error) {
	var d Doc
	return d, json.Unmarshal(b, &d)
})

// decodeShared decodes a record's document, shared with other readers.
func decodeShared(rec *store.Record) (Doc, error) {
	d, err := sharedDocs.Decode(rec.Body)
	if err != nil {
		return nil, fmt.Errorf("imagebuilder: corrupt record %s %s: %w", rec.Kind, rec.ID, err)
	}
	return d, nil
}

// loadShared is loadDoc for a reader that does not change the document.
func loadShared(tx store.Tx, scope store.Scope, sp spec, id string) (Doc, *store.Record, error) {
	rec, err := tx.Get(scope, sp.Kind, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, notFound(sp, id)
	} else if err != nil {
		return nil, nil, err
	}
	d, err := decodeShared(rec)
	return d, rec, err
}

// project keeps the named members of d.
func project(d Doc, keys ...string) Doc {
	out := Doc{}
	for _, k := range keys {
		if v, ok := d[k]; ok {
			out[k] = v
		}
	}
	return out
}

// getJSON reads a record and decodes its body into v.
func getJSON(tx store.Tx, scope store.Scope, kind, id string, v any) (*store.Record, error) {
	rec, err := tx.Get(scope, kind, id)
	if err != nil {
		return nil, err
	}
	return rec, decodeInto(rec, v)
}

func decodeInto(rec *store.Record, v any) error {
	if err := json.Unmarshal(rec.Body, v); err != nil {
		return fmt.Errorf("imagebuilder: corrupt record %s %s: %w", rec.Kind, rec.ID, err)
	}
	return nil
}

// putJSON stores v as rec's new body.
func putJSON(tx store.Tx, rec *store.Record, v any, now time.Time) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	rec.Body, rec.Updated = b, now
	return tx.Update(rec)
}

// insertJSON inserts rec (all but its body filled in) with v as its body.
func insertJSON(tx store.Tx, rec *store.Record, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	rec.Body = b
	return tx.Insert(rec)
}
