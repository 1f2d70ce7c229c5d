package app

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	tf "github.com/aws/aws-sdk-go-v2/service/transfer"
	tftypes "github.com/aws/aws-sdk-go-v2/service/transfer/types"
	"golang.org/x/crypto/ssh"

	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/transfer"
)

// benchApp is a file-backed Slipway whose execution rate limit is out of
// the way, with a bucket "drop".
func benchApp(b *testing.B, cfg Config) (*server, *tf.Client) {
	b.Helper()
	cfg.DataDir = b.TempDir()
	a := mustNew(b, cfg)
	a.tf.ExecutionBurst, a.tf.ExecutionRate = 1e9, 1e9
	s := startApp(b, a)
	createBucket(b, s.s3(opts("us-east-1")), "drop")
	return s, s.tf(opts("us-east-1"))
}

// copyTagWorkflow creates the benchmarks' workflow: COPY the upload to
// drop/copies/, then TAG it.
func copyTagWorkflow(b *testing.B, c *tf.Client) string {
	return createWorkflow(b, c, []tftypes.WorkflowStep{
		{Type: tftypes.WorkflowStepTypeCopy, CopyStepDetails: &tftypes.CopyStepDetails{Name: aws.String("copy"), OverwriteExisting: tftypes.OverwriteExistingTrue,
			DestinationFileLocation: s3Dest("drop", "copies/")}},
		tagStep("tag", "done", "yes"),
	}, nil)
}

// untilNoExecutions polls ListExecutions every interval until the
// workflow has none in progress.
func untilNoExecutions(b *testing.B, c *tf.Client, wf string, interval time.Duration) {
	for {
		out, err := c.ListExecutions(context.Background(), &tf.ListExecutionsInput{WorkflowId: aws.String(wf), MaxResults: aws.Int32(1)})
		if err != nil {
			b.Fatal(err)
		}
		if len(out.Executions) == 0 {
			return
		}
		time.Sleep(interval)
	}
}

// BenchmarkWorkflowUploads measures uploads per second whose COPY+TAG
// workflow starts and completes: four SFTP sessions upload b.N small files
// in all, and the clock stops when the last execution has ended.
func BenchmarkWorkflowUploads(b *testing.B) {
	s, c := benchApp(b, Config{})
	wf := copyTagWorkflow(b, c)
	id, key := sftpUser(b, c, &tf.CreateServerInput{WorkflowDetails: onUpload(wf)},
		&tf.CreateUserInput{UserName: aws.String("bencher"), HomeDirectory: aws.String("/drop/in")})
	const sessions = 4
	var clients []func(name string)
	for range sessions {
		cl, err := dialSFTP(b, id, "bencher", ssh.PublicKeys(key.signer))
		if err != nil {
			b.Fatal(err)
		}
		clients = append(clients, func(name string) {
			f, err := cl.Create(name)
			if err != nil {
				b.Error(err)
				return
			}
			f.Write([]byte("payload of " + name))
			if err := f.Close(); err != nil {
				b.Error(err)
			}
		})
	}
	b.ResetTimer()
	var wg sync.WaitGroup
	for i, put := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := i; n < b.N; n += sessions {
				put(fmt.Sprintf("/drop/in/f%07d", n))
			}
		}()
	}
	wg.Wait()
	untilNoExecutions(b, c, wf, 2*time.Millisecond)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "workflows/s")
	if b.N >= 10 {
		if n := countType(workflowLogs(b, s, id), "ExecutionCompleted"); n != b.N {
			b.Fatalf("%d of %d executions completed", n, b.N)
		}
	}
}

