package imagebuilder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/engine"
	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/store"
)

func timeString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return FormatTime(t)
}

func setIf(d Doc, k, v string) {
	if v != "" {
		d[k] = v
	}
}

func (ex *wfExec) metadata() Doc {
	total := len(ex.Steps)
	d := Doc{"workflowBuildVersionArn": ex.WorkflowARN, "workflowExecutionId": ex.ID, "type": ex.Type, "status": ex.Status,
		"totalStepCount": total, "totalStepsSucceeded": ex.Succeeded, "totalStepsFailed": ex.Failed, "totalStepsSkipped": ex.Skipped,
		"retried": ex.Retried}
	setIf(d, "message", ex.Message)
	setIf(d, "startTime", timeString(ex.Start))
	setIf(d, "endTime", timeString(ex.End))
	setIf(d, "parallelGroup", ex.ParallelGroup)
	return d
}

func (st *stepExec) metadata() Doc {
	d := Doc{"stepExecutionId": st.ID, "name": st.Name, "action": st.Action, "status": st.Status, "inputs": st.Inputs}
	setIf(d, "description", st.Description)
	setIf(d, "rollbackStatus", st.RollbackStatus)
	setIf(d, "message", st.Message)
	setIf(d, "outputs", st.Outputs)
	setIf(d, "startTime", timeString(st.Start))
	setIf(d, "endTime", timeString(st.End))
	return d
}

func missingExecution(id string) error {
	return fault.Missing("WorkflowExecution", id, "The workflow execution '%s' does not exist.", id)
}

func missingStep(id string) error {
	return fault.Missing("WorkflowStepExecution", id, "The workflow step execution '%s' does not exist.", id)
}

// GetWorkflowExecution returns one workflow execution.
func (s *Service) GetWorkflowExecution(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	id := str(in, "workflowExecutionId")
	var out Doc
	err := s.store.View(ctx, func(tx store.Tx) error {
		var ex wfExec
		if _, err := getJSON(tx, scope, kindWfExec, id, &ex); errors.Is(err, store.ErrNotFound) {
			return missingExecution(id)
		} else if err != nil {
			return err
		}
		out = ex.metadata()
		delete(out, "retried")
		out["imageBuildVersionArn"] = ex.Image
		return nil
	})
	return out, err
}

// ListWorkflowExecutions lists an image's workflow executions in order.
func (s *Service) ListWorkflowExecutions(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	image := str(in, "imageBuildVersionArn")
	if err := s.imageARN(scope, image, "imageBuildVersionArn"); err != nil {
		return nil, err
	}
	items := []any{}
	_, recs, next, err := s.page(ctx, scope, "ListWorkflowExecutions", in, kindWfExec, image, func(store.Tx, Doc, *store.Record) bool { return true })
	if err != nil {
		return nil, err
	}
	var message string
	for _, r := range recs {
		var ex wfExec
		if err := decodeInto(r, &ex); err != nil {
			return nil, err
		}
		items = append(items, ex.metadata())
		if ex.Message != "" {
			message = ex.Message
		}
	}
	out := Doc{"workflowExecutions": items, "imageBuildVersionArn": image}
	setIf(out, "message", message)
	setIf(out, "nextToken", next)
	return out, nil
}

// GetWorkflowStepExecution returns one step execution.
func (s *Service) GetWorkflowStepExecution(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	id := str(in, "stepExecutionId")
	var out Doc
	err := s.store.View(ctx, func(tx store.Tx) error {
		var st stepExec
		if _, err := getJSON(tx, scope, kindStepExec, id, &st); errors.Is(err, store.ErrNotFound) {
			return missingStep(id)
		} else if err != nil {
			return err
		}
		out = st.metadata()
		out["workflowBuildVersionArn"], out["workflowExecutionId"], out["imageBuildVersionArn"] = st.WorkflowARN, st.Exec, st.Image
		out["onFailure"], out["timeoutSeconds"] = st.OnFailure, st.TimeoutSeconds
		return nil
	})
	return out, err
}

// ListWorkflowStepExecutions lists an execution's steps in document order.
func (s *Service) ListWorkflowStepExecutions(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	id := str(in, "workflowExecutionId")
	var ex wfExec
	if err := s.store.View(ctx, func(tx store.Tx) error {
		_, err := getJSON(tx, scope, kindWfExec, id, &ex)
		if errors.Is(err, store.ErrNotFound) {
			return missingExecution(id)
		}
		return err
	}); err != nil {
		return nil, err
	}
	_, recs, next, err := s.page(ctx, scope, "ListWorkflowStepExecutions", in, kindStepExec, id, func(store.Tx, Doc, *store.Record) bool { return true })
	if err != nil {
		return nil, err
	}
	items := []any{}
	for _, r := range recs {
		var st stepExec
		if err := decodeInto(r, &st); err != nil {
			return nil, err
		}
		items = append(items, st.metadata())
	}
	out := Doc{"steps": items, "workflowBuildVersionArn": ex.WorkflowARN, "workflowExecutionId": ex.ID, "imageBuildVersionArn": ex.Image}
	setIf(out, "message", ex.Message)
	setIf(out, "nextToken", next)
	return out, nil
}

