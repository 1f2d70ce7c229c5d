package imagebuilder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/arn"
	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/pagetoken"
	"github.com/slipway-dev/slipway/internal/store"
)

// Doc is a catalog resource in its canonical form: the API's JSON document
// (camelCase members), which is also how it is stored. The model has already
// validated every request document against its shape.
type Doc = map[string]any

// spec describes one kind of catalog resource.
type spec struct {
	Type    string // as named in AWS messages, e.g. "ImageRecipe"
	ARNType string // the ARN resource type, e.g. "image-recipe"
	Kind    string // the store record kind
}

var (
	specWorkflow        = spec{"Workflow", "workflow", kindWorkflow}
	specComponent       = spec{"Component", "component", "imagebuilder.component"}
	specImageRecipe     = spec{"ImageRecipe", "image-recipe", "imagebuilder.image-recipe"}
	specContainerRecipe = spec{"ContainerRecipe", "container-recipe", "imagebuilder.container-recipe"}
	specInfra           = spec{"InfrastructureConfiguration", "infrastructure-configuration", "imagebuilder.infrastructure-configuration"}
	specDist            = spec{"DistributionConfiguration", "distribution-configuration", "imagebuilder.distribution-configuration"}
	specPipeline        = spec{"ImagePipeline", "image-pipeline", "imagebuilder.image-pipeline"}
)

const (
	kindComponentVersion = "imagebuilder.component-version"
	kindRef              = "imagebuilder.ref"     // target <- source dependency
	kindRefsOf           = "imagebuilder.refs-of" // what a source depends on
	kindPolicy           = "imagebuilder.policy"  // resource policy by ARN
	kindRecipeCounter    = "imagebuilder.recipe-version"
)

func (s *Service) nowMillis() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// idempotent runs fn once per clientToken of the operation.
func (s *Service) idempotent(ctx context.Context, scope store.Scope, op string, in Doc, fn func(tx store.Tx) (Doc, error)) (Doc, error) {
	fp := maps.Clone(in)
	delete(fp, "clientToken")
	key := store.IdempotencyKey{Scope: scope, Operation: "imagebuilder:" + op, Token: str(in, "clientToken")}
	return store.Idempotent(ctx, s.store, key, fingerprint(fp), mismatch(), fn)
}

func dryRun(in Doc) error {
	if boolean(in, "dryRun") {
		return fault.New(fault.DryRun, "Request would have succeeded, but DryRun flag is set.")
	}
	return nil
}

func alreadyExists(sp spec, a string) error {
	return fault.Exists(sp.Type, a, "The following resource '%s' already exists: '%s'.", sp.Type, a)
}

func notFound(sp spec, a string) error {
	return fault.Missing(sp.Type, a, "The resource '%s' of type '%s' does not exist.", a, sp.Type)
}

// parseARN checks that s is an Image Builder ARN of the resource type with
// between min and max path segments after the type, and returns them.
func parseARN(s, field string, sp spec, min, max int) (arn.ARN, []string, error) {
	a, err := arn.Parse(s)
	if err == nil && a.Service == "imagebuilder" {
		parts := strings.Split(a.Resource, "/")
		if parts[0] == sp.ARNType && len(parts)-1 >= min && len(parts)-1 <= max {
			return a, parts[1:], nil
		}
	}
	return arn.ARN{}, nil, fault.InvalidField(field, "%s is not a valid %s ARN.", s, sp.Type)
}

// ownedBy reports whether an ARN is in the caller's account and region.
func ownedBy(a arn.ARN, scope store.Scope) bool {
	return a.Account == scope.Account && a.Region == scope.Region
}

// References: a source resource (recipe, pipeline) depends on targets
// (components, recipes, configurations, workflows), which then cannot be
// deleted.

func refID(target, source string) string { return target + " <- " + source }

