package ibhttp

import (
	"context"

	"github.com/slipway-dev/slipway/internal/awsproto"
	"github.com/slipway-dev/slipway/internal/imagebuilder"
)

func registerLifecycle(svc *awsproto.Service, h *handlers) {
	svc.Register("StartResourceStateUpdate", awsproto.Handle(h.startResourceStateUpdate))
	svc.Register("GetLifecycleExecution", awsproto.Handle(h.getLifecycleExecution))
	svc.Register("ListLifecycleExecutions", awsproto.Handle(h.listLifecycleExecutions))
	svc.Register("ListLifecycleExecutionResources", awsproto.Handle(h.listLifecycleExecutionResources))
	svc.Register("CancelLifecycleExecution", awsproto.Handle(h.cancelLifecycleExecution))
}

func (h *handlers) startResourceStateUpdate(ctx context.Context, in *imagebuilder.StateUpdate) (*imagebuilder.StateUpdateResult, error) {
	return h.ib.StartResourceStateUpdate(ctx, awsproto.CallFrom(ctx).Scope, *in)
}

type getLifecycleExecutionOutput struct {
	LifecycleExecution *imagebuilder.LifecycleExecution `json:"lifecycleExecution"`
}

func (h *handlers) getLifecycleExecution(ctx context.Context, in *struct {
	LifecycleExecutionID string `json:"lifecycleExecutionId"`
}) (*getLifecycleExecutionOutput, error) {
	ex, err := h.ib.GetLifecycleExecution(ctx, awsproto.CallFrom(ctx).Scope, in.LifecycleExecutionID)
	if err != nil {
		return nil, err
	}
	return &getLifecycleExecutionOutput{LifecycleExecution: ex}, nil
}

type listLifecycleExecutionsOutput struct {
	LifecycleExecutions []imagebuilder.LifecycleExecution `json:"lifecycleExecutions"`
	NextToken           string                            `json:"nextToken,omitempty"`
}

func (h *handlers) listLifecycleExecutions(ctx context.Context, in *struct {
	ResourceArn string `json:"resourceArn"`
	MaxResults  int    `json:"maxResults"`
	NextToken   string `json:"nextToken"`
}) (*listLifecycleExecutionsOutput, error) {
	page, err := h.ib.ListLifecycleExecutions(ctx, awsproto.CallFrom(ctx).Scope, in.ResourceArn, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &listLifecycleExecutionsOutput{LifecycleExecutions: page.LifecycleExecutions, NextToken: page.NextToken}, nil
}

type listLifecycleExecutionResourcesOutput struct {
	LifecycleExecutionID    string                           `json:"lifecycleExecutionId"`
	LifecycleExecutionState imagebuilder.LifecycleState      `json:"lifecycleExecutionState"`
	Resources               []imagebuilder.LifecycleResource `json:"resources"`
	NextToken               string                           `json:"nextToken,omitempty"`
}

func (h *handlers) listLifecycleExecutionResources(ctx context.Context, in *struct {
	LifecycleExecutionID string `json:"lifecycleExecutionId"`
	ParentResourceID     string `json:"parentResourceId"`
	MaxResults           int    `json:"maxResults"`
	NextToken            string `json:"nextToken"`
}) (*listLifecycleExecutionResourcesOutput, error) {
	page, err := h.ib.ListLifecycleExecutionResources(ctx, awsproto.CallFrom(ctx).Scope, in.LifecycleExecutionID, in.ParentResourceID, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &listLifecycleExecutionResourcesOutput{LifecycleExecutionID: page.LifecycleExecutionID, LifecycleExecutionState: page.LifecycleExecutionState,
		Resources: page.Resources, NextToken: page.NextToken}, nil
}

type cancelLifecycleExecutionOutput struct {
	LifecycleExecutionID string `json:"lifecycleExecutionId"`
}

func (h *handlers) cancelLifecycleExecution(ctx context.Context, in *struct {
	LifecycleExecutionID string `json:"lifecycleExecutionId"`
	ClientToken          string `json:"clientToken"`
}) (*cancelLifecycleExecutionOutput, error) {
	id, err := h.ib.CancelLifecycleExecution(ctx, awsproto.CallFrom(ctx).Scope, in.LifecycleExecutionID, in.ClientToken)
	if err != nil {
		return nil, err
	}
	return &cancelLifecycleExecutionOutput{LifecycleExecutionID: id}, nil
}
