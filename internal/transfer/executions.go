package transfer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/slipway-dev/slipway/internal/engine"
	"github.com/slipway-dev/slipway/internal/events"
	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/ids"
	"github.com/slipway-dev/slipway/internal/store"
)

const (
	kindExecution = "transfer.execution"
	kindRate      = "transfer.rate"

	// itemRun runs an execution's current step; itemTimeout ends a CUSTOM
	// step nobody answered. Both use the item ID execItemID(execution), so
	// an execution has at most one queued item.
	itemRun     = "transfer.step"
	itemTimeout = "transfer.timeout"
)

// Execution statuses.
const (
	ExecInProgress        = "IN_PROGRESS"
	ExecCompleted         = "COMPLETED"
	ExecException         = "EXCEPTION"
	ExecHandlingException = "HANDLING_EXCEPTION"
)

// Execution error types.
const (
	ErrAlreadyExists    = "ALREADY_EXISTS"
	ErrBadRequest       = "BAD_REQUEST"
	ErrCustomStepFailed = "CUSTOM_STEP_FAILED"
	ErrInternal         = "INTERNAL_SERVER_ERROR"
	ErrNotFound         = "NOT_FOUND"
	ErrPermissionDenied = "PERMISSION_DENIED"
	ErrTimeout          = "TIMEOUT"
	ErrThrottled        = "THROTTLED"
)

// File is a file an execution works on: an S3 object pinned to the ETag it
// had when it was handed on, or an EFS path.
type File struct {
	Domain       string `json:"domain"`
	Bucket       string `json:"bucket,omitempty"`
	Key          string `json:"key,omitempty"`
	ETag         string `json:"etag,omitempty"` // unquoted
	FileSystemID string `json:"fileSystemId,omitempty"`
	Path         string `json:"path,omitempty"`
}

// StepResult is one step's outcome, reported by position.
type StepResult struct {
	StepType string          `json:"StepType"`
	Outputs  string          `json:"Outputs,omitempty"`
	Error    *ExecutionError `json:"Error,omitempty"`
}

// ExecutionError is why a step failed.
type ExecutionError struct {
	Type    string `json:"Type"`
	Message string `json:"Message"`
}

// Execution is one run of a workflow, started by an upload. It is stored
// while it runs and removed when it ends (AWS serves only executions in
// progress); its log entries remain.
type Execution struct {
	ExecutionID   string        `json:"executionId"`
	WorkflowID    string        `json:"workflowId"`
	Initial       File          `json:"initial"`
	ServerID      string        `json:"serverId"`
	UserName      string        `json:"userName"`
	SessionID     string        `json:"sessionId"`
	ExecutionRole string        `json:"executionRole,omitempty"`
	LoggingRole   string        `json:"loggingRole,omitempty"`
	PosixProfile  *PosixProfile `json:"posixProfile,omitempty"`
	Status        string        `json:"status"`
	Results       []StepResult  `json:"results,omitempty"`
	ExcResults    []StepResult  `json:"exceptionResults,omitempty"`
	Created       time.Time     `json:"created"`

	// The workflow's steps as they were when it started (a workflow may be
	// deleted while an execution runs).
	Steps            []Step `json:"steps"`
	OnExceptionSteps []Step `json:"onExceptionSteps,omitempty"`
	// Exception is true once the exception steps run; Index is the current
	// step in the running list.
	Exception bool `json:"exception,omitempty"`
	Index     int  `json:"index"`
	// Previous is ${previous.file}.
	Previous File `json:"previous"`
	// Seq counts transitions; a handler's commit applies only if none
	// happened since it read the execution.
	Seq int `json:"seq"`
	// Token is the callback token of the current CUSTOM step (set when the
	// step is queued, so a retried invocation sends the same one), and
	// Deadline is when it times out, once invoked.
	Token    string     `json:"token,omitempty"`
	Deadline *time.Time `json:"deadline,omitempty"`
	LogSeq   int        `json:"logSeq"`
}

// LogGroup is the CloudWatch log group of a server's workflow logs.
func LogGroup(serverID string) string { return "/aws/transfer/" + serverID }

// LogStream is the execution's log stream.
func (e *Execution) LogStream() string { return e.UserName + "." + e.WorkflowID + "." + e.ExecutionID }

func (e *Execution) steps() []Step {
	if e.Exception {
		return e.OnExceptionSteps
	}
	return e.Steps
}

// current returns the step that runs now, if any.
func (e *Execution) current() (Step, bool) {
	st := e.steps()
	if e.Index < len(st) {
		return st[e.Index], true
	}
	return Step{}, false
}

func execItemID(id string) string { return "transfer.exec:" + id }

type itemPayload struct {
	Seq int `json:"seq"`
}

