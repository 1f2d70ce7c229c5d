package imagebuilder

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/events"
	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/wfdoc"
)

// Step executions: running, completing, failing, timing out and rolling
// back the steps of a workflow execution.

func (b *build) lookup(ex *wfExec) wfdoc.Lookup {
	system := map[string]any{}
	for k, v := range b.System {
		system[k] = v
	}
	system["workflowPhase"] = map[string]string{"BUILD": "Build", "TEST": "Test", "DISTRIBUTION": "Distribution"}[ex.Type]
	return wfdoc.LookupIn(map[string]any{"parameters": ex.Params, "stepOutputs": ex.Outputs, "workflowOutputs": b.Vars, "imagebuilder": system})
}

// stepState loads a step with its execution and build.
type stepState struct {
	step        *stepExec
	srec        *store.Record
	ex          *wfExec
	xrec        *store.Record
	b           *build // shared: read only (see readBuild)
	docStep     wfdoc.Step
	imageStatus string
}

func (s *Service) loadStep(tx store.Tx, scope store.Scope, stepID string) (*stepState, error) {
	st := &stepState{step: &stepExec{}, ex: &wfExec{}}
	var err error
	if st.srec, err = getJSON(tx, scope, kindStepExec, stepID, st.step); err != nil {
		return nil, err
	}
	if st.xrec, err = getJSON(tx, scope, kindWfExec, st.step.Exec, st.ex); err != nil {
		return nil, err
	}
	if st.b, err = readBuild(tx, scope, st.step.Image); err != nil {
		return nil, err
	}
	if st.imageStatus, err = imageStatus(tx, scope, st.step.Image); err != nil {
		return nil, err
	}
	doc, err := parseExecWorkflow(st.ex.Data, st.ex.Type)
	if err != nil {
		return nil, err
	}
	st.docStep = doc.Steps[st.step.Index]
	return st, nil
}

func (st *stepState) save(tx store.Tx, now time.Time) error {
	if err := putJSON(tx, st.srec, st.step, now); err != nil {
		return err
	}
	return putJSON(tx, st.xrec, st.ex, now)
}

