package imagebuilder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slipway-dev/slipway/internal/arn"
	"github.com/slipway-dev/slipway/internal/engine"
	"github.com/slipway-dev/slipway/internal/events"
	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/memo"
	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/wfdoc"
)

// Builds: an image's build walks its stages (BUILD, TEST, DISTRIBUTION),
// each a set of workflow executions whose steps run one by one on the
// engine. Every transition below happens inside one store transaction,
// called from an engine item's commit or from an API call.

const (
	kindImage         = "imagebuilder.image"
	kindImageVersion  = "imagebuilder.image-version"
	kindImageCounter  = "imagebuilder.image-counter"
	kindPipelineImage = "imagebuilder.pipeline-image"
	kindBuild         = "imagebuilder.build"
	kindWfExec        = "imagebuilder.workflow-execution"
	kindStepExec      = "imagebuilder.step-execution"
	kindWaiting       = "imagebuilder.waiting-step"

	itemStep     = "imagebuilder.step"
	itemTimeout  = "imagebuilder.timeout"
	itemRollback = "imagebuilder.rollback"
	itemStage    = "imagebuilder.stage"

	// FailStepsTag is the failure-injection tag: on a pipeline or an image
	// (StartImagePipelineExecution or CreateImage tags), a comma-separated
	// list of step names that fail when they run, in any workflow.
	FailStepsTag = "slipway:fail-steps"
	// maxParallel is how many test workflows of one group run at once.
	maxParallel = 5
)

var specImage = spec{"Image", "image", kindImage}

// eventSource is the EventBridge source of Image Builder's events.
const eventSource = "aws.imagebuilder"

// stateChangeStatuses are the statuses an Image State Change event reports.
var stateChangeStatuses = []string{"BUILDING", "TESTING", "DISTRIBUTING", "INTEGRATING", statusAvailable, statusCancelled, statusFailed}

// Image states.
const (
	statusPending      = "PENDING"
	statusBuilding     = "BUILDING"
	statusTesting      = "TESTING"
	statusDistributing = "DISTRIBUTING"
	statusIntegrating  = "INTEGRATING"
	statusAvailable    = "AVAILABLE"
	statusFailed       = "FAILED"
	statusCancelled    = "CANCELLED"
)

func terminalImage(s string) bool {
	switch s {
	case statusPending, "CREATING", statusBuilding, statusTesting, statusDistributing, statusIntegrating:
		return false
	}
	return true
}

var stageStatus = map[string]string{"BUILD": statusBuilding, "TEST": statusTesting, "DISTRIBUTION": statusDistributing}

// build is the private state of one image build.
type build struct {
	Image     string `json:"image"`
	Pipeline  string `json:"pipeline,omitempty"`
	ImageName string `json:"imageName"`
	Version   string `json:"version"`
	Number    int    `json:"number"`
	ImageType string `json:"imageType"` // AMI or Docker
	Platform  string `json:"platform"`
	OSVersion string `json:"osVersion"`
	Regions   []any  `json:"regions"`
	Account   string `json:"account"`
	// Dist is the distribution configuration, kept as its JSON: a build is
	// decoded on every step and this is read only once it distributes.
	Dist       json.RawMessage   `json:"dist,omitempty"`
	AMIs       map[string]string `json:"amis,omitempty"`
	Stages     []*stageRun       `json:"stages"`
	Stage      int               `json:"stage"`
	Vars       map[string]any    `json:"vars"`
	System     map[string]any    `json:"system"`
	FailSteps  []string          `json:"failSteps,omitempty"`
	Seq        int               `json:"seq"`
	Integrated bool              `json:"integrated,omitempty"`
	Retried    bool              `json:"retried,omitempty"`
	BuildType  string            `json:"buildType,omitempty"`
}

type stageRun struct {
	Type    string   `json:"type"`
	Runs    []*wfRun `json:"runs"`
	Failed  bool     `json:"failed,omitempty"`
	Message string   `json:"message,omitempty"`
	FailCtx Doc      `json:"failCtx,omitempty"`
}

