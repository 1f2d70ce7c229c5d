package imagebuilder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/slipway-dev/slipway/internal/epoch"
	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/store"
)

// Lifecycle executions change images and their simulated AMIs, snapshots
// and container images: one started by StartResourceStateUpdate acts on
// one image; one started by a lifecycle policy run on the images the
// policy selects. Each runs as an engine item.

const (
	kindLifecycleExec = "imagebuilder.lifecycle-execution"
	itemLifecycle     = "imagebuilder.lifecycle"
)

var specLifecyclePolicy = spec{"LifecyclePolicy", "lifecycle-policy", "imagebuilder.lifecycle-policy"}

// Lifecycle execution statuses.
const (
	lcePending    = "PENDING"
	lceInProgress = "IN_PROGRESS"
	lceSuccess    = "SUCCESS"
	lceFailed     = "FAILED"
	lceCancelling = "CANCELLING"
	lceCancelled  = "CANCELLED"
)

// Target states and the resource action that reaches each.
var stateAction = map[string]string{"AVAILABLE": "AVAILABLE", "DEPRECATED": "DEPRECATE", "DISABLED": "DISABLE", "DELETED": "DELETE"}

// LifecycleState is an execution's or a resource's state.
type LifecycleState struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// LifecycleExecution is the API's LifecycleExecution.
type LifecycleExecution struct {
	LifecycleExecutionID     string         `json:"lifecycleExecutionId"`
	LifecyclePolicyArn       string         `json:"lifecyclePolicyArn,omitempty"`
	ResourcesImpactedSummary *ImpactSummary `json:"resourcesImpactedSummary,omitempty"`
	State                    LifecycleState `json:"state"`
	StartTime                *epoch.Time    `json:"startTime,omitempty"`
	EndTime                  *epoch.Time    `json:"endTime,omitempty"`
}

// ImpactSummary says whether an execution changed anything.
type ImpactSummary struct {
	HasImpactedResources bool `json:"hasImpactedResources"`
}

// LifecycleResource is the API's LifecycleExecutionResource.
type LifecycleResource struct {
	AccountID  string              `json:"accountId,omitempty"`
	ResourceID string              `json:"resourceId"`
	State      LifecycleState      `json:"state"`
	Action     *LifecycleAction    `json:"action,omitempty"`
	Region     string              `json:"region,omitempty"`
	Snapshots  []LifecycleSnapshot `json:"snapshots,omitempty"`
	ImageURIs  []string            `json:"imageUris,omitempty"`
	StartTime  *epoch.Time         `json:"startTime,omitempty"`
	EndTime    *epoch.Time         `json:"endTime,omitempty"`
	// Parent is the image an AMI or container image belongs to ("" for
	// images); not part of the API shape.
	Parent string `json:"-"`
}

// LifecycleAction is what an execution did (or meant to do) to a resource.
type LifecycleAction struct {
	Name   string `json:"name"`
	Reason string `json:"reason,omitempty"`
}

// LifecycleSnapshot is an AMI's snapshot in an execution.
type LifecycleSnapshot struct {
	SnapshotID string         `json:"snapshotId"`
	State      LifecycleState `json:"state"`
}

// IncludeResources names the underlying resources an update changes.
type IncludeResources struct {
	AMIs       bool `json:"amis,omitempty"`
	Snapshots  bool `json:"snapshots,omitempty"`
	Containers bool `json:"containers,omitempty"`
}

// AMIExclusionRules keep matching AMIs out of an action.
type AMIExclusionRules struct {
	IsPublic       bool              `json:"isPublic,omitempty"`
	Regions        []string          `json:"regions,omitempty"`
	SharedAccounts []string          `json:"sharedAccounts,omitempty"`
	LastLaunched   *LastLaunched     `json:"lastLaunched,omitempty"`
	TagMap         map[string]string `json:"tagMap,omitempty"`
}

// LastLaunched is an age: value units.
type LastLaunched struct {
	Value int    `json:"value"`
	Unit  string `json:"unit"`
}

// ago returns t minus the age.
func (l LastLaunched) ago(t time.Time) time.Time {
	switch l.Unit {
	case "WEEKS":
		return t.AddDate(0, 0, -7*l.Value)
	case "MONTHS":
		return t.AddDate(0, -l.Value, 0)
	case "YEARS":
		return t.AddDate(-l.Value, 0, 0)
	}
	return t.AddDate(0, 0, -l.Value)
}