func notFoundExecution(id string) error {
	return fault.Missing("Execution", id, "Unknown execution")
}

// Upload is a finished (or, when Partial, interrupted) upload, the trigger
// of OnUpload and OnPartialUpload workflows.
type Upload struct {
	Scope     store.Scope
	ServerID  string
	UserName  string
	SessionID string
	Partial   bool
	File      File
	Size      int64
}

// Uploaded starts the workflow the server attaches for this kind of upload,
// if any, in one transaction with its first step queued. It runs before
// the client's CLOSE is acknowledged, so an acknowledged upload has its
// execution (or its throttled log entry) stored.
func (s *Service) Uploaded(ctx context.Context, u Upload) error {
	now := s.now().UTC()
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if err := events.Emit(tx, uploadEvent(u, now)); err != nil {
			return err
		}
		var srv Server
		if _, err := getRecord(tx, u.Scope, kindServer, u.ServerID, &srv, func() error { return notFoundServer(u.ServerID) }); err != nil {
			return err
		}
		var list *[]WorkflowDetail
		if d := srv.WorkflowDetails; d != nil {
			list = d.OnUpload
			if u.Partial {
				list = d.OnPartialUpload
			}
		}
		if list == nil || len(*list) == 0 {
			return nil
		}
		detail := (*list)[0]
		var w Workflow
		if _, err := getRecord(tx, u.Scope, kindWorkflow, detail.WorkflowId, &w, func() error { return notFoundWorkflow(detail.WorkflowId) }); err != nil {
			return err
		}
		ex := &Execution{ExecutionID: ids.UUID(), WorkflowID: w.WorkflowID, Initial: u.File, Previous: u.File,
			ServerID: u.ServerID, UserName: u.UserName, SessionID: u.SessionID, ExecutionRole: detail.ExecutionRole,
			LoggingRole: srv.LoggingRole, Status: ExecInProgress, Created: now, Steps: w.Steps, OnExceptionSteps: w.OnExceptionSteps}
		var user User
		if _, err := getRecord(tx, u.Scope, kindUser, u.ServerID+"/"+u.UserName, &user, func() error { return nil }); err != nil {
			return err
		}
		ex.PosixProfile = user.PosixProfile
		ok, err := takeToken(tx, u.Scope, w.WorkflowID, s.ExecutionBurst, s.ExecutionRate, now)
		if err != nil {
			return err
		}
		if !ok {
			if s.Observe != nil {
				s.Observe("transfer_execution", ErrThrottled)
			}
			return s.logThrottled(tx, u.Scope, ex, now)
		}
		seq, err := sequence(tx, u.Scope, kindExecution, now)
		if err != nil {
			return err
		}
		if err := s.log(tx, u.Scope, ex, now, "ExecutionStarted", map[string]any{"input": map[string]any{"initialFileLocation": logLocation(u.File, false)}}); err != nil {
			return err
		}
		rec, err := newRecord(u.Scope, kindExecution, ex.ExecutionID, ex.WorkflowID, seq, ex, nil, now)
		if err != nil {
			return err
		}
		if err := tx.Insert(rec); err != nil {
			return err
		}
		return s.queueStep(tx, u.Scope, rec, ex, now)
	})
	return err
}

type rateState struct {
	Tokens float64 `json:"tokens"`
	At     int64   `json:"at"` // unix milliseconds
}

// takeToken takes one token of the workflow's bucket, kept in the store so
// restarts (and replicas) share it.
func takeToken(tx store.Tx, scope store.Scope, workflowID string, burst, rate float64, now time.Time) (bool, error) {
	var st rateState
	rec, err := getRecord(tx, scope, kindRate, workflowID, &st, func() error { return store.ErrNotFound })
	switch {
	case errors.Is(err, store.ErrNotFound):
		st = rateState{Tokens: burst, At: now.UnixMilli()}
		rec = nil
	case err != nil:
		return false, err
	default:
		elapsed := float64(now.UnixMilli()-st.At) / 1000
		st.Tokens = min(burst, st.Tokens+max(0, elapsed)*rate)
		st.At = now.UnixMilli()
	}
	ok := st.Tokens >= 1
	if ok {
		st.Tokens--
	}
	if rec == nil {
		rec, err = newRecord(scope, kindRate, workflowID, "", workflowID, st, nil, now)
		if err != nil {
			return false, err
		}
		return ok, tx.Insert(rec)
	}
	return ok, putBody(tx, rec, st, now)
}