// runStep starts or finishes a step.
func (s *Service) runStep(tx store.Tx, scope store.Scope, stepID string, now time.Time) error {
	st, err := s.loadStep(tx, scope, stepID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	step := st.step
	if terminalImage(st.imageStatus) || (step.Status != "PENDING" && step.Status != "RUNNING") || step.Waiting {
		return nil // stale: cancelled, finished, or waiting on a signal
	}
	look := st.b.lookup(st.ex)
	if step.Status == "PENDING" {
		if st.docStep.If != nil {
			ok, err := st.docStep.If.Eval(look)
			if err != nil {
				return s.failStep(tx, scope, st, "The step's if condition could not be evaluated: "+err.Error(), now)
			}
			if !ok {
				step.Status, step.Start, step.End = "SKIPPED", now, now
				step.Completions++
				st.ex.Skipped++
				return s.advanceExec(tx, scope, st, now)
			}
		}
		inputs, err := wfdoc.ResolveInputs(st.docStep.Inputs, look)
		if err != nil {
			step.Start = now
			return s.failStep(tx, scope, st, "Failed to resolve the step's inputs: "+err.Error(), now)
		}
		in, _ := json.Marshal(inputs)
		step.Status, step.Start, step.Inputs = "RUNNING", now, string(in)
		if step.Action == "WaitForAction" {
			step.Waiting = true
			step.Deadline = now.Add(time.Duration(step.TimeoutSeconds) * time.Second)
			if err := addWaiting(tx, scope, step.ID, now); err != nil {
				return err
			}
			if err := enqueue(tx, scope, itemTimeout, step.ID, step.Deadline); err != nil {
				return err
			}
			if err := s.waitNotifications(tx, scope, step, inputs, now); err != nil {
				return err
			}
			ev := events.New(scope, eventSource, "EC2 Image Builder Workflow Step Waiting", now, []string{step.Image, step.WorkflowARN},
				map[string]any{"workflow-execution-id": step.Exec, "workflow-step-execution-id": step.ID, "workflow-step-name": step.Name})
			if err := events.Emit(tx, ev); err != nil {
				return err
			}
			return st.save(tx, now)
		}
		if delay := s.StepDelay; delay > 0 {
			timeout := time.Duration(step.TimeoutSeconds) * time.Second
			if delay > timeout {
				delay = timeout
			}
			if err := enqueue(tx, scope, itemStep, step.ID, now.Add(delay)); err != nil {
				return err
			}
			return st.save(tx, now)
		}
	}
	if now.Sub(step.Start) >= time.Duration(step.TimeoutSeconds)*time.Second {
		return s.failStep(tx, scope, st, fmt.Sprintf("The step timed out after %d seconds.", step.TimeoutSeconds), now)
	}
	if slices.Contains(st.b.FailSteps, step.Name) {
		return s.failStep(tx, scope, st, "The step failed by failure injection ("+FailStepsTag+").", now)
	}
	var inputs Doc
	_ = json.Unmarshal([]byte(step.Inputs), &inputs)
	out := simulate(step.Action, inputs, st.b, now)
	return s.completeStep(tx, scope, st, out, now)
}

func (s *Service) completeStep(tx store.Tx, scope store.Scope, st *stepState, out Doc, now time.Time) error {
	step := st.step
	b, _ := json.Marshal(out)
	step.Status, step.End, step.Outputs, step.Waiting = "COMPLETED", now, string(b), false
	step.Completions++
	st.ex.Outputs[step.Name] = out
	st.ex.Succeeded++
	if act := wfdoc.Actions[step.Action]; act != nil && act.Rollback {
		enabled := st.docStep.Rollback
		if path, ok := enabled.(string); ok {
			v, err := st.b.lookup(st.ex)(path)
			enabled = err == nil && fmt.Sprint(v) == "true"
		}
		if enabled == true {
			st.ex.Rollback = append(st.ex.Rollback, step.ID)
		}
	}
	return s.advanceExec(tx, scope, st, now)
}

// failStep fails the step and applies its onFailure policy.
func (s *Service) failStep(tx store.Tx, scope store.Scope, st *stepState, msg string, now time.Time) error {
	step := st.step
	if step.Outputs == "" {
		step.Outputs = mustJSON(Doc{"errorMessage": msg, "status": "FAILED"})
	}
	step.Status, step.End, step.Message, step.Waiting = "FAILED", now, truncateMsg(msg), false
	if step.Start.IsZero() {
		step.Start = now
	}
	step.Completions++
	st.ex.Failed++
	if step.OnFailure == "Continue" {
		return s.advanceExec(tx, scope, st, now)
	}
	st.ex.FailedStep = step.ID
	st.ex.Message = truncateMsg(fmt.Sprintf("Workflow step '%s' failed: %s", step.Name, msg))
	// The steps after an aborting failure never run.
	for _, id := range st.ex.Steps[step.Index+1:] {
		var later stepExec
		rec, err := getJSON(tx, scope, kindStepExec, id, &later)
		if err != nil {
			return err
		}
		later.Status = "CANCELLED"
		if err := putJSON(tx, rec, &later, now); err != nil {
			return err
		}
	}
	if len(st.ex.Rollback) > 0 {
		st.ex.Status = "ROLLBACK_IN_PROGRESS"
		if err := st.save(tx, now); err != nil {
			return err
		}
		return enqueue(tx, scope, itemRollback, st.ex.ID, now)
	}
	st.ex.Status, st.ex.End = "FAILED", now
	if err := st.save(tx, now); err != nil {
		return err
	}
	return s.execFinished(tx, scope, st.ex, now)
}

func truncateMsg(s string) string {
	if len(s) > 500 {
		return s[:497] + "..."
	}
	return s
}

// advanceExec runs the execution's next step or finishes it.
func (s *Service) advanceExec(tx store.Tx, scope store.Scope, st *stepState, now time.Time) error {
	ex := st.ex
	ex.Current = st.step.Index + 1
	if ex.Current < len(ex.Steps) {
		if err := st.save(tx, now); err != nil {
			return err
		}
		return enqueue(tx, scope, itemStep, ex.Steps[ex.Current], now)
	}
	ex.Status, ex.End = "COMPLETED", now
	doc, err := parseExecWorkflow(ex.Data, ex.Type)
	if err != nil {
		return err
	}
	// The workflow's outputs become build variables: the build is loaded
	// afresh to change it (st.b is shared).
	b, brec, err := s.loadBuild(tx, scope, st.step.Image)
	if err != nil {
		return err
	}
	look := b.lookup(ex)
	for _, o := range doc.Outputs {
		v, err := look(o.Value)
		if err != nil && !strings.HasPrefix(o.Value, "$") {
			v, err = o.Value, nil
		}
		if err == nil {
			b.Vars[o.Name] = v
		}
	}
	if err := st.save(tx, now); err != nil {
		return err
	}
	if err := putJSON(tx, brec, b, now); err != nil {
		return err
	}
	return s.execFinished(tx, scope, ex, now)
}

// rollbackStep undoes the newest completed step that supports rollback.
func (s *Service) rollbackStep(tx store.Tx, scope store.Scope, execID string, now time.Time) error {
	var ex wfExec
	xrec, err := getJSON(tx, scope, kindWfExec, execID, &ex)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if ex.Status != "ROLLBACK_IN_PROGRESS" {
		return nil
	}
	if n := len(ex.Rollback); n > 0 {
		var step stepExec
		rec, err := getJSON(tx, scope, kindStepExec, ex.Rollback[n-1], &step)
		if err != nil {
			return err
		}
		step.RollbackStatus = "COMPLETED"
		if err := putJSON(tx, rec, &step, now); err != nil {
			return err
		}
		ex.Rollback = ex.Rollback[:n-1]
		if err := putJSON(tx, xrec, &ex, now); err != nil {
			return err
		}
		return enqueue(tx, scope, itemRollback, ex.ID, now)
	}
	ex.Status, ex.End = "ROLLBACK_COMPLETED", now
	if err := putJSON(tx, xrec, &ex, now); err != nil {
		return err
	}
	return s.execFinished(tx, scope, &ex, now)
}

// timeoutStep fails a waiting step whose deadline passed.
func (s *Service) timeoutStep(tx store.Tx, scope store.Scope, stepID string, now time.Time) error {
	st, err := s.loadStep(tx, scope, stepID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if !st.step.Waiting || st.step.Status != "RUNNING" || terminalImage(st.imageStatus) {
		return nil // already actioned or cancelled
	}
	if err := dropWaiting(tx, scope, stepID); err != nil {
		return err
	}
	return s.failStep(tx, scope, st, fmt.Sprintf("The step timed out after %d seconds without an action.", st.step.TimeoutSeconds), now)
}
