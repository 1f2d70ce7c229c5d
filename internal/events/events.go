// Package events carries AWS-shaped EventBridge events from the domain to
// whoever listens: a domain transaction emits an event as an engine item in
// the same transaction (so an accepted change always has its event, even
// across a crash), and the dispatcher fans it out to the live stream at
// /_slipway/events and to each configured target (webhook URLs, an
// EventBridge-compatible PutEvents endpoint), one engine item per target,
// retried until delivered: at least once.
package events

import (
	"encoding/json"
	"time"

	"github.com/slipway-dev/slipway/internal/engine"
	"github.com/slipway-dev/slipway/internal/ids"
	"github.com/slipway-dev/slipway/internal/store"
)

// Item types.
const (
	ItemFanout  = "events.fanout"
	ItemDeliver = "events.deliver"
)

// Event is the EventBridge envelope; Detail keys are kebab-case.
type Event struct {
	Version    string         `json:"version"`
	ID         string         `json:"id"`
	DetailType string         `json:"detail-type"`
	Source     string         `json:"source"`
	Account    string         `json:"account"`
	Time       string         `json:"time"`
	Region     string         `json:"region"`
	Resources  []string       `json:"resources"`
	Detail     map[string]any `json:"detail"`
}

// New returns an event of scope at time now.
func New(scope store.Scope, source, detailType string, now time.Time, resources []string, detail map[string]any) Event {
	if resources == nil {
		resources = []string{}
	}
	if detail == nil {
		detail = map[string]any{}
	}
	return Event{Version: "0", ID: ids.UUID(), DetailType: detailType, Source: source, Account: scope.Account,
		Time: now.UTC().Format("2006-01-02T15:04:05Z"), Region: scope.Region, Resources: resources, Detail: detail}
}

// Emit queues the event inside the caller's transaction.
func Emit(tx store.Tx, ev Event) error {
	payload, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	t, err := time.Parse("2006-01-02T15:04:05Z", ev.Time)
	if err != nil {
		t = time.Now()
	}
	return engine.Enqueue(tx, engine.Item{ID: ItemFanout + ":" + ev.ID, Type: ItemFanout, Scope: store.Scope{Account: ev.Account, Region: ev.Region},
		Payload: payload, Due: t})
}
