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
	"github.com/slipway-dev/slipway/internal/fault"
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
	Image      string            `json:"image"`
	Pipeline   string            `json:"pipeline,omitempty"`
	ImageName  string            `json:"imageName"`
	Version    string            `json:"version"`
	Number     int               `json:"number"`
	ImageType  string            `json:"imageType"` // AMI or Docker
	Platform   string            `json:"platform"`
	OSVersion  string            `json:"osVersion"`
	Regions    []any             `json:"regions"`
	Account    string            `json:"account"`
	Dist       Doc               `json:"dist,omitempty"`
	AMIs       map[string]string `json:"amis,omitempty"`
	Stages     []*stageRun       `json:"stages"`
	Stage      int               `json:"stage"`
	Vars       map[string]any    `json:"vars"`
	System     map[string]any    `json:"system"`
	FailSteps  []string          `json:"failSteps,omitempty"`
	Seq        int               `json:"seq"`
	Integrated bool              `json:"integrated,omitempty"`
	Retried    bool              `json:"retried,omitempty"`
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

// distributed returns one distributed AMI per region of the distribution.
func (b *build) distributed(now time.Time) []any {
	var out []any
	for _, r := range b.Regions {
		region, _ := r.(string)
		out = append(out, Doc{"region": region, "name": b.amiName(region, now), "amiId": b.ami(region), "accountId": b.Account,
			"dateStarted": FormatTime(now), "dateStopped": FormatTime(now), "status": "Completed", "step": "Completed"})
	}
	return out
}

func (b *build) ami(region string) string {
	if b.AMIs == nil {
		b.AMIs = map[string]string{}
	}
	if b.AMIs[region] == "" {
		b.AMIs[region] = amiID()
	}
	return b.AMIs[region]
}

func (b *build) amiName(region string, now time.Time) string {
	name := b.ImageName + " " + now.UTC().Format("2006-01-02T15-04-05.000000Z")
	for _, d := range list(b.Dist, "distributions") {
		dm, _ := d.(map[string]any)
		if str(dm, "region") == region {
			if n := str(obj(dm, "amiDistributionConfiguration"), "name"); n != "" {
				name = strings.ReplaceAll(n, "{{ imagebuilder:buildDate }}", now.UTC().Format("20060102150405"))
			}
		}
	}
	return name
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
	Data          string         `json:"data"`
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
	docs map[string]*wfdoc.Document
}

// maxParsed bounds the cache; past it, it starts over.
const maxParsed = 256

func parseWorkflow(data, stage string) (*wfdoc.Document, error) {
	key := stage + "\x00" + data
	parsed.Lock()
	doc := parsed.docs[key]
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
		parsed.docs = map[string]*wfdoc.Document{}
	}
	parsed.docs[key] = doc
	parsed.Unlock()
	return doc, nil
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

func enqueue(tx store.Tx, scope store.Scope, typ, id string, due time.Time) error {
	payload, _ := json.Marshal(id)
	return engine.Enqueue(tx, engine.Item{ID: typ + ":" + id, Type: typ, Scope: scope, Payload: payload, Due: due})
}

// RegisterEngine installs the build handlers on the engine and lets the
// service wake it after API calls that make work due.
func (s *Service) RegisterEngine(e *engine.Engine) {
	s.wake = e.Wake
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
}

func (s *Service) wakeEngine() {
	if s.wake != nil {
		s.wake()
	}
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
	osVersion := s.parentOSVersion(tx, scope, str(req.Recipe, "parentImage"), str(req.Recipe, "platform"))
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
		Platform: str(req.Recipe, "platform"), OSVersion: osVersion, Account: scope.Account, Dist: req.Dist,
		Vars: map[string]any{}, FailSteps: req.FailSteps, Regions: []any{scope.Region}}
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

// setImageStatus updates the image's state.
func setImageStatus(tx store.Tx, scope store.Scope, image, status, reason string, extra func(Doc), now time.Time) error {
	d, rec, err := loadDoc(tx, scope, specImage, image)
	if err != nil {
		return err
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
	d, _, err := loadDoc(tx, scope, specImage, image)
	if err != nil {
		return "", err
	}
	return str(obj(d, "state"), "status"), nil
}

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
		Retried: b.Retried, Start: now, Params: paramValues(doc, r.Params), Outputs: map[string]any{}, Data: w.Data}
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

