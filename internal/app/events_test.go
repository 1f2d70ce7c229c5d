package app

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	ibtypes "github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
	tf "github.com/aws/aws-sdk-go-v2/service/transfer"
	"golang.org/x/crypto/ssh"

	"github.com/slipway-dev/slipway/internal/events"
)

// receiver records what is POSTed to it and answers status.
type receiver struct {
	URL      string
	mu       sync.Mutex
	status   int
	bodies   [][]byte
	heads    []http.Header
	statuses []int // the answer each body got
}

func startReceiver(t testing.TB, status int) *receiver {
	t.Helper()
	rc := &receiver{status: status}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rc.URL = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, b)
		rc.heads = append(rc.heads, r.Header.Clone())
		status := rc.status
		rc.statuses = append(rc.statuses, status)
		rc.mu.Unlock()
		w.WriteHeader(status)
		if r.Header.Get("X-Amz-Target") == "AWSEvents.PutEvents" {
			io.WriteString(w, `{"FailedEntryCount":0,"Entries":[{"EventId":"x"}]}`)
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return rc
}

func (rc *receiver) setStatus(s int) {
	rc.mu.Lock()
	rc.status = s
	rc.mu.Unlock()
}

// events returns the envelopes received (webhook bodies) with a status
// below 300 at the time they arrived: all of them when ok is false.
func (rc *receiver) received() []events.Event {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []events.Event
	for _, b := range rc.bodies {
		var ev events.Event
		if json.Unmarshal(b, &ev) == nil && ev.ID != "" {
			out = append(out, ev)
		}
	}
	return out
}

func findEvent(evs []events.Event, detailType string, match func(events.Event) bool) *events.Event {
	for i := range evs {
		if evs[i].DetailType == detailType && (match == nil || match(evs[i])) {
			return &evs[i]
		}
	}
	return nil
}

// sseEvents reads the live stream into a channel.
func sseEvents(t testing.TB, s *server) <-chan events.Event {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/_slipway/events", nil)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("content type %s", resp.Header.Get("Content-Type"))
	}
	ch := make(chan events.Event, 1000)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var ev events.Event
				if json.Unmarshal([]byte(data), &ev) == nil {
					ch <- ev
				}
			}
		}
	}()
	return ch
}

