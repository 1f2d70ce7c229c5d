package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/slipway-dev/slipway/internal/store"
)

const (
	kindLogEvent   = "transfer.log"
	kindInvocation = "transfer.invocation"
)

// invocationScope holds the CUSTOM step invocations of every account and
// region, so one admin call lists them all.
var invocationScope = store.Scope{Account: "-", Region: "transfer"}

// LogEvent is one CloudWatch-shaped entry of a workflow log.
type LogEvent struct {
	LogGroupName  string `json:"logGroupName"`
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"` // unix milliseconds
	Message       string `json:"message"`
}

type transferDetails struct {
	ServerID  string `json:"serverId"`
	Username  string `json:"username"`
	SessionID string `json:"sessionId"`
}

type logMessage struct {
	Type            string          `json:"type"`
	Details         any             `json:"details"`
	WorkflowID      string          `json:"workflowId"`
	ExecutionID     string          `json:"executionId,omitempty"`
	TransferDetails transferDetails `json:"transferDetails"`
}

// log appends an entry to the execution's log stream, in the transaction
// that makes the change it reports.
func (s *Service) log(tx store.Tx, scope store.Scope, ex *Execution, now time.Time, typ string, details any) error {
	ex.LogSeq++
	id := fmt.Sprintf("%s:%04d", ex.ExecutionID, ex.LogSeq)
	return putLog(tx, scope, ex, id, now, logMessage{Type: typ, Details: details, WorkflowID: ex.WorkflowID, ExecutionID: ex.ExecutionID,
		TransferDetails: transferDetails{ServerID: ex.ServerID, Username: ex.UserName, SessionID: ex.SessionID}}, ex.LogStream())
}

// logThrottled records an execution that the rate limit dropped.
func (s *Service) logThrottled(tx store.Tx, scope store.Scope, ex *Execution, now time.Time) error {
	msg := logMessage{Type: "ExecutionThrottled", WorkflowID: ex.WorkflowID,
		Details: map[string]any{"errorType": ErrThrottled, "errorMessage": "The workflow's execution rate limit was exceeded; the execution was not started.",
			"input": map[string]any{"initialFileLocation": logLocation(ex.Initial, false)}},
		TransferDetails: transferDetails{ServerID: ex.ServerID, Username: ex.UserName, SessionID: ex.SessionID}}
	return putLog(tx, scope, ex, "throttled:"+ex.ExecutionID, now, msg, ex.LogStream())
}

func putLog(tx store.Tx, scope store.Scope, ex *Execution, id string, now time.Time, msg logMessage, stream string) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	ev := LogEvent{LogGroupName: LogGroup(ex.ServerID), LogStreamName: stream, Timestamp: now.UnixMilli(), Message: string(b)}
	sortKey := fmt.Sprintf("%013d|%s", now.UnixMilli(), id)
	rec, err := newRecord(scope, kindLogEvent, id, ev.LogGroupName, sortKey, ev, nil, now)
	if err != nil {
		return err
	}
	return tx.Insert(rec)
}

// logLocation is a file as the logs write it (backingStore only on steps).
func logLocation(f File, step bool) map[string]any {
	m := map[string]any{}
	if step {
		m["backingStore"] = f.Domain
	}
	if f.Domain == DomainEFS {
		m["fileSystemId"], m["path"] = f.FileSystemID, f.Path
		return m
	}
	m["bucket"], m["key"], m["versionId"], m["etag"] = f.Bucket, f.Key, nil, f.ETag
	return m
}

// LogEvents returns up to limit entries of a log group after the cursor
// after (a previous page's Next), oldest first.
func (s *Service) LogEvents(ctx context.Context, scope store.Scope, group, after string, limit int) ([]LogEvent, string, error) {
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	var out []LogEvent
	next := ""
	err := s.store.View(ctx, func(tx store.Tx) error {
		out, next = nil, "" // the store may run this again
		recs, err := tx.List(store.ListQuery{Scope: scope, Kind: kindLogEvent, Parent: group, After: after, Limit: limit + 1})
		if err != nil {
			return err
		}
		if len(recs) > limit {
			recs = recs[:limit]
			next = recs[limit-1].SortKey
		}
		for _, r := range recs {
			var ev LogEvent
			if err := json.Unmarshal(r.Body, &ev); err != nil {
				return err
			}
			out = append(out, ev)
		}
		return nil
	})
	return out, next, err
}

// Invocation is a CUSTOM step's Lambda event, kept while the step waits so
// that tests and scripts can answer it without a Lambda.
type Invocation struct {
	Account     string          `json:"account"`
	Region      string          `json:"region"`
	WorkflowID  string          `json:"workflowId"`
	ExecutionID string          `json:"executionId"`
	StepName    string          `json:"stepName,omitempty"`
	Target      string          `json:"target"`
	Token       string          `json:"token"`
	Event       json.RawMessage `json:"event"`
	Invoked     time.Time       `json:"invoked"`
	Deadline    time.Time       `json:"deadline"`
	// Delivery says what became of the Invoke call: "202 from <url>", or
	// why none was made.
	Delivery string `json:"delivery"`
}

func putInvocation(tx store.Tx, inv *Invocation, now time.Time) error {
	if err := deleteInvocation(tx, inv.ExecutionID); err != nil {
		return err
	}
	rec, err := newRecord(invocationScope, kindInvocation, inv.ExecutionID, "", fmt.Sprintf("%013d|%s", now.UnixMilli(), inv.ExecutionID), inv, nil, now)
	if err != nil {
		return err
	}
	return tx.Insert(rec)
}

func deleteInvocation(tx store.Tx, executionID string) error {
	if err := tx.Delete(invocationScope, kindInvocation, executionID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// Invocations lists the CUSTOM steps waiting now, oldest first.
func (s *Service) Invocations(ctx context.Context) ([]Invocation, error) {
	out := []Invocation{}
	err := s.store.View(ctx, func(tx store.Tx) error {
		out = []Invocation{} // the store may run this again
		after := ""
		for {
			recs, err := tx.List(store.ListQuery{Scope: invocationScope, Kind: kindInvocation, After: after, Limit: 500})
			if err != nil {
				return err
			}
			for _, r := range recs {
				var inv Invocation
				if err := json.Unmarshal(r.Body, &inv); err != nil {
					return err
				}
				out = append(out, inv)
			}
			if len(recs) < 500 {
				return nil
			}
			after = recs[len(recs)-1].SortKey
		}
	})
	return out, err
}

// WaitingCount counts the CUSTOM steps waiting now.
func (s *Service) WaitingCount(ctx context.Context) (int, error) {
	n := 0
	err := s.store.View(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.Count(invocationScope, kindInvocation, "")
		return err
	})
	return n, err
}
