package events

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/slipway-dev/slipway/internal/engine"
	"github.com/slipway-dev/slipway/internal/store"
)

// Targets are where events go besides the live stream.
type Targets struct {
	// Webhooks receive each event as a JSON POST of the envelope.
	Webhooks []string `json:"webhooks,omitempty"`
	// EventBridgeEndpoint receives PutEvents calls (AWSEvents.PutEvents,
	// SigV4-signed for "events"), e.g. LocalStack's.
	EventBridgeEndpoint string `json:"eventBridgeEndpoint,omitempty"`
	// EventBusName is the bus PutEvents names (default "default").
	EventBusName string `json:"eventBusName,omitempty"`
}

// Dispatcher fans events out and delivers them.
type Dispatcher struct {
	Targets     Targets
	Credentials aws.Credentials
	HTTP        *http.Client

	mu     sync.Mutex
	subs   map[chan Event]struct{}
	closed chan struct{} // closed by Close: streams end
	once   sync.Once
	// watching is closed when Watch's reader has stopped.
	watching chan struct{}
}

func (d *Dispatcher) done() chan struct{} {
	d.once.Do(func() { d.closed = make(chan struct{}) })
	return d.closed
}

// Close ends every open stream and the journal reader (the server is
// shutting down).
func (d *Dispatcher) Close() {
	ch := d.done()
	d.mu.Lock()
	select {
	case <-ch:
	default:
		close(ch)
	}
	d.mu.Unlock()
	if d.watching != nil {
		<-d.watching
	}
}

// delivery is one event for one target.
type delivery struct {
	Target string `json:"target"` // "webhook:<url>" or "eventbridge"
	Event  Event  `json:"event"`
}

// Register installs the fan-out and delivery handlers on the engine.
func (d *Dispatcher) Register(e *engine.Engine) {
	e.Register(ItemFanout, d.fanout)
	e.Register(ItemDeliver, d.deliver)
}

// fanout records an event for the live streams of every replica and
// queues one delivery per target, in one transaction: each happens once.
func (d *Dispatcher) fanout(ctx context.Context, it engine.Item) (func(store.Tx) error, error) {
	var ev Event
	if err := json.Unmarshal(it.Payload, &ev); err != nil {
		return nil, err
	}
	var targets []string
	for _, u := range d.Targets.Webhooks {
		targets = append(targets, "webhook:"+u)
	}
	if d.Targets.EventBridgeEndpoint != "" {
		targets = append(targets, "eventbridge")
	}
	return func(tx store.Tx) error {
		if err := record(tx, ev, time.Now()); err != nil {
			return err
		}
		for i, t := range targets {
			payload, err := json.Marshal(delivery{Target: t, Event: ev})
			if err != nil {
				return err
			}
			if err := engine.Enqueue(tx, engine.Item{ID: fmt.Sprintf("%s:%s:%d", ItemDeliver, ev.ID, i), Type: ItemDeliver, Scope: it.Scope,
				Payload: payload, Due: time.Now()}); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

// deliver sends one event to one target; an error retries it with backoff.
func (d *Dispatcher) deliver(ctx context.Context, it engine.Item) (func(store.Tx) error, error) {
	var dl delivery
	if err := json.Unmarshal(it.Payload, &dl); err != nil {
		return nil, err
	}
	body, err := json.Marshal(dl.Event)
	if err != nil {
		return nil, err
	}
	var req *http.Request
	switch {
	case strings.HasPrefix(dl.Target, "webhook:"):
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimPrefix(dl.Target, "webhook:"), bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
	case dl.Target == "eventbridge":
		bus := d.Targets.EventBusName
		if bus == "" {
			bus = "default"
		}
		detail, _ := json.Marshal(dl.Event.Detail)
		put, _ := json.Marshal(map[string]any{"Entries": []map[string]any{{"Source": dl.Event.Source, "DetailType": dl.Event.DetailType,
			"Detail": string(detail), "Resources": dl.Event.Resources, "EventBusName": bus, "Time": dl.Event.Time}}})
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, d.Targets.EventBridgeEndpoint, bytes.NewReader(put))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "AWSEvents.PutEvents")
		sum := sha256.Sum256(put)
		if err := v4.NewSigner().SignHTTP(ctx, d.Credentials, req, hex.EncodeToString(sum[:]), "events", dl.Event.Region, time.Now()); err != nil {
			return nil, err
		}
	default:
		return nil, nil // a target no longer configured: drop it
	}
	hc := d.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("event %s to %s: %w", dl.Event.ID, dl.Target, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("event %s to %s: status %d", dl.Event.ID, dl.Target, resp.StatusCode)
	}
	return nil, nil
}

// Subscribe returns a channel of events published from now on, and a
// function that ends the subscription. A subscriber that falls behind
// loses events rather than holding anything up.
func (d *Dispatcher) Subscribe() (<-chan Event, func()) {
	ch := make(chan Event, 256)
	d.mu.Lock()
	if d.subs == nil {
		d.subs = map[chan Event]struct{}{}
	}
	d.subs[ch] = struct{}{}
	d.mu.Unlock()
	return ch, func() {
		d.mu.Lock()
		delete(d.subs, ch)
		d.mu.Unlock()
	}
}

func (d *Dispatcher) publish(ev Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for ch := range d.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}

// ServeHTTP streams events as server-sent events (one JSON envelope per
// "data:" line).
func (d *Dispatcher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ch, done := d.Subscribe()
	defer done()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": slipway events\n\n")
	flusher.Flush()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	closed := d.done()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-closed:
			return
		case <-keepalive.C:
			fmt.Fprint(w, ": keepalive\n\n")
		case ev := <-ch:
			b, _ := json.Marshal(ev)
			fmt.Fprintf(w, "event: %s\nid: %s\ndata: %s\n\n", ev.DetailType, ev.ID, b)
		}
		flusher.Flush()
	}
}
