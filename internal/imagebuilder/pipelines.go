package imagebuilder

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/awscron"
	"github.com/slipway-dev/slipway/internal/engine"
	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/store"
)

// Workflow limits per pipeline, from the Image Builder user guide.
const (
	maxPipelineWorkflows = 10
)

var imagePipelines = named{
	sp: specPipeline, arnField: "imagePipelineArn", out: "imagePipeline", list: "imagePipelineList",
	filters: map[string]func(Doc) []string{
		"description": field("description"), "distributionConfigurationArn": field("distributionConfigurationArn"),
		"imageRecipeArn": field("imageRecipeArn"), "infrastructureConfigurationArn": field("infrastructureConfigurationArn"),
		"name": field("name"), "status": field("status"),
	},
	mutable: []string{"description", "imageRecipeArn", "containerRecipeArn", "infrastructureConfigurationArn", "distributionConfigurationArn",
		"imageTestsConfiguration", "enhancedImageMetadataEnabled", "schedule", "status", "imageScanningConfiguration", "workflows",
		"executionRole", "loggingConfiguration", "imageTags"},
	prepare:         (*Service).preparePipeline,
	derive:          withNextRun,
	updatedOnCreate: true,
	written: func(s *Service, tx store.Tx, scope store.Scope, arn string, d Doc, now time.Time) error {
		return s.reschedule(tx, scope, arn, d, now)
	},
	deleted: func(s *Service, tx store.Tx, scope store.Scope, arn string) error {
		if err := tx.Delete(scope, kindScheduleState, arn); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return engine.Cancel(tx, scheduleItemID(arn))
	},
}

// preparePipeline checks a pipeline's references and settings and fills
// the defaults AWS applies.
func (s *Service) preparePipeline(tx store.Tx, scope store.Scope, d Doc) ([]string, error) {
	image, container := str(d, "imageRecipeArn"), str(d, "containerRecipeArn")
	if (image == "") == (container == "") {
		return nil, fault.New(fault.InvalidCombination, "You must specify exactly one of 'imageRecipeArn' and 'containerRecipeArn'.")
	}
	var refs []string
	recipeSpec, recipeField, recipe := specImageRecipe, "imageRecipeArn", image
	if container != "" {
		recipeSpec, recipeField, recipe = specContainerRecipe, "containerRecipeArn", container
	}
	if err := requireOwned(tx, scope, recipeSpec, recipeField, recipe); err != nil {
		return nil, err
	}
	rd, _, err := loadDoc(tx, scope, recipeSpec, recipe)
	if err != nil {
		return nil, err
	}
	refs = append(refs, recipe)
	d["platform"] = rd["platform"]
	if err := requireOwned(tx, scope, specInfra, "infrastructureConfigurationArn", str(d, "infrastructureConfigurationArn")); err != nil {
		return nil, err
	}
	refs = append(refs, str(d, "infrastructureConfigurationArn"))
	if dist := str(d, "distributionConfigurationArn"); dist != "" {
		if err := requireOwned(tx, scope, specDist, "distributionConfigurationArn", dist); err != nil {
			return nil, err
		}
		refs = append(refs, dist)
	}
	wfRefs, err := s.checkPipelineWorkflows(tx, scope, d)
	if err != nil {
		return nil, err
	}
	refs = append(refs, wfRefs...)
	if err := checkSchedule(d); err != nil {
		return nil, err
	}
	if _, ok := d["status"]; !ok {
		d["status"] = "ENABLED"
	}
	if _, ok := d["enhancedImageMetadataEnabled"]; !ok {
		d["enhancedImageMetadataEnabled"] = true
	}
	tests := obj(d, "imageTestsConfiguration")
	if tests == nil {
		tests = Doc{}
		d["imageTestsConfiguration"] = tests
	}
	if _, ok := tests["imageTestsEnabled"]; !ok {
		tests["imageTestsEnabled"] = true
	}
	if _, ok := tests["timeoutMinutes"]; !ok {
		tests["timeoutMinutes"] = 720
	}
	// Creating or updating a pipeline resets its failure count.
	d["consecutiveFailures"] = 0
	return refs, nil
}

