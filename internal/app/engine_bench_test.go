package app

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	ibtypes "github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"

	"github.com/slipway-dev/slipway/internal/store/pgstore/pgtest"
)

// benchServer starts Slipway on a file store (the durable configuration).
func benchServer(b *testing.B) *ib.Client {
	b.Helper()
	a, err := New(context.Background(), Config{DataDir: b.TempDir()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	s := startApp(b, a)
	return s.ib(opts("us-east-1"))
}

// BenchmarkBuildThroughput runs whole builds (default workflows: 13 steps
// over three stages plus integration) back to back and reports steps/s.
func BenchmarkBuildThroughput(b *testing.B) {
	c := benchServer(b)
	ctx := context.Background()
	pipe, err := c.CreateImagePipeline(ctx, catalog(b, c, "bench"))
	if err != nil {
		b.Fatal(err)
	}
	steps := 0
	start := time.Now()
	for b.Loop() {
		run, err := c.StartImagePipelineExecution(ctx, &ib.StartImagePipelineExecutionInput{ImagePipelineArn: pipe.ImagePipelineArn})
		if err != nil {
			b.Fatal(err)
		}
		for {
			out, err := c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: run.ImageBuildVersionArn})
			if err != nil {
				b.Fatal(err)
			}
			if out.Image.State.Status == ibtypes.ImageStatusAvailable {
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
		steps += 13
	}
	b.ReportMetric(float64(steps)/time.Since(start).Seconds(), "steps/s")
}

// BenchmarkResumeToNextStep measures SendWorkflowStepAction until the step
// after the WaitForAction has finished.
func BenchmarkResumeToNextStep(b *testing.B) {
	c := benchServer(b)
	ctx := context.Background()
	pipe := gatedPipeline(b, c, "resume", 3600)
	for b.Loop() {
		b.StopTimer()
		image := startRun(b, c, pipe, nil)
		w := waitingStep(b, c, image)
		execs, _ := c.ListWorkflowExecutions(ctx, &ib.ListWorkflowExecutionsInput{ImageBuildVersionArn: aws.String(image)})
		b.StartTimer()
		if _, err := c.SendWorkflowStepAction(ctx, &ib.SendWorkflowStepActionInput{StepExecutionId: w.StepExecutionId, ImageBuildVersionArn: aws.String(image), Action: ibtypes.WorkflowStepActionTypeResume}); err != nil {
			b.Fatal(err)
		}
		for {
			out, err := c.ListWorkflowStepExecutions(ctx, &ib.ListWorkflowStepExecutionsInput{WorkflowExecutionId: execs.WorkflowExecutions[0].WorkflowExecutionId})
			if err != nil {
				b.Fatal(err)
			}
			if out.Steps[2].Status == ibtypes.WorkflowStepExecutionStatusCompleted {
				break
			}
		}
	}
}

// BenchmarkPausedBuilds starts builds that all stop at a WaitForAction and
// reports what a paused build costs: goroutines (none) and heap per build.
func BenchmarkPausedBuilds(b *testing.B) {
	const builds = 1000
	c := benchServer(b)
	pipe := gatedPipeline(b, c, "paused", 86400)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()
	total := 0
	for b.Loop() {
		var last string
		for i := 0; i < builds; i++ {
			last = startRun(b, c, pipe, nil)
		}
		waitingStep(b, c, last)
		total += builds
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/float64(total), "heap-B/paused-build")
	b.ReportMetric(float64(runtime.NumGoroutine()-goroutines), "extra-goroutines")
}

// BenchmarkConcurrentBuilds starts N builds at once (the default workflows:
// 13 steps each) and waits for all of them; steps/s counts steps of every
// build.
func BenchmarkConcurrentBuilds(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("builds=%d", n), func(b *testing.B) {
			concurrentBuilds(b, []*ib.Client{benchServer(b)}, n)
		})
	}
}