// lifecycleRun is the stored execution with what it is to do.
type lifecycleRun struct {
	Exec      LifecycleExecution  `json:"exec"`
	Image     string              `json:"image,omitempty"` // StartResourceStateUpdate's image
	Target    string              `json:"target,omitempty"`
	Include   IncludeResources    `json:"include"`
	Exclude   *AMIExclusionRules  `json:"exclude,omitempty"`
	UpdateAt  *time.Time          `json:"updateAt,omitempty"`
	Resources []LifecycleResource `json:"resources,omitempty"`
	Parents   []string            `json:"parents,omitempty"` // Parent of each resource, by position
	Cancel    bool                `json:"cancel,omitempty"`
}

// StateUpdate is a StartResourceStateUpdate request.
type StateUpdate struct {
	ResourceArn      string            `json:"resourceArn"`
	State            LifecycleState    `json:"state"`
	ExecutionRole    string            `json:"executionRole,omitempty"`
	IncludeResources *IncludeResources `json:"includeResources,omitempty"`
	ExclusionRules   *struct {
		AMIs *AMIExclusionRules `json:"amis,omitempty"`
	} `json:"exclusionRules,omitempty"`
	UpdateAt    *epoch.Time `json:"updateAt,omitempty"`
	ClientToken string      `json:"clientToken"`
}

// StateUpdateResult is StartResourceStateUpdate's answer.
type StateUpdateResult struct {
	LifecycleExecutionID string `json:"lifecycleExecutionId,omitempty"`
	ResourceArn          string `json:"resourceArn"`
}

// activeBuild lists the image states a build is still running in.
var activeBuild = []string{statusPending, "CREATING", "BUILDING", "TESTING", "DISTRIBUTING", "INTEGRATING", "IMPORTING"}

