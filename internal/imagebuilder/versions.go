package imagebuilder

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/arn"
	"github.com/slipway-dev/slipway/internal/memo"
	"github.com/slipway-dev/slipway/internal/pagetoken"
	"github.com/slipway-dev/slipway/internal/store"
)

// versionIndex keeps, for each semantic version of a resource with builds
// (workflows, components, images), which build is the newest. Its records
// are keyed by version ARN and sorted by "<group>/<version sort key>", where
// the group is the name (workflows: type/name), so a scan in key order
// meets each name's versions oldest first.
type versionIndex struct {
	kind      string // the index's record kind
	buildKind string // the builds' record kind; a build's Parent is its version ARN
}

var (
	workflowVersions  = versionIndex{kindWorkflowVersion, kindWorkflow}
	componentVersions = versionIndex{kindComponentVersion, specComponent.Kind}
	imageVersions     = versionIndex{kindImageVersion, kindImage}
)

// versionEntry is the body of an index record.
type versionEntry struct {
	Latest string `json:"latest"` // build-version ARN of the newest build
}

// versionEntries remembers decoded index records: every list page reads a
// page of them.
var versionEntries = memo.New(256<<10, func(b []byte) (versionEntry, error) {
	var ve versionEntry
	return ve, json.Unmarshal(b, &ve)
})

// latestOf reads an index record's newest build.
func latestOf(rec *store.Record) (string, error) {
	ve, err := versionEntries.Decode(rec.Body)
	return ve.Latest, err
}

// setLatest records build as the newest build of versionARN.
func (x versionIndex) setLatest(tx store.Tx, scope store.Scope, versionARN, sortKey, build string, now time.Time) error {
	body, _ := json.Marshal(versionEntry{Latest: build})
	rec := &store.Record{Scope: scope, Kind: x.kind, ID: versionARN, SortKey: sortKey, Created: now, Updated: now, Body: body}
	if err := tx.Update(rec); errors.Is(err, store.ErrNotFound) {
		return tx.Insert(rec)
	} else {
		return err
	}
}

// latest returns the newest build of versionARN, or store.ErrNotFound.
func (x versionIndex) latest(tx store.Tx, scope store.Scope, versionARN string) (string, error) {
	rec, err := tx.Get(scope, x.kind, versionARN)
	if err != nil {
		return "", err
	}
	return latestOf(rec)
}

// dropBuild is called once a build of versionARN is deleted: the version
// points at its newest remaining build, or goes when none remains.
func (x versionIndex) dropBuild(tx store.Tx, scope store.Scope, versionARN string, now time.Time) error {
	rec, err := tx.Get(scope, x.kind, versionARN)
	if err != nil {
		return err
	}
	builds, err := tx.List(store.ListQuery{Scope: scope, Kind: x.buildKind, Parent: versionARN, Limit: 1 << 30})
	if err != nil {
		return err
	}
	if len(builds) == 0 {
		return tx.Delete(scope, x.kind, versionARN)
	}
	return x.setLatest(tx, scope, versionARN, rec.SortKey, builds[len(builds)-1].ID, now)
}

// newest returns the newest build of the newest version in group (e.g.
// "name/") that pattern (possibly with wildcards) matches, or "".
func (x versionIndex) newest(tx store.Tx, scope store.Scope, group string, pattern arn.Version) (string, error) {
	versions, _, err := pager{q: store.ListQuery{Scope: scope, Kind: x.kind, After: group}, max: 1 << 30,
		stop: func(r *store.Record) bool { return !strings.HasPrefix(r.SortKey, group) }}.run(tx)
	if err != nil {
		return "", err
	}
	for i := len(versions) - 1; i >= 0; i-- {
		if !pattern.Matches(mustVersion(versions[i].ID[strings.LastIndexByte(versions[i].ID, '/')+1:])) {
			continue
		}
		return latestOf(versions[i])
	}
	return "", nil
}

// listLatest pages the index in key order: the newest build of each version
// that accept passes or, when in's byName is set, only the newest of each
// group. decode reads a build record.
func listLatest[T any](ctx context.Context, s *Service, scope store.Scope, op string, in Doc, x versionIndex,
	decode func(*store.Record) (T, error), accept func(T) bool) ([]T, string, error) {
	tscope := tokenScope(scope, op, []any{in["filters"], in["owner"], in["byName"]})
	cursor, err := s.tokens.Cursor(tscope, str(in, "nextToken"))
	if err != nil {
		return nil, "", err
	}
	max := pagetoken.Limit(intOf(in["maxResults"]), DefaultMaxResults)
	byName := boolean(in, "byName")
	group := func(sortKey string) string { return sortKey[:strings.LastIndexByte(sortKey, '/')+1] }
	var items []T
	var keys []string // the index sort key of each item
	more := false
	err = s.store.View(ctx, func(tx store.Tx) error {
		// The store may run this again; a page's items are sized once.
		items, keys, more = make([]T, 0, min(max, 100)), make([]string, 0, min(max, 100)), false
		batch := max + 1 // a page and the one that tells there is more
		if byName {
			batch = 100 // several versions fold into one item
		}
		// Each version's latest build, read for a whole batch at once.
		latest := make(map[string]string, batch) // version record ID -> build ID
		var builds map[string]*store.Record
		prefetch := func(recs []*store.Record) error {
			ids := make([]string, 0, len(recs))
			for _, r := range recs {
				if l, err := latestOf(r); err == nil {
					latest[r.ID] = l
					ids = append(ids, l)
				}
			}
			var err error
			builds, err = tx.GetMany(scope, x.buildKind, ids)
			return err
		}
		_, _, err := pager{q: store.ListQuery{Scope: scope, Kind: x.kind, After: cursor}, max: 1 << 30, batch: batch, prefetch: prefetch,
			stop: func(*store.Record) bool { return more },
			accept: func(r *store.Record) bool {
				b := builds[latest[r.ID]]
				if b == nil {
					return false
				}
				item, err := decode(b)
				if err != nil || !accept(item) {
					return false
				}
				if byName && len(keys) > 0 && group(keys[len(keys)-1]) == group(r.SortKey) {
					items[len(items)-1], keys[len(keys)-1] = item, r.SortKey // a newer version of the same name
					return false
				}
				if len(items) == max {
					more = true // one more beyond a full page
					return false
				}
				items, keys = append(items, item), append(keys, r.SortKey)
				return true
			}}.run(tx)
		return err
	})
	if err != nil || !more {
		return items, "", err
	}
	last := keys[len(keys)-1]
	if byName {
		last = group(last) + "\xff" // past every version of the last name
	}
	return items, s.tokens.Encode(tscope, last), nil
}

// newestOf returns the item with the highest version among those match
// passes (the AWS-managed catalogues are small lists).
func newestOf[T any](items []T, version func(T) string, match func(T) bool) (T, bool) {
	var best T
	found := false
	for _, it := range items {
		if match(it) && (!found || mustVersion(version(it)).Compare(mustVersion(version(best))) > 0) {
			best, found = it, true
		}
	}
	return best, found
}