// BenchmarkCallbackLatency measures how long after SendWorkflowStepState
// the next step starts: a workflow of two CUSTOM steps, timed from the
// callback for the first to the second's Lambda invocation.
func BenchmarkCallbackLatency(b *testing.B) {
	lam := startLambda(b, 202)
	s, c := benchApp(b, Config{LambdaEndpoint: lam.URL})
	_ = s
	wf := createWorkflow(b, c, []tftypes.WorkflowStep{customStep("first", 600), customStep("second", 600)}, nil)
	id, key := sftpUser(b, c, &tf.CreateServerInput{WorkflowDetails: onUpload(wf)},
		&tf.CreateUserInput{UserName: aws.String("bencher"), HomeDirectory: aws.String("/drop/in")})
	cl, err := dialSFTP(b, id, "bencher", ssh.PublicKeys(key.signer))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		f, err := cl.Create(fmt.Sprintf("/drop/in/f%07d", i))
		if err != nil {
			b.Fatal(err)
		}
		f.Write([]byte("x"))
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		token, exec, _ := lam.next(b).ids()
		b.StartTimer()
		began := time.Now()
		if _, err := c.SendWorkflowStepState(ctx, &tf.SendWorkflowStepStateInput{WorkflowId: aws.String(wf), ExecutionId: aws.String(exec),
			Token: aws.String(token), Status: "SUCCESS"}); err != nil {
			b.Fatal(err)
		}
		next := lam.next(b)
		lat = append(lat, time.Since(began))
		b.StopTimer()
		token, exec, _ = next.ids()
		if _, err := c.SendWorkflowStepState(ctx, &tf.SendWorkflowStepStateInput{WorkflowId: aws.String(wf), ExecutionId: aws.String(exec),
			Token: aws.String(token), Status: "SUCCESS"}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkWaitingExecutions starts 10,000 executions (through the upload
// hook, without SFTP) that all wait at a CUSTOM step, and reports the heap
// and goroutines the process holds for them and the store bytes each
// takes: a waiting step is a row, not a goroutine.
func BenchmarkWaitingExecutions(b *testing.B) {
	const n = 10000
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		a := mustNew(b, Config{DataDir: dir})
		a.tf.ExecutionBurst, a.tf.ExecutionRate = 1e9, 1e9
		s := startApp(b, a)
		c := s.tf(opts("us-east-1"))
		wf := createWorkflow(b, c, []tftypes.WorkflowStep{customStep("hold", 1800)}, nil)
		srv := createServer(b, c, &tf.CreateServerInput{WorkflowDetails: onUpload(wf)})
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		goroutines := runtime.NumGoroutine()
		b.StartTimer()
		scope := store.Scope{Account: DefaultAccount, Region: "us-east-1"}
		for i := range n {
			err := a.tf.Uploaded(context.Background(), transfer.Upload{Scope: scope, ServerID: srv, UserName: "bencher", SessionID: "0123456789abcdef",
				File: transfer.File{Domain: transfer.DomainS3, Bucket: "drop", Key: fmt.Sprintf("in/f%05d", i), ETag: "d41d8cd98f00b204e9800998ecf8427e"}})
			if err != nil {
				b.Fatal(err)
			}
		}
		for {
			inv, err := a.tf.Invocations(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			if len(inv) == n {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/n, "heap-bytes/exec")
		b.ReportMetric(float64(runtime.NumGoroutine()-goroutines), "extra-goroutines")
		s.stop(b)
		var size int64
		filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() && filepath.Ext(p) != ".log" {
				size += fi.Size()
			}
			return nil
		})
		b.ReportMetric(float64(size)/n, "store-bytes/exec")
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "execs-started-and-waiting/s")
		b.StartTimer()
	}
}

// BenchmarkConcurrentExecutions starts N Transfer executions at once
// (through the upload hook, as a finished upload starts them, so the
// SFTP sessions' own latency is not what is measured), each a COPY and a
// TAG of its own uploaded object, and reports workflow steps per second
// until all have ended: the engine's rate for Transfer's handlers.
func BenchmarkConcurrentExecutions(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("executions=%d", n), func(b *testing.B) {
			s, c := benchApp(b, Config{})
			wf := copyTagWorkflow(b, c)
			srv := createServer(b, c, &tf.CreateServerInput{WorkflowDetails: onUpload(wf)})
			s3c := s.s3(opts("us-east-1"))
			scope := store.Scope{Account: DefaultAccount, Region: "us-east-1"}
			ctx := context.Background()
			steps, round := 0, 0
			var elapsed time.Duration
			for b.Loop() {
				b.StopTimer()
				uploads := make([]transfer.Upload, n)
				for i := range uploads {
					key := fmt.Sprintf("in/r%05d-f%05d", round, i)
					out, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("drop"), Key: aws.String(key), Body: strings.NewReader("payload of " + key)})
					if err != nil {
						b.Fatal(err)
					}
					uploads[i] = transfer.Upload{Scope: scope, ServerID: srv, UserName: "bencher", SessionID: "0123456789abcdef",
						File: transfer.File{Domain: transfer.DomainS3, Bucket: "drop", Key: key, ETag: strings.Trim(aws.ToString(out.ETag), `"`)}}
				}
				round++
				b.StartTimer()
				start := time.Now()
				errs := make([]error, n)
				var wg sync.WaitGroup
				for i, up := range uploads {
					wg.Go(func() { errs[i] = s.app.tf.Uploaded(ctx, up) })
				}
				wg.Wait()
				if err := errors.Join(errs...); err != nil {
					b.Fatal(err)
				}
				untilNoExecutions(b, c, wf, max(time.Millisecond, time.Duration(n)*20*time.Microsecond))
				elapsed += time.Since(start)
				steps += 2 * n
			}
			b.ReportMetric(float64(steps)/elapsed.Seconds(), "steps/s")
			logs := workflowLogs(b, s, srv)
			if got := countType(logs, "ExecutionCompleted"); got != round*n {
				b.Fatalf("%d of %d executions completed", got, round*n)
			}
			b.ReportMetric(float64(steps)/executionSpan(logs, n).Seconds(), "engine-steps/s")
		})
	}
}

// executionSpan sums, over rounds of n executions started together, the
// time from the first one's start to the last one's end as their logs
// record them (to the millisecond; over many rounds the truncations
// cancel out). It is the engine's own time: the upload hook's answer
// (which waits for its fsync) and the polling that sees the executions
// end are not in it.
func executionSpan(logs []logEntry, n int) time.Duration {
	type span struct{ start, end time.Time }
	byExec := map[string]*span{}
	for _, e := range logs {
		sp := byExec[e.ExecutionID]
		if sp == nil {
			sp = &span{}
			byExec[e.ExecutionID] = sp
		}
		switch e.Type {
		case "ExecutionStarted":
			sp.start = e.At
		case "ExecutionCompleted":
			sp.end = e.At
		}
	}
	spans := slices.SortedFunc(maps.Values(byExec), func(a, b *span) int { return a.start.Compare(b.start) })
	var total time.Duration
	for round := range slices.Chunk(spans, n) {
		first, last := round[0].start, round[0].end
		for _, sp := range round {
			if sp.end.After(last) {
				last = sp.end
			}
		}
		total += last.Sub(first)
	}
	return total
}
