package imagebuilder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/arn"
	"github.com/slipway-dev/slipway/internal/engine"
	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/memo"
	"github.com/slipway-dev/slipway/internal/store"
)

func failSteps(tags ...map[string]string) []string {
	var out []string
	for _, t := range tags {
		for _, name := range strings.Split(t[FailStepsTag], ",") {
			if name = strings.TrimSpace(name); name != "" {
				out = append(out, name)
			}
		}
	}
	return out
}

// StartImagePipelineExecution starts a build of the pipeline (enabled or
// disabled) and returns as soon as the image exists.
func (s *Service) StartImagePipelineExecution(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	raw := str(in, "imagePipelineArn")
	if err := imagePipelines.checkARN(scope, raw); err != nil {
		return nil, err
	}
	now := s.nowMillis()
	out, err := s.idempotent(ctx, scope, "StartImagePipelineExecution", in, func(tx store.Tx) (Doc, error) {
		p, prec, err := loadDoc(tx, scope, specPipeline, raw)
		if err != nil {
			return nil, err
		}
		req, err := s.requestFrom(tx, scope, p)
		if err != nil {
			return nil, err
		}
		// The image carries the pipeline's imageTags and the run's tags.
		req.Tags = tagsOf(Doc{"tags": p["imageTags"]})
		for k, v := range tagsOf(in) {
			if req.Tags == nil {
				req.Tags = map[string]string{}
			}
			req.Tags[k] = v
		}
		req.FailSteps = failSteps(prec.Tags, tagsOf(in))
		req.Pipeline, req.PipelineName, req.BuildType = raw, str(p, "name"), "USER_INITIATED"
		image, err := s.startBuild(tx, scope, req, now)
		if err != nil {
			return nil, err
		}
		// A manual run is the pipeline's latest build for the schedule's
		// start condition too.
		if err := s.noteBuildDependencies(tx, scope, raw, req.Recipe, now); err != nil {
			return nil, err
		}
		return Doc{"clientToken": in["clientToken"], "imageBuildVersionArn": image}, nil
	})
	return out, err
}

// requestFrom snapshots what a pipeline (or CreateImage request) names.
func (s *Service) requestFrom(tx store.Tx, scope store.Scope, p Doc) (buildRequest, error) {
	req := buildRequest{Workflows: list(p, "workflows"), Tests: obj(p, "imageTestsConfiguration"), ExecutionRole: str(p, "executionRole"),
		Enhanced: p["enhancedImageMetadataEnabled"] != false, Scanning: obj(p, "imageScanningConfiguration"), Logging: obj(p, "loggingConfiguration")}
	var err error
	if a := str(p, "containerRecipeArn"); a != "" {
		req.Container = true
		if err = requireOwned(tx, scope, specContainerRecipe, "containerRecipeArn", a); err == nil {
			req.Recipe, _, err = loadDoc(tx, scope, specContainerRecipe, a)
		}
	} else {
		if err = requireOwned(tx, scope, specImageRecipe, "imageRecipeArn", str(p, "imageRecipeArn")); err == nil {
			req.Recipe, _, err = loadDoc(tx, scope, specImageRecipe, str(p, "imageRecipeArn"))
		}
	}
	if err != nil {
		return req, err
	}
	if err := requireOwned(tx, scope, specInfra, "infrastructureConfigurationArn", str(p, "infrastructureConfigurationArn")); err != nil {
		return req, err
	}
	if req.Infra, _, err = loadDoc(tx, scope, specInfra, str(p, "infrastructureConfigurationArn")); err != nil {
		return req, err
	}
	if d := str(p, "distributionConfigurationArn"); d != "" {
		if err := requireOwned(tx, scope, specDist, "distributionConfigurationArn", d); err != nil {
			return req, err
		}
		if req.Dist, _, err = loadDoc(tx, scope, specDist, d); err != nil {
			return req, err
		}
	}
	return req, nil
}

