package imagebuilder

import (
	"context"
	"time"

	"github.com/slipway-dev/slipway/internal/arn"
	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/store"
)

// named describes a resource identified by name alone (configurations and
// pipelines): how to check and complete its document, and how it is shown.
type named struct {
	sp       spec
	arnField string
	out      string // the Get response member
	list     string // the List response member
	summary  []string
	filters  map[string]func(Doc) []string
	// summarize, when set, adds derived members to a list item.
	summarize func(d, item Doc)
	// derive, when set, adds what is computed at read time.
	derive func(d Doc, now time.Time)
	// mutable lists the members an Update replaces.
	mutable []string
	// updatedOnCreate sets dateUpdated at creation too (AWS does so for
	// pipelines, not for configurations).
	updatedOnCreate bool
	// written and deleted, when set, run in the transaction that wrote or
	// deleted the resource (pipelines keep their schedules in step).
	written func(s *Service, tx store.Tx, scope store.Scope, arn string, d Doc, now time.Time) error
	deleted func(s *Service, tx store.Tx, scope store.Scope, arn string) error
	// prepare validates d (the resource document being written) inside the
	// transaction, fills defaults, and returns the resources it depends on.
	prepare func(s *Service, tx store.Tx, scope store.Scope, d Doc) ([]string, error)
}

func (n named) arnOf(scope store.Scope, name string) string {
	return resourceARN(scope, scope.Account, n.sp.ARNType+"/"+arn.NormalizeName(name))
}

func (n named) checkARN(scope store.Scope, raw string) error {
	a, _, err := parseARN(raw, n.arnField, n.sp, 1, 1)
	if err != nil {
		return err
	}
	if !ownedBy(a, scope) {
		return notFound(n.sp, raw)
	}
	return nil
}

func (s *Service) createNamed(ctx context.Context, scope store.Scope, n named, op string, in Doc) (Doc, error) {
	now := s.nowMillis()
	a := n.arnOf(scope, str(in, "name"))
	return s.idempotent(ctx, scope, op, in, func(tx store.Tx) (Doc, error) {
		d := body(in)
		refs, err := n.prepare(s, tx, scope, d)
		if err != nil {
			return nil, err
		}
		if err := dryRun(in); err != nil {
			return nil, err
		}
		d["arn"], d["dateCreated"] = a, FormatTime(now)
		if n.updatedOnCreate {
			d["dateUpdated"] = d["dateCreated"]
		}
		if err := insertDoc(tx, scope, n.sp, a, "", arn.NormalizeName(str(in, "name")), d, tagsOf(in), now); err != nil {
			return nil, err
		}
		if err := setRefs(tx, scope, a, refs, now); err != nil {
			return nil, err
		}
		if n.written != nil {
			if err := n.written(s, tx, scope, a, d, now); err != nil {
				return nil, err
			}
		}
		return Doc{"clientToken": in["clientToken"], n.arnField: a}, nil
	})
}

func (s *Service) updateNamed(ctx context.Context, scope store.Scope, n named, op string, in Doc) (Doc, error) {
	raw := str(in, n.arnField)
	if err := n.checkARN(scope, raw); err != nil {
		return nil, err
	}
	now := s.nowMillis()
	return s.idempotent(ctx, scope, op, in, func(tx store.Tx) (Doc, error) {
		d, rec, err := loadDoc(tx, scope, n.sp, raw)
		if err != nil {
			return nil, err
		}
		// A full replace: members the request leaves out are cleared.
		for _, k := range n.mutable {
			if v, ok := in[k]; ok {
				d[k] = v
			} else {
				delete(d, k)
			}
		}
		refs, err := n.prepare(s, tx, scope, d)
		if err != nil {
			return nil, err
		}
		d["dateUpdated"] = FormatTime(now)
		if err := putJSON(tx, rec, d, now); err != nil {
			return nil, err
		}
		if err := setRefs(tx, scope, raw, refs, now); err != nil {
			return nil, err
		}
		if n.written != nil {
			if err := n.written(s, tx, scope, raw, d, now); err != nil {
				return nil, err
			}
		}
		return Doc{"clientToken": in["clientToken"], n.arnField: raw}, nil
	})
}

func (s *Service) getNamed(ctx context.Context, scope store.Scope, n named, in Doc) (Doc, error) {
	raw := str(in, n.arnField)
	if err := n.checkARN(scope, raw); err != nil {
		return nil, err
	}
	var out Doc
	err := s.store.View(ctx, func(tx store.Tx) error {
		d, rec, err := loadDoc(tx, scope, n.sp, raw)
		if err != nil {
			return err
		}
		if n.derive != nil {
			n.derive(d, s.now())
		}
		out = Doc{n.out: withTags(d, rec.Tags)}
		return nil
	})
	return out, err
}

func (s *Service) listNamed(ctx context.Context, scope store.Scope, n named, in Doc) (Doc, error) {
	accept, err := filters(in, n.filters)
	if err != nil {
		return nil, err
	}
	docs, recs, next, err := s.page(ctx, scope, "List"+n.sp.Type+"s", in, n.sp.Kind, "", func(_ store.Tx, d Doc, _ *store.Record) bool { return accept(d) })
	if err != nil {
		return nil, err
	}
	items := []any{}
	for i, d := range docs {
		if n.derive != nil {
			n.derive(d, s.now())
		}
		item := d
		if n.summary != nil {
			item = project(d, n.summary...)
		}
		if n.summarize != nil {
			n.summarize(d, item)
		}
		items = append(items, withTags(item, recs[i].Tags))
	}
	out := Doc{n.list: items}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

func (s *Service) deleteNamed(ctx context.Context, scope store.Scope, n named, in Doc) (Doc, error) {
	raw := str(in, n.arnField)
	if err := n.checkARN(scope, raw); err != nil {
		return nil, err
	}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if _, _, err := loadDoc(tx, scope, n.sp, raw); err != nil {
			return err
		}
		if err := checkUnused(tx, scope, n.sp, raw); err != nil {
			return err
		}
		if err := clearRefs(tx, scope, raw); err != nil {
			return err
		}
		if n.deleted != nil {
			if err := n.deleted(s, tx, scope, raw); err != nil {
				return err
			}
		}
		return tx.Delete(scope, n.sp.Kind, raw)
	})
	if err != nil {
		return nil, err
	}
	return Doc{n.arnField: raw}, nil
}

// requireOwned checks that a referenced resource exists in the caller's
// account and region, naming the field that refers to it.
func requireOwned(tx store.Tx, scope store.Scope, sp spec, field, raw string) error {
	a, _, err := parseARN(raw, field, sp, 1, 2)
	if err != nil {
		return err
	}
	if ownedBy(a, scope) {
		if _, err := tx.Get(scope, sp.Kind, raw); err == nil {
			return nil
		}
	}
	return fault.InvalidField(field, "The %s '%s' does not exist.", sp.Type, raw)
}
