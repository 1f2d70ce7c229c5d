package app

import (
	"bufio"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	ibtypes "github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"

	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/store/pgstore"
	"github.com/slipway-dev/slipway/internal/store/pgstore/pgtest"
	"github.com/slipway-dev/slipway/internal/store/sqlitestore"
)

type child struct {
	cmd *exec.Cmd
	url string
}

func spawnChild(t testing.TB, dir string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), "SLIPWAY_TEST_CHILD="+dir, "SLIPWAY_TEST_STEP_DELAY=40ms"), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("child did not start: %v", err)
	}
	c := &child{cmd: cmd, url: "http://" + strings.TrimSpace(strings.TrimPrefix(line, "addr="))}
	t.Cleanup(func() { c.kill() })
	return c
}

func (c *child) kill() {
	if c.cmd.ProcessState == nil {
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
		_ = c.cmd.Wait()
	}
}

func (c *child) client() *ib.Client {
	return ib.NewFromConfig(opts("us-east-1").config(), func(o *ib.Options) { o.BaseEndpoint = aws.String(c.url) })
}

// TestCrashRecovery kills the server with SIGKILL at random moments while
// dozens of builds run, restarts it on the same data directory each time,
// and checks that every build finishes exactly once with a consistent
// history: no step completed twice, none lost, and waiting steps still
// waiting with their original deadlines.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	t.Parallel()
	crashRecovery(t, "")
}

// TestCrashRecoveryPostgres is the same on PostgreSQL, where nothing is
// reclaimed on start: a killed process's items come back when their
// leases (2s here) end.
func TestCrashRecoveryPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	t.Parallel()
	crashRecovery(t, pgtest.URL(t))
}

// childEnv is what a child needs to use dbURL ("" means SQLite in dir).
func childEnv(dbURL string) []string {
	if dbURL == "" {
		return nil
	}
	return []string{"SLIPWAY_TEST_CHILD_DATABASE=" + dbURL, "SLIPWAY_TEST_ENGINE_LEASE=2s"}
}

