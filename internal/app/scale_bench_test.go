package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"

	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/store/sqlitestore"
)

const seedTemplate = "tpl0000000" // the name cloned; clones have names of its length

// seededDir returns a data directory holding n workflows (each a version
// and a build record, cloned straight into the store from one made through
// the API) and builds paused at a WaitForAction gate (made through the API
// and the engine).
func seededDir(b *testing.B, n, paused int) string {
	b.Helper()
	dir := b.TempDir()
	began := time.Now()
	a, err := New(context.Background(), Config{DataDir: dir}, nil)
	if err != nil {
		b.Fatal(err)
	}
	s := startApp(b, a)
	c := s.ib(opts("us-east-1"))
	createWF(b, c, seedTemplate, "1.0.0", approvalWorkflow)
	if paused > 0 {
		pipe := gatedPipeline(b, c, "paused", 86400)
		var last string
		for i := 0; i < paused; i++ {
			last = startRun(b, c, pipe, nil)
		}
		waitingStep(b, c, last)
	}
	s.stop(b)
	cloneWorkflows(b, dir, n-1)
	b.Logf("seeded %d workflows and %d paused builds in %v", n, paused, time.Since(began).Round(time.Second))
	return dir
}

// cloneWorkflows copies the template workflow's records n times under new
// names, in transactions of 20,000 records.
func cloneWorkflows(b *testing.B, dir string, n int) {
	b.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	scope := store.Scope{Account: "000000000000", Region: "us-east-1"}
	version := "arn:aws:imagebuilder:us-east-1:000000000000:workflow/build/" + seedTemplate + "/1.0.0"
	var tpl []*store.Record
	err = st.View(ctx, func(tx store.Tx) error {
		v, err := tx.Get(scope, "imagebuilder.workflow-version", version)
		if err != nil {
			return err
		}
		w, err := tx.Get(scope, "imagebuilder.workflow", version+"/1")
		tpl = []*store.Record{v, w}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	clone := func(r *store.Record, name string) *store.Record {
		c := *r
		c.ID = strings.ReplaceAll(r.ID, seedTemplate, name)
		c.Parent = strings.ReplaceAll(r.Parent, seedTemplate, name)
		c.SortKey = strings.ReplaceAll(r.SortKey, seedTemplate, name)
		c.Body = []byte(strings.ReplaceAll(string(r.Body), seedTemplate, name))
		return &c
	}
	for i := 0; i < n; {
		err := st.Update(ctx, func(tx store.Tx) error {
			for j := 0; j < 10000 && i+j < n; j++ {
				name := fmt.Sprintf("w%09d", i+j)
				for _, r := range tpl {
					if err := tx.Insert(clone(r, name)); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		i += 10000
	}
}

// BenchmarkScaleFlat reads one workflow and lists a page of 25 with 100
// and with 1,000,000 workflows stored: the costs should be the same.
func BenchmarkScaleFlat(b *testing.B) {
	for _, n := range []int{100, 1_000_000} {
		b.Run(fmt.Sprintf("workflows=%d", n), func(b *testing.B) {
			dir := seededDir(b, n, 0)
			a, err := New(context.Background(), Config{DataDir: dir}, nil)
			if err != nil {
				b.Fatal(err)
			}
			c := startApp(b, a).ib(opts("us-east-1"))
			ctx := context.Background()
			arn := "arn:aws:imagebuilder:us-east-1:000000000000:workflow/build/" + fmt.Sprintf("w%09d", n/2) + "/1.0.0/1"
			b.Run("GetWorkflow", func(b *testing.B) {
				for b.Loop() {
					if _, err := c.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: aws.String(arn)}); err != nil {
						b.Fatal(err)
					}
				}
			})
			// The same four pages over and over at both sizes (the first
			// 100 workflows), so both compare the same access pattern;
			// on the large store also pages never read before, which
			// the caches cannot answer (docs/benchmarks.md).
			list := func(pages int) func(b *testing.B) {
				return func(b *testing.B) {
					var token *string
					read := 0
					for b.Loop() {
						out, err := c.ListWorkflows(ctx, &ib.ListWorkflowsInput{MaxResults: aws.Int32(25), NextToken: token})
						if err != nil || len(out.WorkflowVersionList) != 25 {
							b.Fatalf("%d %v", len(out.WorkflowVersionList), err)
						}
						if read++; out.NextToken == nil || (pages > 0 && read%pages == 0) {
							token = nil
						} else {
							token = out.NextToken
						}
					}
				}
			}
			b.Run("ListWorkflows", list(4))
			if n >= 1000 {
				b.Run("ListWorkflowsOnward", list(0))
			}
		})
	}
}

// BenchmarkStartup measures New to the first answered request on a store
// holding 1,000,000 workflows and 10,000 builds paused at a gate.
func BenchmarkStartup(b *testing.B) {
	dir := seededDir(b, 1_000_000, 10_000)
	for b.Loop() {
		began := time.Now()
		a, err := New(context.Background(), Config{DataDir: dir}, nil)
		if err != nil {
			b.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go func() { _ = a.Serve(ln) }()
		resp, err := http.Get("http://" + ln.Addr().String() + "/_slipway/health")
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("health: %v", err)
		}
		resp.Body.Close()
		b.ReportMetric(float64(time.Since(began).Microseconds())/1000, "ms-to-first-answer")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := a.Shutdown(ctx); err != nil {
			b.Fatal(err)
		}
		cancel()
	}
}

// BenchmarkPausedBuildsRSS starts builds that all wait at a WaitForAction
// gate in a separate server process (SLIPWAY_BENCH_PAUSED of them, 10,000
// by default), then restarts that process on the same data directory,
// answers a few reads, and reports its resident memory: paused builds are
// rows, so it should not grow with their number.
func BenchmarkPausedBuildsRSS(b *testing.B) {
	paused := 10_000
	if v, err := strconv.Atoi(os.Getenv("SLIPWAY_BENCH_PAUSED")); err == nil && v > 0 {
		paused = v
	}
	for b.Loop() {
		dir := b.TempDir()
		ch := spawnChild(b, dir, "SLIPWAY_TEST_STEP_DELAY=0s")
		c := ch.client()
		pipe := gatedPipeline(b, c, "paused", 86400)
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < paused; i += 8 {
					startRun(b, c, pipe, nil)
				}
			}()
		}
		wg.Wait()
		for deadline := time.Now().Add(time.Hour); gatesWaiting(b, ch.url) < paused; time.Sleep(time.Second) {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d builds at their gate", gatesWaiting(b, ch.url), paused)
			}
		}
		ch.kill()
		ch = spawnChild(b, dir, "SLIPWAY_TEST_STEP_DELAY=0s")
		c = ch.client()
		out, err := c.ListWaitingWorkflowSteps(context.Background(), &ib.ListWaitingWorkflowStepsInput{})
		if err != nil || len(out.Steps) == 0 {
			b.Fatalf("waiting steps after restart: %v", err)
		}
		if _, err := c.GetImage(context.Background(), &ib.GetImageInput{ImageBuildVersionArn: out.Steps[0].ImageBuildVersionArn}); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(childRSS(b, ch))/(1<<20), "MiB-RSS")
		b.ReportMetric(float64(paused), "paused-builds")
		ch.kill()
	}
}

// gatesWaiting reads the slipway_workflow_gates_waiting gauge.
func gatesWaiting(b *testing.B, url string) int {
	b.Helper()
	resp, err := http.Get(url + "/_slipway/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "slipway_workflow_gates_waiting "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return int(f)
		}
	}
	return 0
}

// childRSS reads a child's resident set size from /proc.
func childRSS(b *testing.B, ch *child) int64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", ch.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
