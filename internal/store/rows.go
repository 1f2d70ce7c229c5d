package store

import (
	"encoding/json"
	"fmt"
	"time"
)

// RecordColumns is the column order both SQL engines read and write a
// record in.
const RecordColumns = `account, region, kind, id, parent, sort_key, created_ms, updated_ms, tags, body`

// Rows is what the SQL engines' result sets have in common.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// ScanRecord reads one row of RecordColumns.
func ScanRecord(sc interface{ Scan(...any) error }) (*Record, error) {
	var r Record
	var created, updated int64
	var tags string
	var sortKey []byte // TEXT on SQLite, BYTEA on PostgreSQL
	if err := sc.Scan(&r.Account, &r.Region, &r.Kind, &r.ID, &r.Parent, &sortKey, &created, &updated, &tags, &r.Body); err != nil {
		return nil, err
	}
	r.SortKey = string(sortKey)
	r.Created, r.Updated = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	if tags != "" && tags != "{}" {
		if err := json.Unmarshal([]byte(tags), &r.Tags); err != nil {
			return nil, fmt.Errorf("store: tags of %s: %w", r.ID, err)
		}
	}
	return &r, nil
}

// CollectRecords reads rows of RecordColumns, at most max of them unless
// max is 0, and closes rows.
func CollectRecords(rows Rows, max int) ([]*Record, error) {
	defer rows.Close()
	var out []*Record
	for (max <= 0 || len(out) < max) && rows.Next() {
		r, err := ScanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ByID indexes records by ID.
func ByID(recs []*Record) map[string]*Record {
	out := make(map[string]*Record, len(recs))
	for _, r := range recs {
		out[r.ID] = r
	}
	return out
}

// EncodeTags is the tags column: a JSON object, "{}" when there are none.
func EncodeTags(tags map[string]string) (string, error) {
	if len(tags) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(tags)
	return string(b), err
}