// CreateImage builds an image once, without a pipeline.
func (s *Service) CreateImage(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	now := s.nowMillis()
	out, err := s.idempotent(ctx, scope, "CreateImage", in, func(tx store.Tx) (Doc, error) {
		d := body(in)
		if (str(d, "imageRecipeArn") == "") == (str(d, "containerRecipeArn") == "") {
			return nil, fault.New(fault.InvalidCombination, "You must specify exactly one of 'imageRecipeArn' and 'containerRecipeArn'.")
		}
		if _, err := s.checkPipelineWorkflows(tx, scope, d); err != nil {
			return nil, err
		}
		req, err := s.requestFrom(tx, scope, d)
		if err != nil {
			return nil, err
		}
		if err := dryRun(in); err != nil {
			return nil, err
		}
		req.Tags = tagsOf(in)
		req.FailSteps = failSteps(req.Tags)
		req.BuildType = "USER_INITIATED"
		image, err := s.startBuild(tx, scope, req, now)
		if err != nil {
			return nil, err
		}
		return Doc{"clientToken": in["clientToken"], "imageBuildVersionArn": image,
			"latestVersionReferences": references(versionOf(image), str(req.Recipe, "version"), false)}, nil
	})
	return out, err
}

func (s *Service) imageARN(scope store.Scope, raw, field string) error {
	a, parts, err := parseARN(raw, field, specImage, 3, 3)
	if err != nil {
		return err
	}
	if _, err := arn.ParseVersion(parts[1]); err != nil {
		return fault.InvalidField(field, "%s is not an image build version ARN.", raw)
	}
	if !ownedBy(a, scope) {
		return notFound(specImage, raw)
	}
	return nil
}

// GetImage returns the image build a build, version or wildcard ARN names,
// the caller's own or an AWS-managed one.
func (s *Service) GetImage(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	raw := str(in, "imageBuildVersionArn")
	var out Doc
	err := s.store.View(ctx, func(tx store.Tx) error {
		d, rec, err := s.resolveImageWith(tx, scope, raw, "imageBuildVersionArn", loadShared)
		if err != nil {
			return err
		}
		managed := str(d, "owner") == ManagedOwnerName
		var tags map[string]string
		if rec != nil {
			tags = rec.Tags
		}
		img := withTags(d, tags) // a copy: d is shared
		delete(img, "owner")     // not a member of the model's Image
		out = Doc{"image": img, "latestVersionReferences": references(versionOf(str(d, "arn")), strings.Split(str(d, "version"), "/")[0], managed)}
		return nil
	})
	return out, err
}

var imageFilters = map[string]func(Doc) []string{
	"name": field("name"), "osVersion": field("osVersion"), "platform": field("platform"), "type": field("type"),
	"version": func(d Doc) []string { return []string{strings.Split(str(d, "version"), "/")[0]} },
}

func imageSummary(d Doc, tags map[string]string) Doc {
	return withTags(project(d, "arn", "name", "type", "version", "platform", "osVersion", "state", "owner", "dateCreated",
		"outputResources", "buildType", "imageSource", "deprecationTime", "lifecycleExecutionId", "loggingConfiguration"), tags)
}

