package imagebuilder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/slipway-dev/slipway/internal/arn"
	"github.com/slipway-dev/slipway/internal/engine"
	"github.com/slipway-dev/slipway/internal/epoch"
	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/store"
)

// Lifecycle policies deprecate, disable and delete the images they select,
// once a day (and on demand from the admin endpoint); each run is a
// lifecycle execution.

const itemPolicyRun = "imagebuilder.lifecycle-policy-run"

// policyInterval is how often an enabled policy runs.
const policyInterval = 24 * time.Hour

// LifecyclePolicy is the API's LifecyclePolicy; it is also how a policy is
// stored (tags live on the record).
type LifecyclePolicy struct {
	Arn               string            `json:"arn"`
	Name              string            `json:"name"`
	Description       string            `json:"description,omitempty"`
	Status            string            `json:"status"`
	ExecutionRole     string            `json:"executionRole"`
	ResourceType      string            `json:"resourceType"`
	PolicyDetails     []PolicyDetail    `json:"policyDetails"`
	ResourceSelection ResourceSelection `json:"resourceSelection"`
	DateCreated       *epoch.Time       `json:"dateCreated,omitempty"`
	DateUpdated       *epoch.Time       `json:"dateUpdated,omitempty"`
	DateLastRun       *epoch.Time       `json:"dateLastRun,omitempty"`
	Tags              map[string]string `json:"tags,omitempty"`
}

// PolicyDetail is one rule: an action, when it applies, and exclusions.
type PolicyDetail struct {
	Action struct {
		Type             string            `json:"type"`
		IncludeResources *IncludeResources `json:"includeResources,omitempty"`
	} `json:"action"`
	Filter struct {
		Type          string `json:"type"`
		Value         int    `json:"value"`
		Unit          string `json:"unit,omitempty"`
		RetainAtLeast int    `json:"retainAtLeast,omitempty"`
	} `json:"filter"`
	ExclusionRules *struct {
		TagMap map[string]string  `json:"tagMap,omitempty"`
		AMIs   *AMIExclusionRules `json:"amis,omitempty"`
	} `json:"exclusionRules,omitempty"`
}

// ResourceSelection picks the images a policy acts on.
type ResourceSelection struct {
	Recipes []struct {
		Name            string `json:"name"`
		SemanticVersion string `json:"semanticVersion"`
	} `json:"recipes,omitempty"`
	TagMap map[string]string `json:"tagMap,omitempty"`
}

// LifecyclePolicyInput is a Create/UpdateLifecyclePolicy request.
type LifecyclePolicyInput struct {
	LifecyclePolicyArn string            `json:"lifecyclePolicyArn,omitempty"`
	Name               string            `json:"name,omitempty"`
	Description        string            `json:"description,omitempty"`
	Status             string            `json:"status,omitempty"`
	ExecutionRole      string            `json:"executionRole"`
	ResourceType       string            `json:"resourceType"`
	PolicyDetails      []PolicyDetail    `json:"policyDetails"`
	ResourceSelection  ResourceSelection `json:"resourceSelection"`
	Tags               map[string]string `json:"tags,omitempty"`
	ClientToken        string            `json:"clientToken"`
}

// actionPriority is the order rules are tried in, one action per image
// per run.
var actionPriority = map[string]int{"DEPRECATE": 0, "DISABLE": 1, "DELETE": 2}

