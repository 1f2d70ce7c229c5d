package imagebuilder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/arn"
	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/memo"
	"github.com/slipway-dev/slipway/internal/pagetoken"
	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/wfdoc"
)

// Workflow is one build version of a workflow resource.
type Workflow struct {
	ARN               string              `json:"arn"`
	Name              string              `json:"name"`
	Version           string              `json:"version"`
	Build             int                 `json:"build"`
	Description       string              `json:"description,omitempty"`
	ChangeDescription string              `json:"changeDescription,omitempty"`
	Type              string              `json:"type"`
	Owner             string              `json:"owner"`
	Data              string              `json:"data"`
	KMSKeyID          string              `json:"kmsKeyId,omitempty"`
	DateCreated       time.Time           `json:"dateCreated"`
	Parameters        []WorkflowParameter `json:"parameters,omitempty"`
	Tags              map[string]string   `json:"-"`
}

// WorkflowParameter is a parameter the workflow document declares.
type WorkflowParameter struct {
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	DefaultValue []string `json:"defaultValue,omitempty"`
	Description  string   `json:"description,omitempty"`
}

// VersionARN is the ARN of the workflow's semantic version (no build).
func (w *Workflow) VersionARN() string {
	return w.ARN[:strings.LastIndexByte(w.ARN, '/')]
}

// LatestVersionReferences are the wildcard ARNs that resolve to the newest
// build at each level of the version.
type LatestVersionReferences struct {
	LatestVersionARN      string
	LatestMajorVersionARN string
	LatestMinorVersionARN string
	LatestPatchVersionARN string
}

// References returns the workflow's latest-version references. AWS-managed
// workflows only report the fully wildcarded one.
func (w *Workflow) References() LatestVersionReferences {
	return latestRefs(w.VersionARN(), w.Version, w.Owner == ManagedOwnerName)
}

// latestRefs computes the references of a version ARN
// (".../<name>/<M.m.p>").
func latestRefs(versionARN, version string, managed bool) LatestVersionReferences {
	base := versionARN[:strings.LastIndexByte(versionARN, '/')+1]
	refs := LatestVersionReferences{LatestVersionARN: base + "x.x.x"}
	if managed {
		return refs
	}
	v := mustVersion(version)
	refs.LatestMajorVersionARN = base + fmt.Sprintf("%d.x.x", v.Major)
	refs.LatestMinorVersionARN = base + fmt.Sprintf("%d.%d.x", v.Major, v.Minor)
	refs.LatestPatchVersionARN = base + v.String()
	return refs
}

func workflowARN(scope store.Scope, account, typ, name, version string) string {
	return resourceARN(scope, account, "workflow/"+strings.ToLower(typ)+"/"+arn.NormalizeName(name)+"/"+version)
}

func parameterDetails(doc *wfdoc.Document) []WorkflowParameter {
	var out []WorkflowParameter
	for _, p := range doc.Parameters {
		out = append(out, WorkflowParameter{Name: p.Name, Type: p.Type, DefaultValue: p.DefaultStrings(), Description: p.Description})
	}
	return out
}

// versionSortKey orders workflow versions by type, name and version.
func versionSortKey(typ, name string, v arn.Version) string {
	return strings.ToLower(typ) + "/" + arn.NormalizeName(name) + "/" + v.SortKey()
}

func buildSortKey(build int) string { return fmt.Sprintf("%010d", build) }

// CreateWorkflowInput is a CreateWorkflow request.
type CreateWorkflowInput struct {
	Name              string
	SemanticVersion   string
	Description       string
	ChangeDescription string
	Data              string
	URI               string
	KMSKeyID          string
	Type              string
	Tags              map[string]string
	ClientToken       string
	DryRun            bool
}

// CreateWorkflowResult is what CreateWorkflow reports.
type CreateWorkflowResult struct {
	ClientToken string                  `json:"clientToken"`
	ARN         string                  `json:"arn"`
	References  LatestVersionReferences `json:"references"`
}