type wfRun struct {
	WorkflowARN   string `json:"workflowArn"`
	Params        []any  `json:"params,omitempty"`
	ParallelGroup string `json:"parallelGroup,omitempty"`
	OnFailure     string `json:"onFailure,omitempty"`
	Exec          string `json:"exec,omitempty"`
	Status        string `json:"status,omitempty"`
}

func (r *wfRun) finished() bool {
	switch r.Status {
	case "COMPLETED", "FAILED", "ROLLBACK_COMPLETED", "CANCELLED", "SKIPPED":
		return true
	}
	return false
}

// wfExec is one workflow execution.
type wfExec struct {
	ID            string         `json:"id"`
	Image         string         `json:"image"`
	WorkflowARN   string         `json:"workflowArn"`
	Type          string         `json:"type"`
	Status        string         `json:"status"`
	Message       string         `json:"message,omitempty"`
	ParallelGroup string         `json:"parallelGroup,omitempty"`
	Retried       bool           `json:"retried,omitempty"`
	Start         time.Time      `json:"start"`
	End           time.Time      `json:"end,omitzero"`
	Steps         []string       `json:"steps"`
	Current       int            `json:"current"`
	Params        map[string]any `json:"params"`
	Outputs       map[string]any `json:"outputs"`
	Rollback      []string       `json:"rollback,omitempty"`
	Succeeded     int            `json:"succeeded"`
	Failed        int            `json:"failed"`
	Skipped       int            `json:"skipped"`
	FailedStep    string         `json:"failedStep,omitempty"`
	// Data is the workflow document as its JSON string, undecoded: every
	// step reads the execution, and parseExecWorkflow looks it up as is.
	Data json.RawMessage `json:"data"`
}

// stepExec is one step execution.
type stepExec struct {
	ID             string    `json:"id"`
	Exec           string    `json:"exec"`
	Image          string    `json:"image"`
	WorkflowARN    string    `json:"workflowArn"`
	Index          int       `json:"index"`
	Name           string    `json:"name"`
	Description    string    `json:"description,omitempty"`
	Action         string    `json:"action"`
	Status         string    `json:"status"`
	RollbackStatus string    `json:"rollbackStatus,omitempty"`
	Message        string    `json:"message,omitempty"`
	Inputs         string    `json:"inputs"`
	Outputs        string    `json:"outputs,omitempty"`
	Start          time.Time `json:"start,omitzero"`
	End            time.Time `json:"end,omitzero"`
	OnFailure      string    `json:"onFailure"`
	TimeoutSeconds int       `json:"timeoutSeconds"`
	Waiting        bool      `json:"waiting,omitempty"`
	Deadline       time.Time `json:"deadline,omitzero"`
	// Completions counts transitions to a final state; it is 1 for every
	// finished step (the crash test checks it).
	Completions int `json:"completions"`
}

// parsed caches parsed workflow documents: every step of an execution
// needs its document, and a build version's document never changes. The
// documents are only read, never modified, once parsed.
var parsed struct {
	sync.Mutex
	docs map[parsedKey]*wfdoc.Document
	// raw holds, per stage, documents by the JSON string of their text.
	raw map[string]map[string]*wfdoc.Document
}

// parsedKey names a document by its stage and text.
type parsedKey struct{ stage, data string }

// maxParsed bounds the cache; past it, it starts over.
const maxParsed = 256

func parseWorkflow(data, stage string) (*wfdoc.Document, error) {
	parsed.Lock()
	doc := parsed.docs[parsedKey{stage, data}]
	parsed.Unlock()
	if doc != nil {
		return doc, nil
	}
	doc, err := wfdoc.Parse([]byte(data), wfdoc.Stage(stage))
	if err != nil {
		return nil, err
	}
	parsed.Lock()
	if parsed.docs == nil || len(parsed.docs) >= maxParsed {
		parsed.docs = map[parsedKey]*wfdoc.Document{}
	}
	parsed.docs[parsedKey{stage, data}] = doc
	parsed.Unlock()
	return doc, nil
}