func checkPolicy(in *LifecyclePolicyInput) error {
	seen := map[string]bool{}
	for i, d := range in.PolicyDetails {
		path := fmt.Sprintf("policyDetails[%d]", i)
		if seen[d.Action.Type] {
			return fault.InvalidField(path+".action.type", "At most one rule per action type is allowed; %s appears twice.", d.Action.Type)
		}
		seen[d.Action.Type] = true
		if in.ResourceType == "CONTAINER_IMAGE" && d.Action.Type != "DELETE" {
			return fault.InvalidField(path+".action.type", "CONTAINER_IMAGE policies can only DELETE.")
		}
		switch d.Filter.Type {
		case "AGE":
			if d.Filter.Unit == "" {
				return fault.InvalidField(path+".filter.unit", "An AGE filter needs a unit.")
			}
		case "COUNT":
			if d.Filter.RetainAtLeast != 0 {
				return fault.InvalidField(path+".filter.retainAtLeast", "retainAtLeast applies to AGE filters only.")
			}
		}
		if inc := d.Action.IncludeResources; inc != nil && (inc.Snapshots || inc.Containers) && d.Action.Type != "DELETE" {
			return fault.InvalidField(path+".action.includeResources", "Snapshots and containers can only be included in a DELETE rule.")
		}
	}
	sel := in.ResourceSelection
	if (len(sel.Recipes) > 0) == (len(sel.TagMap) > 0) {
		return fault.New(fault.InvalidCombination, "resourceSelection needs exactly one of recipes or tagMap.")
	}
	for i, r := range sel.Recipes {
		if _, err := arn.ParseWildcard(r.SemanticVersion); err != nil {
			return fault.InvalidField(fmt.Sprintf("resourceSelection.recipes[%d].semanticVersion", i), "%v", err)
		}
	}
	return nil
}

func policyItemID(a string) string { return itemPolicyRun + ":" + a }

// schedulePolicy queues the next daily run of an enabled policy.
func schedulePolicy(tx store.Tx, scope store.Scope, p *LifecyclePolicy, now time.Time) error {
	if p.Status == "DISABLED" {
		return engine.Cancel(tx, policyItemID(p.Arn))
	}
	return enqueue(tx, scope, itemPolicyRun, p.Arn, now.Add(policyInterval))
}

// CreateLifecyclePolicy stores a policy; enabled policies run daily.
func (s *Service) CreateLifecyclePolicy(ctx context.Context, scope store.Scope, in LifecyclePolicyInput) (string, error) {
	if err := checkPolicy(&in); err != nil {
		return "", err
	}
	now := s.nowMillis()
	a := resourceARN(scope, scope.Account, "lifecycle-policy/"+arn.NormalizeName(in.Name))
	fp, _ := json.Marshal(in)
	key := store.IdempotencyKey{Scope: scope, Operation: "imagebuilder:CreateLifecyclePolicy", Token: in.ClientToken}
	_, err := store.Idempotent(ctx, s.store, key, fingerprint(string(fp)), mismatch(), func(tx store.Tx) (Doc, error) {
		p := &LifecyclePolicy{Arn: a, Name: in.Name, Description: in.Description, Status: in.Status, ExecutionRole: in.ExecutionRole,
			ResourceType: in.ResourceType, PolicyDetails: in.PolicyDetails, ResourceSelection: in.ResourceSelection, DateCreated: epoch.Of(now), DateUpdated: epoch.Of(now)}
		if p.Status == "" {
			p.Status = "ENABLED"
		}
		err := insertJSON(tx, &store.Record{Scope: scope, Kind: specLifecyclePolicy.Kind, ID: a, SortKey: arn.NormalizeName(in.Name), Created: now, Updated: now, Tags: in.Tags}, p)
		if errors.Is(err, store.ErrExists) {
			return nil, alreadyExists(specLifecyclePolicy, a)
		} else if err != nil {
			return nil, err
		}
		return Doc{}, schedulePolicy(tx, scope, p, now)
	})
	return a, err
}

func loadPolicy(tx store.Tx, scope store.Scope, a string) (*LifecyclePolicy, *store.Record, error) {
	var p LifecyclePolicy
	rec, err := getJSON(tx, scope, specLifecyclePolicy.Kind, a, &p)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, notFound(specLifecyclePolicy, a)
	} else if err != nil {
		return nil, nil, err
	}
	if len(rec.Tags) > 0 {
		p.Tags = maps.Clone(rec.Tags)
	}
	return &p, rec, nil
}