// ListImages lists the newest build of each image version.
func (s *Service) ListImages(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	accept, err := filters(in, imageFilters)
	if err != nil {
		return nil, err
	}
	switch str(in, "owner") {
	case "", "Self":
	case ManagedOwnerName:
		return s.listManagedImages(scope, in, accept)
	default:
		return Doc{"imageVersionList": []ImageVersion{}}, nil
	}
	filtered := len(list(in, "filters")) > 0
	listed, next, err := listLatest(ctx, s, scope, "ListImages", in, imageVersions, decodeListedImage, func(l *listedImage) bool {
		if filtered && !accept(l.filterDoc()) {
			return false
		}
		return (l.status != "DEPRECATED" || boolean(in, "includeDeprecated")) && l.status != "DELETED"
	})
	if err != nil {
		return nil, err
	}
	versions := make([]ImageVersion, len(listed))
	for i, l := range listed {
		versions[i] = l.ImageVersion
	}
	out := Doc{"imageVersionList": versions}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

// ImageVersion is a listed image version, the model's ImageVersion.
type ImageVersion struct {
	ARN         string `json:"arn,omitempty"`
	Name        string `json:"name,omitempty"`
	Type        string `json:"type,omitempty"`
	Version     string `json:"version,omitempty"`
	Platform    string `json:"platform,omitempty"`
	OSVersion   string `json:"osVersion,omitempty"`
	Owner       string `json:"owner,omitempty"`
	DateCreated string `json:"dateCreated,omitempty"`
	BuildType   string `json:"buildType,omitempty"`
	ImageSource string `json:"imageSource,omitempty"`
}

// listedImage is what ListImages reads of an image build: its listed form
// and its status.
type listedImage struct {
	ImageVersion
	status string
}

// filterDoc gives the image filters the members they read.
func (l listedImage) filterDoc() Doc {
	return Doc{"name": l.Name, "osVersion": l.OSVersion, "platform": l.Platform, "type": l.Type, "version": l.Version}
}

// listedImages remembers what listings read of image builds (decoding the
// whole image document was most of a ListImages page).
var listedImages = memo.New(512<<10, func(b []byte) (*listedImage, error) {
	var d struct {
		ImageVersion
		State struct {
			Status string `json:"status"`
		} `json:"state"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, err
	}
	v := d.ImageVersion
	v.ARN, v.Version = versionOf(v.ARN), strings.Split(v.Version, "/")[0]
	return &listedImage{ImageVersion: v, status: d.State.Status}, nil
})

// decodeListedImage returns the listed form shared with other listings
// (read-only).
func decodeListedImage(rec *store.Record) (*listedImage, error) {
	l, err := listedImages.Decode(rec.Body)
	if err != nil {
		return l, fmt.Errorf("imagebuilder: corrupt image %s: %w", rec.ID, err)
	}
	return l, nil
}

// listManagedImages lists the AWS-managed images: every version, or with
// byName the newest of each image.
func (s *Service) listManagedImages(scope store.Scope, in Doc, accept func(Doc) bool) (Doc, error) {
	out, err := s.pageManaged(scope, "ListImages", in, managedImageDocs(scope), accept, "imageVersionList", func(d Doc) Doc { return d })
	if err != nil {
		return nil, err
	}
	// The same typed items as an own listing.
	docs := list(out, "imageVersionList")
	versions := make([]ImageVersion, len(docs))
	for i, raw := range docs {
		d, _ := raw.(map[string]any)
		versions[i] = ImageVersion{ARN: versionOf(str(d, "arn")), Name: str(d, "name"), Type: str(d, "type"), Version: strings.Split(str(d, "version"), "/")[0],
			Platform: str(d, "platform"), OSVersion: str(d, "osVersion"), Owner: str(d, "owner"), DateCreated: str(d, "dateCreated"),
			BuildType: str(d, "buildType"), ImageSource: str(d, "imageSource")}
	}
	out["imageVersionList"] = versions
	return out, nil
}

// ListImageBuildVersions lists the builds of an image version.
func (s *Service) ListImageBuildVersions(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	raw := str(in, "imageVersionArn")
	a, parts, err := parseARN(raw, "imageVersionArn", specImage, 2, 2)
	if err != nil {
		return nil, err
	}
	if _, err := arn.ParseVersion(parts[1]); err != nil {
		return nil, fault.InvalidField("imageVersionArn", "%s is not an image version ARN.", raw)
	}
	accept, err := filters(in, imageFilters)
	if err != nil {
		return nil, err
	}
	items := []any{}
	if a.Account == ManagedOwner && a.Region == scope.Region {
		for _, d := range managedImageDocs(scope) {
			if versionOf(str(d, "arn")) == raw && accept(d) {
				items = append(items, imageSummary(d, nil))
			}
		}
		return Doc{"imageSummaryList": items}, nil
	}
	if !ownedBy(a, scope) {
		return Doc{"imageSummaryList": items}, nil
	}
	docs, recs, next, err := s.page(ctx, scope, "ListImageBuildVersions", in, kindImage, raw, func(_ store.Tx, d Doc, _ *store.Record) bool { return accept(d) })
	if err != nil {
		return nil, err
	}
	for i, d := range docs {
		items = append(items, imageSummary(d, recs[i].Tags))
	}
	out := Doc{"imageSummaryList": items}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

// ListImagePipelineImages lists the images a pipeline built.
func (s *Service) ListImagePipelineImages(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	raw := str(in, "imagePipelineArn")
	if err := imagePipelines.checkARN(scope, raw); err != nil {
		return nil, err
	}
	accept, err := filters(in, map[string]func(Doc) []string{"name": imageFilters["name"], "version": imageFilters["version"]})
	if err != nil {
		return nil, err
	}
	if err := s.store.View(ctx, func(tx store.Tx) error { _, _, err := loadDoc(tx, scope, specPipeline, raw); return err }); err != nil {
		return nil, err
	}
	var docs []Doc
	var tags []map[string]string
	_, recs, next, err := s.page(ctx, scope, "ListImagePipelineImages", in, kindPipelineImage, raw, func(tx store.Tx, _ Doc, r *store.Record) bool {
		d, rec, err := loadDoc(tx, scope, specImage, r.ID)
		if err != nil || !accept(d) {
			return false
		}
		docs, tags = append(docs, d), append(tags, rec.Tags)
		return true
	})
	if err != nil {
		return nil, err
	}
	items := []any{}
	for i := range recs {
		items = append(items, imageSummary(docs[i], tags[i]))
	}
	out := Doc{"imageSummaryList": items}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

// ListImagePackages lists the packages of an available image (simulated).
func (s *Service) ListImagePackages(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	raw := str(in, "imageBuildVersionArn")
	if err := s.imageARN(scope, raw, "imageBuildVersionArn"); err != nil {
		return nil, err
	}
	var d Doc
	if err := s.store.View(ctx, func(tx store.Tx) error {
		var err error
		d, _, err = loadDoc(tx, scope, specImage, raw)
		return err
	}); err != nil {
		return nil, err
	}
	items := []any{}
	if str(obj(d, "state"), "status") == statusAvailable {
		for _, p := range packages(str(d, "platform")) {
			items = append(items, p)
		}
	}
	return Doc{"imagePackageList": items}, nil
}

// CancelImageCreation stops a build that has not finished.
func (s *Service) CancelImageCreation(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	raw := str(in, "imageBuildVersionArn")
	if err := s.imageARN(scope, raw, "imageBuildVersionArn"); err != nil {
		return nil, err
	}
	now := s.nowMillis()
	return s.idempotent(ctx, scope, "CancelImageCreation", in, func(tx store.Tx) (Doc, error) {
		status, err := imageStatus(tx, scope, raw)
		if err != nil {
			return nil, err
		}
		if terminalImage(status) {
			return nil, fault.New(fault.InUse, "The image '%s' is %s; only images that are still being built can be cancelled.", raw, status)
		}
		if err := s.cancelBuild(tx, scope, raw, now); err != nil {
			return nil, err
		}
		return Doc{"clientToken": in["clientToken"], "imageBuildVersionArn": raw}, nil
	})
}

// cancelBuild marks the image, its running executions and their unfinished
// steps CANCELLED and withdraws their queued work.
func (s *Service) cancelBuild(tx store.Tx, scope store.Scope, image string, now time.Time) error {
	if err := setImageStatus(tx, scope, image, statusCancelled, "The image creation was cancelled.", nil, now); err != nil {
		return err
	}
	if err := engine.Cancel(tx, itemStage+":"+image); err != nil {
		return err
	}
	execs, err := tx.List(store.ListQuery{Scope: scope, Kind: kindWfExec, Parent: image, Limit: 1 << 20})
	if err != nil {
		return err
	}
	for _, xr := range execs {
		var ex wfExec
		if err := decodeInto(xr, &ex); err != nil {
			return err
		}
		if ex.Status != "RUNNING" && ex.Status != "PENDING" && ex.Status != "ROLLBACK_IN_PROGRESS" {
			continue
		}
		ex.Status, ex.End = "CANCELLED", now
		if err := putJSON(tx, xr, &ex, now); err != nil {
			return err
		}
		if err := engine.Cancel(tx, itemRollback+":"+ex.ID); err != nil {
			return err
		}
		for _, id := range ex.Steps {
			var st stepExec
			rec, err := getJSON(tx, scope, kindStepExec, id, &st)
			if err != nil {
				return err
			}
			if st.Status != "PENDING" && st.Status != "RUNNING" {
				continue
			}
			st.Status, st.Waiting = "CANCELLED", false
			if !st.Start.IsZero() {
				st.End = now
			}
			if err := putJSON(tx, rec, &st, now); err != nil {
				return err
			}
			for _, item := range []string{itemStep + ":" + id, itemTimeout + ":" + id} {
				if err := engine.Cancel(tx, item); err != nil {
					return err
				}
			}
			if err := dropWaiting(tx, scope, id); err != nil {
				return err
			}
		}
	}
	b, brec, err := s.loadBuild(tx, scope, image)
	if err != nil {
		return err
	}
	for _, st := range b.Stages {
		for _, r := range st.Runs {
			if r.Exec != "" && !r.finished() {
				r.Status = "CANCELLED"
			}
		}
	}
	return putJSON(tx, brec, b, now)
}

// RetryImage resumes a failed or cancelled AMI build at the test or
// distribution stage where it stopped, keeping its build version.
func (s *Service) RetryImage(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	raw := str(in, "imageBuildVersionArn")
	if err := s.imageARN(scope, raw, "imageBuildVersionArn"); err != nil {
		return nil, err
	}
	now := s.nowMillis()
	out, err := s.idempotent(ctx, scope, "RetryImage", in, func(tx store.Tx) (Doc, error) {
		d, _, err := loadDoc(tx, scope, specImage, raw)
		if err != nil {
			return nil, err
		}
		status := str(obj(d, "state"), "status")
		if status != statusFailed && status != statusCancelled {
			return nil, fault.New(fault.InUse, "The image '%s' is %s; only FAILED or CANCELLED images can be retried.", raw, status)
		}
		b, brec, err := s.loadBuild(tx, scope, raw)
		if err != nil {
			return nil, err
		}
		if b.ImageType != "AMI" || b.Stage >= len(b.Stages) || b.Stages[b.Stage].Type == "BUILD" {
			return nil, fault.New(fault.Invalid, "Only AMI builds that stopped while testing or distributing can be retried; '%s' stopped while building.", raw)
		}
		st := b.Stages[b.Stage]
		st.Failed, st.Message, st.FailCtx = false, "", nil
		for _, r := range st.Runs {
			r.Exec, r.Status = "", ""
		}
		b.Retried = true
		if err := putJSON(tx, brec, b, now); err != nil {
			return nil, err
		}
		if err := setImageStatus(tx, scope, raw, stageStatus[st.Type], "", func(d Doc) { delete(d, "failureContext") }, now); err != nil {
			return nil, err
		}
		if err := enqueue(tx, scope, itemStage, raw, now); err != nil {
			return nil, err
		}
		return Doc{"clientToken": in["clientToken"], "imageBuildVersionArn": raw}, nil
	})
	return out, err
}

// DeleteImage deletes the record of a finished build (never AMIs).
func (s *Service) DeleteImage(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	raw := str(in, "imageBuildVersionArn")
	if err := s.imageARN(scope, raw, "imageBuildVersionArn"); err != nil {
		return nil, err
	}
	now := s.nowMillis()
	err := s.store.Update(ctx, func(tx store.Tx) error {
		d, _, err := loadDoc(tx, scope, specImage, raw)
		if err != nil {
			return err
		}
		if !terminalImage(str(obj(d, "state"), "status")) {
			return fault.New(fault.Dependency, "The image '%s' is still being built; cancel it first.", raw)
		}
		execs, err := tx.List(store.ListQuery{Scope: scope, Kind: kindWfExec, Parent: raw, Limit: 1 << 20})
		if err != nil {
			return err
		}
		for _, xr := range execs {
			steps, err := tx.List(store.ListQuery{Scope: scope, Kind: kindStepExec, Parent: xr.ID, Limit: 1 << 20})
			if err != nil {
				return err
			}
			for _, sr := range steps {
				if err := tx.Delete(scope, kindStepExec, sr.ID); err != nil {
					return err
				}
			}
			if err := tx.Delete(scope, kindWfExec, xr.ID); err != nil {
				return err
			}
		}
		for _, k := range []string{kindImage, kindBuild, kindPipelineImage} {
			if err := tx.Delete(scope, k, raw); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if err := dropPolicy(tx, scope, raw); err != nil {
			return err
		}
		return imageVersions.dropBuild(tx, scope, versionOf(raw), now)
	})
	if err != nil {
		return nil, err
	}
	return Doc{"imageBuildVersionArn": raw}, nil
}

// PutImagePolicy stores an image build's resource policy.
func (s *Service) PutImagePolicy(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	raw := str(in, "imageArn")
	if err := s.imageARN(scope, raw, "imageArn"); err != nil {
		return nil, err
	}
	err := s.putPolicy(ctx, scope, raw, str(in, "policy"), func(tx store.Tx) error {
		_, _, err := loadDoc(tx, scope, specImage, raw)
		return err
	})
	if err != nil {
		return nil, err
	}
	return Doc{"imageArn": raw}, nil
}

// GetImagePolicy returns an image build's resource policy.
func (s *Service) GetImagePolicy(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	raw := str(in, "imageArn")
	if err := s.imageARN(scope, raw, "imageArn"); err != nil {
		return nil, err
	}
	p, err := s.getPolicy(ctx, scope, specImage, raw)
	if err != nil {
		return nil, err
	}
	return Doc{"policy": p}, nil
}