// TestEvents delivers Image Builder and Transfer events in the EventBridge
// envelope to a webhook, to an EventBridge-compatible PutEvents endpoint
// (SigV4-signed for "events") and to the live stream.
func TestEvents(t *testing.T) {
	t.Parallel()
	hook := startReceiver(t, 200)
	bridge := startReceiver(t, 200)
	s := startApp(t, mustNew(t, Config{InMemory: true, Events: events.Targets{Webhooks: []string{hook.URL}, EventBridgeEndpoint: bridge.URL, EventBusName: "slipway"}}))
	live := sseEvents(t, s)
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	pipe := gatedPipeline(t, c, "events", 3600)
	image := startRun(t, c, pipe, nil)
	w := waitingStep(t, c, image)
	var waiting *events.Event
	waitFor(t, "the Workflow Step Waiting event", func() bool {
		waiting = findEvent(hook.received(), "EC2 Image Builder Workflow Step Waiting", nil)
		return waiting != nil
	})
	if waiting.Version != "0" || waiting.Source != "aws.imagebuilder" || waiting.Account != "000000000000" || waiting.Region != "us-east-1" ||
		len(waiting.Resources) != 2 || waiting.Resources[0] != image || waiting.Detail["workflow-step-execution-id"] != aws.ToString(w.StepExecutionId) ||
		waiting.Detail["workflow-step-name"] != aws.ToString(w.Name) || waiting.Detail["workflow-execution-id"] == nil {
		t.Fatalf("waiting event %+v", waiting)
	}
	if _, err := time.Parse(time.RFC3339, waiting.Time); err != nil {
		t.Fatalf("time %q", waiting.Time)
	}
	if _, err := c.SendWorkflowStepAction(ctx, &ib.SendWorkflowStepActionInput{StepExecutionId: w.StepExecutionId, ImageBuildVersionArn: aws.String(image),
		Action: ibtypes.WorkflowStepActionTypeResume}); err != nil {
		t.Fatal(err)
	}
	waitImage(t, c, image, ibtypes.ImageStatusAvailable)
	var states []string
	waitFor(t, "the AVAILABLE state change", func() bool {
		states = nil
		for _, ev := range hook.received() {
			if ev.DetailType == "EC2 Image Builder Image State Change" && ev.Resources[0] == image {
				states = append(states, ev.Detail["previous-state"].(map[string]any)["status"].(string)+">"+ev.Detail["state"].(map[string]any)["status"].(string))
			}
		}
		return slices.Contains(states, "INTEGRATING>AVAILABLE") && len(states) >= 4
	})
	// Deliveries run concurrently, so they may arrive out of order.
	slices.Sort(states)
	if strings.Join(states, " ") != "BUILDING>DISTRIBUTING DISTRIBUTING>INTEGRATING INTEGRATING>AVAILABLE PENDING>BUILDING" {
		t.Fatalf("state changes %v", states)
	}

	// The same events reached EventBridge, signed for "events".
	waitFor(t, "PutEvents", func() bool {
		bridge.mu.Lock()
		defer bridge.mu.Unlock()
		return len(bridge.bodies) >= len(hook.received())
	})
	bridge.mu.Lock()
	var put struct {
		Entries []struct{ Source, DetailType, Detail, EventBusName string }
	}
	json.Unmarshal(bridge.bodies[0], &put)
	auth := bridge.heads[0].Get("Authorization")
	bridge.mu.Unlock()
	if len(put.Entries) != 1 || put.Entries[0].Source != "aws.imagebuilder" || put.Entries[0].EventBusName != "slipway" || !strings.Contains(auth, "/us-east-1/events/aws4_request") {
		t.Fatalf("PutEvents %+v %s", put, auth)
	}

	// A Transfer upload.
	tc := s.tf(opts("us-east-1"))
	createBucket(t, s.s3(opts("us-east-1")), "drop")
	id, key := sftpUser(t, tc, nil, &tf.CreateUserInput{UserName: aws.String("eve"), HomeDirectory: aws.String("/drop")})
	cl, err := dialSFTP(t, id, "eve", ssh.PublicKeys(key.signer))
	if err != nil {
		t.Fatal(err)
	}
	f, _ := cl.Create("/drop/e.txt")
	f.Write([]byte("event"))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var up *events.Event
	waitFor(t, "the upload event", func() bool {
		up = findEvent(hook.received(), "SFTP Server File Upload Completed", nil)
		return up != nil
	})
	if up.Source != "aws.transfer" || up.Detail["server-id"] != id || up.Detail["username"] != "eve" || up.Detail["file-path"] != "/drop/e.txt" ||
		up.Detail["bytes"] != float64(5) || up.Detail["status-code"] != "COMPLETED" {
		t.Fatalf("upload event %+v", up)
	}

	// The live stream carried the same events.
	seen := map[string]bool{}
	timeout := time.After(5 * time.Second)
	for len(seen) < len(hook.received()) {
		select {
		case ev := <-live:
			seen[ev.ID] = true
		case <-timeout:
			t.Fatalf("the stream carried %d of %d events", len(seen), len(hook.received()))
		}
	}
	for _, ev := range hook.received() {
		if !seen[ev.ID] {
			t.Fatalf("event %s missing from the stream", ev.ID)
		}
	}
}

// TestEventsSurviveACrash fails every delivery, SIGKILLs the server, lets
// deliveries succeed and restarts it: every event whose delivery was
// attempted before the crash is delivered after it.
func TestEventsSurviveACrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	t.Parallel()
	hook := startReceiver(t, http.StatusServiceUnavailable)
	dir := t.TempDir()
	env := "SLIPWAY_TEST_WEBHOOK=" + hook.URL
	ch := spawnChild(t, dir, env)
	c := ch.client()
	pipe, err := c.CreateImagePipeline(context.Background(), catalog(t, c, "crashev"))
	if err != nil {
		t.Fatal(err)
	}
	startRun(t, c, aws.ToString(pipe.ImagePipelineArn), nil)
	waitFor(t, "a failed delivery", func() bool { return len(hook.received()) > 0 })
	ch.kill()
	attempted := map[string]bool{}
	for _, ev := range hook.received() {
		attempted[ev.ID] = true
	}
	hook.setStatus(http.StatusOK)
	spawnChild(t, dir, env)
	waitFor(t, "every attempted event delivered", func() bool {
		hook.mu.Lock()
		defer hook.mu.Unlock()
		delivered := map[string]bool{}
		for i, b := range hook.bodies {
			var ev events.Event
			if json.Unmarshal(b, &ev) == nil && hook.statuses[i] == http.StatusOK {
				delivered[ev.ID] = true
			}
		}
		for id := range attempted {
			if !delivered[id] {
				return false
			}
		}
		return true
	})
}