// parseExecWorkflow parses an execution's document, given as its JSON
// string: the cache is looked up by those bytes, so a hit decodes nothing.
func parseExecWorkflow(data json.RawMessage, stage string) (*wfdoc.Document, error) {
	parsed.Lock()
	doc := parsed.raw[stage][string(data)]
	parsed.Unlock()
	if doc != nil {
		return doc, nil
	}
	var text string
	if err := json.Unmarshal(data, &text); err != nil {
		return nil, fmt.Errorf("imagebuilder: workflow document of an execution: %w", err)
	}
	doc, err := parseWorkflow(text, stage)
	if err != nil {
		return nil, err
	}
	parsed.Lock()
	if parsed.raw == nil {
		parsed.raw = map[string]map[string]*wfdoc.Document{}
	}
	if parsed.raw[stage] == nil || len(parsed.raw[stage]) >= maxParsed {
		parsed.raw[stage] = map[string]*wfdoc.Document{}
	}
	parsed.raw[stage][string(data)] = doc
	parsed.Unlock()
	return doc, nil
}

func enqueue(tx store.Tx, scope store.Scope, typ, id string, due time.Time) error {
	payload, _ := json.Marshal(id)
	return engine.Enqueue(tx, engine.Item{ID: typ + ":" + id, Type: typ, Scope: scope, Payload: payload, Due: due})
}

// RegisterEngine installs the build handlers on the engine. Work queued
// by API calls wakes it through the store (engine.Enqueue notifies).
func (s *Service) RegisterEngine(e *engine.Engine) {
	handler := func(run func(tx store.Tx, scope store.Scope, id string, now time.Time) error) engine.Handler {
		return func(ctx context.Context, it engine.Item) (func(store.Tx) error, error) {
			var id string
			if err := json.Unmarshal(it.Payload, &id); err != nil {
				return nil, err
			}
			return func(tx store.Tx) error { return run(tx, it.Scope, id, s.nowMillis()) }, nil
		}
	}
	e.Register(itemStep, handler(s.runStep))
	e.Register(itemTimeout, handler(s.timeoutStep))
	e.Register(itemRollback, handler(s.rollbackStep))
	e.Register(itemStage, handler(s.advanceBuild))
	e.Register(itemSchedule, handler(s.runSchedule))
	e.Register(itemLifecycle, handler(s.runLifecycle))
	e.Register(itemPolicyRun, handler(s.dailyPolicyRun))
	e.Register(itemNotify, s.runNotify)
}

// buildRequest is what a build is made of.
type buildRequest struct {
	Recipe, Infra, Dist               Doc
	Container                         bool
	Workflows                         []any
	Tests                             Doc
	ExecutionRole                     string
	Enhanced                          bool
	Scanning                          Doc
	Tags                              map[string]string
	Pipeline, PipelineName, BuildType string
	FailSteps                         []string
	Logging                           Doc
	// Mode is "" for a recipe build, "distribute" for DistributeImage (the
	// DISTRIBUTION stage only) or "import" for ImportVmImage and
	// ImportDiskImage (no workflow; the image has no recipe).
	Mode string
	// OSVersion, when set, is the image's osVersion (imports name it).
	OSVersion string
}