// queueStep makes the execution's current step due (logging StepStarted), or
// ends the execution when no step is left.
func (s *Service) queueStep(tx store.Tx, scope store.Scope, rec *store.Record, ex *Execution, now time.Time) error {
	ex.Seq++
	ex.Token, ex.Deadline = "", nil
	step, ok := ex.current()
	if !ok {
		return s.endExecution(tx, scope, ex, now)
	}
	if step.Type == StepCustom {
		ex.Token = newToken()
	}
	src := ex.source(step)
	if err := s.log(tx, scope, ex, now, "StepStarted", map[string]any{"input": map[string]any{"fileLocation": logLocation(src, true)},
		"stepType": step.Type, "stepName": step.name()}); err != nil {
		return err
	}
	if err := putBody(tx, rec, ex, now); err != nil {
		return err
	}
	payload, _ := json.Marshal(itemPayload{Seq: ex.Seq})
	return engine.Enqueue(tx, engine.Item{ID: execItemID(ex.ExecutionID), Type: itemRun, Scope: scope, Payload: payload, Due: now})
}

// endExecution logs the end and removes the execution (and its queued item).
func (s *Service) endExecution(tx store.Tx, scope store.Scope, ex *Execution, now time.Time) error {
	typ := "ExecutionCompleted"
	ex.Status = ExecCompleted
	if ex.Exception || failed(ex.Results) {
		typ, ex.Status = "ExecutionErrored", ExecException
	}
	if err := s.log(tx, scope, ex, now, typ, map[string]any{}); err != nil {
		return err
	}
	if s.Observe != nil {
		s.Observe("transfer_execution", ex.Status)
	}
	if err := engine.Cancel(tx, execItemID(ex.ExecutionID)); err != nil {
		return err
	}
	if err := deleteInvocation(tx, ex.ExecutionID); err != nil {
		return err
	}
	return tx.Delete(scope, kindExecution, ex.ExecutionID)
}

func failed(results []StepResult) bool {
	for _, r := range results {
		if r.Error != nil {
			return true
		}
	}
	return false
}

// finishStep records the current step's outcome and moves on: the next
// step, the exception steps, or the end.
func (s *Service) finishStep(tx store.Tx, scope store.Scope, rec *store.Record, ex *Execution, out stepOutcome, now time.Time) error {
	step, _ := ex.current()
	res := StepResult{StepType: step.Type, Outputs: out.outputs, Error: out.err}
	if ex.Exception {
		ex.ExcResults = append(ex.ExcResults, res)
	} else {
		ex.Results = append(ex.Results, res)
	}
	if err := deleteInvocation(tx, ex.ExecutionID); err != nil {
		return err
	}
	if out.err != nil {
		if err := s.log(tx, scope, ex, now, "StepErrored", map[string]any{"errorType": out.err.Type, "errorMessage": out.err.Message,
			"stepType": step.Type, "stepName": step.name()}); err != nil {
			return err
		}
		if ex.Exception || len(ex.OnExceptionSteps) == 0 {
			// A failing exception step ends the execution there.
			ex.Index = len(ex.steps())
			return s.queueStep(tx, scope, rec, ex, now)
		}
		ex.Exception, ex.Index, ex.Status = true, 0, ExecHandlingException
		return s.queueStep(tx, scope, rec, ex, now)
	}
	output := map[string]any{}
	if out.outputs != "" {
		output = map[string]any{"outputs": json.RawMessage(out.outputs)}
	}
	if err := s.log(tx, scope, ex, now, "StepCompleted", map[string]any{"output": output, "stepType": step.Type, "stepName": step.name()}); err != nil {
		return err
	}
	if out.file != nil {
		ex.Previous = *out.file
	}
	ex.Index++
	return s.queueStep(tx, scope, rec, ex, now)
}

// source is the file a step reads.
func (e *Execution) source(step Step) File {
	if step.sourceLocation() == OriginalFile {
		return e.Initial
	}
	return e.Previous
}

func (st Step) name() string { n, _ := st.common(); return n }

func (st Step) sourceLocation() string { _, src := st.common(); return src }

// common returns the Name and SourceFileLocation every details type has.
func (st Step) common() (name, source string) {
	switch {
	case st.CopyStepDetails != nil:
		return st.CopyStepDetails.Name, st.CopyStepDetails.SourceFileLocation
	case st.CustomStepDetails != nil:
		return st.CustomStepDetails.Name, st.CustomStepDetails.SourceFileLocation
	case st.TagStepDetails != nil:
		return st.TagStepDetails.Name, st.TagStepDetails.SourceFileLocation
	case st.DeleteStepDetails != nil:
		return st.DeleteStepDetails.Name, st.DeleteStepDetails.SourceFileLocation
	case st.DecryptStepDetails != nil:
		return st.DecryptStepDetails.Name, st.DecryptStepDetails.SourceFileLocation
	}
	return "", ""
}

