// Package tfhttp binds Transfer Family's JSON 1.1 operations to the domain:
// wire shapes in, domain calls, wire shapes out. Nothing else.
package tfhttp

import (
	"context"

	"github.com/slipway-dev/slipway/internal/awsproto"
	"github.com/slipway-dev/slipway/internal/transfer"
)

// Register adds the implemented operations to svc.
func Register(svc *awsproto.Service, tf *transfer.Service) {
	h := &handlers{tf: tf}
	svc.Register("CreateWorkflow", awsproto.Handle(h.createWorkflow))
	svc.Register("DescribeWorkflow", awsproto.Handle(h.describeWorkflow))
	svc.Register("ListWorkflows", awsproto.Handle(h.listWorkflows))
	svc.Register("DeleteWorkflow", awsproto.Handle(h.deleteWorkflow))
	svc.Register("TagResource", awsproto.Handle(h.tagResource))
	svc.Register("UntagResource", awsproto.Handle(h.untagResource))
	svc.Register("ListTagsForResource", awsproto.Handle(h.listTagsForResource))
	registerServers(svc, h)
	registerUsers(svc, h)
	registerExecutions(svc, h)
}

type handlers struct {
	tf *transfer.Service
}

type empty struct{}

// The step and tag shapes on the wire are the domain's canonical shapes.
type createWorkflowInput struct {
	Description      string          `json:"Description"`
	Steps            []transfer.Step `json:"Steps"`
	OnExceptionSteps []transfer.Step `json:"OnExceptionSteps"`
	Tags             []transfer.Tag  `json:"Tags"`
}

type createWorkflowOutput struct {
	WorkflowID string `json:"WorkflowId"`
}

func (h *handlers) createWorkflow(ctx context.Context, in *createWorkflowInput) (*createWorkflowOutput, error) {
	w, err := h.tf.CreateWorkflow(ctx, awsproto.CallFrom(ctx).Scope, transfer.CreateWorkflowInput(*in))
	if err != nil {
		return nil, err
	}
	return &createWorkflowOutput{WorkflowID: w.WorkflowID}, nil
}

type describedWorkflow struct {
	Arn              string          `json:"Arn"`
	WorkflowID       string          `json:"WorkflowId"`
	Description      string          `json:"Description,omitempty"`
	Steps            []transfer.Step `json:"Steps,omitempty"`
	OnExceptionSteps []transfer.Step `json:"OnExceptionSteps,omitempty"`
	Tags             []transfer.Tag  `json:"Tags,omitempty"`
}

type describeWorkflowOutput struct {
	Workflow describedWorkflow `json:"Workflow"`
}

func (h *handlers) describeWorkflow(ctx context.Context, in *struct {
	WorkflowID string `json:"WorkflowId"`
}) (*describeWorkflowOutput, error) {
	w, err := h.tf.DescribeWorkflow(ctx, awsproto.CallFrom(ctx).Scope, in.WorkflowID)
	if err != nil {
		return nil, err
	}
	return &describeWorkflowOutput{Workflow: describedWorkflow{
		Arn: w.Arn, WorkflowID: w.WorkflowID, Description: w.Description, Steps: w.Steps, OnExceptionSteps: w.OnExceptionSteps, Tags: w.Tags,
	}}, nil
}

type listedWorkflow struct {
	WorkflowID  string `json:"WorkflowId"`
	Description string `json:"Description,omitempty"`
	Arn         string `json:"Arn"`
}

type listWorkflowsOutput struct {
	Workflows []listedWorkflow `json:"Workflows"`
	NextToken string           `json:"NextToken,omitempty"`
}

func (h *handlers) listWorkflows(ctx context.Context, in *struct {
	MaxResults int    `json:"MaxResults"`
	NextToken  string `json:"NextToken"`
}) (*listWorkflowsOutput, error) {
	page, err := h.tf.ListWorkflows(ctx, awsproto.CallFrom(ctx).Scope, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &listWorkflowsOutput{Workflows: []listedWorkflow{}, NextToken: page.NextToken}
	for _, w := range page.Workflows {
		out.Workflows = append(out.Workflows, listedWorkflow{WorkflowID: w.WorkflowID, Description: w.Description, Arn: w.Arn})
	}
	return out, nil
}

func (h *handlers) deleteWorkflow(ctx context.Context, in *struct {
	WorkflowID string `json:"WorkflowId"`
}) (*empty, error) {
	return &empty{}, h.tf.DeleteWorkflow(ctx, awsproto.CallFrom(ctx).Scope, in.WorkflowID)
}

func (h *handlers) tagResource(ctx context.Context, in *struct {
	Arn  string         `json:"Arn"`
	Tags []transfer.Tag `json:"Tags"`
}) (*empty, error) {
	return &empty{}, h.tf.TagResource(ctx, awsproto.CallFrom(ctx).Scope, in.Arn, in.Tags)
}

func (h *handlers) untagResource(ctx context.Context, in *struct {
	Arn     string   `json:"Arn"`
	TagKeys []string `json:"TagKeys"`
}) (*empty, error) {
	return &empty{}, h.tf.UntagResource(ctx, awsproto.CallFrom(ctx).Scope, in.Arn, in.TagKeys)
}

type listTagsOutput struct {
	Arn       string         `json:"Arn"`
	Tags      []transfer.Tag `json:"Tags,omitempty"`
	NextToken string         `json:"NextToken,omitempty"`
}

func (h *handlers) listTagsForResource(ctx context.Context, in *struct {
	Arn        string `json:"Arn"`
	MaxResults int    `json:"MaxResults"`
	NextToken  string `json:"NextToken"`
}) (*listTagsOutput, error) {
	page, err := h.tf.ListTags(ctx, awsproto.CallFrom(ctx).Scope, in.Arn, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &listTagsOutput{Arn: in.Arn, Tags: page.Tags, NextToken: page.NextToken}, nil
}