// ListWaitingWorkflowSteps lists the account's steps waiting for an action.
func (s *Service) ListWaitingWorkflowSteps(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	var steps []Doc
	_, recs, next, err := s.page(ctx, scope, "ListWaitingWorkflowSteps", in, kindWaiting, "", func(tx store.Tx, _ Doc, r *store.Record) bool {
		var st stepExec
		if _, err := getJSON(tx, scope, kindStepExec, r.ID, &st); err != nil {
			return false
		}
		steps = append(steps, Doc{"stepExecutionId": st.ID, "imageBuildVersionArn": st.Image, "workflowExecutionId": st.Exec,
			"workflowBuildVersionArn": st.WorkflowARN, "name": st.Name, "action": st.Action, "startTime": FormatTime(st.Start)})
		return true
	})
	if err != nil {
		return nil, err
	}
	items := []any{}
	for i := range recs {
		items = append(items, steps[i])
	}
	out := Doc{"steps": items}
	setIf(out, "nextToken", next)
	return out, nil
}

// SendWorkflowStepAction resumes or stops a step waiting in WaitForAction.
// A step that is not waiting (already actioned, timed out, cancelled, or not
// a WaitForAction step) refuses the call and nothing changes.
func (s *Service) SendWorkflowStepAction(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	id, image, action, reason := str(in, "stepExecutionId"), str(in, "imageBuildVersionArn"), str(in, "action"), str(in, "reason")
	if !strings.HasPrefix(id, "step-") {
		return nil, fault.InvalidField("stepExecutionId", "%s is not a step execution ID.", id)
	}
	now := s.nowMillis()
	out, err := s.idempotent(ctx, scope, "SendWorkflowStepAction", in, func(tx store.Tx) (Doc, error) {
		st, err := s.loadStep(tx, scope, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, missingStep(id)
		} else if err != nil {
			return nil, err
		}
		if st.step.Image != image {
			return nil, fault.InvalidField("imageBuildVersionArn", "The step execution '%s' belongs to image '%s', not '%s'.", id, st.step.Image, image)
		}
		if !st.step.Waiting || st.step.Status != "RUNNING" {
			why := "is " + st.step.Status
			if st.step.Action != "WaitForAction" {
				why = "is a " + st.step.Action + " step"
			}
			return nil, fault.New(fault.InUse, "The step execution '%s' is not waiting for an action: it %s.", id, why)
		}
		if err := engine.Cancel(tx, itemTimeout+":"+id); err != nil {
			return nil, err
		}
		if err := dropWaiting(tx, scope, id); err != nil {
			return nil, err
		}
		// reason is always an output, empty when none was given, so later
		// steps can reference it either way.
		outputs := Doc{"action": action, "reason": reason}
		if action == "RESUME" {
			err = s.completeStep(tx, scope, st, outputs, now)
		} else {
			msg := "Stopped by SendWorkflowStepAction."
			if reason != "" {
				msg = "Stopped by SendWorkflowStepAction: " + reason
			}
			st.step.Outputs = mustJSON(outputs) // failStep keeps outputs a step already has
			err = s.failStep(tx, scope, st, msg, now)
		}
		if err != nil {
			return nil, err
		}
		return Doc{"stepExecutionId": id, "imageBuildVersionArn": image, "clientToken": in["clientToken"]}, nil
	})
	return out, err
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Waiting steps are indexed per scope (ListWaitingWorkflowSteps) and once
// for the whole process (the waiting-gates metric).
var allScopes = store.Scope{Account: "-", Region: "imagebuilder"}

const kindWaitingAll = "imagebuilder.waiting-any"

func addWaiting(tx store.Tx, scope store.Scope, stepID string, now time.Time) error {
	key := fmt.Sprintf("%013d|%s", now.UnixMilli(), stepID)
	if err := tx.Insert(&store.Record{Scope: scope, Kind: kindWaiting, ID: stepID, SortKey: key, Created: now, Updated: now, Body: []byte("{}")}); err != nil {
		return err
	}
	return tx.Insert(&store.Record{Scope: allScopes, Kind: kindWaitingAll, ID: scope.Account + "/" + scope.Region + "/" + stepID, SortKey: key + "|" + scope.Account + scope.Region,
		Created: now, Updated: now, Body: []byte("{}")})
}

func dropWaiting(tx store.Tx, scope store.Scope, stepID string) error {
	if err := tx.Delete(scope, kindWaiting, stepID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := tx.Delete(allScopes, kindWaitingAll, scope.Account+"/"+scope.Region+"/"+stepID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// WaitingGates counts the WaitForAction steps waiting now, in every scope.
func (s *Service) WaitingGates(ctx context.Context) (int, error) {
	n := 0
	err := s.store.View(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.Count(allScopes, kindWaitingAll, "")
		return err
	})
	return n, err
}