// StartResourceStateUpdate changes an image's state, directly or through a
// lifecycle execution, by the rules of the API reference.
func (s *Service) StartResourceStateUpdate(ctx context.Context, scope store.Scope, in StateUpdate) (*StateUpdateResult, error) {
	if err := s.imageARN(scope, in.ResourceArn, "resourceArn"); err != nil {
		return nil, err
	}
	target := in.State.Status
	inc := in.IncludeResources
	hasInc := inc != nil && (inc.AMIs || inc.Snapshots || inc.Containers)
	switch {
	case (in.ExecutionRole == "") != !hasInc:
		return nil, fault.New(fault.InvalidCombination, "executionRole and includeResources must be given together.")
	case hasInc && (inc.Snapshots || inc.Containers) && target != "DELETED":
		return nil, fault.InvalidField("includeResources", "Snapshots and containers can only be included when the target state is DELETED.")
	case target == "DELETED" && !hasInc:
		return nil, fault.InvalidField("includeResources", "Deleting an image through StartResourceStateUpdate requires the resources to include; use DeleteImage to delete only the image record.")
	case in.UpdateAt != nil && target != "DEPRECATED":
		return nil, fault.InvalidField("updateAt", "updateAt is only allowed when the target state is DEPRECATED.")
	}
	now := s.nowMillis()
	if in.UpdateAt != nil && !time.Time(*in.UpdateAt).After(now) {
		return nil, fault.InvalidField("updateAt", "updateAt must be in the future.")
	}
	fp, _ := json.Marshal(in)
	var out *StateUpdateResult
	key := store.IdempotencyKey{Scope: scope, Operation: "imagebuilder:StartResourceStateUpdate", Token: in.ClientToken}
	_, err := store.Idempotent(ctx, s.store, key, fingerprint(string(fp)), mismatch(), func(tx store.Tx) (Doc, error) {
		img, rec, err := loadDoc(tx, scope, specImage, in.ResourceArn)
		if err != nil {
			return nil, err
		}
		status := str(obj(img, "state"), "status")
		switch {
		case slices.Contains(activeBuild, status):
			return nil, fault.New(fault.InUse, "The image '%s' has a build in progress (%s).", in.ResourceArn, status)
		case status == "DELETED":
			return nil, fault.New(fault.InUse, "The image '%s' is deleted.", in.ResourceArn)
		case (status == statusFailed || status == statusCancelled) && target != "DELETED":
			return nil, fault.InvalidField("state", "A %s image can only move to DELETED.", status)
		case str(img, "type") == "DOCKER" && target != "DELETED":
			return nil, fault.InvalidField("state", "Container images can only move to DELETED.")
		case status == target && !hasInc && in.UpdateAt == nil:
			return nil, fault.InvalidField("state", "The image is already %s.", target)
		}
		if !hasInc && in.UpdateAt == nil {
			// No underlying resources and nothing scheduled: the record
			// changes now, without an execution.
			applyImageState(img, target, nil, "")
			out = &StateUpdateResult{ResourceArn: in.ResourceArn}
			return Doc{}, putJSON(tx, rec, img, now)
		}
		if cur := str(img, "lifecycleExecutionId"); cur != "" {
			var run lifecycleRun
			if _, err := getJSON(tx, scope, kindLifecycleExec, cur, &run); err == nil && !terminalLifecycle(run.Exec.State.Status) {
				return nil, fault.New(fault.InUse, "The image '%s' already has a lifecycle execution in progress (%s).", in.ResourceArn, cur)
			}
		}
		run := &lifecycleRun{Image: in.ResourceArn, Target: target, Exec: LifecycleExecution{LifecycleExecutionID: "lce-" + newUUID(),
			State: LifecycleState{Status: lceInProgress}, StartTime: epoch.Of(now)}}
		if inc != nil {
			run.Include = *inc
		}
		if in.ExclusionRules != nil {
			run.Exclude = in.ExclusionRules.AMIs
		}
		due := now
		if in.UpdateAt != nil {
			t := time.Time(*in.UpdateAt)
			run.UpdateAt, due = &t, t
			// The AMIs get their deprecation time at once; the image
			// record turns DEPRECATED at updateAt.
			if err := s.deprecateAMIs(tx, scope, img, run, t, now); err != nil {
				return nil, err
			}
		}
		img["lifecycleExecutionId"] = run.Exec.LifecycleExecutionID
		if err := putJSON(tx, rec, img, now); err != nil {
			return nil, err
		}
		if err := insertJSON(tx, &store.Record{Scope: scope, Kind: kindLifecycleExec, ID: run.Exec.LifecycleExecutionID, Parent: in.ResourceArn,
			SortKey: fmt.Sprintf("%013d|%s", now.UnixMilli(), run.Exec.LifecycleExecutionID), Created: now, Updated: now}, run); err != nil {
			return nil, err
		}
		out = &StateUpdateResult{LifecycleExecutionID: run.Exec.LifecycleExecutionID, ResourceArn: in.ResourceArn}
		return Doc{}, enqueue(tx, scope, itemLifecycle, run.Exec.LifecycleExecutionID, due)
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		// A replayed clientToken: answer as the first call did.
		return s.replayStateUpdate(ctx, scope, in.ResourceArn)
	}
	return out, nil
}

func (s *Service) replayStateUpdate(ctx context.Context, scope store.Scope, image string) (*StateUpdateResult, error) {
	out := &StateUpdateResult{ResourceArn: image}
	err := s.store.View(ctx, func(tx store.Tx) error {
		img, _, err := loadDoc(tx, scope, specImage, image)
		out.LifecycleExecutionID = str(img, "lifecycleExecutionId")
		return err
	})
	return out, err
}

func terminalLifecycle(status string) bool {
	return status == lceSuccess || status == lceFailed || status == lceCancelled
}

// applyImageState sets an image record's state and what goes with it.
func applyImageState(img Doc, target string, deprecation *time.Time, execID string) {
	img["state"] = Doc{"status": target}
	switch target {
	case "AVAILABLE":
		delete(img, "deprecationTime")
	case "DEPRECATED":
		if deprecation != nil {
			img["deprecationTime"] = float64(deprecation.UnixMilli()) / 1000
		}
	}
	if execID != "" {
		img["lifecycleExecutionId"] = execID
	}
}

// deprecateAMIs sets the deprecation time on the included AMIs now (the
// scheduled half of an updateAt deprecation).
func (s *Service) deprecateAMIs(tx store.Tx, scope store.Scope, img Doc, run *lifecycleRun, at, now time.Time) error {
	if !run.Include.AMIs {
		return nil
	}
	amis, err := imageAMIs(tx, scope, img, now)
	if err != nil {
		return err
	}
	for _, ami := range amis {
		if reason := excluded(run.Exclude, ami, now); reason != "" || ami.State != amiAvailable {
			continue
		}
		ami.DeprecationTime = &at
		if ami.Tags == nil {
			ami.Tags = map[string]string{}
		}
		ami.Tags["DeprecatedBy"] = "EC2 Image Builder"
		if err := putAMI(tx, scope, ami, now); err != nil {
			return err
		}
	}
	return nil
}

// excluded returns why an exclusion rule keeps the AMI out, or "": the
// first rule that matches, in AWS's order (region, public, tags, shared
// accounts, last launched).
func excluded(r *AMIExclusionRules, ami *AMI, now time.Time) string {
	if r == nil {
		return ""
	}
	if slices.Contains(r.Regions, ami.Region) {
		return "Excluded by the regions rule: the AMI is in " + ami.Region + "."
	}
	if r.IsPublic && ami.Public {
		return "Excluded by the isPublic rule: the AMI is public."
	}
	for k, v := range r.TagMap {
		if ami.Tags[k] == v {
			return fmt.Sprintf("Excluded by the tagMap rule: the AMI has the tag %s=%s.", k, v)
		}
	}
	for _, a := range r.SharedAccounts {
		if slices.Contains(ami.SharedAccounts, a) {
			return "Excluded by the sharedAccounts rule: the AMI is shared with " + a + "."
		}
	}
	if l := r.LastLaunched; l != nil && ami.LastLaunched != nil && ami.LastLaunched.After(l.ago(now)) {
		return fmt.Sprintf("Excluded by the lastLaunched rule: the AMI was launched within the last %d %s.", l.Value, l.Unit)
	}
	return ""
}

// runLifecycle carries an execution out, in the engine item's commit.
func (s *Service) runLifecycle(tx store.Tx, scope store.Scope, id string, now time.Time) error {
	var run lifecycleRun
	rec, err := getJSON(tx, scope, kindLifecycleExec, id, &run)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if terminalLifecycle(run.Exec.State.Status) {
		return nil
	}
	if run.Cancel {
		run.Exec.State = LifecycleState{Status: lceCancelled, Reason: "Cancelled by CancelLifecycleExecution."}
		run.Exec.EndTime = epoch.Of(now)
		return putJSON(tx, rec, run, now)
	}
	if run.Image != "" {
		if err := s.updateImage(tx, scope, &run, run.Image, run.Target, now); err != nil {
			return err
		}
	}
	if run.Exec.LifecyclePolicyArn != "" {
		if err := s.runPolicy(tx, scope, &run, now); err != nil {
			return err
		}
		if len(run.Resources) == 0 {
			run.Exec.ResourcesImpactedSummary = &ImpactSummary{HasImpactedResources: false}
		}
	}
	run.Exec.State = LifecycleState{Status: lceSuccess}
	for _, r := range run.Resources {
		if r.State.Status == lceFailed {
			run.Exec.State = LifecycleState{Status: lceFailed, Reason: "At least one resource action failed."}
		}
	}
	run.Exec.EndTime = epoch.Of(now)
	s.observe("lifecycle_execution", run.Exec.State.Status)
	return putJSON(tx, rec, run, now)
}

// updateImage applies target to one image and the resources the run
// includes, recording each resource's outcome.
func (s *Service) updateImage(tx store.Tx, scope store.Scope, run *lifecycleRun, image, target string, now time.Time) error {
	img, irec, err := loadDoc(tx, scope, specImage, image)
	if fault.Is(err, fault.NotFound) {
		return nil
	} else if err != nil {
		return err
	}
	action := stateAction[target]
	ts := epoch.Of(now)
	skipped := false
	if run.Include.AMIs || run.Include.Snapshots {
		amis, err := imageAMIs(tx, scope, img, now)
		if err != nil {
			return err
		}
		for _, ami := range amis {
			res := LifecycleResource{AccountID: ami.AccountID, ResourceID: ami.ImageID, Region: ami.Region, Action: &LifecycleAction{Name: action},
				State: LifecycleState{Status: lceSuccess}, StartTime: ts, EndTime: ts}
			if reason := excluded(run.Exclude, ami, now); reason != "" {
				res.State = LifecycleState{Status: "SKIPPED", Reason: reason}
				skipped = true
			} else if run.Include.AMIs {
				applyAMIAction(ami, target, run.UpdateAt, now)
				if target == "DELETED" && run.Include.Snapshots {
					ami.SnapshotDeleted = true
				}
				if err := putAMI(tx, scope, ami, now); err != nil {
					return err
				}
			}
			if run.Include.Snapshots {
				st := LifecycleState{Status: lceSuccess}
				if res.State.Status == "SKIPPED" {
					st = res.State
				}
				res.Snapshots = []LifecycleSnapshot{{SnapshotID: ami.SnapshotID, State: st}}
			}
			run.Resources = append(run.Resources, res)
			run.Parents = append(run.Parents, image)
		}
	}
	if run.Include.Containers {
		for _, raw := range list(obj(img, "outputResources"), "containers") {
			ct, _ := raw.(map[string]any)
			var uris []string
			for _, u := range list(ct, "imageUris") {
				if s, ok := u.(string); ok {
					uris = append(uris, s)
				}
			}
			run.Resources = append(run.Resources, LifecycleResource{AccountID: scope.Account, ResourceID: firstOr(uris, image), Region: str(ct, "region"),
				ImageURIs: uris, Action: &LifecycleAction{Name: action}, State: LifecycleState{Status: lceSuccess}, StartTime: ts, EndTime: ts})
			run.Parents = append(run.Parents, image)
		}
	}
	imgRes := LifecycleResource{AccountID: scope.Account, ResourceID: image, Region: scope.Region, Action: &LifecycleAction{Name: action},
		State: LifecycleState{Status: lceSuccess}, StartTime: ts, EndTime: ts}
	if target == "DELETED" && skipped {
		// An excluded AMI keeps its image record.
		imgRes.State = LifecycleState{Status: "SKIPPED", Reason: "The image record is kept because some of its AMIs were excluded."}
	} else {
		applyImageState(img, target, run.UpdateAt, run.Exec.LifecycleExecutionID)
		if target == "DEPRECATED" && run.UpdateAt == nil {
			applyImageState(img, target, &now, "")
		}
	}
	img["lifecycleExecutionId"] = run.Exec.LifecycleExecutionID
	run.Resources = append(run.Resources, imgRes)
	run.Parents = append(run.Parents, "")
	run.Exec.ResourcesImpactedSummary = &ImpactSummary{HasImpactedResources: true}
	return putJSON(tx, irec, img, now)
}

func firstOr(l []string, def string) string {
	if len(l) > 0 {
		return l[0]
	}
	return def
}

// applyAMIAction makes an AMI reflect target, as EC2 would.
func applyAMIAction(ami *AMI, target string, updateAt *time.Time, now time.Time) {
	switch target {
	case "DEPRECATED":
		t := now
		if updateAt != nil {
			t = *updateAt
		}
		ami.DeprecationTime = &t
		if ami.Tags == nil {
			ami.Tags = map[string]string{}
		}
		ami.Tags["DeprecatedBy"] = "EC2 Image Builder"
	case "DISABLED":
		ami.State, ami.Public, ami.SharedAccounts = amiDisabled, false, nil
		delete(ami.Tags, "DeprecatedBy")
	case "DELETED":
		ami.State = amiDeregistered
	case "AVAILABLE":
		ami.State, ami.DeprecationTime = amiAvailable, nil
		delete(ami.Tags, "DeprecatedBy")
	}
}

// loadRun reads a lifecycle execution.
func (s *Service) loadRun(ctx context.Context, scope store.Scope, id string) (*lifecycleRun, error) {
	var run lifecycleRun
	err := s.store.View(ctx, func(tx store.Tx) error {
		_, err := getJSON(tx, scope, kindLifecycleExec, id, &run)
		if errors.Is(err, store.ErrNotFound) {
			return fault.Missing("LifecycleExecution", id, "The lifecycle execution '%s' does not exist.", id)
		}
		return err
	})
	return &run, err
}

// GetLifecycleExecution returns a lifecycle execution.
func (s *Service) GetLifecycleExecution(ctx context.Context, scope store.Scope, id string) (*LifecycleExecution, error) {
	run, err := s.loadRun(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	return &run.Exec, nil
}

// LifecycleExecutionPage is a page of executions.
type LifecycleExecutionPage struct {
	LifecycleExecutions []LifecycleExecution
	NextToken           string
}

// ListLifecycleExecutions lists the executions of a lifecycle policy or of
// an image (those StartResourceStateUpdate started), oldest first.
func (s *Service) ListLifecycleExecutions(ctx context.Context, scope store.Scope, resourceArn string, maxResults int, nextToken string) (*LifecycleExecutionPage, error) {
	parent := resourceArn
	if err := s.imageARN(scope, resourceArn, "resourceArn"); err != nil {
		if _, _, perr := parseARN(resourceArn, "resourceArn", specLifecyclePolicy, 1, 1); perr != nil {
			return nil, fault.InvalidField("resourceArn", "'%s' is neither a lifecycle policy ARN nor an image build version ARN.", resourceArn)
		}
	}
	page := &LifecycleExecutionPage{LifecycleExecutions: []LifecycleExecution{}}
	docs, _, next, err := s.page(ctx, scope, "ListLifecycleExecutions", Doc{"maxResults": float64(maxResults), "nextToken": nextToken}, kindLifecycleExec, parent,
		func(store.Tx, Doc, *store.Record) bool { return true })
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		var run lifecycleRun
		b, _ := json.Marshal(d)
		if err := json.Unmarshal(b, &run); err != nil {
			return nil, err
		}
		page.LifecycleExecutions = append(page.LifecycleExecutions, run.Exec)
	}
	page.NextToken = next
	return page, nil
}

// LifecycleResourcePage is a page of an execution's resources.
type LifecycleResourcePage struct {
	LifecycleExecutionID    string
	LifecycleExecutionState LifecycleState
	Resources               []LifecycleResource
	NextToken               string
}

// ListLifecycleExecutionResources lists an execution's images, or with
// parentResourceId an image's AMIs, snapshots and container images.
func (s *Service) ListLifecycleExecutionResources(ctx context.Context, scope store.Scope, id, parent string, maxResults int, nextToken string) (*LifecycleResourcePage, error) {
	run, err := s.loadRun(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	var all []LifecycleResource
	for i, r := range run.Resources {
		if i < len(run.Parents) && run.Parents[i] == parent {
			all = append(all, r)
		}
	}
	tscope := tokenScope(scope, "ListLifecycleExecutionResources", []any{id, parent})
	cursor, err := s.tokens.Cursor(tscope, nextToken)
	if err != nil {
		return nil, err
	}
	start := 0
	if cursor != "" {
		fmt.Sscanf(cursor, "%d", &start)
	}
	max := maxResults
	if max <= 0 || max > 25 {
		max = 25
	}
	page := &LifecycleResourcePage{LifecycleExecutionID: id, LifecycleExecutionState: run.Exec.State, Resources: []LifecycleResource{}}
	end := min(len(all), start+max)
	if start < end {
		page.Resources = all[start:end]
	}
	if end < len(all) {
		page.NextToken = s.tokens.Encode(tscope, fmt.Sprintf("%09d", end))
	}
	return page, nil
}

// CancelLifecycleExecution stops an execution that has not finished;
// actions already taken stay.
func (s *Service) CancelLifecycleExecution(ctx context.Context, scope store.Scope, id, clientToken string) (string, error) {
	key := store.IdempotencyKey{Scope: scope, Operation: "imagebuilder:CancelLifecycleExecution", Token: clientToken}
	_, err := store.Idempotent(ctx, s.store, key, fingerprint(id), mismatch(), func(tx store.Tx) (Doc, error) {
		var run lifecycleRun
		rec, err := getJSON(tx, scope, kindLifecycleExec, id, &run)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fault.Missing("LifecycleExecution", id, "The lifecycle execution '%s' does not exist.", id)
		} else if err != nil {
			return nil, err
		}
		if terminalLifecycle(run.Exec.State.Status) || run.Exec.State.Status == lceCancelling {
			return nil, fault.New(fault.InUse, "The lifecycle execution '%s' is %s.", id, run.Exec.State.Status)
		}
		run.Cancel = true
		run.Exec.State = LifecycleState{Status: lceCancelling}
		now := s.nowMillis()
		if err := putJSON(tx, rec, run, now); err != nil {
			return nil, err
		}
		// It stops at its next step: now.
		return Doc{}, enqueue(tx, scope, itemLifecycle, id, now)
	})
	return id, err
}
