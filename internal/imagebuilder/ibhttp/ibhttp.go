// Package ibhttp binds Image Builder's rest-json operations to the domain:
// wire shapes in, domain calls, wire shapes out. Nothing else.
package ibhttp

import (
	"context"

	"github.com/slipway-dev/slipway/internal/awsproto"
	"github.com/slipway-dev/slipway/internal/imagebuilder"
	"github.com/slipway-dev/slipway/internal/store"
)

// Register adds the implemented operations to svc.
func Register(svc *awsproto.Service, ib *imagebuilder.Service) {
	h := &handlers{ib: ib}
	registerLifecycle(svc, h)
	svc.Register("CreateWorkflow", awsproto.Handle(h.createWorkflow))
	svc.Register("GetWorkflow", awsproto.Handle(h.getWorkflow))
	svc.Register("ListWorkflows", awsproto.Handle(h.listWorkflows))
	svc.Register("ListWorkflowBuildVersions", awsproto.Handle(h.listWorkflowBuildVersions))
	svc.Register("DeleteWorkflow", awsproto.Handle(h.deleteWorkflow))
	svc.Register("TagResource", awsproto.Handle(h.tagResource))
	svc.Register("UntagResource", awsproto.Handle(h.untagResource))
	svc.Register("ListTagsForResource", awsproto.Handle(h.listTagsForResource))

	// The catalog resources travel as their canonical documents, which the
	// model has already validated.
	for op, fn := range map[string]func(context.Context, store.Scope, imagebuilder.Doc) (imagebuilder.Doc, error){
		"CreateComponent": ib.CreateComponent, "ImportComponent": ib.ImportComponent, "GetComponent": ib.GetComponent,
		"ListComponents": ib.ListComponents, "ListComponentBuildVersions": ib.ListComponentBuildVersions,
		"DeleteComponent": ib.DeleteComponent, "GetComponentPolicy": ib.GetComponentPolicy, "PutComponentPolicy": ib.PutComponentPolicy,
		"GetImagePolicy": ib.GetImagePolicy, "PutImagePolicy": ib.PutImagePolicy, "GetMarketplaceResource": ib.GetMarketplaceResource,
		"DistributeImage": ib.DistributeImage, "ImportVmImage": ib.ImportVmImage, "ImportDiskImage": ib.ImportDiskImage,
		"ListImageScanFindings": ib.ListImageScanFindings, "ListImageScanFindingAggregations": ib.ListImageScanFindingAggregations,

		"CreateImageRecipe": ib.CreateImageRecipe, "GetImageRecipe": ib.GetImageRecipe, "ListImageRecipes": ib.ListImageRecipes,
		"DeleteImageRecipe": ib.DeleteImageRecipe, "GetImageRecipePolicy": ib.GetImageRecipePolicy, "PutImageRecipePolicy": ib.PutImageRecipePolicy,

		"CreateContainerRecipe": ib.CreateContainerRecipe, "GetContainerRecipe": ib.GetContainerRecipe, "ListContainerRecipes": ib.ListContainerRecipes,
		"DeleteContainerRecipe": ib.DeleteContainerRecipe, "GetContainerRecipePolicy": ib.GetContainerRecipePolicy, "PutContainerRecipePolicy": ib.PutContainerRecipePolicy,

		"CreateInfrastructureConfiguration": ib.CreateInfrastructureConfiguration, "UpdateInfrastructureConfiguration": ib.UpdateInfrastructureConfiguration,
		"GetInfrastructureConfiguration": ib.GetInfrastructureConfiguration, "ListInfrastructureConfigurations": ib.ListInfrastructureConfigurations,
		"DeleteInfrastructureConfiguration": ib.DeleteInfrastructureConfiguration,

		"CreateDistributionConfiguration": ib.CreateDistributionConfiguration, "UpdateDistributionConfiguration": ib.UpdateDistributionConfiguration,
		"GetDistributionConfiguration": ib.GetDistributionConfiguration, "ListDistributionConfigurations": ib.ListDistributionConfigurations,
		"DeleteDistributionConfiguration": ib.DeleteDistributionConfiguration,

		"CreateImagePipeline": ib.CreateImagePipeline, "UpdateImagePipeline": ib.UpdateImagePipeline, "GetImagePipeline": ib.GetImagePipeline,
		"ListImagePipelines": ib.ListImagePipelines, "DeleteImagePipeline": ib.DeleteImagePipeline,

		"StartImagePipelineExecution": ib.StartImagePipelineExecution, "CreateImage": ib.CreateImage, "GetImage": ib.GetImage,
		"ListImages": ib.ListImages, "ListImageBuildVersions": ib.ListImageBuildVersions, "ListImagePipelineImages": ib.ListImagePipelineImages,
		"ListImagePackages": ib.ListImagePackages, "CancelImageCreation": ib.CancelImageCreation, "RetryImage": ib.RetryImage,
		"DeleteImage": ib.DeleteImage,

		"GetWorkflowExecution": ib.GetWorkflowExecution, "ListWorkflowExecutions": ib.ListWorkflowExecutions,
		"GetWorkflowStepExecution": ib.GetWorkflowStepExecution, "ListWorkflowStepExecutions": ib.ListWorkflowStepExecutions,
		"ListWaitingWorkflowSteps": ib.ListWaitingWorkflowSteps, "SendWorkflowStepAction": ib.SendWorkflowStepAction,
	} {
		svc.Register(op, document(fn))
	}
}

// document binds a document operation: the caller's scope in, the
// document out.
func document(fn func(context.Context, store.Scope, imagebuilder.Doc) (imagebuilder.Doc, error)) awsproto.Handler {
	return awsproto.HandleDocument(func(ctx context.Context, in awsproto.Document) (awsproto.Document, error) {
		return fn(ctx, awsproto.CallFrom(ctx).Scope, in)
	})
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