// startBuild creates the image and queues its first stage.
func (s *Service) startBuild(tx store.Tx, scope store.Scope, req buildRequest, now time.Time) (string, error) {
	rname, rversion := str(req.Recipe, "name"), str(req.Recipe, "version")
	versionARN := resourceARN(scope, scope.Account, "image/"+arn.NormalizeName(rname)+"/"+rversion)
	n, err := store.Next(tx, scope, kindImageCounter, versionARN, now)
	if err != nil {
		return "", err
	}
	imageARN := versionARN + "/" + strconv.FormatInt(n, 10)
	imageType, recipeKey := "AMI", "imageRecipe"
	if req.Container {
		imageType, recipeKey = "DOCKER", "containerRecipe"
	}
	osVersion := req.OSVersion
	if osVersion == "" {
		osVersion = s.parentOSVersion(tx, scope, str(req.Recipe, "parentImage"), str(req.Recipe, "platform"))
	}
	tests := req.Tests
	if tests == nil {
		tests = Doc{"imageTestsEnabled": true, "timeoutMinutes": 720}
	}
	img := Doc{
		"arn": imageARN, "name": rname, "version": rversion + "/" + strconv.FormatInt(n, 10), "type": imageType,
		"platform": req.Recipe["platform"], "osVersion": osVersion, "enhancedImageMetadataEnabled": req.Enhanced,
		"state": Doc{"status": statusPending}, recipeKey: req.Recipe, "infrastructureConfiguration": req.Infra,
		"imageTestsConfiguration": tests, "dateCreated": FormatTime(now), "buildType": req.BuildType,
		"imageSource": "CUSTOM", "outputResources": Doc{"amis": []any{}}, "owner": scope.Account,
	}
	if req.Infra == nil {
		delete(img, "infrastructureConfiguration")
	}
	if req.Mode == "import" {
		delete(img, recipeKey)
		delete(img, "imageTestsConfiguration")
		img["imageSource"] = "IMPORTED"
	}
	if req.Dist != nil {
		img["distributionConfiguration"] = req.Dist
	}
	if req.Pipeline != "" {
		img["sourcePipelineArn"], img["sourcePipelineName"] = req.Pipeline, req.PipelineName
	}
	if len(req.Workflows) > 0 {
		img["workflows"] = req.Workflows
		img["executionRole"] = req.ExecutionRole
	}
	if req.Scanning != nil {
		img["imageScanningConfiguration"] = req.Scanning
	}
	if req.Logging != nil {
		img["loggingConfiguration"] = req.Logging
	}
	if err := insertDoc(tx, scope, specImage, imageARN, versionARN, buildSortKey(int(n)), img, req.Tags, now); err != nil {
		return "", err
	}
	if err := imageVersions.setLatest(tx, scope, versionARN, arn.NormalizeName(rname)+"/"+mustVersion(rversion).SortKey(), imageARN, now); err != nil {
		return "", err
	}
	if req.Pipeline != "" {
		if err := tx.Insert(&store.Record{Scope: scope, Kind: kindPipelineImage, ID: imageARN, Parent: req.Pipeline,
			SortKey: fmt.Sprintf("%013d|%s", now.UnixMilli(), imageARN), Created: now, Updated: now, Body: []byte("{}")}); err != nil {
			return "", err
		}
	}

	b := &build{Image: imageARN, Pipeline: req.Pipeline, ImageName: rname, Version: rversion, Number: int(n), ImageType: "AMI",
		Platform: str(req.Recipe, "platform"), OSVersion: osVersion, Account: scope.Account, Dist: rawDoc(req.Dist),
		Vars: map[string]any{}, FailSteps: req.FailSteps, Regions: []any{scope.Region}, BuildType: req.BuildType}
	if req.Container {
		b.ImageType = "Docker"
	}
	if req.Dist != nil {
		b.Regions = nil
		for _, d := range list(req.Dist, "distributions") {
			b.Regions = append(b.Regions, str(d.(map[string]any), "region"))
		}
	}
	b.System = map[string]any{
		"cloudWatchLogGroup": "/aws/imagebuilder/" + rname, "cloudWatchLogStream": rversion + "/" + strconv.FormatInt(n, 10),
		"collectImageMetadata": req.Enhanced, "collectImageScanFindings": boolean(req.Scanning, "imageScanningEnabled"),
		"imageBuildNumber": n, "imageId": str(req.Recipe, "parentImage"), "imageName": rname, "imageType": b.ImageType,
		"imageVersionNumber": rversion, "instanceProfileName": str(req.Infra, "instanceProfileName"), "platform": b.Platform,
		"s3Logs": obj(obj(req.Infra, "logging"), "s3Logs"), "securityGroups": list(req.Infra, "securityGroupIds"),
		"sourceImageARN": str(req.Recipe, "parentImage"), "subnetId": str(req.Infra, "subnetId"),
		"terminateInstanceOnFailure": req.Infra["terminateInstanceOnFailure"] != false, "workingDirectory": "/tmp",
	}
	if wd := str(req.Recipe, "workingDirectory"); wd != "" {
		b.System["workingDirectory"] = wd
	}
	if b.Stages, err = s.planStages(tx, scope, req); err != nil {
		return "", err
	}
	if err := insertJSON(tx, &store.Record{Scope: scope, Kind: kindBuild, ID: imageARN, SortKey: imageARN, Created: now, Updated: now}, b); err != nil {
		return "", err
	}
	return imageARN, enqueue(tx, scope, itemStage, imageARN, now)
}