// openChecked opens the store the children used, to read it directly.
func openChecked(t *testing.T, dir, dbURL string) store.Store {
	t.Helper()
	var st store.Store
	var err error
	if dbURL != "" {
		st, err = pgstore.Open(context.Background(), dbURL)
	} else {
		st, err = sqlitestore.Open(context.Background(), dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func crashRecovery(t *testing.T, dbURL string) {
	dir := t.TempDir()
	ctx := context.Background()
	// Slow enough steps that builds are still running after the last kill
	// even without the race detector's slowdown.
	env := append(childEnv(dbURL), "SLIPWAY_TEST_STEP_DELAY=100ms")
	ch := spawnChild(t, dir, env...)
	c := ch.client()
	pipe, err := c.CreateImagePipeline(ctx, catalog(t, c, "crash"))
	if err != nil {
		t.Fatal(err)
	}
	gated := gatedPipeline(t, c, "crash-gated", 3600)
	const builds, waiting = 24, 4
	var images, gatedImages []string
	for i := 0; i < builds; i++ {
		images = append(images, startRun(t, c, aws.ToString(pipe.ImagePipelineArn), nil))
	}
	for i := 0; i < waiting; i++ {
		gatedImages = append(gatedImages, startRun(t, c, gated, nil))
	}
	deadlines := map[string]string{}
	for _, img := range gatedImages {
		w := waitingStep(t, c, img)
		deadlines[img] = aws.ToString(w.StepExecutionId) + "@" + aws.ToString(w.StartTime)
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for kill := 0; kill < 5; kill++ {
		time.Sleep(time.Duration(20+rng.IntN(250)) * time.Millisecond)
		ch.kill()
		ch = spawnChild(t, dir, env...)
		c = ch.client()
	}

	running := 0
	for _, img := range images {
		out, err := c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: aws.String(img)})
		if err != nil {
			t.Fatal(err)
		}
		if out.Image.State.Status != ibtypes.ImageStatusAvailable {
			running++
		}
	}
	if running == 0 {
		t.Fatal("the kills interrupted no build; the test proves nothing")
	}
	t.Logf("%d of %d builds were still running after the last crash", running, builds)
	for _, img := range images {
		waitImage(t, c, img, ibtypes.ImageStatusAvailable)
	}
	for _, img := range gatedImages {
		w := waitingStep(t, c, img)
		if got := aws.ToString(w.StepExecutionId) + "@" + aws.ToString(w.StartTime); got != deadlines[img] {
			t.Fatalf("waiting step of %s changed across crashes: %s, was %s", img, got, deadlines[img])
		}
		st, err := c.GetWorkflowStepExecution(ctx, &ib.GetWorkflowStepExecutionInput{StepExecutionId: w.StepExecutionId})
		if err != nil || st.Status != ibtypes.WorkflowStepExecutionStatusRunning || aws.ToInt32(st.TimeoutSeconds) != 3600 {
			t.Fatalf("waiting step after crashes: %v %+v", err, st)
		}
		if _, err := c.SendWorkflowStepAction(ctx, &ib.SendWorkflowStepActionInput{StepExecutionId: w.StepExecutionId, ImageBuildVersionArn: aws.String(img), Action: ibtypes.WorkflowStepActionTypeResume}); err != nil {
			t.Fatal(err)
		}
	}
	for _, img := range gatedImages {
		waitImage(t, c, img, ibtypes.ImageStatusAvailable)
	}

	// Every build ran each stage exactly once, every step to one end.
	var execIDs []string
	for _, img := range append(images, gatedImages...) {
		execs, err := c.ListWorkflowExecutions(ctx, &ib.ListWorkflowExecutionsInput{ImageBuildVersionArn: aws.String(img)})
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, ex := range execs.WorkflowExecutions {
			kinds = append(kinds, string(ex.Type))
			if ex.Status != ibtypes.WorkflowExecutionStatusCompleted || ex.TotalStepsSucceeded+ex.TotalStepsSkipped != ex.TotalStepCount || ex.TotalStepsFailed != 0 {
				t.Fatalf("execution of %s: %+v", img, ex)
			}
			execIDs = append(execIDs, aws.ToString(ex.WorkflowExecutionId))
		}
		want := "BUILD,TEST,DISTRIBUTION"
		if strings.Contains(img, "crash-gated") {
			want = "BUILD,DISTRIBUTION"
		}
		if strings.Join(kinds, ",") != want {
			t.Fatalf("%s ran %v, want %s", img, kinds, want)
		}
	}
	ch.kill()

	checkStepsCompletedOnce(t, openChecked(t, dir, dbURL), execIDs, builds*12)
}

// checkStepsCompletedOnce reads the step executions of execIDs from the
// store: each ended COMPLETED or SKIPPED after exactly one completion, and
// there are at least min of them.
func checkStepsCompletedOnce(t *testing.T, st store.Store, execIDs []string, min int) {
	t.Helper()
	scope := store.Scope{Account: "000000000000", Region: "us-east-1"}
	steps := 0
	err := st.View(context.Background(), func(tx store.Tx) error {
		steps = 0
		for _, id := range execIDs {
			recs, err := tx.List(store.ListQuery{Scope: scope, Kind: kindStepExecForTest, Parent: id, Limit: 100})
			if err != nil {
				return err
			}
			for _, r := range recs {
				var s struct {
					Name        string `json:"name"`
					Status      string `json:"status"`
					Completions int    `json:"completions"`
				}
				if err := json.Unmarshal(r.Body, &s); err != nil {
					return err
				}
				steps++
				if s.Completions != 1 || (s.Status != "COMPLETED" && s.Status != "SKIPPED") {
					t.Errorf("step %s of %s: status %s, completed %d times", s.Name, id, s.Status, s.Completions)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if steps < min {
		t.Fatalf("only %d steps recorded", steps)
	}
}

const kindStepExecForTest = "imagebuilder.step-execution"