// CreateWorkflow validates the document and stores a new build version.
func (s *Service) CreateWorkflow(ctx context.Context, scope store.Scope, in CreateWorkflowInput) (*CreateWorkflowResult, error) {
	version, err := arn.ParseVersion(in.SemanticVersion)
	if err != nil {
		return nil, &fault.Error{Kind: fault.InvalidVersion, Field: "semanticVersion",
			Message: "The value supplied for parameter 'semanticVersion' is not valid. " + err.Error() + "."}
	}
	data, err := s.document(ctx, "data", in.Data, "uri", in.URI)
	if err != nil {
		return nil, err
	}
	in.Data = data
	doc, err := wfdoc.Parse([]byte(in.Data), wfdoc.Stage(in.Type))
	if err != nil {
		return nil, fault.InvalidField("data", "The workflow document is not valid: %v", err)
	}
	if in.DryRun {
		return nil, fault.New(fault.DryRun, "Request would have succeeded, but DryRun flag is set.")
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	versionARN := workflowARN(scope, scope.Account, in.Type, in.Name, version.String())
	token := in.ClientToken
	in.ClientToken = ""
	key := store.IdempotencyKey{Scope: scope, Operation: "imagebuilder:CreateWorkflow", Token: token}
	return store.Idempotent(ctx, s.store, key, fingerprint(in), mismatch(), func(tx store.Tx) (*CreateWorkflowResult, error) {
		latestARN, err := workflowVersions.latest(tx, scope, versionARN)
		switch {
		case err == nil:
			latest, err := getWorkflowRecord(tx, scope, latestARN)
			if err != nil {
				return nil, err
			}
			if latest.Data == in.Data && latest.Description == in.Description && latest.ChangeDescription == in.ChangeDescription && latest.KMSKeyID == in.KMSKeyID {
				return nil, fault.Exists("Workflow", latest.ARN, "The following resource 'Workflow' already exists with the same content: '%s'. Change the document or the version to create a new build.", latest.ARN)
			}
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
		build, err := nextBuild(tx, scope, versionARN, now)
		if err != nil {
			return nil, err
		}
		w := &Workflow{
			ARN: versionARN + "/" + strconv.Itoa(build), Name: in.Name, Version: version.String(), Build: build,
			Description: in.Description, ChangeDescription: in.ChangeDescription, Type: in.Type, Owner: scope.Account,
			Data: in.Data, KMSKeyID: in.KMSKeyID, DateCreated: now, Parameters: parameterDetails(doc),
		}
		body, err := json.Marshal(w)
		if err != nil {
			return nil, err
		}
		if err := tx.Insert(&store.Record{Scope: scope, Kind: kindWorkflow, ID: w.ARN, Parent: versionARN, SortKey: buildSortKey(build),
			Created: now, Updated: now, Tags: in.Tags, Body: body}); err != nil {
			return nil, err
		}
		if err := workflowVersions.setLatest(tx, scope, versionARN, versionSortKey(in.Type, in.Name, version), w.ARN, now); err != nil {
			return nil, err
		}
		return &CreateWorkflowResult{ClientToken: token, ARN: w.ARN, References: w.References()}, nil
	})
}

// workflowBodies and listedWorkflows remember decoded workflow builds
// (their values are shared: read-only).
var (
	workflowBodies = memo.New(1<<20, func(b []byte) (Workflow, error) {
		var w Workflow
		return w, json.Unmarshal(b, &w)
	})
	listedWorkflows = memo.New(512<<10, func(b []byte) (*Workflow, error) {
		w, err := decodeListedBody(b)
		return &w, err
	})
)

func decodeWorkflow(rec *store.Record) (*Workflow, error) {
	w, err := workflowBodies.Decode(rec.Body)
	if err != nil {
		return nil, fmt.Errorf("imagebuilder: corrupt workflow %s: %w", rec.ID, err)
	}
	w.Tags = rec.Tags
	return &w, nil
}

// decodeWorkflowListed decodes what a listing shows of a workflow build,
// passing over its document and parameters (decoding the document's text
// was two fifths of a ListWorkflows page).
//
// The workflow is shared with other listings (read-only); one with tags is
// a copy that carries them.
func decodeWorkflowListed(rec *store.Record) (*Workflow, error) {
	w, err := listedWorkflows.Decode(rec.Body)
	if err != nil {
		return nil, fmt.Errorf("imagebuilder: corrupt workflow %s: %w", rec.ID, err)
	}
	if len(rec.Tags) == 0 {
		return w, nil
	}
	c := *w
	c.Tags = rec.Tags
	return &c, nil
}

func decodeListedBody(b []byte) (Workflow, error) {
	var w struct {
		ARN               string    `json:"arn"`
		Name              string    `json:"name"`
		Version           string    `json:"version"`
		Build             int       `json:"build"`
		Description       string    `json:"description"`
		ChangeDescription string    `json:"changeDescription"`
		Type              string    `json:"type"`
		Owner             string    `json:"owner"`
		KMSKeyID          string    `json:"kmsKeyId"`
		DateCreated       time.Time `json:"dateCreated"`
	}
	err := json.Unmarshal(b, &w)
	return Workflow{ARN: w.ARN, Name: w.Name, Version: w.Version, Build: w.Build, Description: w.Description, ChangeDescription: w.ChangeDescription,
		Type: w.Type, Owner: w.Owner, KMSKeyID: w.KMSKeyID, DateCreated: w.DateCreated}, err
}

func getWorkflowRecord(tx store.Tx, scope store.Scope, buildARN string) (*Workflow, error) {
	rec, err := tx.Get(scope, kindWorkflow, buildARN)
	if err != nil {
		return nil, err
	}
	return decodeWorkflow(rec)
}

// workflowRef is a parsed workflow ARN: exact build, exact version, or a
// wildcard version.
type workflowRef struct {
	arn     arn.ARN
	typ     string
	name    string
	version arn.Version
	build   int // 0 when absent
}

func parseWorkflowARN(s, field string) (workflowRef, error) {
	bad := func(why string) error {
		return fault.InvalidField(field, "%s is not a valid workflow ARN: %s.", s, why)
	}
	a, err := arn.Parse(s)
	if err != nil || a.Service != "imagebuilder" {
		return workflowRef{}, bad("expected arn:<partition>:imagebuilder:<region>:<account>:workflow/<type>/<name>/<version>[/<build>]")
	}
	parts := strings.Split(a.Resource, "/")
	if len(parts) < 4 || len(parts) > 5 || parts[0] != "workflow" {
		return workflowRef{}, bad("expected workflow/<type>/<name>/<version>[/<build>]")
	}
	ref := workflowRef{arn: a, typ: strings.ToUpper(parts[1]), name: parts[2]}
	if ref.version, err = arn.ParseWildcard(parts[3]); err != nil {
		return workflowRef{}, bad(err.Error())
	}
	if len(parts) == 5 {
		if ref.version.HasWildcard() {
			return workflowRef{}, bad("a build number cannot follow a wildcard version")
		}
		n, err := strconv.Atoi(parts[4])
		if err != nil || n < 1 {
			return workflowRef{}, bad("the build number must be a positive integer")
		}
		ref.build = n
	}
	return ref, nil
}

func notFoundWorkflow(s string) error {
	return fault.Missing("Workflow", s, "The workflow '%s' does not exist.", s)
}

// resolveWorkflow finds the build a (possibly wildcard) ARN names.
func (s *Service) resolveWorkflow(tx store.Tx, scope store.Scope, raw string, ref workflowRef) (*Workflow, error) {
	if ref.arn.Region != scope.Region {
		return nil, notFoundWorkflow(raw)
	}
	if ref.arn.Account == ManagedOwner {
		best, ok := newestOf(managedWorkflowRecords(scope), func(w *Workflow) string { return w.Version }, func(w *Workflow) bool {
			return strings.ToUpper(w.Type) == ref.typ && w.Name == ref.name && ref.version.Matches(mustVersion(w.Version)) && (ref.build == 0 || ref.build == w.Build)
		})
		if !ok {
			return nil, notFoundWorkflow(raw)
		}
		return best, nil
	}
	if ref.arn.Account != scope.Account {
		return nil, notFoundWorkflow(raw)
	}
	if ref.build != 0 {
		w, err := getWorkflowRecord(tx, scope, workflowARN(scope, scope.Account, ref.typ, ref.name, ref.version.String())+"/"+strconv.Itoa(ref.build))
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFoundWorkflow(raw)
		}
		return w, err
	}
	latest, err := workflowVersions.newest(tx, scope, strings.ToLower(ref.typ)+"/"+ref.name+"/", ref.version)
	if err != nil {
		return nil, err
	}
	if latest == "" {
		return nil, notFoundWorkflow(raw)
	}
	return getWorkflowRecord(tx, scope, latest)
}

func mustVersion(s string) arn.Version {
	v, _ := arn.ParseVersion(s)
	return v
}

// GetWorkflow returns the build a build-version, version or wildcard ARN
// names (wildcards resolve to the newest matching build).
func (s *Service) GetWorkflow(ctx context.Context, scope store.Scope, workflowARN string) (*Workflow, error) {
	ref, err := parseWorkflowARN(workflowARN, "workflowBuildVersionArn")
	if err != nil {
		return nil, err
	}
	var w *Workflow
	err = s.store.View(ctx, func(tx store.Tx) error {
		w, err = s.resolveWorkflow(tx, scope, workflowARN, ref)
		return err
	})
	return w, err
}

// ListWorkflowsInput selects workflow versions.
type ListWorkflowsInput struct {
	Owner      string
	Filters    map[string][]string
	ByName     bool
	MaxResults int
	NextToken  string
}

// WorkflowPage is one page of workflows.
type WorkflowPage struct {
	Workflows []*Workflow
	NextToken string
}

var workflowFilters = map[string]func(*Workflow) string{
	"name":    func(w *Workflow) string { return w.Name },
	"type":    func(w *Workflow) string { return w.Type },
	"version": func(w *Workflow) string { return w.Version },
}

func matchFilters(w *Workflow, filters map[string][]string) bool {
	for name, values := range filters {
		got := workflowFilters[name](w)
		ok := false
		for _, v := range values {
			if v == got {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// ListWorkflows lists the newest build of each workflow version (or, with
// ByName, of each workflow) owned by Owner: Self (default) or Amazon.
func (s *Service) ListWorkflows(ctx context.Context, scope store.Scope, in ListWorkflowsInput) (*WorkflowPage, error) {
	for name := range in.Filters {
		if workflowFilters[name] == nil {
			return nil, fault.InvalidField("filters", "Filter name '%s' is not supported; use name, type or version.", name)
		}
	}
	accept := func(w *Workflow) bool { return matchFilters(w, in.Filters) }
	switch in.Owner {
	case "", "Self":
		paging := Doc{"nextToken": in.NextToken, "maxResults": in.MaxResults, "filters": in.Filters, "owner": in.Owner, "byName": in.ByName}
		items, next, err := listLatest(ctx, s, scope, "ListWorkflows", paging, workflowVersions, decodeWorkflowListed, accept)
		return &WorkflowPage{Workflows: items, NextToken: next}, err
	case "Amazon":
		// One version of each managed workflow, so byName changes nothing.
		tscope := tokenScope(scope, "ListWorkflows", []any{in.Owner, in.Filters, in.ByName})
		cursor, err := s.tokens.Cursor(tscope, in.NextToken)
		if err != nil {
			return nil, err
		}
		key := func(w *Workflow) string { return versionSortKey(w.Type, w.Name, mustVersion(w.Version)) }
		var all []*Workflow
		for _, w := range managedWorkflowRecords(scope) {
			if key(w) > cursor && accept(w) {
				all = append(all, w)
			}
		}
		sort.Slice(all, func(i, j int) bool { return key(all[i]) < key(all[j]) })
		page := &WorkflowPage{Workflows: all}
		if max := pagetoken.Limit(in.MaxResults, DefaultMaxResults); len(all) > max {
			page.Workflows = all[:max]
			page.NextToken = s.tokens.Encode(tscope, key(all[max-1]))
		}
		return page, nil
	}
	return &WorkflowPage{}, nil // nothing is shared with this account or sold to it here
}

// ListWorkflowBuildVersions lists the builds of one workflow version (the
// ARN may use wildcards; every matching version's builds are listed).
func (s *Service) ListWorkflowBuildVersions(ctx context.Context, scope store.Scope, versionARN string, maxResults int, nextToken string) (*WorkflowPage, error) {
	ref, err := parseWorkflowARN(versionARN, "workflowVersionArn")
	if err != nil {
		return nil, err
	}
	if ref.build != 0 {
		return nil, fault.InvalidField("workflowVersionArn", "%s is a build version ARN; pass the version ARN without the build number.", versionARN)
	}
	tscope := tokenScope(scope, "ListWorkflowBuildVersions", versionARN)
	cursor, err := s.tokens.Cursor(tscope, nextToken)
	if err != nil {
		return nil, err
	}
	max := pagetoken.Limit(maxResults, DefaultMaxResults)
	var all []*Workflow
	if ref.arn.Account == ManagedOwner && ref.arn.Region == scope.Region {
		for _, w := range managedWorkflowRecords(scope) {
			if strings.ToUpper(w.Type) == ref.typ && w.Name == ref.name && ref.version.Matches(mustVersion(w.Version)) && w.ARN > cursor {
				all = append(all, w)
			}
		}
	} else if ref.arn.Account == scope.Account && ref.arn.Region == scope.Region {
		err = s.store.View(ctx, func(tx store.Tx) error {
			all = nil // the store may run this again
			prefix := strings.ToLower(ref.typ) + "/" + ref.name + "/"
			versions, _, err := pager{q: store.ListQuery{Scope: scope, Kind: kindWorkflowVersion, After: prefix}, max: 1 << 30,
				stop: func(r *store.Record) bool { return !strings.HasPrefix(r.SortKey, prefix) }}.run(tx)
			if err != nil {
				return err
			}
			for _, v := range versions {
				if !ref.version.Matches(mustVersion(v.ID[strings.LastIndexByte(v.ID, '/')+1:])) {
					continue
				}
				after := ""
				if strings.HasPrefix(cursor, v.SortKey+"#") {
					after = strings.TrimPrefix(cursor, v.SortKey+"#")
				} else if cursor != "" && v.SortKey+"#" < cursor {
					continue
				}
				builds, _, err := pager{q: store.ListQuery{Scope: scope, Kind: kindWorkflow, Parent: v.ID, After: after}, max: max + 1 - len(all)}.run(tx)
				if err != nil {
					return err
				}
				for _, b := range builds {
					w, err := decodeWorkflowListed(b)
					if err != nil {
						return err
					}
					all = append(all, w)
				}
				if len(all) > max {
					break
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	page := &WorkflowPage{}
	if len(all) > max {
		all = all[:max]
		last := all[max-1]
		page.NextToken = s.tokens.Encode(tscope, versionSortKey(last.Type, last.Name, mustVersion(last.Version))+"#"+buildSortKey(last.Build))
	}
	page.Workflows = all
	return page, nil
}

// DeleteWorkflow deletes one build version.
func (s *Service) DeleteWorkflow(ctx context.Context, scope store.Scope, buildARN string) (string, error) {
	ref, err := parseWorkflowARN(buildARN, "workflowBuildVersionArn")
	if err != nil {
		return "", err
	}
	if ref.build == 0 {
		return "", fault.InvalidField("workflowBuildVersionArn", "%s is not a build version ARN.", buildARN)
	}
	if ref.arn.Account == ManagedOwner {
		return "", fault.InvalidField("workflowBuildVersionArn", "AWS-managed workflows cannot be deleted.")
	}
	if ref.arn.Account != scope.Account || ref.arn.Region != scope.Region {
		return "", notFoundWorkflow(buildARN)
	}
	now := s.now().UTC()
	err = s.store.Update(ctx, func(tx store.Tx) error {
		w, err := getWorkflowRecord(tx, scope, buildARN)
		if errors.Is(err, store.ErrNotFound) {
			return notFoundWorkflow(buildARN)
		} else if err != nil {
			return err
		}
		if err := checkUnused(tx, scope, specWorkflow, w.ARN); err != nil {
			return err
		}
		if err := tx.Delete(scope, kindWorkflow, w.ARN); err != nil {
			return err
		}
		return workflowVersions.dropBuild(tx, scope, w.VersionARN(), now)
	})
	return buildARN, err
}
