package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	ibtypes "github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	tf "github.com/aws/aws-sdk-go-v2/service/transfer"
	tftypes "github.com/aws/aws-sdk-go-v2/service/transfer/types"
	"github.com/aws/smithy-go"

	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/store/pgstore/pgtest"
	"github.com/slipway-dev/slipway/internal/transfer"
)

// cluster is n Slipway processes on one PostgreSQL database and one shared
// data directory; replica i serves SFTP on 127.0.0.(i+2).
type cluster struct {
	url, dir string
	mu       sync.Mutex
	nodes    []*child
	dead     []bool
}

func startCluster(t *testing.T, n int, env ...string) *cluster {
	t.Helper()
	cl := &cluster{url: pgtest.URL(t), dir: t.TempDir(), dead: make([]bool, n)}
	for i := 0; i < n; i++ {
		e := append(childEnv(cl.url), "SLIPWAY_TEST_STEP_DELAY=10ms", "SLIPWAY_TEST_SFTP_BIND="+sftpHost(i))
		cl.nodes = append(cl.nodes, spawnChild(t, cl.dir, append(e, env...)...))
	}
	return cl
}

func sftpHost(i int) string { return "127.0.0." + strconv.Itoa(i+2) }

// kill SIGKILLs replica i; it is not restarted.
func (cl *cluster) kill(i int) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.nodes[i].kill()
	cl.dead[i] = true
}

// pick returns a live replica, the k-th in turn, other than avoid when
// another is alive.
func (cl *cluster) pick(k, avoid int) int {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	var live []int
	for i, d := range cl.dead {
		if !d && i != avoid {
			live = append(live, i)
		}
	}
	if len(live) == 0 {
		return avoid
	}
	return live[k%len(live)]
}

// TestReplicasCrashBuilds spreads 200 builds with WaitForAction gates over
// three replicas round-robin, SIGKILLs one while the builds run, resumes
// every gate through a replica other than the one that started its build,
// and kills a second replica halfway through the resumes. Every build
// finishes once, with one execution per stage and no step completed twice.
func TestReplicasCrashBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	t.Parallel()
	cl := startCluster(t, 3)
	ctx := context.Background()
	gated := gatedPipeline(t, cl.nodes[0].client(), "replicated", 3600)
	const builds = 200
	images := make([]string, builds)
	origin := map[string]int{}
	for i := range images {
		images[i] = startRun(t, cl.nodes[i%3].client(), gated, nil)
		origin[images[i]] = i % 3
	}
	inProgress := func(c *ib.Client) int {
		n := 0
		for _, img := range images {
			out, err := c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: aws.String(img)})
			if err != nil {
				t.Fatal(err)
			}
			if out.Image.State.Status != ibtypes.ImageStatusAvailable {
				n++
			}
		}
		return n
	}
	cl.kill(0)
	t.Logf("replica 0 killed with %d of %d builds in progress", inProgress(cl.nodes[1].client()), builds)

	resumed := map[string]bool{}
	killedSecond := false
	for deadline := time.Now().Add(3 * time.Minute); len(resumed) < builds; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d gates reached", len(resumed), builds)
		}
		if !killedSecond && len(resumed) >= builds/2 {
			cl.kill(1)
			killedSecond = true
			t.Logf("replica 1 killed after %d resumes", len(resumed))
		}
		p := ib.NewListWaitingWorkflowStepsPaginator(cl.nodes[cl.pick(len(resumed), -1)].client(), &ib.ListWaitingWorkflowStepsInput{})
		var waiting []ibtypes.WorkflowStepExecution
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			waiting = append(waiting, out.Steps...)
		}
		for k, w := range waiting {
			img := aws.ToString(w.ImageBuildVersionArn)
			if resumed[img] {
				t.Fatalf("gate of %s waiting again after its resume", img)
			}
			if !killedSecond && len(resumed) >= builds/2 {
				break
			}
			c := cl.nodes[cl.pick(k, origin[img])].client()
			if _, err := c.SendWorkflowStepAction(ctx, &ib.SendWorkflowStepActionInput{StepExecutionId: w.StepExecutionId,
				ImageBuildVersionArn: aws.String(img), Action: ibtypes.WorkflowStepActionTypeResume}); err != nil {
				t.Fatal(err)
			}
			resumed[img] = true
		}
	}

	last := cl.nodes[2].client()
	var execIDs []string
	for _, img := range images {
		waitImage(t, last, img, ibtypes.ImageStatusAvailable)
		execs, err := last.ListWorkflowExecutions(ctx, &ib.ListWorkflowExecutionsInput{ImageBuildVersionArn: aws.String(img)})
		if err != nil {
			t.Fatal(err)
		}
		var kinds string
		for _, ex := range execs.WorkflowExecutions {
			kinds += string(ex.Type) + ","
			if ex.Status != ibtypes.WorkflowExecutionStatusCompleted || ex.TotalStepsSucceeded+ex.TotalStepsSkipped != ex.TotalStepCount || ex.TotalStepsFailed != 0 {
				t.Fatalf("execution of %s: %+v", img, ex)
			}
			execIDs = append(execIDs, aws.ToString(ex.WorkflowExecutionId))
		}
		if kinds != "BUILD,DISTRIBUTION," {
			t.Fatalf("%s ran %s", img, kinds)
		}
	}
	checkStepsCompletedOnce(t, openChecked(t, cl.dir, cl.url), execIDs, builds*6)
}

