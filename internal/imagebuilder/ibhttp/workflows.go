package ibhttp

import (
	"context"

	"github.com/slipway-dev/slipway/internal/awsproto"
	"github.com/slipway-dev/slipway/internal/imagebuilder"
)

type createWorkflowInput struct {
	Name              string            `json:"name"`
	SemanticVersion   string            `json:"semanticVersion"`
	Description       string            `json:"description"`
	ChangeDescription string            `json:"changeDescription"`
	Data              string            `json:"data"`
	URI               string            `json:"uri"`
	KMSKeyID          string            `json:"kmsKeyId"`
	Tags              map[string]string `json:"tags"`
	ClientToken       string            `json:"clientToken"`
	Type              string            `json:"type"`
	DryRun            bool              `json:"dryRun"`
}

type createWorkflowOutput struct {
	ClientToken             string                   `json:"clientToken"`
	WorkflowBuildVersionArn string                   `json:"workflowBuildVersionArn"`
	LatestVersionReferences *latestVersionReferences `json:"latestVersionReferences,omitempty"`
}

func (h *handlers) createWorkflow(ctx context.Context, in *createWorkflowInput) (*createWorkflowOutput, error) {
	res, err := h.ib.CreateWorkflow(ctx, awsproto.CallFrom(ctx).Scope, imagebuilder.CreateWorkflowInput{
		Name: in.Name, SemanticVersion: in.SemanticVersion, Description: in.Description, ChangeDescription: in.ChangeDescription,
		Data: in.Data, URI: in.URI, KMSKeyID: in.KMSKeyID, Type: in.Type, Tags: in.Tags, ClientToken: in.ClientToken, DryRun: in.DryRun,
	})
	if err != nil {
		return nil, err
	}
	return &createWorkflowOutput{ClientToken: res.ClientToken, WorkflowBuildVersionArn: res.ARN, LatestVersionReferences: references(res.References)}, nil
}

type workflowParameterDetail struct {
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	DefaultValue []string `json:"defaultValue,omitempty"`
	Description  string   `json:"description,omitempty"`
}

type workflow struct {
	Arn               string                    `json:"arn"`
	Name              string                    `json:"name"`
	Version           string                    `json:"version"`
	Description       string                    `json:"description,omitempty"`
	ChangeDescription string                    `json:"changeDescription,omitempty"`
	Type              string                    `json:"type"`
	Owner             string                    `json:"owner"`
	Data              string                    `json:"data"`
	KmsKeyID          string                    `json:"kmsKeyId,omitempty"`
	DateCreated       string                    `json:"dateCreated"`
	Tags              map[string]string         `json:"tags,omitempty"`
	Parameters        []workflowParameterDetail `json:"parameters,omitempty"`
}

type getWorkflowOutput struct {
	Workflow                *workflow                `json:"workflow"`
	LatestVersionReferences *latestVersionReferences `json:"latestVersionReferences,omitempty"`
}

func (h *handlers) getWorkflow(ctx context.Context, in *struct {
	WorkflowBuildVersionArn string `json:"workflowBuildVersionArn"`
}) (*getWorkflowOutput, error) {
	w, err := h.ib.GetWorkflow(ctx, awsproto.CallFrom(ctx).Scope, in.WorkflowBuildVersionArn)
	if err != nil {
		return nil, err
	}
	out := &workflow{
		Arn: w.ARN, Name: w.Name, Version: w.Version, Description: w.Description, ChangeDescription: w.ChangeDescription,
		Type: w.Type, Owner: w.Owner, Data: w.Data, KmsKeyID: w.KMSKeyID, DateCreated: imagebuilder.FormatTime(w.DateCreated),
	}
	if len(w.Tags) > 0 {
		out.Tags = w.Tags
	}
	for _, p := range w.Parameters {
		out.Parameters = append(out.Parameters, workflowParameterDetail(p))
	}
	return &getWorkflowOutput{Workflow: out, LatestVersionReferences: references(w.References())}, nil
}

