package imagebuilder

import (
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/awscron"
	"github.com/slipway-dev/slipway/internal/engine"
	"github.com/slipway-dev/slipway/internal/events"
	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/store"
)

// A pipeline's schedule is one engine item, due at the next match of its
// expression, kept in step with the pipeline in the transactions that
// create, update or delete it. When it fires it starts a SCHEDULED build if
// the start condition holds and queues itself for the next match computed
// from now, so a match missed while Slipway was down runs once on start,
// never once per missed match.
const (
	itemSchedule      = "imagebuilder.schedule"
	kindScheduleState = "imagebuilder.schedule-state"

	startOnMatch   = "EXPRESSION_MATCH_ONLY"
	startOnUpdates = "EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE"
)

// scheduleState is what the scheduler remembers of a pipeline: the
// versions its last build resolved its wildcard references to.
type scheduleState struct {
	Dependencies string `json:"dependencies"`
}

func scheduleItemID(pipeline string) string { return itemSchedule + ":" + pipeline }

// reschedule queues the pipeline's next scheduled run, or drops it when the
// pipeline has no schedule or is disabled.
func (s *Service) reschedule(tx store.Tx, scope store.Scope, pipeline string, p Doc, now time.Time) error {
	id := scheduleItemID(pipeline)
	next := nextRun(p, now)
	if next.IsZero() {
		return engine.Cancel(tx, id)
	}
	payload, _ := json.Marshal(pipeline)
	return engine.Enqueue(tx, engine.Item{ID: id, Type: itemSchedule, Scope: scope, Payload: payload, Due: next})
}

// nextRun is the next match after now of an enabled pipeline's schedule,
// or zero.
func nextRun(p Doc, now time.Time) time.Time {
	sc := obj(p, "schedule")
	if sc == nil || str(p, "status") == "DISABLED" {
		return time.Time{}
	}
	parsed, err := awscron.Parse(str(sc, "scheduleExpression"))
	if err != nil {
		return time.Time{}
	}
	loc, err := scheduleZone(sc)
	if err != nil {
		return time.Time{}
	}
	return parsed.Next(now, loc)
}

