package app

import (
	"bytes"
	"context"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	ibtypes "github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	tf "github.com/aws/aws-sdk-go-v2/service/transfer"
	tftypes "github.com/aws/aws-sdk-go-v2/service/transfer/types"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/slipway-dev/slipway/internal/events"
	"github.com/slipway-dev/slipway/internal/store/pgstore/pgtest"
	"github.com/slipway-dev/slipway/internal/transfer"
)

// replicas starts n Slipways on one fresh PostgreSQL schema and one shared
// data directory, the i-th serving SFTP on 127.0.0.(i+2).
func replicas(t *testing.T, n int, mod func(*Config)) []*server {
	t.Helper()
	url, dir := pgtest.URL(t), t.TempDir()
	out := make([]*server, n)
	for i := range out {
		cfg := Config{DatabaseURL: url, DataDir: dir, SFTPBind: "127.0.0." + strconv.Itoa(i+2)}
		if mod != nil {
			mod(&cfg)
		}
		out[i] = startApp(t, mustNew(t, cfg))
	}
	return out
}

// sshHostKey logs in to serverID's endpoint at host and returns the host
// key it offered, or the dial error.
func sftpAt(t testing.TB, host, serverID, user string, signer ssh.Signer) (*sftp.Client, ssh.PublicKey, error) {
	t.Helper()
	var hostKey ssh.PublicKey
	cfg := &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, Timeout: 5 * time.Second,
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error { hostKey = k; return nil }}
	conn, err := ssh.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(transfer.Port(serverID))), cfg)
	if err != nil {
		return nil, nil, err
	}
	c, err := sftp.NewClient(conn)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	t.Cleanup(func() { c.Close(); conn.Close() })
	return c, hostKey, nil
}