// planStages decides which workflows each stage runs: the configured ones,
// or the AWS-managed defaults when none are configured.
func (s *Service) planStages(tx store.Tx, scope store.Scope, req buildRequest) ([]*stageRun, error) {
	byType := map[string][]*wfRun{}
	for _, raw := range req.Workflows {
		wc, _ := raw.(map[string]any)
		ref, err := parseWorkflowARN(str(wc, "workflowArn"), "workflows")
		if err != nil {
			return nil, err
		}
		w, err := s.resolveWorkflow(tx, scope, str(wc, "workflowArn"), ref)
		if err != nil {
			return nil, fault.InvalidField("workflows", "The workflow '%s' does not exist.", str(wc, "workflowArn"))
		}
		byType[w.Type] = append(byType[w.Type], &wfRun{WorkflowARN: w.ARN, Params: list(wc, "parameters"),
			ParallelGroup: str(wc, "parallelGroup"), OnFailure: str(wc, "onFailure")})
	}
	managed := func(typ, name string) []*wfRun {
		return []*wfRun{{WorkflowARN: resourceARN(scope, ManagedOwner, "workflow/"+strings.ToLower(typ)+"/"+name+"/x.x.x")}}
	}
	custom := len(req.Workflows) > 0
	var stages []*stageRun
	switch req.Mode {
	case "import":
		return nil, nil
	case "distribute":
		return []*stageRun{{Type: "DISTRIBUTION", Runs: managed("DISTRIBUTION", "distribute-image")}}, nil
	}
	buildRuns := byType["BUILD"]
	if !custom {
		buildRuns = managed("BUILD", "build-image")
	}
	if len(buildRuns) > 0 {
		stages = append(stages, &stageRun{Type: "BUILD", Runs: buildRuns})
	}
	if req.Tests == nil || req.Tests["imageTestsEnabled"] != false {
		testRuns := byType["TEST"]
		if !custom {
			testRuns = managed("TEST", "test-image")
		}
		if len(testRuns) > 0 {
			stages = append(stages, &stageRun{Type: "TEST", Runs: testRuns})
		}
	}
	distRuns := byType["DISTRIBUTION"]
	if len(distRuns) == 0 && req.Dist != nil && !req.Container {
		distRuns = managed("DISTRIBUTION", "distribute-image")
	}
	if len(distRuns) > 0 {
		stages = append(stages, &stageRun{Type: "DISTRIBUTION", Runs: distRuns})
	}
	return stages, nil
}

func (s *Service) loadBuild(tx store.Tx, scope store.Scope, image string) (*build, *store.Record, error) {
	var b build
	rec, err := getJSON(tx, scope, kindBuild, image, &b)
	return &b, rec, err
}