// newToken returns a callback token: 48 word characters, as the model's
// \w+ pattern (at most 64) requires.
func newToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// SendWorkflowStepState answers the CUSTOM step waiting with token. It is a
// transition guarded by the step's state: an unknown workflow, or an
// execution that is not in progress in it, is ResourceNotFound; a token
// that is not the waiting step's (wrong, used, timed out) is
// InvalidRequest, and nothing changes.
func (s *Service) SendWorkflowStepState(ctx context.Context, scope store.Scope, workflowID, executionID, token, status string) error {
	now := s.now().UTC()
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(scope, kindWorkflow, workflowID); errors.Is(err, store.ErrNotFound) {
			return notFoundWorkflow(workflowID)
		} else if err != nil {
			return err
		}
		var ex Execution
		rec, err := getRecord(tx, scope, kindExecution, executionID, &ex, func() error { return notFoundExecution(executionID) })
		if err != nil {
			return err
		}
		if ex.WorkflowID != workflowID {
			return notFoundExecution(executionID)
		}
		step, ok := ex.current()
		if !ok || step.Type != StepCustom || ex.Token == "" || ex.Token != token {
			return fault.New(fault.Invalid, "The token does not belong to a step of execution %s that is waiting for a callback.", executionID)
		}
		out := stepOutcome{}
		if status != "SUCCESS" {
			out.err = &ExecutionError{Type: ErrCustomStepFailed, Message: "The custom step reported failure (SendWorkflowStepState FAILURE)."}
		}
		return s.finishStep(tx, scope, rec, &ex, out, now)
	})
	return err
}

// ExecutionPage is a page of executions in progress.
type ExecutionPage struct {
	Executions []*Execution
	NextToken  string
}

// DescribeExecution returns an execution in progress.
func (s *Service) DescribeExecution(ctx context.Context, scope store.Scope, workflowID, executionID string) (*Execution, error) {
	var ex Execution
	err := s.store.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(scope, kindWorkflow, workflowID); errors.Is(err, store.ErrNotFound) {
			return notFoundWorkflow(workflowID)
		} else if err != nil {
			return err
		}
		if _, err := getRecord(tx, scope, kindExecution, executionID, &ex, func() error { return notFoundExecution(executionID) }); err != nil {
			return err
		}
		if ex.WorkflowID != workflowID {
			return notFoundExecution(executionID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ex, nil
}

// ListExecutions lists a workflow's executions in progress, oldest first.
func (s *Service) ListExecutions(ctx context.Context, scope store.Scope, workflowID string, maxResults int, nextToken string) (*ExecutionPage, error) {
	page := &ExecutionPage{}
	err := s.store.View(ctx, func(tx store.Tx) error {
		page.Executions = nil // the store may run this again
		if _, err := tx.Get(scope, kindWorkflow, workflowID); errors.Is(err, store.ErrNotFound) {
			return notFoundWorkflow(workflowID)
		} else if err != nil {
			return err
		}
		var err error
		page.NextToken, err = s.listPage(tx, scope, "ListExecutions", workflowID, kindExecution, workflowID, maxResults, nextToken, func(r *store.Record) error {
			var ex Execution
			if err := json.Unmarshal(r.Body, &ex); err != nil {
				return fmt.Errorf("transfer: corrupt execution %s: %w", r.ID, err)
			}
			page.Executions = append(page.Executions, &ex)
			return nil
		})
		return err
	})
	return page, err
}

// uploadEvent is the EventBridge event AWS sends for an SFTP upload: Upload
// Completed, or Upload Failed for a session that ended with the file open.
func uploadEvent(u Upload, now time.Time) events.Event {
	typ, status := "SFTP Server File Upload Completed", "COMPLETED"
	if u.Partial {
		typ, status = "SFTP Server File Upload Failed", "FAILED"
	}
	path := u.File.Path
	if u.File.Domain == DomainS3 {
		path = "/" + u.File.Bucket + "/" + u.File.Key
	} else {
		path = "/" + u.File.FileSystemID + u.File.Path
	}
	detail := map[string]any{"server-id": u.ServerID, "username": u.UserName, "session-id": u.SessionID, "protocol": "SFTP",
		"file-path": path, "bytes": u.Size, "status-code": status, "start-timestamp": now.Format(time.RFC3339Nano), "end-timestamp": now.Format(time.RFC3339Nano)}
	if u.File.ETag != "" {
		detail["etag"] = u.File.ETag
	}
	if u.Partial {
		detail["failure-code"], detail["failure-message"] = "SESSION_ENDED", "The session ended with the file open for writing."
	}
	return events.New(u.Scope, "aws.transfer", typ, now, []string{resourceARN(u.Scope, "server/"+u.ServerID)}, detail)
}
