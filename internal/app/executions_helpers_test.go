package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	tf "github.com/aws/aws-sdk-go-v2/service/transfer"
	tftypes "github.com/aws/aws-sdk-go-v2/service/transfer/types"

	"github.com/slipway-dev/slipway/internal/transfer"
)

// Helpers of the Transfer execution tests.

// lambdaServer is a Lambda Invoke API for CUSTOM steps: it records each
// call (path, headers, raw event) and answers with status.
type lambdaServer struct {
	URL    string
	mu     sync.Mutex
	calls  []lambdaCall
	status int
	notify chan lambdaCall
}

type lambdaCall struct {
	Path, InvocationType, Authorization string
	Event                               map[string]any
	Raw                                 []byte
}

func startLambda(t testing.TB, status int) *lambdaServer {
	t.Helper()
	l := &lambdaServer{status: status, notify: make(chan lambdaCall, 1000)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.URL = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c := lambdaCall{Path: r.URL.Path, InvocationType: r.Header.Get("X-Amz-Invocation-Type"), Authorization: r.Header.Get("Authorization"), Raw: b}
		_ = json.Unmarshal(b, &c.Event)
		l.mu.Lock()
		l.calls = append(l.calls, c)
		status := l.status
		l.mu.Unlock()
		w.WriteHeader(status)
		if status < 300 {
			l.notify <- c
		} else {
			fmt.Fprint(w, `{"Type":"User","message":"Function not found"}`)
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return l
}

func (l *lambdaServer) next(t testing.TB) lambdaCall {
	t.Helper()
	select {
	case c := <-l.notify:
		return c
	case <-time.After(15 * time.Second):
		t.Fatal("no Lambda invocation")
		return lambdaCall{}
	}
}

// eventCall returns the token, execution and key of a CUSTOM step's event.
func (c lambdaCall) ids() (token, execution, key string) {
	meta := c.Event["serviceMetadata"].(map[string]any)
	loc := c.Event["fileLocation"].(map[string]any)
	key, _ = loc["key"].(string)
	return c.Event["token"].(string), meta["executionDetails"].(map[string]any)["executionId"].(string), key
}

func s3Dest(bucket, key string) *tftypes.InputFileLocation {
	return &tftypes.InputFileLocation{S3FileLocation: &tftypes.S3InputFileLocation{Bucket: aws.String(bucket), Key: aws.String(key)}}
}

func copyStep(name, source, bucket, key string) tftypes.WorkflowStep {
	return tftypes.WorkflowStep{Type: tftypes.WorkflowStepTypeCopy, CopyStepDetails: &tftypes.CopyStepDetails{Name: aws.String(name),
		SourceFileLocation: aws.String(source), DestinationFileLocation: s3Dest(bucket, key)}}
}

func tagStep(name, k, v string) tftypes.WorkflowStep {
	return tftypes.WorkflowStep{Type: tftypes.WorkflowStepTypeTag, TagStepDetails: &tftypes.TagStepDetails{Name: aws.String(name),
		Tags: []tftypes.S3Tag{{Key: aws.String(k), Value: aws.String(v)}}}}
}

func customStep(name string, timeout int32) tftypes.WorkflowStep {
	return tftypes.WorkflowStep{Type: tftypes.WorkflowStepTypeCustom, CustomStepDetails: &tftypes.CustomStepDetails{Name: aws.String(name),
		Target: aws.String("arn:aws:lambda:us-east-1:000000000000:function:" + name), TimeoutSeconds: aws.Int32(timeout)}}
}

func createWorkflow(t testing.TB, c *tf.Client, steps, onException []tftypes.WorkflowStep) string {
	t.Helper()
	out, err := c.CreateWorkflow(context.Background(), &tf.CreateWorkflowInput{Steps: steps, OnExceptionSteps: onException})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.WorkflowId)
}

func onUpload(workflowID string) *tftypes.WorkflowDetails {
	return &tftypes.WorkflowDetails{OnUpload: []tftypes.WorkflowDetail{{WorkflowId: aws.String(workflowID), ExecutionRole: aws.String("arn:aws:iam::000000000000:role/wf")}}}
}

// logEntry is a parsed workflow log message.
type logEntry struct {
	Type        string         `json:"type"`
	ExecutionID string         `json:"executionId"`
	WorkflowID  string         `json:"workflowId"`
	Details     map[string]any `json:"details"`
	Stream      string         `json:"-"`
	At          time.Time      `json:"-"` // the event's timestamp (milliseconds)
}

func workflowLogs(t testing.TB, s *server, serverID string) []logEntry {
	t.Helper()
	var entries []logEntry
	for after := ""; ; {
		resp, err := http.Get(s.URL + "/_slipway/transfer/logs?serverId=" + serverID + "&after=" + url.QueryEscape(after))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			LogGroupName string              `json:"logGroupName"`
			Events       []transfer.LogEvent `json:"events"`
			Next         string              `json:"next"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || out.LogGroupName != "/aws/transfer/"+serverID {
			t.Fatalf("logs: %v %+v", err, out)
		}
		for _, ev := range out.Events {
			var e logEntry
			if err := json.Unmarshal([]byte(ev.Message), &e); err != nil {
				t.Fatal(err)
			}
			e.Stream, e.At = ev.LogStreamName, time.UnixMilli(ev.Timestamp)
			entries = append(entries, e)
		}
		if out.Next == "" {
			return entries
		}
		after = out.Next
	}
}

func countType(entries []logEntry, typ string) int {
	n := 0
	for _, e := range entries {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds (15 s at most).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func objectTags(t testing.TB, c *s3.Client, bucket, key string) map[string]string {
	t.Helper()
	out, err := c.GetObjectTagging(context.Background(), &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("tags of %s/%s: %v", bucket, key, err)
	}
	m := map[string]string{}
	for _, tg := range out.TagSet {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m
}

func noObject(t testing.TB, c *s3.Client, bucket, key string) {
	t.Helper()
	_, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	var nf *s3types.NotFound
	if !errors.As(err, &nf) {
		t.Fatalf("%s/%s: want not found, got %v", bucket, key, err)
	}
}

// gpgEncrypt makes a PGP key pair protected by passphrase with the gpg CLI
// and encrypts plain to it; it returns the armored private key and the
// binary message.
func gpgEncrypt(t testing.TB, passphrase, plain string) (string, []byte) {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		if os.Getenv("SLIPWAY_CI") != "" {
			t.Fatal("gpg is not installed (apt-get install gnupg)")
		}
		t.Skip("gpg not installed")
	}
	home := t.TempDir()
	os.Chmod(home, 0o700)
	run := func(stdin string, args ...string) []byte {
		cmd := exec.Command("gpg", append([]string{"--homedir", home, "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", passphrase}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("gpg %v: %v %s", args, err, ee.Stderr)
			}
			t.Fatal(err)
		}
		return out
	}
	run("", "--quick-gen-key", "Slipway Test <decrypt@example.com>", "default", "default", "never")
	private := run("", "--armor", "--export-secret-keys", "decrypt@example.com")
	enc := run(plain, "--openpgp", "--trust-model", "always", "--encrypt", "-r", "decrypt@example.com", "--output", "-")
	return string(private), enc
}

func invocations(t testing.TB, s *server) []transfer.Invocation {
	t.Helper()
	resp, err := http.Get(s.URL + "/_slipway/transfer/invocations")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Invocations []transfer.Invocation `json:"invocations"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Invocations
}

// waitInvocation waits for the CUSTOM step whose file ends in name.
func waitInvocation(t testing.TB, s *server, name string) transfer.Invocation {
	t.Helper()
	var found transfer.Invocation
	waitFor(t, "the invocation of "+name, func() bool {
		for _, inv := range invocations(t, s) {
			var ev struct {
				Token        string            `json:"token"`
				FileLocation map[string]string `json:"fileLocation"`
			}
			json.Unmarshal(inv.Event, &ev)
			if strings.HasSuffix(ev.FileLocation["key"], name) && ev.Token == inv.Token {
				found = inv
				return true
			}
		}
		return false
	})
	return found
}