// sharedBuilds remembers decoded builds: every step reads its build, which
// changes only when an execution or stage ends.
var sharedBuilds = memo.New(2<<20, func(b []byte) (build, error) {
	var bd build
	return bd, json.Unmarshal(b, &bd)
})

// readBuild is loadBuild for a step that only reads the build: its nested
// members are shared with other readers and must not be changed (a step
// that changes the build loads it with loadBuild).
func readBuild(tx store.Tx, scope store.Scope, image string) (*build, error) {
	rec, err := tx.Get(scope, kindBuild, image)
	if err != nil {
		return nil, err
	}
	b, err := sharedBuilds.Decode(rec.Body)
	if err != nil {
		return nil, fmt.Errorf("imagebuilder: corrupt record %s %s: %w", rec.Kind, rec.ID, err)
	}
	return &b, nil
}

// setImageStatus updates the image's state.
func setImageStatus(tx store.Tx, scope store.Scope, image, status, reason string, extra func(Doc), now time.Time) error {
	d, rec, err := loadDoc(tx, scope, specImage, image)
	if err != nil {
		return err
	}
	if prev := str(obj(d, "state"), "status"); prev != status && slices.Contains(stateChangeStatuses, status) {
		ev := events.New(scope, eventSource, "EC2 Image Builder Image State Change", now, []string{image},
			map[string]any{"previous-state": map[string]any{"status": prev}, "state": map[string]any{"status": status}})
		if err := events.Emit(tx, ev); err != nil {
			return err
		}
	}
	st := Doc{"status": status}
	if reason != "" {
		st["reason"] = reason
	}
	d["state"] = st
	if extra != nil {
		extra(d)
	}
	return putJSON(tx, rec, d, now)
}

func imageStatus(tx store.Tx, scope store.Scope, image string) (string, error) {
	rec, err := tx.Get(scope, specImage.Kind, image)
	if errors.Is(err, store.ErrNotFound) {
		return "", notFound(specImage, image)
	} else if err != nil {
		return "", err
	}
	status, err := imageStatuses.Decode(rec.Body)
	if err != nil {
		return "", fmt.Errorf("imagebuilder: corrupt record %s %s: %w", rec.Kind, rec.ID, err)
	}
	return status, nil
}

// imageStatuses remembers images' statuses: every step reads its image's,
// and an image changes only at its stages' ends.
var imageStatuses = memo.New(1<<20, func(b []byte) (string, error) {
	var d struct {
		State struct {
			Status string `json:"status"`
		} `json:"state"`
	}
	err := json.Unmarshal(b, &d)
	return d.State.Status, err
})

// advanceBuild moves a build to its next stage, starts workflows that may
// run, or finishes the image.
func (s *Service) advanceBuild(tx store.Tx, scope store.Scope, image string, now time.Time) error {
	status, err := imageStatus(tx, scope, image)
	if errors.Is(err, store.ErrNotFound) || fault.Is(err, fault.NotFound) {
		return nil // deleted meanwhile
	} else if err != nil {
		return err
	}
	if terminalImage(status) {
		return nil
	}
	b, brec, err := s.loadBuild(tx, scope, image)
	if err != nil {
		return err
	}
	for {
		if b.Stage >= len(b.Stages) {
			if status != statusIntegrating {
				if err := setImageStatus(tx, scope, image, statusIntegrating, "", nil, now); err != nil {
					return err
				}
				if err := putJSON(tx, brec, b, now); err != nil {
					return err
				}
				return enqueue(tx, scope, itemStage, image, now.Add(s.StepDelay))
			}
			return s.finishImage(tx, scope, b, brec, statusAvailable, "", nil, now)
		}
		st := b.Stages[b.Stage]
		if want := stageStatus[st.Type]; status != want {
			if err := setImageStatus(tx, scope, image, want, "", nil, now); err != nil {
				return err
			}
			status = want
		}
		done := true
		for _, r := range st.Runs {
			if !r.finished() {
				done = false
			}
		}
		if done {
			if st.Failed {
				return s.finishImage(tx, scope, b, brec, statusFailed, st.Message, st.FailCtx, now)
			}
			b.Stage++
			continue
		}
		if err := s.startReady(tx, scope, b, st, now); err != nil {
			return err
		}
		return putJSON(tx, brec, b, now)
	}
}