// GetLifecyclePolicy returns a policy.
func (s *Service) GetLifecyclePolicy(ctx context.Context, scope store.Scope, a string) (*LifecyclePolicy, error) {
	var p *LifecyclePolicy
	err := s.store.View(ctx, func(tx store.Tx) error {
		var err error
		p, _, err = loadPolicy(tx, scope, a)
		return err
	})
	return p, err
}

// UpdateLifecyclePolicy replaces a policy's settings; its resource type is
// fixed.
func (s *Service) UpdateLifecyclePolicy(ctx context.Context, scope store.Scope, in LifecyclePolicyInput) error {
	if err := checkPolicy(&in); err != nil {
		return err
	}
	now := s.nowMillis()
	fp, _ := json.Marshal(in)
	key := store.IdempotencyKey{Scope: scope, Operation: "imagebuilder:UpdateLifecyclePolicy", Token: in.ClientToken}
	_, err := store.Idempotent(ctx, s.store, key, fingerprint(string(fp)), mismatch(), func(tx store.Tx) (Doc, error) {
		p, rec, err := loadPolicy(tx, scope, in.LifecyclePolicyArn)
		if err != nil {
			return nil, err
		}
		if p.ResourceType != in.ResourceType {
			return nil, fault.New(fault.InvalidCombination, "The resourceType of a lifecycle policy cannot change (it is %s).", p.ResourceType)
		}
		p.Description, p.ExecutionRole, p.PolicyDetails, p.ResourceSelection = in.Description, in.ExecutionRole, in.PolicyDetails, in.ResourceSelection
		p.Status = in.Status
		if p.Status == "" {
			p.Status = "ENABLED"
		}
		p.DateUpdated = epoch.Of(now)
		p.Tags = nil
		if err := putJSON(tx, rec, p, now); err != nil {
			return nil, err
		}
		return Doc{}, schedulePolicy(tx, scope, p, now)
	})
	return err
}

// DeleteLifecyclePolicy deletes a policy and its schedule.
func (s *Service) DeleteLifecyclePolicy(ctx context.Context, scope store.Scope, a string) error {
	return s.store.Update(ctx, func(tx store.Tx) error {
		if _, _, err := loadPolicy(tx, scope, a); err != nil {
			return err
		}
		if err := engine.Cancel(tx, policyItemID(a)); err != nil {
			return err
		}
		return tx.Delete(scope, specLifecyclePolicy.Kind, a)
	})
}

// LifecyclePolicyPage is a page of policies.
type LifecyclePolicyPage struct {
	Policies  []*LifecyclePolicy
	NextToken string
}

var policyFilters = map[string]func(Doc) []string{
	"name": field("name"), "resourceType": field("resourceType"), "status": field("status"),
}

// ListLifecyclePolicies lists policies by name.
func (s *Service) ListLifecyclePolicies(ctx context.Context, scope store.Scope, in Doc) (*LifecyclePolicyPage, error) {
	accept, err := filters(in, policyFilters)
	if err != nil {
		return nil, err
	}
	docs, recs, next, err := s.page(ctx, scope, "ListLifecyclePolicies", in, specLifecyclePolicy.Kind, "", func(_ store.Tx, d Doc, _ *store.Record) bool { return accept(d) })
	if err != nil {
		return nil, err
	}
	page := &LifecyclePolicyPage{NextToken: next}
	for i, d := range docs {
		var p LifecyclePolicy
		b, _ := json.Marshal(d)
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, err
		}
		if len(recs[i].Tags) > 0 {
			p.Tags = recs[i].Tags
		}
		page.Policies = append(page.Policies, &p)
	}
	return page, nil
}