// setRefs records that source depends on targets, replacing what it
// depended on before. The list is kept per source, so the dependencies are
// dropped exactly even when the source named its targets by wildcard.
func setRefs(tx store.Tx, scope store.Scope, source string, targets []string, now time.Time) error {
	if err := clearRefs(tx, scope, source); err != nil {
		return err
	}
	seen := map[string]bool{}
	var kept []string
	for _, t := range targets {
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		kept = append(kept, t)
		if err := tx.Insert(&store.Record{Scope: scope, Kind: kindRef, ID: refID(t, source), Parent: t, SortKey: source, Created: now, Updated: now, Body: []byte("{}")}); err != nil {
			return err
		}
	}
	b, _ := json.Marshal(kept)
	return tx.Insert(&store.Record{Scope: scope, Kind: kindRefsOf, ID: source, SortKey: source, Created: now, Updated: now, Body: b})
}

// clearRefs drops every dependency source recorded.
func clearRefs(tx store.Tx, scope store.Scope, source string) error {
	rec, err := tx.Get(scope, kindRefsOf, source)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	var targets []string
	if err := json.Unmarshal(rec.Body, &targets); err != nil {
		return err
	}
	for _, t := range targets {
		if err := tx.Delete(scope, kindRef, refID(t, source)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return tx.Delete(scope, kindRefsOf, source)
}

// checkUnused fails with a dependency fault if anything still refers to a.
func checkUnused(tx store.Tx, scope store.Scope, sp spec, a string) error {
	users, err := tx.List(store.ListQuery{Scope: scope, Kind: kindRef, Parent: a, Limit: 3})
	if err != nil {
		return err
	}
	if len(users) == 0 {
		return nil
	}
	names := make([]string, len(users))
	for i, u := range users {
		names[i] = u.SortKey
	}
	return fault.New(fault.Dependency, "The %s '%s' cannot be deleted because it is used by: %s.", sp.Type, a, strings.Join(names, ", "))
}

// filters turns request filters into a predicate over documents, given the
// filter names the operation supports and how to read each.
func filters(in Doc, allowed map[string]func(Doc) []string) (func(Doc) bool, error) {
	type f struct {
		get    func(Doc) []string
		values []string
	}
	var fs []f
	for _, raw := range list(in, "filters") {
		fd, _ := raw.(map[string]any)
		name := str(fd, "name")
		get, ok := allowed[name]
		if !ok {
			names := make([]string, 0, len(allowed))
			for n := range allowed {
				names = append(names, n)
			}
			sort.Strings(names)
			return nil, fault.InvalidField("filters", "The filter name '%s' is not supported; use one of %s.", name, strings.Join(names, ", "))
		}
		var vals []string
		for _, v := range list(fd, "values") {
			s, _ := v.(string)
			vals = append(vals, s)
		}
		fs = append(fs, f{get, vals})
	}
	return func(d Doc) bool {
		for _, flt := range fs {
			ok := false
			for _, have := range flt.get(d) {
				for _, want := range flt.values {
					if have == want {
						ok = true
					}
				}
			}
			if !ok {
				return false
			}
		}
		return true
	}, nil
}

func field(k string) func(Doc) []string {
	return func(d Doc) []string {
		switch v := d[k].(type) {
		case string:
			return []string{v}
		case []any:
			out := make([]string, 0, len(v))
			for _, x := range v {
				s, _ := x.(string)
				out = append(out, s)
			}
			return out
		}
		return nil
	}
}

// page lists documents of a kind in sort order, keeping those accept
// passes, and returns one page and the token for the next.
func (s *Service) page(ctx context.Context, scope store.Scope, op string, in Doc, kind, parent string, accept func(store.Tx, Doc, *store.Record) bool) ([]Doc, []*store.Record, string, error) {
	tscope := tokenScope(scope, op, []any{in["filters"], in["owner"], in["byName"], parent})
	cursor, err := s.tokens.Cursor(tscope, str(in, "nextToken"))
	if err != nil {
		return nil, nil, "", err
	}
	max := pagetoken.Limit(intOf(in["maxResults"]), DefaultMaxResults)
	var docs []Doc
	var recs []*store.Record
	var next string
	err = s.store.View(ctx, func(tx store.Tx) error {
		docs, next = nil, "" // the store may run this again
		out, more, err := pager{q: store.ListQuery{Scope: scope, Kind: kind, Parent: parent, After: cursor}, max: max,
			accept: func(r *store.Record) bool {
				d, err := decodeDoc(r)
				if err != nil || !accept(tx, d, r) {
					return false
				}
				docs = append(docs, d)
				return true
			}}.run(tx)
		if err != nil {
			return err
		}
		docs = docs[:len(out)]
		recs = out
		if more {
			next = s.tokens.Encode(tscope, out[len(out)-1].SortKey)
		}
		return nil
	})
	return docs, recs, next, err
}

// pageManaged pages a fixed list of AWS-managed documents, sorted by name
// then version: every version that accept passes or, with in's byName, only
// the newest of each name. The cursor is a position in the list.
func (s *Service) pageManaged(scope store.Scope, op string, in Doc, docs []Doc, accept func(Doc) bool, listKey string, item func(Doc) Doc) (Doc, error) {
	tscope := tokenScope(scope, op, []any{in["filters"], in["owner"], in["byName"], in["includeDeprecated"]})
	cursor, err := s.tokens.Cursor(tscope, str(in, "nextToken"))
	if err != nil {
		return nil, err
	}
	max := pagetoken.Limit(intOf(in["maxResults"]), DefaultMaxResults)
	items, out, last := []any{}, Doc{}, ""
	for i, d := range docs {
		key := fmt.Sprintf("%05d", i)
		if key <= cursor || !accept(d) {
			continue
		}
		if boolean(in, "byName") && i+1 < len(docs) && str(docs[i+1], "name") == str(d, "name") && accept(docs[i+1]) {
			continue // a newer version of this name follows
		}
		if len(items) == max {
			out["nextToken"] = s.tokens.Encode(tscope, last)
			break
		}
		last = key
		items = append(items, item(d))
	}
	out[listKey] = items
	return out, nil
}

func intOf(v any) int {
	switch n := v.(type) {
	case float64:
		return int(n)
	case int:
		return n
	}
	return 0
}

// Resource policies, for components, recipes and images.

// putPolicy stores a resource policy on an existing resource.
func (s *Service) putPolicy(ctx context.Context, scope store.Scope, id, policy string, exists func(tx store.Tx) error) error {
	var js map[string]any
	if err := json.Unmarshal([]byte(policy), &js); err != nil {
		return fault.InvalidField("policy", "The policy is not a valid JSON document: %v.", err)
	}
	if _, ok := js["Statement"]; !ok {
		return fault.InvalidField("policy", "The policy document must have a Statement.")
	}
	now := s.nowMillis()
	return s.store.Update(ctx, func(tx store.Tx) error {
		if err := exists(tx); err != nil {
			return err
		}
		rec := &store.Record{Scope: scope, Kind: kindPolicy, ID: id, SortKey: id, Created: now, Updated: now, Body: []byte(policy)}
		if err := tx.Update(rec); errors.Is(err, store.ErrNotFound) {
			return tx.Insert(rec)
		} else {
			return err
		}
	})
}

func (s *Service) getPolicy(ctx context.Context, scope store.Scope, sp spec, id string) (string, error) {
	var policy string
	err := s.store.View(ctx, func(tx store.Tx) error {
		rec, err := tx.Get(scope, kindPolicy, id)
		if errors.Is(err, store.ErrNotFound) {
			return fault.Missing(sp.Type, id, "The %s '%s' has no resource policy.", sp.Type, id)
		} else if err != nil {
			return err
		}
		policy = string(rec.Body)
		return nil
	})
	return policy, err
}

func dropPolicy(tx store.Tx, scope store.Scope, id string) error {
	if err := tx.Delete(scope, kindPolicy, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}