// startReady starts the stage's workflows that may run now: the runs of
// one parallel group together (at most maxParallel at a time), groups one
// after another.
func (s *Service) startReady(tx store.Tx, scope store.Scope, b *build, st *stageRun, now time.Time) error {
	group := func(i int) string {
		if g := st.Runs[i].ParallelGroup; g != "" {
			return "g:" + g
		}
		return "#" + strconv.Itoa(i)
	}
	active, current := 0, ""
	for i, r := range st.Runs {
		if r.Exec != "" && !r.finished() {
			active++
			current = group(i)
		}
	}
	for i, r := range st.Runs {
		if r.Exec != "" || active >= maxParallel {
			continue
		}
		if current == "" {
			current = group(i)
		}
		if group(i) != current {
			continue
		}
		if err := s.startExecution(tx, scope, b, st, r, now); err != nil {
			return err
		}
		active++
	}
	return nil
}

// workflowFor loads the workflow a run names (own or managed).
func (s *Service) workflowFor(tx store.Tx, scope store.Scope, a string) (*Workflow, error) {
	ref, err := parseWorkflowARN(a, "workflowArn")
	if err != nil {
		return nil, err
	}
	return s.resolveWorkflow(tx, scope, a, ref)
}

func (s *Service) startExecution(tx store.Tx, scope store.Scope, b *build, st *stageRun, r *wfRun, now time.Time) error {
	w, err := s.workflowFor(tx, scope, r.WorkflowARN)
	if err != nil {
		return err
	}
	doc, err := parseWorkflow(w.Data, w.Type)
	if err != nil {
		return fmt.Errorf("imagebuilder: stored workflow %s no longer parses: %w", w.ARN, err)
	}
	b.Seq++
	ex := &wfExec{ID: "wf-" + newUUID(), Image: b.Image, WorkflowARN: w.ARN, Type: w.Type, Status: "RUNNING", ParallelGroup: r.ParallelGroup,
		Retried: b.Retried, Start: now, Params: paramValues(doc, r.Params), Outputs: map[string]any{}, Data: jsonString(w.Data)}
	for i, step := range doc.Steps {
		inputs, _ := json.Marshal(step.Inputs)
		se := &stepExec{ID: "step-" + newUUID(), Exec: ex.ID, Image: b.Image, WorkflowARN: w.ARN, Index: i, Name: step.Name,
			Description: step.Description, Action: step.Action, Status: "PENDING", Inputs: string(inputs), OnFailure: step.OnFailure,
			TimeoutSeconds: step.TimeoutSeconds}
		if err := insertJSON(tx, &store.Record{Scope: scope, Kind: kindStepExec, ID: se.ID, Parent: ex.ID, SortKey: fmt.Sprintf("%04d", i), Created: now, Updated: now}, se); err != nil {
			return err
		}
		ex.Steps = append(ex.Steps, se.ID)
	}
	if err := insertJSON(tx, &store.Record{Scope: scope, Kind: kindWfExec, ID: ex.ID, Parent: b.Image, SortKey: fmt.Sprintf("%06d", b.Seq), Created: now, Updated: now}, ex); err != nil {
		return err
	}
	r.Exec, r.Status = ex.ID, "RUNNING"
	return enqueue(tx, scope, itemStep, ex.Steps[0], now)
}

