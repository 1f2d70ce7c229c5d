// Package ibhttp binds Image Builder's rest-json operations to the domain:
// wire shapes in, domain calls, wire shapes out. Nothing else.
package ibhttp

import (
	"context"

	"github.com/slipway-dev/slipway/internal/awsproto"
	"github.com/slipway-dev/slipway/internal/imagebuilder"
)

// Register adds the implemented operations to svc.
func Register(svc *awsproto.Service, ib *imagebuilder.Service) {
	h := &handlers{ib: ib}
	svc.Register("CreateWorkflow", awsproto.Handle(h.createWorkflow))
	svc.Register("GetWorkflow", awsproto.Handle(h.getWorkflow))
	svc.Register("ListWorkflows", awsproto.Handle(h.listWorkflows))
	svc.Register("ListWorkflowBuildVersions", awsproto.Handle(h.listWorkflowBuildVersions))
	svc.Register("DeleteWorkflow", awsproto.Handle(h.deleteWorkflow))
	svc.Register("TagResource", awsproto.Handle(h.tagResource))
	svc.Register("UntagResource", awsproto.Handle(h.untagResource))
	svc.Register("ListTagsForResource", awsproto.Handle(h.listTagsForResource))
}

type handlers struct {
	ib *imagebuilder.Service
}

type latestVersionReferences struct {
	LatestVersionArn      string `json:"latestVersionArn,omitempty"`
	LatestMajorVersionArn string `json:"latestMajorVersionArn,omitempty"`
	LatestMinorVersionArn string `json:"latestMinorVersionArn,omitempty"`
	LatestPatchVersionArn string `json:"latestPatchVersionArn,omitempty"`
}

func references(r imagebuilder.LatestVersionReferences) *latestVersionReferences {
	return &latestVersionReferences{r.LatestVersionARN, r.LatestMajorVersionARN, r.LatestMinorVersionARN, r.LatestPatchVersionARN}
}

type filter struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

func filterMap(fs []filter) map[string][]string {
	if len(fs) == 0 {
		return nil
	}
	m := map[string][]string{}
	for _, f := range fs {
		m[f.Name] = append(m[f.Name], f.Values...)
	}
	return m
}

type empty struct{}

func (h *handlers) tagResource(ctx context.Context, in *struct {
	ResourceArn string            `json:"resourceArn"`
	Tags        map[string]string `json:"tags"`
}) (*empty, error) {
	return &empty{}, h.ib.TagResource(ctx, awsproto.CallFrom(ctx).Scope, in.ResourceArn, in.Tags)
}

func (h *handlers) untagResource(ctx context.Context, in *struct {
	ResourceArn string   `json:"resourceArn"`
	TagKeys     []string `json:"tagKeys"`
}) (*empty, error) {
	return &empty{}, h.ib.UntagResource(ctx, awsproto.CallFrom(ctx).Scope, in.ResourceArn, in.TagKeys)
}

type listTagsOutput struct {
	Tags map[string]string `json:"tags"`
}

func (h *handlers) listTagsForResource(ctx context.Context, in *struct {
	ResourceArn string `json:"resourceArn"`
}) (*listTagsOutput, error) {
	tags, err := h.ib.ListTags(ctx, awsproto.CallFrom(ctx).Scope, in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return &listTagsOutput{Tags: tags}, nil
}