// runSchedule fires a pipeline's schedule.
func (s *Service) runSchedule(tx store.Tx, scope store.Scope, pipeline string, now time.Time) error {
	p, prec, err := loadDoc(tx, scope, specPipeline, pipeline)
	if fault.Is(err, fault.NotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if nextRun(p, now).IsZero() {
		return nil // disabled or unscheduled since
	}
	req, err := s.requestFrom(tx, scope, p)
	if err != nil {
		// A recipe or configuration gone: nothing to build this time.
		return s.reschedule(tx, scope, pipeline, p, now)
	}
	deps, err := s.dependencies(tx, scope, req.Recipe)
	if err != nil {
		return err
	}
	st, srec, err := scheduleStateOf(tx, scope, pipeline)
	if err != nil {
		return err
	}
	// The default condition builds only when a wildcard reference now
	// resolves to something newer than the last build used; the first
	// scheduled run always builds.
	build := str(obj(p, "schedule"), "pipelineExecutionStartCondition") == startOnMatch || srec == nil || st.Dependencies != deps
	if build {
		req.FailSteps = failSteps(prec.Tags)
		req.Pipeline, req.PipelineName, req.BuildType = pipeline, str(p, "name"), "SCHEDULED"
		req.Tags = tagsOf(Doc{"tags": p["imageTags"]})
		if _, err := s.startBuild(tx, scope, req, now); err != nil {
			return err
		}
		if err := s.rememberDependencies(tx, scope, pipeline, deps, srec, now); err != nil {
			return err
		}
	}
	return s.reschedule(tx, scope, pipeline, p, now)
}

// noteBuildDependencies records what a pipeline build started now resolves
// its recipe's references to.
func (s *Service) noteBuildDependencies(tx store.Tx, scope store.Scope, pipeline string, recipe Doc, now time.Time) error {
	deps, err := s.dependencies(tx, scope, recipe)
	if err != nil {
		return err
	}
	_, srec, err := scheduleStateOf(tx, scope, pipeline)
	if err != nil {
		return err
	}
	return s.rememberDependencies(tx, scope, pipeline, deps, srec, now)
}

// scheduleStateOf reads what the scheduler remembers of a pipeline; the
// record is nil when there is none yet.
func scheduleStateOf(tx store.Tx, scope store.Scope, pipeline string) (scheduleState, *store.Record, error) {
	var st scheduleState
	srec, err := getJSON(tx, scope, kindScheduleState, pipeline, &st)
	if errors.Is(err, store.ErrNotFound) {
		return st, nil, nil
	}
	return st, srec, err
}

// rememberDependencies records what the pipeline's latest build resolved.
func (s *Service) rememberDependencies(tx store.Tx, scope store.Scope, pipeline, deps string, srec *store.Record, now time.Time) error {
	st := scheduleState{Dependencies: deps}
	if srec != nil {
		return putJSON(tx, srec, st, now)
	}
	return insertJSON(tx, &store.Record{Scope: scope, Kind: kindScheduleState, ID: pipeline, SortKey: pipeline, Created: now, Updated: now}, st)
}

// dependencies lists what a recipe's references resolve to now: its
// components (wildcards resolved to their newest builds) and its parent
// image when that is an image ARN.
func (s *Service) dependencies(tx store.Tx, scope store.Scope, recipe Doc) (string, error) {
	var out []string
	for _, raw := range list(recipe, "components") {
		c, _ := raw.(map[string]any)
		d, err := s.resolveComponent(tx, scope, str(c, "componentArn"), "componentArn")
		if err != nil {
			out = append(out, "missing:"+str(c, "componentArn"))
			continue
		}
		out = append(out, str(d, "arn"))
	}
	if parent := str(recipe, "parentImage"); strings.HasPrefix(parent, "arn:") {
		if d, _, err := s.resolveImage(tx, scope, parent, "parentImage"); err == nil {
			out = append(out, str(d, "arn"))
		}
	} else {
		out = append(out, parent)
	}
	sort.Strings(out)
	return strings.Join(out, ","), nil
}

// pipelineRunEnded does a pipeline's bookkeeping when one of its builds
// ends: the last run's status and date, and the failure count that
// autoDisablePolicy acts on. Only scheduled runs count failures; any
// success resets the count; when it reaches failureCount the pipeline is
// disabled and its schedule dropped.
func (s *Service) pipelineRunEnded(tx store.Tx, scope store.Scope, b *build, status string, now time.Time) error {
	p, prec, err := loadDoc(tx, scope, specPipeline, b.Pipeline)
	if fault.Is(err, fault.NotFound) {
		return nil
	} else if err != nil {
		return err
	}
	p["lastRunStatus"], p["dateLastRun"] = status, FormatTime(now)
	switch {
	case status == statusAvailable:
		p["consecutiveFailures"] = 0
	case b.BuildType == "SCHEDULED" && (status == statusFailed || status == statusCancelled):
		n := intOf(p["consecutiveFailures"]) + 1
		p["consecutiveFailures"] = n
		if limit := intOf(obj(obj(p, "schedule"), "autoDisablePolicy")["failureCount"]); limit > 0 && n >= limit {
			p["status"] = "DISABLED"
			if err := engine.Cancel(tx, scheduleItemID(b.Pipeline)); err != nil {
				return err
			}
			ev := events.New(scope, eventSource, "EC2 Image Builder Image Pipeline Automatically Disabled", now, []string{b.Pipeline},
				map[string]any{"consecutive-failures": strconv.Itoa(n)})
			if err := events.Emit(tx, ev); err != nil {
				return err
			}
		}
	}
	return putJSON(tx, prec, p, now)
}