// StartPolicyRun starts a run of a policy now (the admin endpoint's way to
// skip the daily wait) and returns its execution ID.
func (s *Service) StartPolicyRun(ctx context.Context, scope store.Scope, a string) (string, error) {
	var id string
	err := s.store.Update(ctx, func(tx store.Tx) error {
		p, _, err := loadPolicy(tx, scope, a)
		if err != nil {
			return err
		}
		id, err = s.newPolicyRun(tx, scope, p, s.nowMillis())
		return err
	})
	return id, err
}

// newPolicyRun records a policy's execution and queues it.
func (s *Service) newPolicyRun(tx store.Tx, scope store.Scope, p *LifecyclePolicy, now time.Time) (string, error) {
	run := &lifecycleRun{Exec: LifecycleExecution{LifecycleExecutionID: "lce-" + newUUID(), LifecyclePolicyArn: p.Arn,
		State: LifecycleState{Status: lceInProgress}, StartTime: epoch.Of(now)}}
	id := run.Exec.LifecycleExecutionID
	if err := insertJSON(tx, &store.Record{Scope: scope, Kind: kindLifecycleExec, ID: id, Parent: p.Arn,
		SortKey: fmt.Sprintf("%013d|%s", now.UnixMilli(), id), Created: now, Updated: now}, run); err != nil {
		return "", err
	}
	return id, enqueue(tx, scope, itemLifecycle, id, now)
}

// dailyPolicyRun fires a policy's daily item: a run now, the next tomorrow.
func (s *Service) dailyPolicyRun(tx store.Tx, scope store.Scope, a string, now time.Time) error {
	p, _, err := loadPolicy(tx, scope, a)
	if fault.Is(err, fault.NotFound) {
		return nil
	} else if err != nil || p.Status == "DISABLED" {
		return err
	}
	if _, err := s.newPolicyRun(tx, scope, p, now); err != nil {
		return err
	}
	return schedulePolicy(tx, scope, p, now)
}

// candidate is an image a policy selected.
type candidate struct {
	doc     Doc
	tags    map[string]string
	created time.Time
	status  string
}

