package tfhttp

import (
	"context"

	"github.com/slipway-dev/slipway/internal/awsproto"
	"github.com/slipway-dev/slipway/internal/transfer"
)

func registerExecutions(svc *awsproto.Service, h *handlers) {
	svc.Register("DescribeExecution", awsproto.Handle(h.describeExecution))
	svc.Register("ListExecutions", awsproto.Handle(h.listExecutions))
	svc.Register("SendWorkflowStepState", awsproto.Handle(h.sendWorkflowStepState))
}

type s3FileLocation struct {
	Bucket string `json:"Bucket,omitempty"`
	Key    string `json:"Key,omitempty"`
	Etag   string `json:"Etag,omitempty"`
}

type efsFileLocation struct {
	FileSystemID string `json:"FileSystemId,omitempty"`
	Path         string `json:"Path,omitempty"`
}

type fileLocation struct {
	S3FileLocation  *s3FileLocation  `json:"S3FileLocation,omitempty"`
	EfsFileLocation *efsFileLocation `json:"EfsFileLocation,omitempty"`
}

type userDetails struct {
	UserName  string `json:"UserName"`
	ServerID  string `json:"ServerId"`
	SessionID string `json:"SessionId,omitempty"`
}

type serviceMetadata struct {
	UserDetails userDetails `json:"UserDetails"`
}

type loggingConfiguration struct {
	LoggingRole  string `json:"LoggingRole,omitempty"`
	LogGroupName string `json:"LogGroupName,omitempty"`
}

type executionResults struct {
	Steps            []transfer.StepResult `json:"Steps,omitempty"`
	OnExceptionSteps []transfer.StepResult `json:"OnExceptionSteps,omitempty"`
}

type describedExecution struct {
	ExecutionID          string                 `json:"ExecutionId"`
	InitialFileLocation  fileLocation           `json:"InitialFileLocation"`
	ServiceMetadata      serviceMetadata        `json:"ServiceMetadata"`
	ExecutionRole        string                 `json:"ExecutionRole,omitempty"`
	LoggingConfiguration *loggingConfiguration  `json:"LoggingConfiguration,omitempty"`
	PosixProfile         *transfer.PosixProfile `json:"PosixProfile,omitempty"`
	Status               string                 `json:"Status"`
	// Results is left out while no step has finished: its lists have a
	// model minimum of one.
	Results *executionResults `json:"Results,omitempty"`
}

type listedExecution struct {
	ExecutionID         string          `json:"ExecutionId"`
	InitialFileLocation fileLocation    `json:"InitialFileLocation"`
	ServiceMetadata     serviceMetadata `json:"ServiceMetadata"`
	Status              string          `json:"Status"`
}

func toFileLocation(f transfer.File) fileLocation {
	if f.Domain == transfer.DomainEFS {
		return fileLocation{EfsFileLocation: &efsFileLocation{FileSystemID: f.FileSystemID, Path: f.Path}}
	}
	return fileLocation{S3FileLocation: &s3FileLocation{Bucket: f.Bucket, Key: f.Key, Etag: f.ETag}}
}

func metadataOf(ex *transfer.Execution) serviceMetadata {
	return serviceMetadata{UserDetails: userDetails{UserName: ex.UserName, ServerID: ex.ServerID, SessionID: ex.SessionID}}
}

type describeExecutionOutput struct {
	WorkflowID string             `json:"WorkflowId"`
	Execution  describedExecution `json:"Execution"`
}

func (h *handlers) describeExecution(ctx context.Context, in *struct {
	ExecutionID string `json:"ExecutionId"`
	WorkflowID  string `json:"WorkflowId"`
}) (*describeExecutionOutput, error) {
	ex, err := h.tf.DescribeExecution(ctx, awsproto.CallFrom(ctx).Scope, in.WorkflowID, in.ExecutionID)
	if err != nil {
		return nil, err
	}
	d := describedExecution{ExecutionID: ex.ExecutionID, InitialFileLocation: toFileLocation(ex.Initial), ServiceMetadata: metadataOf(ex),
		ExecutionRole: ex.ExecutionRole, PosixProfile: ex.PosixProfile, Status: ex.Status,
		LoggingConfiguration: &loggingConfiguration{LoggingRole: ex.LoggingRole, LogGroupName: transfer.LogGroup(ex.ServerID)}}
	if len(ex.Results) > 0 || len(ex.ExcResults) > 0 {
		d.Results = &executionResults{Steps: ex.Results, OnExceptionSteps: ex.ExcResults}
	}
	return &describeExecutionOutput{WorkflowID: in.WorkflowID, Execution: d}, nil
}

type listExecutionsOutput struct {
	WorkflowID string            `json:"WorkflowId"`
	Executions []listedExecution `json:"Executions"`
	NextToken  string            `json:"NextToken,omitempty"`
}

func (h *handlers) listExecutions(ctx context.Context, in *struct {
	WorkflowID string `json:"WorkflowId"`
	MaxResults int    `json:"MaxResults"`
	NextToken  string `json:"NextToken"`
}) (*listExecutionsOutput, error) {
	page, err := h.tf.ListExecutions(ctx, awsproto.CallFrom(ctx).Scope, in.WorkflowID, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &listExecutionsOutput{WorkflowID: in.WorkflowID, Executions: []listedExecution{}, NextToken: page.NextToken}
	for _, ex := range page.Executions {
		out.Executions = append(out.Executions, listedExecution{ExecutionID: ex.ExecutionID, InitialFileLocation: toFileLocation(ex.Initial),
			ServiceMetadata: metadataOf(ex), Status: ex.Status})
	}
	return out, nil
}

func (h *handlers) sendWorkflowStepState(ctx context.Context, in *struct {
	WorkflowID  string `json:"WorkflowId"`
	ExecutionID string `json:"ExecutionId"`
	Token       string `json:"Token"`
	Status      string `json:"Status"`
}) (*empty, error) {
	return &empty{}, h.tf.SendWorkflowStepState(ctx, awsproto.CallFrom(ctx).Scope, in.WorkflowID, in.ExecutionID, in.Token, in.Status)
}