type listWorkflowsInput struct {
	Owner      string   `json:"owner"`
	Filters    []filter `json:"filters"`
	ByName     bool     `json:"byName"`
	MaxResults int      `json:"maxResults"`
	NextToken  string   `json:"nextToken"`
}

type workflowVersion struct {
	Arn         string `json:"arn"`
	Name        string `json:"name"`
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
	Type        string `json:"type"`
	Owner       string `json:"owner"`
	DateCreated string `json:"dateCreated"`
}

type listWorkflowsOutput struct {
	WorkflowVersionList []workflowVersion `json:"workflowVersionList"`
	NextToken           string            `json:"nextToken,omitempty"`
}

func (h *handlers) listWorkflows(ctx context.Context, in *listWorkflowsInput) (*listWorkflowsOutput, error) {
	page, err := h.ib.ListWorkflows(ctx, awsproto.CallFrom(ctx).Scope, imagebuilder.ListWorkflowsInput{
		Owner: in.Owner, Filters: filterMap(in.Filters), ByName: in.ByName, MaxResults: in.MaxResults, NextToken: in.NextToken,
	})
	if err != nil {
		return nil, err
	}
	out := &listWorkflowsOutput{WorkflowVersionList: make([]workflowVersion, 0, len(page.Workflows)), NextToken: page.NextToken}
	for _, w := range page.Workflows {
		out.WorkflowVersionList = append(out.WorkflowVersionList, workflowVersion{
			Arn: w.VersionARN(), Name: w.Name, Version: w.Version, Description: w.Description, Type: w.Type, Owner: w.Owner,
			DateCreated: imagebuilder.FormatTime(w.DateCreated),
		})
	}
	return out, nil
}

type workflowSummary struct {
	Arn               string            `json:"arn"`
	Name              string            `json:"name"`
	Version           string            `json:"version"`
	Description       string            `json:"description,omitempty"`
	ChangeDescription string            `json:"changeDescription,omitempty"`
	Type              string            `json:"type"`
	Owner             string            `json:"owner"`
	DateCreated       string            `json:"dateCreated"`
	Tags              map[string]string `json:"tags,omitempty"`
}

type listWorkflowBuildVersionsOutput struct {
	WorkflowSummaryList []workflowSummary `json:"workflowSummaryList"`
	NextToken           string            `json:"nextToken,omitempty"`
}

func (h *handlers) listWorkflowBuildVersions(ctx context.Context, in *struct {
	WorkflowVersionArn string `json:"workflowVersionArn"`
	MaxResults         int    `json:"maxResults"`
	NextToken          string `json:"nextToken"`
}) (*listWorkflowBuildVersionsOutput, error) {
	page, err := h.ib.ListWorkflowBuildVersions(ctx, awsproto.CallFrom(ctx).Scope, in.WorkflowVersionArn, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &listWorkflowBuildVersionsOutput{WorkflowSummaryList: []workflowSummary{}, NextToken: page.NextToken}
	for _, w := range page.Workflows {
		s := workflowSummary{
			Arn: w.ARN, Name: w.Name, Version: w.Version, Description: w.Description, ChangeDescription: w.ChangeDescription,
			Type: w.Type, Owner: w.Owner, DateCreated: imagebuilder.FormatTime(w.DateCreated),
		}
		if len(w.Tags) > 0 {
			s.Tags = w.Tags
		}
		out.WorkflowSummaryList = append(out.WorkflowSummaryList, s)
	}
	return out, nil
}

type deleteWorkflowOutput struct {
	WorkflowBuildVersionArn string `json:"workflowBuildVersionArn"`
}

func (h *handlers) deleteWorkflow(ctx context.Context, in *struct {
	WorkflowBuildVersionArn string `json:"workflowBuildVersionArn"`
}) (*deleteWorkflowOutput, error) {
	a, err := h.ib.DeleteWorkflow(ctx, awsproto.CallFrom(ctx).Scope, in.WorkflowBuildVersionArn)
	if err != nil {
		return nil, err
	}
	return &deleteWorkflowOutput{WorkflowBuildVersionArn: a}, nil
}
