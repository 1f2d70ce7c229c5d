package ibhttp

import (
	"context"

	"github.com/slipway-dev/slipway/internal/awsproto"
	"github.com/slipway-dev/slipway/internal/epoch"
	"github.com/slipway-dev/slipway/internal/imagebuilder"
)

func registerLifecycle(svc *awsproto.Service, h *handlers) {
	svc.Register("StartResourceStateUpdate", awsproto.Handle(h.startResourceStateUpdate))
	svc.Register("GetLifecycleExecution", awsproto.Handle(h.getLifecycleExecution))
	svc.Register("ListLifecycleExecutions", awsproto.Handle(h.listLifecycleExecutions))
	svc.Register("ListLifecycleExecutionResources", awsproto.Handle(h.listLifecycleExecutionResources))
	svc.Register("CancelLifecycleExecution", awsproto.Handle(h.cancelLifecycleExecution))
	registerLifecyclePolicies(svc, h)
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

func registerLifecyclePolicies(svc *awsproto.Service, h *handlers) {
	svc.Register("CreateLifecyclePolicy", awsproto.Handle(h.createLifecyclePolicy))
	svc.Register("GetLifecyclePolicy", awsproto.Handle(h.getLifecyclePolicy))
	svc.Register("UpdateLifecyclePolicy", awsproto.Handle(h.updateLifecyclePolicy))
	svc.Register("DeleteLifecyclePolicy", awsproto.Handle(h.deleteLifecyclePolicy))
	svc.Register("ListLifecyclePolicies", awsproto.HandleDocument(func(ctx context.Context, in imagebuilder.Doc) (imagebuilder.Doc, error) {
		page, err := h.ib.ListLifecyclePolicies(ctx, awsproto.CallFrom(ctx).Scope, in)
		if err != nil {
			return nil, err
		}
		items := []any{}
		for _, p := range page.Policies {
			items = append(items, policySummary{Arn: p.Arn, Name: p.Name, Description: p.Description, Status: p.Status, ExecutionRole: p.ExecutionRole,
				ResourceType: p.ResourceType, DateCreated: p.DateCreated, DateUpdated: p.DateUpdated, DateLastRun: p.DateLastRun, Tags: p.Tags})
		}
		out := imagebuilder.Doc{"lifecyclePolicySummaryList": items}
		if page.NextToken != "" {
			out["nextToken"] = page.NextToken
		}
		return out, nil
	}))
}

// policySummary is the API's LifecyclePolicySummary.
type policySummary struct {
	Arn           string            `json:"arn"`
	Name          string            `json:"name"`
	Description   string            `json:"description,omitempty"`
	Status        string            `json:"status"`
	ExecutionRole string            `json:"executionRole"`
	ResourceType  string            `json:"resourceType"`
	DateCreated   *epoch.Time       `json:"dateCreated,omitempty"`
	DateUpdated   *epoch.Time       `json:"dateUpdated,omitempty"`
	DateLastRun   *epoch.Time       `json:"dateLastRun,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
}

type lifecyclePolicyARNOutput struct {
	ClientToken        string `json:"clientToken,omitempty"`
	LifecyclePolicyArn string `json:"lifecyclePolicyArn"`
}

func (h *handlers) createLifecyclePolicy(ctx context.Context, in *imagebuilder.LifecyclePolicyInput) (*lifecyclePolicyARNOutput, error) {
	a, err := h.ib.CreateLifecyclePolicy(ctx, awsproto.CallFrom(ctx).Scope, *in)
	if err != nil {
		return nil, err
	}
	return &lifecyclePolicyARNOutput{ClientToken: in.ClientToken, LifecyclePolicyArn: a}, nil
}

type getLifecyclePolicyOutput struct {
	LifecyclePolicy *imagebuilder.LifecyclePolicy `json:"lifecyclePolicy"`
}

func (h *handlers) getLifecyclePolicy(ctx context.Context, in *struct {
	LifecyclePolicyArn string `json:"lifecyclePolicyArn"`
}) (*getLifecyclePolicyOutput, error) {
	p, err := h.ib.GetLifecyclePolicy(ctx, awsproto.CallFrom(ctx).Scope, in.LifecyclePolicyArn)
	if err != nil {
		return nil, err
	}
	return &getLifecyclePolicyOutput{LifecyclePolicy: p}, nil
}

func (h *handlers) updateLifecyclePolicy(ctx context.Context, in *imagebuilder.LifecyclePolicyInput) (*lifecyclePolicyARNOutput, error) {
	if err := h.ib.UpdateLifecyclePolicy(ctx, awsproto.CallFrom(ctx).Scope, *in); err != nil {
		return nil, err
	}
	return &lifecyclePolicyARNOutput{LifecyclePolicyArn: in.LifecyclePolicyArn}, nil
}

func (h *handlers) deleteLifecyclePolicy(ctx context.Context, in *struct {
	LifecyclePolicyArn string `json:"lifecyclePolicyArn"`
}) (*lifecyclePolicyARNOutput, error) {
	if err := h.ib.DeleteLifecyclePolicy(ctx, awsproto.CallFrom(ctx).Scope, in.LifecyclePolicyArn); err != nil {
		return nil, err
	}
	return &lifecyclePolicyARNOutput{LifecyclePolicyArn: in.LifecyclePolicyArn}, nil
}