// paramValues types the configured parameter values by the document's
// declarations, falling back to defaults.
func paramValues(doc *wfdoc.Document, given []any) map[string]any {
	out := map[string]any{}
	vals := map[string][]string{}
	for _, g := range given {
		gm, _ := g.(map[string]any)
		for _, v := range list(gm, "value") {
			vals[str(gm, "name")] = append(vals[str(gm, "name")], fmt.Sprint(v))
		}
	}
	for _, p := range doc.Parameters {
		v, ok := vals[p.Name]
		if !ok {
			if p.HasDefault {
				out[p.Name] = p.Default
			}
			continue
		}
		switch p.Type {
		case "stringList":
			l := make([]any, len(v))
			for i, x := range v {
				l[i] = x
			}
			out[p.Name] = l
		case "integer":
			n, _ := strconv.Atoi(v[0])
			out[p.Name] = n
		case "boolean":
			out[p.Name] = v[0] == "true"
		default:
			out[p.Name] = v[0]
		}
	}
	return out
}

// execFinished records a finished execution in its stage and moves the
// build on.
func (s *Service) execFinished(tx store.Tx, scope store.Scope, ex *wfExec, now time.Time) error {
	b, brec, err := s.loadBuild(tx, scope, ex.Image)
	if err != nil {
		return err
	}
	for _, st := range b.Stages {
		for _, r := range st.Runs {
			if r.Exec != ex.ID {
				continue
			}
			r.Status = ex.Status
			if ex.Status != "COMPLETED" && r.OnFailure != "CONTINUE" && !st.Failed {
				st.Failed = true
				st.Message = ex.Message
				if st.Message == "" {
					st.Message = "Workflow " + ex.WorkflowARN + " ended " + ex.Status + "."
				}
				st.FailCtx = Doc{"imageStatus": stageStatus[st.Type], "workflowExecutionId": ex.ID, "workflowArn": ex.WorkflowARN}
				if ex.FailedStep != "" {
					var step stepExec
					if _, err := getJSON(tx, scope, kindStepExec, ex.FailedStep, &step); err == nil {
						st.FailCtx["stepExecutionId"], st.FailCtx["failedStep"] = step.ID, step.Name
					}
				}
			}
		}
	}
	if err := putJSON(tx, brec, b, now); err != nil {
		return err
	}
	return s.advanceBuild(tx, scope, ex.Image, now)
}

// finishImage ends the build and updates the pipeline's bookkeeping.
func (s *Service) finishImage(tx store.Tx, scope store.Scope, b *build, brec *store.Record, status, reason string, failCtx Doc, now time.Time) error {
	s.observe("image", status)
	var finished Doc
	err := setImageStatus(tx, scope, b.Image, status, reason, func(d Doc) {
		defer func() { finished = d }()
		if status == statusAvailable {
			if b.ImageType == "Docker" {
				d["outputResources"] = Doc{"containers": b.containerOutputs(str(obj(obj(d, "containerRecipe"), "targetRepository"), "repositoryName"))}
			} else {
				var amis []any
				for _, r := range b.Regions {
					region, _ := r.(string)
					amis = append(amis, Doc{"region": region, "image": b.ami(region), "name": b.amiName(region, now),
						"description": "Created by EC2 Image Builder (Slipway)", "state": Doc{"status": statusAvailable}, "accountId": b.Account})
				}
				d["outputResources"] = Doc{"amis": amis}
			}
		}
	}, now)
	if err != nil {
		return err
	}
	if status == statusAvailable || status == statusFailed {
		if err := s.imageNotification(tx, scope, finished, now); err != nil {
			return err
		}
	}
	if err := putJSON(tx, brec, b, now); err != nil {
		return err
	}
	if b.Pipeline == "" {
		return nil
	}
	return s.pipelineRunEnded(tx, scope, b, status, now)
}

// jsonString is s as a JSON string.
func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// rawDoc is d as JSON, nil for no document.
func rawDoc(d Doc) json.RawMessage {
	if d == nil {
		return nil
	}
	b, _ := json.Marshal(d)
	return b
}

// distDoc is the build's distribution configuration (nil if none).
func (b *build) distDoc() Doc {
	var d Doc
	_ = json.Unmarshal(b.Dist, &d)
	return d
}