// listening reports whether something accepts connections on serverID's
// port at host.
func listening(host, serverID string) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(transfer.Port(serverID))), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// within polls cond until it holds or d passes.
func within(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReplicasShareOneDatabase runs two replicas on one database and
// drives each behaviour through one replica and checks it through the
// other: SFTP endpoints on both, an upload's workflow run once and answered
// through the other replica, files readable from either, tokens and
// clientTokens honoured across replicas, and a gate resumed elsewhere.
func TestReplicasShareOneDatabase(t *testing.T) {
	t.Parallel()
	lam := startLambda(t, 202)
	rs := replicas(t, 2, func(c *Config) { c.LambdaEndpoint, c.ClockControl = lam.URL, true })
	a, b := rs[0], rs[1]
	ctx := context.Background()
	ta, tb := a.tf(opts("us-east-1")), b.tf(opts("us-east-1"))
	createBucket(t, a.s3(opts("us-east-1")), "drop")
	createBucket(t, a.s3(opts("us-east-1")), "out")
	wf := createWorkflow(t, ta, []tftypes.WorkflowStep{customStep("scan", 600), copyStep("deliver", "${previous.file}", "out", "done/")}, nil)

	// A server created through b listens on both replicas, with one host key.
	id, key := sftpUser(t, tb, &tf.CreateServerInput{WorkflowDetails: onUpload(wf)},
		&tf.CreateUserInput{UserName: aws.String("dana"), HomeDirectory: aws.String("/drop")})
	within(t, time.Second, "both replicas listening", func() bool { return listening("127.0.0.2", id) && listening("127.0.0.3", id) })
	ca, ka, err := sftpAt(t, "127.0.0.2", id, "dana", key.signer)
	if err != nil {
		t.Fatal(err)
	}
	cb, kb, err := sftpAt(t, "127.0.0.3", id, "dana", key.signer)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ka.Marshal(), kb.Marshal()) {
		t.Fatal("the replicas offer different host keys")
	}

	// An upload to either replica starts its workflow once; the callback
	// goes through the other replica; the copy is read from both.
	for i, up := range []struct {
		cl     *sftp.Client
		answer *tf.Client
		name   string
	}{{ca, tb, "via-a.txt"}, {cb, ta, "via-b.txt"}} {
		f, err := up.cl.Create("/drop/" + up.name)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte("payload " + up.name))
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		token, exec, _ := lam.next(t).ids()
		if _, err := up.answer.SendWorkflowStepState(ctx, &tf.SendWorkflowStepStateInput{WorkflowId: aws.String(wf), ExecutionId: aws.String(exec),
			Token: aws.String(token), Status: "SUCCESS"}); err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			waitFor(t, "the copy through "+r.URL, func() bool {
				got, err := r.s3(opts("us-east-1")).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("out"), Key: aws.String("done/" + up.name)})
				if err != nil {
					return false
				}
				got.Body.Close()
				return true
			})
		}
		logs := workflowLogs(t, rs[i], id)
		if n := countType(logs, "ExecutionStarted"); n != i+1 {
			t.Fatalf("%d executions started after %d uploads", n, i+1)
		}
		waitFor(t, "the execution's end", func() bool { return countType(workflowLogs(t, a, id), "ExecutionCompleted") == i+1 })
	}
	select {
	case call := <-lam.notify:
		t.Fatalf("an extra invocation: %+v", call)
	default:
	}

	// A page token minted by one replica is honoured by the other.
	createWorkflow(t, ta, []tftypes.WorkflowStep{copyStep("c", "${original.file}", "out", "x/")}, nil)
	page, err := ta.ListWorkflows(ctx, &tf.ListWorkflowsInput{MaxResults: aws.Int32(1)})
	if err != nil || page.NextToken == nil {
		t.Fatalf("first page %+v %v", page, err)
	}
	rest, err := tb.ListWorkflows(ctx, &tf.ListWorkflowsInput{MaxResults: aws.Int32(1), NextToken: page.NextToken})
	if err != nil || len(rest.Workflows) != 1 || aws.ToString(rest.Workflows[0].WorkflowId) == aws.ToString(page.Workflows[0].WorkflowId) {
		t.Fatalf("second page through the other replica %+v %v", rest, err)
	}

	// A clientToken used on one replica replays on the other.
	ia, ibc := a.ib(opts("us-east-1")), b.ib(opts("us-east-1"))
	in := func() *ib.CreateWorkflowInput {
		return &ib.CreateWorkflowInput{Name: aws.String("idem"), SemanticVersion: aws.String("1.0.0"), Type: ibtypes.WorkflowTypeTest,
			Data: aws.String(approvalWorkflow), ClientToken: aws.String("same-token")}
	}
	w1, err := ia.CreateWorkflow(ctx, in())
	if err != nil {
		t.Fatal(err)
	}
	w2, err := ibc.CreateWorkflow(ctx, in())
	if err != nil || aws.ToString(w2.WorkflowBuildVersionArn) != aws.ToString(w1.WorkflowBuildVersionArn) || aws.ToString(w2.ClientToken) != "same-token" {
		t.Fatalf("replay through the other replica: %+v %v", w2, err)
	}

	// A build started on one replica waits at its gate, is resumed
	// through the other, and finishes; the event streams of both replicas
	// carry its events, whichever replica delivered them.
	streams := []<-chan events.Event{sseEvents(t, a), sseEvents(t, b)}
	pipe := gatedPipeline(t, ia, "replicated", 3600)
	img := startRun(t, ibc, pipe, nil)
	w := waitingStep(t, ia, img)
	if _, err := ibc.SendWorkflowStepAction(ctx, &ib.SendWorkflowStepActionInput{StepExecutionId: w.StepExecutionId, ImageBuildVersionArn: aws.String(img),
		Action: ibtypes.WorkflowStepActionTypeResume}); err != nil {
		t.Fatal(err)
	}
	waitImage(t, ia, img, ibtypes.ImageStatusAvailable)
	for i, stream := range streams {
		seen := map[string]int{}
		for deadline := time.After(10 * time.Second); seen["AVAILABLE"] == 0; {
			select {
			case ev := <-stream:
				if ev.DetailType == "EC2 Image Builder Image State Change" && slices.Contains(ev.Resources, img) {
					state, _ := ev.Detail["state"].(map[string]any)
					st, _ := state["status"].(string)
					if seen[st]++; seen[st] > 1 {
						t.Fatalf("replica %d streamed %s twice", i, st)
					}
				}
			case <-deadline:
				t.Fatalf("replica %d's stream: %v, no AVAILABLE", i, seen)
			}
		}
	}

	// Stopped through a, the server stops listening on b as well; started
	// through b, it listens on a again.
	if _, err := ta.StopServer(ctx, &tf.StopServerInput{ServerId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	waitState(t, tb, id, false)
	within(t, time.Second, "both replicas closed", func() bool { return !listening("127.0.0.2", id) && !listening("127.0.0.3", id) })
	if _, err := tb.StartServer(ctx, &tf.StartServerInput{ServerId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	waitState(t, ta, id, true)
	within(t, time.Second, "both replicas listening again", func() bool { return listening("127.0.0.2", id) && listening("127.0.0.3", id) })

	// Time moved through one replica moves on the other.
	if code, _ := postClock(t, a, `{"advance":"2h"}`); code != 200 {
		t.Fatalf("clock move: %d", code)
	}
	within(t, time.Second, "the other replica's clock", func() bool { return b.app.clock.Offset() >= 2*time.Hour })
}