// runPolicy carries out one run of a policy: select, then per image the
// first rule (DEPRECATE, DISABLE, DELETE) that applies.
func (s *Service) runPolicy(tx store.Tx, scope store.Scope, run *lifecycleRun, now time.Time) error {
	p, prec, err := loadPolicy(tx, scope, run.Exec.LifecyclePolicyArn)
	if fault.Is(err, fault.NotFound) {
		return nil
	} else if err != nil {
		return err
	}
	var selected []*candidate
	err = eachImageRecord(tx, scope, func(d Doc, rec *store.Record) (bool, error) {
		if c := p.selects(d, rec.Tags); c != nil {
			selected = append(selected, c)
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	details := slices.Clone(p.PolicyDetails)
	sort.SliceStable(details, func(i, j int) bool {
		return actionPriority[details[i].Action.Type] < actionPriority[details[j].Action.Type]
	})
	acted := map[string]bool{}
	for _, d := range details {
		for _, c := range qualifying(d, selected, acted, now) {
			acted[str(c.doc, "arn")] = true
			run.Include = IncludeResources{}
			if d.Action.IncludeResources != nil {
				run.Include = *d.Action.IncludeResources
			}
			run.Exclude = nil
			if d.ExclusionRules != nil {
				run.Exclude = d.ExclusionRules.AMIs
			}
			target := map[string]string{"DEPRECATE": "DEPRECATED", "DISABLE": "DISABLED", "DELETE": "DELETED"}[d.Action.Type]
			if err := s.updateImage(tx, scope, run, str(c.doc, "arn"), target, now); err != nil {
				return err
			}
		}
	}
	p.DateLastRun = epoch.Of(now)
	p.Tags = nil
	return putJSON(tx, prec, p, now)
}

// selects reports whether the policy's selection takes the image.
func (p *LifecyclePolicy) selects(d Doc, tags map[string]string) *candidate {
	status := str(obj(d, "state"), "status")
	if slices.Contains(activeBuild, status) || status == "DELETED" {
		return nil // images with a build in progress are left alone
	}
	if (p.ResourceType == "CONTAINER_IMAGE") != (str(d, "type") == "DOCKER") {
		return nil
	}
	c := &candidate{doc: d, tags: tags, status: status}
	c.created, _ = time.Parse(timeLayout, str(d, "dateCreated"))
	if len(p.ResourceSelection.TagMap) > 0 {
		for k, v := range p.ResourceSelection.TagMap {
			if tags[k] == v {
				return c
			}
		}
		return nil
	}
	version := mustVersion(versionPart(str(d, "version")))
	for _, r := range p.ResourceSelection.Recipes {
		pattern, _ := arn.ParseWildcard(r.SemanticVersion)
		if arn.NormalizeName(r.Name) == arn.NormalizeName(str(d, "name")) && pattern.Matches(version) {
			return c
		}
	}
	return nil
}

func versionPart(v string) string {
	for i := range v {
		if v[i] == '/' {
			return v[:i]
		}
	}
	return v
}

// qualifying returns the selected images a rule acts on this run: those in
// a state the action applies to, not acted on yet, not excluded by the
// image tags, past the retention the filter keeps per recipe version.
func qualifying(d PolicyDetail, selected []*candidate, acted map[string]bool, now time.Time) []*candidate {
	skip := map[string][]string{"DEPRECATE": {"DEPRECATED", "DISABLED", statusFailed, statusCancelled}, "DISABLE": {"DISABLED", statusFailed, statusCancelled}}[d.Action.Type]
	groups := map[string][]*candidate{}
	var order []string
	var out []*candidate
	for _, c := range selected {
		if acted[str(c.doc, "arn")] || slices.Contains(skip, c.status) {
			continue
		}
		if d.ExclusionRules != nil && tagsMatch(d.ExclusionRules.TagMap, c.tags) {
			continue // excluded images take no retention slot
		}
		if d.Action.Type == "DELETE" && (c.status == statusFailed || c.status == statusCancelled) {
			out = append(out, c) // always deletable, never retained
			continue
		}
		key := str(c.doc, "name") + "/" + versionPart(str(c.doc, "version"))
		if groups[key] == nil {
			order = append(order, key)
		}
		groups[key] = append(groups[key], c)
	}
	for _, key := range order {
		g := groups[key]
		sort.SliceStable(g, func(i, j int) bool { return g[i].created.After(g[j].created) })
		keep := d.Filter.RetainAtLeast
		if d.Filter.Type == "COUNT" {
			keep = d.Filter.Value
		}
		for i, c := range g {
			if i < keep {
				continue
			}
			if d.Filter.Type == "AGE" && !c.created.Before(LastLaunched{Value: d.Filter.Value, Unit: d.Filter.Unit}.ago(now)) {
				continue
			}
			out = append(out, c)
		}
	}
	return out
}

func tagsMatch(rule, tags map[string]string) bool {
	for k, v := range rule {
		if tags[k] == v {
			return true
		}
	}
	return false
}

// eachImageRecord calls fn with every image build of the scope and its
// record (through the version index: builds are listed under their
// version) until it returns true or an error.
func eachImageRecord(tx store.Tx, scope store.Scope, fn func(Doc, *store.Record) (bool, error)) error {
	versions, err := tx.List(store.ListQuery{Scope: scope, Kind: kindImageVersion, Limit: 1 << 30})
	if err != nil {
		return err
	}
	for _, v := range versions {
		builds, err := tx.List(store.ListQuery{Scope: scope, Kind: kindImage, Parent: v.ID, Limit: 1 << 30})
		if err != nil {
			return err
		}
		for _, r := range builds {
			d, err := decodeDoc(r)
			if err != nil {
				return err
			}
			if stop, err := fn(d, r); stop || err != nil {
				return err
			}
		}
	}
	return nil
}