// TestReplicasCrashTransfer uploads 50 files to the three replicas' SFTP
// endpoints in turn; each execution waits at a CUSTOM step whose callback
// goes through another replica. One replica is killed after the uploads,
// with executions in its hands. Every execution starts, completes each
// step and ends exactly once; each file is copied and tagged once.
func TestReplicasCrashTransfer(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	t.Parallel()
	lam := startLambda(t, 202)
	cl := startCluster(t, 3, "SLIPWAY_TEST_LAMBDA="+lam.URL)
	ctx := context.Background()
	c0 := cl.nodes[0].tf()
	createBucket(t, cl.nodes[0].s3(), "drop")
	createBucket(t, cl.nodes[0].s3(), "kept")
	wf := createWorkflow(t, c0, []tftypes.WorkflowStep{
		customStep("gate", 600),
		copyStep("keep", "${previous.file}", "kept", "${transfer:UserName}/"),
		tagStep("mark", "done", "yes"),
	}, nil)
	id, key := sftpUser(t, c0, &tf.CreateServerInput{WorkflowDetails: onUpload(wf)},
		&tf.CreateUserInput{UserName: aws.String("grace"), HomeDirectory: aws.String("/drop")})
	within(t, time.Second, "all replicas listening", func() bool {
		return listening(sftpHost(0), id) && listening(sftpHost(1), id) && listening(sftpHost(2), id)
	})

	// The Lambda side answers every invocation through a live replica, the
	// next one in turn; a re-sent invocation's answer may find its token used.
	var answered atomic.Int32
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 0; ; k++ {
			var call lambdaCall
			select {
			case call = <-lam.notify:
			case <-stop:
				return
			}
			token, exec, _ := call.ids()
			for try := 0; try < 100; try++ {
				_, err := cl.nodes[cl.pick(k+try, -1)].tf().SendWorkflowStepState(ctx, &tf.SendWorkflowStepStateInput{WorkflowId: aws.String(wf),
					ExecutionId: aws.String(exec), Token: aws.String(token), Status: "SUCCESS"})
				var ae smithy.APIError
				if err == nil || (errors.As(err, &ae) && (ae.ErrorCode() == "InvalidRequestException" || ae.ErrorCode() == "ResourceNotFoundException")) {
					answered.Add(1)
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()

	const uploads = 50
	for i := 0; i < uploads; i++ {
		name := fmt.Sprintf("/drop/f%02d.txt", i)
		if err := uploadAt(sftpHost(i%3), id, key, name, "content of "+name); err != nil {
			t.Fatal(err)
		}
	}
	cl.kill(0)
	last := cl.nodes[2]
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out, err := last.tf().ListExecutions(ctx, &tf.ListExecutionsInput{WorkflowId: aws.String(wf)})
		if err == nil && len(out.Executions) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("executions still running: %d %v", len(out.Executions), err)
		}
	}
	close(stop)
	wg.Wait()

	perExec := executionLogCounts(t, openChecked(t, cl.dir, cl.url), id)
	if len(perExec) != uploads {
		t.Fatalf("%d executions for %d uploads", len(perExec), uploads)
	}
	for exec, n := range perExec {
		if n != (logCount{started: 1, stepStarted: 3, stepCompleted: 3, completed: 1}) {
			t.Errorf("execution %s: %+v", exec, n)
		}
	}
	s3c := last.s3()
	list, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("kept")})
	if err != nil || len(list.Contents) != uploads {
		t.Fatalf("kept holds %d objects (%v), want %d", len(list.Contents), err, uploads)
	}
	for _, o := range list.Contents {
		if tags := objectTags(t, s3c, "kept", aws.ToString(o.Key)); len(tags) != 1 || tags["done"] != "yes" {
			t.Fatalf("%s: tags %v", aws.ToString(o.Key), tags)
		}
	}
	t.Logf("%d executions, %d invocations answered", len(perExec), answered.Load())
}

// logCount counts one execution's log entries by type.
type logCount struct{ started, stepStarted, stepCompleted, completed, errored int }

// executionLogCounts reads a server's workflow logs from the store.
func executionLogCounts(t *testing.T, st store.Store, serverID string) map[string]logCount {
	t.Helper()
	out := map[string]logCount{}
	scope := store.Scope{Account: "000000000000", Region: "us-east-1"}
	err := st.View(context.Background(), func(tx store.Tx) error {
		clear(out)
		recs, err := tx.List(store.ListQuery{Scope: scope, Kind: "transfer.log", Parent: transfer.LogGroup(serverID), Limit: 100000})
		if err != nil {
			return err
		}
		for _, r := range recs {
			var ev transfer.LogEvent
			var e logEntry
			if err := json.Unmarshal(r.Body, &ev); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(ev.Message), &e); err != nil {
				return err
			}
			n := out[e.ExecutionID]
			switch e.Type {
			case "ExecutionStarted":
				n.started++
			case "StepStarted":
				n.stepStarted++
			case "StepCompleted":
				n.stepCompleted++
			case "ExecutionCompleted":
				n.completed++
			default:
				n.errored++
			}
			out[e.ExecutionID] = n
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