func (b *build) lookup(ex *wfExec) wfdoc.Lookup {
	system := map[string]any{}
	for k, v := range b.System {
		system[k] = v
	}
	system["workflowPhase"] = map[string]string{"BUILD": "Build", "TEST": "Test", "DISTRIBUTION": "Distribution"}[ex.Type]
	return wfdoc.LookupIn(map[string]any{"parameters": ex.Params, "stepOutputs": ex.Outputs, "workflowOutputs": b.Vars, "imagebuilder": system})
}

// stepState loads a step with its execution and build.
type stepState struct {
	step        *stepExec
	srec        *store.Record
	ex          *wfExec
	xrec        *store.Record
	b           *build
	brec        *store.Record
	docStep     wfdoc.Step
	imageStatus string
}

func (s *Service) loadStep(tx store.Tx, scope store.Scope, stepID string) (*stepState, error) {
	st := &stepState{step: &stepExec{}, ex: &wfExec{}}
	var err error
	if st.srec, err = getJSON(tx, scope, kindStepExec, stepID, st.step); err != nil {
		return nil, err
	}
	if st.xrec, err = getJSON(tx, scope, kindWfExec, st.step.Exec, st.ex); err != nil {
		return nil, err
	}
	if st.b, st.brec, err = s.loadBuild(tx, scope, st.step.Image); err != nil {
		return nil, err
	}
	if st.imageStatus, err = imageStatus(tx, scope, st.step.Image); err != nil {
		return nil, err
	}
	doc, err := parseWorkflow(st.ex.Data, st.ex.Type)
	if err != nil {
		return nil, err
	}
	st.docStep = doc.Steps[st.step.Index]
	return st, nil
}

func (st *stepState) save(tx store.Tx, now time.Time) error {
	if err := putJSON(tx, st.srec, st.step, now); err != nil {
		return err
	}
	return putJSON(tx, st.xrec, st.ex, now)
}