// BenchmarkReplicatedBuilds runs 100 concurrent builds on SQLite and on
// PostgreSQL with one and with three replicas (in this process, sharing
// its two cores), the builds started round-robin over the replicas.
func BenchmarkReplicatedBuilds(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { concurrentBuilds(b, []*ib.Client{benchServer(b)}, 100) })
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("postgres/replicas=%d", n), func(b *testing.B) {
			url, dir := pgtest.URL(b), b.TempDir()
			var clients []*ib.Client
			for i := 0; i < n; i++ {
				a, err := New(context.Background(), Config{DatabaseURL: url, DataDir: dir, SFTPBind: "127.0.0." + strconv.Itoa(i+2)}, nil)
				if err != nil {
					b.Fatal(err)
				}
				clients = append(clients, startApp(b, a).ib(opts("us-east-1")))
			}
			concurrentBuilds(b, clients, 100)
		})
	}
}

// concurrentBuilds starts n builds at once, round-robin over clients, and
// reports steps/s until all are AVAILABLE.
func concurrentBuilds(b *testing.B, clients []*ib.Client, n int) {
	ctx := context.Background()
	pipe, err := clients[0].CreateImagePipeline(ctx, catalog(b, clients[0], "bench"))
	if err != nil {
		b.Fatal(err)
	}
	steps := 0
	var rounds [][]string
	start := time.Now()
	// Polling must not be the load, nor its interval the measure: about a
	// tenth of a millisecond per build (one build's 13 steps take 4-8 ms).
	poll := max(time.Millisecond, time.Duration(n)*100*time.Microsecond)
	for b.Loop() {
		// Started together, as concurrent builds are: started one by one,
		// the first builds ran alone while the last were being started.
		images, errs := make([]string, n), make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				run, err := clients[i%len(clients)].StartImagePipelineExecution(ctx, &ib.StartImagePipelineExecutionInput{ImagePipelineArn: pipe.ImagePipelineArn})
				if err == nil {
					images[i] = aws.ToString(run.ImageBuildVersionArn)
				}
				errs[i] = err
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			b.Fatal(err)
		}
		for _, img := range images {
			for {
				out, err := clients[0].GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: aws.String(img)})
				if err != nil {
					b.Fatal(err)
				}
				if out.Image.State.Status == ibtypes.ImageStatusAvailable {
					break
				}
				time.Sleep(poll)
			}
		}
		steps += 13 * n
		rounds = append(rounds, images)
	}
	b.ReportMetric(float64(steps)/time.Since(start).Seconds(), "steps/s")
	b.ReportMetric(float64(steps)/engineSpan(b, clients[0], rounds).Seconds(), "engine-steps/s")
}

// engineSpan sums, over rounds of builds started together, the time from
// the first workflow's start to the last one's end, as the builds record
// them (to the millisecond). It is the engine's own time for the steps:
// the start request's answer (which waits for its fsync) and the polling
// that sees the build finish are not in it.
func engineSpan(b *testing.B, c *ib.Client, rounds [][]string) time.Duration {
	var total time.Duration
	for _, images := range rounds {
		var first, last time.Time
		for _, img := range images {
			out, err := c.ListWorkflowExecutions(context.Background(), &ib.ListWorkflowExecutionsInput{ImageBuildVersionArn: aws.String(img)})
			if err != nil {
				b.Fatal(err)
			}
			if len(out.WorkflowExecutions) == 0 {
				b.Fatalf("%s ran no workflows", img)
			}
			for _, w := range out.WorkflowExecutions {
				s, err1 := time.Parse(time.RFC3339, aws.ToString(w.StartTime))
				e, err2 := time.Parse(time.RFC3339, aws.ToString(w.EndTime))
				if err := errors.Join(err1, err2); err != nil {
					b.Fatal(err)
				}
				if first.IsZero() || s.Before(first) {
					first = s
				}
				if e.After(last) {
					last = e
				}
			}
		}
		total += last.Sub(first)
	}
	return total
}