// checkPipelineWorkflows validates the workflows[] of a pipeline and
// returns the account-owned workflow builds it depends on.
func (s *Service) checkPipelineWorkflows(tx store.Tx, scope store.Scope, d Doc) ([]string, error) {
	wfs := list(d, "workflows")
	if len(wfs) == 0 {
		return nil, nil
	}
	if str(d, "executionRole") == "" {
		return nil, fault.InvalidField("executionRole", "An execution role is required to provide workflows.")
	}
	if len(wfs) > maxPipelineWorkflows {
		return nil, fault.InvalidField("workflows", "At most %d workflows are allowed, found %d.", maxPipelineWorkflows, len(wfs))
	}
	count := map[string]int{}
	var refs []string
	for i, raw := range wfs {
		wc, _ := raw.(map[string]any)
		path := fmt.Sprintf("workflows[%d]", i)
		ref, err := parseWorkflowARN(str(wc, "workflowArn"), path+".workflowArn")
		if err != nil {
			return nil, err
		}
		w, err := s.resolveWorkflow(tx, scope, str(wc, "workflowArn"), ref)
		if fault.Is(err, fault.NotFound) {
			return nil, fault.InvalidField(path+".workflowArn", "The workflow '%s' does not exist.", str(wc, "workflowArn"))
		} else if err != nil {
			return nil, err
		}
		count[w.Type]++
		if w.Type != "TEST" {
			if _, ok := wc["parallelGroup"]; ok {
				return nil, fault.InvalidField(path+".parallelGroup", "Only TEST workflows can have a parallel group.")
			}
			if _, ok := wc["onFailure"]; ok {
				return nil, fault.InvalidField(path+".onFailure", "Only TEST workflows can have an onFailure setting.")
			}
		}
		declared := map[string]WorkflowParameter{}
		for _, p := range w.Parameters {
			declared[p.Name] = p
		}
		given := map[string]bool{}
		for _, p := range list(wc, "parameters") {
			pm, _ := p.(map[string]any)
			name := str(pm, "name")
			if _, ok := declared[name]; !ok {
				return nil, fault.InvalidField(path+".parameters", "The workflow '%s' has no parameter named '%s'.", w.ARN, name)
			}
			given[name] = true
		}
		for name, p := range declared {
			if p.DefaultValue == nil && !given[name] {
				return nil, fault.InvalidField(path+".parameters", "The workflow '%s' needs a value for parameter '%s', which has no default.", w.ARN, name)
			}
		}
		if w.Owner != ManagedOwnerName {
			refs = append(refs, w.ARN)
		}
	}
	if count["BUILD"] > 1 || count["DISTRIBUTION"] > 1 {
		return nil, fault.InvalidField("workflows", "A pipeline can have at most one BUILD and one DISTRIBUTION workflow.")
	}
	return refs, nil
}

// checkSchedule validates the schedule and fills its default start
// condition.
func checkSchedule(d Doc) error {
	sc := obj(d, "schedule")
	if sc == nil {
		return nil
	}
	expr := str(sc, "scheduleExpression")
	if expr == "" {
		return fault.InvalidField("schedule.scheduleExpression", "A schedule needs a scheduleExpression.")
	}
	if _, err := awscron.Parse(expr); err != nil {
		return fault.InvalidField("schedule.scheduleExpression", "Non-standard cron expressions are not supported: %v.", err)
	}
	if _, err := scheduleZone(sc); err != nil {
		return fault.InvalidField("schedule.timezone", "'%s' is not an IANA time zone.", str(sc, "timezone"))
	}
	if _, ok := sc["pipelineExecutionStartCondition"]; !ok {
		sc["pipelineExecutionStartCondition"] = "EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE"
	}
	return nil
}

func scheduleZone(sc Doc) (*time.Location, error) {
	tz := str(sc, "timezone")
	if tz == "" {
		tz = "UTC"
	}
	if strings.HasPrefix(tz, "Local") {
		return nil, fmt.Errorf("%q is not an IANA time zone", tz)
	}
	return time.LoadLocation(tz)
}

// withNextRun sets dateNextRun as of now: it is derived on every read, so it
// never goes stale, and only enabled pipelines have one.
func withNextRun(d Doc, now time.Time) {
	delete(d, "dateNextRun")
	sc := obj(d, "schedule")
	if sc == nil || str(d, "status") == "DISABLED" {
		return
	}
	parsed, err := awscron.Parse(str(sc, "scheduleExpression"))
	if err != nil {
		return
	}
	loc, err := scheduleZone(sc)
	if err != nil {
		return
	}
	if next := parsed.Next(now, loc); !next.IsZero() {
		d["dateNextRun"] = FormatTime(next)
	}
}

// CreateImagePipeline stores an image pipeline.
func (s *Service) CreateImagePipeline(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	return s.createNamed(ctx, scope, imagePipelines, "CreateImagePipeline", in)
}

// UpdateImagePipeline replaces an image pipeline's settings.
func (s *Service) UpdateImagePipeline(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	return s.updateNamed(ctx, scope, imagePipelines, "UpdateImagePipeline", in)
}

// GetImagePipeline returns an image pipeline.
func (s *Service) GetImagePipeline(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	return s.getNamed(ctx, scope, imagePipelines, in)
}

// ListImagePipelines lists image pipelines.
func (s *Service) ListImagePipelines(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	return s.listNamed(ctx, scope, imagePipelines, in)
}

// DeleteImagePipeline deletes an image pipeline.
func (s *Service) DeleteImagePipeline(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	return s.deleteNamed(ctx, scope, imagePipelines, in)
}