// runStep starts or finishes a step.
func (s *Service) runStep(tx store.Tx, scope store.Scope, stepID string, now time.Time) error {
	st, err := s.loadStep(tx, scope, stepID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	step := st.step
	if terminalImage(st.imageStatus) || (step.Status != "PENDING" && step.Status != "RUNNING") || step.Waiting {
		return nil // stale: cancelled, finished, or waiting on a signal
	}
	look := st.b.lookup(st.ex)
	if step.Status == "PENDING" {
		if st.docStep.If != nil {
			ok, err := st.docStep.If.Eval(look)
			if err != nil {
				return s.failStep(tx, scope, st, "The step's if condition could not be evaluated: "+err.Error(), now)
			}
			if !ok {
				step.Status, step.Start, step.End = "SKIPPED", now, now
				step.Completions++
				st.ex.Skipped++
				return s.advanceExec(tx, scope, st, now)
			}
		}
		inputs, err := wfdoc.ResolveInputs(st.docStep.Inputs, look)
		if err != nil {
			step.Start = now
			return s.failStep(tx, scope, st, "Failed to resolve the step's inputs: "+err.Error(), now)
		}
		in, _ := json.Marshal(inputs)
		step.Status, step.Start, step.Inputs = "RUNNING", now, string(in)
		if step.Action == "WaitForAction" {
			step.Waiting = true
			step.Deadline = now.Add(time.Duration(step.TimeoutSeconds) * time.Second)
			if err := tx.Insert(&store.Record{Scope: scope, Kind: kindWaiting, ID: step.ID, SortKey: fmt.Sprintf("%013d|%s", now.UnixMilli(), step.ID),
				Created: now, Updated: now, Body: []byte("{}")}); err != nil {
				return err
			}
			if err := enqueue(tx, scope, itemTimeout, step.ID, step.Deadline); err != nil {
				return err
			}
			return st.save(tx, now)
		}
		if delay := s.StepDelay; delay > 0 {
			timeout := time.Duration(step.TimeoutSeconds) * time.Second
			if delay > timeout {
				delay = timeout
			}
			if err := enqueue(tx, scope, itemStep, step.ID, now.Add(delay)); err != nil {
				return err
			}
			return st.save(tx, now)
		}
	}
	if now.Sub(step.Start) >= time.Duration(step.TimeoutSeconds)*time.Second {
		return s.failStep(tx, scope, st, fmt.Sprintf("The step timed out after %d seconds.", step.TimeoutSeconds), now)
	}
	if slices.Contains(st.b.FailSteps, step.Name) {
		return s.failStep(tx, scope, st, "The step failed by failure injection ("+FailStepsTag+").", now)
	}
	var inputs Doc
	_ = json.Unmarshal([]byte(step.Inputs), &inputs)
	out := simulate(step.Action, inputs, st.b, now)
	return s.completeStep(tx, scope, st, out, now)
}

func (s *Service) completeStep(tx store.Tx, scope store.Scope, st *stepState, out Doc, now time.Time) error {
	step := st.step
	b, _ := json.Marshal(out)
	step.Status, step.End, step.Outputs, step.Waiting = "COMPLETED", now, string(b), false
	step.Completions++
	st.ex.Outputs[step.Name] = out
	st.ex.Succeeded++
	if act := wfdoc.Actions[step.Action]; act != nil && act.Rollback {
		enabled := st.docStep.Rollback
		if path, ok := enabled.(string); ok {
			v, err := st.b.lookup(st.ex)(path)
			enabled = err == nil && fmt.Sprint(v) == "true"
		}
		if enabled == true {
			st.ex.Rollback = append(st.ex.Rollback, step.ID)
		}
	}
	return s.advanceExec(tx, scope, st, now)
}

// failStep fails the step and applies its onFailure policy.
func (s *Service) failStep(tx store.Tx, scope store.Scope, st *stepState, msg string, now time.Time) error {
	step := st.step
	if step.Outputs == "" {
		step.Outputs = mustJSON(Doc{"errorMessage": msg, "status": "FAILED"})
	}
	step.Status, step.End, step.Message, step.Waiting = "FAILED", now, truncateMsg(msg), false
	if step.Start.IsZero() {
		step.Start = now
	}
	step.Completions++
	st.ex.Failed++
	if step.OnFailure == "Continue" {
		return s.advanceExec(tx, scope, st, now)
	}
	st.ex.FailedStep = step.ID
	st.ex.Message = truncateMsg(fmt.Sprintf("Workflow step '%s' failed: %s", step.Name, msg))
	// The steps after an aborting failure never run.
	for _, id := range st.ex.Steps[step.Index+1:] {
		var later stepExec
		rec, err := getJSON(tx, scope, kindStepExec, id, &later)
		if err != nil {
			return err
		}
		later.Status = "CANCELLED"
		if err := putJSON(tx, rec, &later, now); err != nil {
			return err
		}
	}
	if len(st.ex.Rollback) > 0 {
		st.ex.Status = "ROLLBACK_IN_PROGRESS"
		if err := st.save(tx, now); err != nil {
			return err
		}
		return enqueue(tx, scope, itemRollback, st.ex.ID, now)
	}
	st.ex.Status, st.ex.End = "FAILED", now
	if err := st.save(tx, now); err != nil {
		return err
	}
	return s.execFinished(tx, scope, st.ex, now)
}

func truncateMsg(s string) string {
	if len(s) > 500 {
		return s[:497] + "..."
	}
	return s
}

// advanceExec runs the execution's next step or finishes it.
func (s *Service) advanceExec(tx store.Tx, scope store.Scope, st *stepState, now time.Time) error {
	ex := st.ex
	ex.Current = st.step.Index + 1
	if ex.Current < len(ex.Steps) {
		if err := st.save(tx, now); err != nil {
			return err
		}
		return enqueue(tx, scope, itemStep, ex.Steps[ex.Current], now)
	}
	ex.Status, ex.End = "COMPLETED", now
	doc, err := parseWorkflow(ex.Data, ex.Type)
	if err != nil {
		return err
	}
	look := st.b.lookup(ex)
	for _, o := range doc.Outputs {
		v, err := look(o.Value)
		if err != nil && !strings.HasPrefix(o.Value, "$") {
			v, err = o.Value, nil
		}
		if err == nil {
			st.b.Vars[o.Name] = v
		}
	}
	if err := st.save(tx, now); err != nil {
		return err
	}
	if err := putJSON(tx, st.brec, st.b, now); err != nil {
		return err
	}
	return s.execFinished(tx, scope, ex, now)
}

// rollbackStep undoes the newest completed step that supports rollback.
func (s *Service) rollbackStep(tx store.Tx, scope store.Scope, execID string, now time.Time) error {
	var ex wfExec
	xrec, err := getJSON(tx, scope, kindWfExec, execID, &ex)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if ex.Status != "ROLLBACK_IN_PROGRESS" {
		return nil
	}
	if n := len(ex.Rollback); n > 0 {
		var step stepExec
		rec, err := getJSON(tx, scope, kindStepExec, ex.Rollback[n-1], &step)
		if err != nil {
			return err
		}
		step.RollbackStatus = "COMPLETED"
		if err := putJSON(tx, rec, &step, now); err != nil {
			return err
		}
		ex.Rollback = ex.Rollback[:n-1]
		if err := putJSON(tx, xrec, &ex, now); err != nil {
			return err
		}
		return enqueue(tx, scope, itemRollback, ex.ID, now)
	}
	ex.Status, ex.End = "ROLLBACK_COMPLETED", now
	if err := putJSON(tx, xrec, &ex, now); err != nil {
		return err
	}
	return s.execFinished(tx, scope, &ex, now)
}

// timeoutStep fails a waiting step whose deadline passed.
func (s *Service) timeoutStep(tx store.Tx, scope store.Scope, stepID string, now time.Time) error {
	st, err := s.loadStep(tx, scope, stepID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if !st.step.Waiting || st.step.Status != "RUNNING" || terminalImage(st.imageStatus) {
		return nil // already actioned or cancelled
	}
	if err := tx.Delete(scope, kindWaiting, stepID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return s.failStep(tx, scope, st, fmt.Sprintf("The step timed out after %d seconds without an action.", st.step.TimeoutSeconds), now)
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

// containerOutputs lists, per distribution region, the URIs a container
// build is pushed under: the versioned tag <version>-<build>, "latest", and
// the distribution's containerTags for that region, in the recipe's
// repository unless the distribution names another.
func (b *build) containerOutputs(repo string) []any {
	byRegion := map[string]Doc{}
	for _, raw := range list(b.Dist, "distributions") {
		if dist, ok := raw.(map[string]any); ok {
			byRegion[str(dist, "region")] = obj(dist, "containerDistributionConfiguration")
		}
	}
	out := []any{}
	for _, r := range b.Regions {
		region, _ := r.(string)
		cfg := byRegion[region]
		regionRepo := repo
		if name := str(obj(cfg, "targetRepository"), "repositoryName"); name != "" {
			regionRepo = name
		}
		base := fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s:", b.Account, region, regionRepo)
		tags := []string{fmt.Sprintf("%s-%d", b.Version, b.Number), "latest"}
		for _, t := range list(cfg, "containerTags") {
			if tag, ok := t.(string); ok && !slices.Contains(tags, tag) {
				tags = append(tags, tag)
			}
		}
		uris := make([]any, len(tags))
		for i, t := range tags {
			uris[i] = base + t
		}
		out = append(out, Doc{"region": region, "imageUris": uris})
	}
	return out
}

// finishImage ends the build and updates the pipeline's bookkeeping.
func (s *Service) finishImage(tx store.Tx, scope store.Scope, b *build, brec *store.Record, status, reason string, failCtx Doc, now time.Time) error {
	err := setImageStatus(tx, scope, b.Image, status, reason, func(d Doc) {
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
	if err := putJSON(tx, brec, b, now); err != nil {
		return err
	}
	if b.Pipeline == "" {
		return nil
	}
	p, prec, err := loadDoc(tx, scope, specPipeline, b.Pipeline)
	if fault.Is(err, fault.NotFound) {
		return nil
	} else if err != nil {
		return err
	}
	p["lastRunStatus"], p["dateLastRun"] = status, FormatTime(now)
	if status == statusAvailable {
		p["consecutiveFailures"] = 0
	}
	return putJSON(tx, prec, p, now)
}
