package app

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	tf "github.com/aws/aws-sdk-go-v2/service/transfer"
	tftypes "github.com/aws/aws-sdk-go-v2/service/transfer/types"
	"github.com/aws/smithy-go"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/slipway-dev/slipway/internal/transfer"
)

func (c *child) tf() *tf.Client {
	return tf.NewFromConfig(opts("us-east-1").config(), func(o *tf.Options) { o.BaseEndpoint = aws.String(c.url) })
}

func (c *child) s3() *s3.Client {
	return s3.NewFromConfig(opts("us-east-1").config(), func(o *s3.Options) {
		o.BaseEndpoint = aws.String(c.url)
		o.UsePathStyle = true
	})
}

// TestTransferCrashRecovery uploads 50 files whose workflow waits at a
// CUSTOM step, answers each invocation through the SDK, and SIGKILLs and
// restarts the server at random moments meanwhile. Every execution ends
// exactly once, every step completes once, each file is copied and tagged
// once, and a re-sent invocation carries its step's original token.
func TestTransferCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	lam := startLambda(t, 202)
	env := "SLIPWAY_TEST_LAMBDA=" + lam.URL
	var cur atomic.Pointer[child]
	cur.Store(spawnChild(t, dir, env))
	c := cur.Load().tf()
	createBucket(t, cur.Load().s3(), "drop")
	createBucket(t, cur.Load().s3(), "kept")
	wf := createWorkflow(t, c, []tftypes.WorkflowStep{
		customStep("gate", 600),
		{Type: tftypes.WorkflowStepTypeCopy, CopyStepDetails: &tftypes.CopyStepDetails{Name: aws.String("keep"), OverwriteExisting: tftypes.OverwriteExistingTrue,
			DestinationFileLocation: s3Dest("kept", "${transfer:UserName}/")}},
		tagStep("mark", "done", "yes"),
	}, nil)
	id, key := sftpUser(t, c, &tf.CreateServerInput{WorkflowDetails: onUpload(wf)},
		&tf.CreateUserInput{UserName: aws.String("grace"), HomeDirectory: aws.String("/drop")})

	// The Lambda side: answer every invocation with SUCCESS, through
	// whichever server is up, and remember the tokens each execution got.
	var interrupted atomic.Int32 // calls a crash cut off
	var mu sync.Mutex
	tokens := map[string]map[string]bool{}
	invoked := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			var call lambdaCall
			select {
			case call = <-lam.notify:
			case <-stop:
				return
			}
			token, exec, _ := call.ids()
			time.Sleep(time.Duration(20+rand.IntN(60)) * time.Millisecond) // the function's work
			mu.Lock()
			if tokens[exec] == nil {
				tokens[exec] = map[string]bool{}
			}
			tokens[exec][token] = true
			invoked++
			mu.Unlock()
			for try := 0; try < 200; try++ {
				_, err := cur.Load().tf().SendWorkflowStepState(ctx, &tf.SendWorkflowStepStateInput{WorkflowId: aws.String(wf),
					ExecutionId: aws.String(exec), Token: aws.String(token), Status: "SUCCESS"})
				var ae smithy.APIError
				if err == nil || (errors.As(err, &ae) && (ae.ErrorCode() == "InvalidRequestException" || ae.ErrorCode() == "ResourceNotFoundException")) {
					break // answered (now, or before a crash)
				}
				interrupted.Add(1)
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()

	// The SFTP side: 50 uploads, each retried on a new connection until
	// its CLOSE is acknowledged.
	const uploads = 50
	var acked atomic.Int32
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < uploads; i++ {
			name := fmt.Sprintf("/drop/f%02d.txt", i)
			for try := 0; ; try++ {
				if try == 400 {
					t.Errorf("upload %s never succeeded", name)
					return
				}
				if err := uploadOnce(t, id, key, name, "content of "+name); err == nil {
					acked.Add(1)
					time.Sleep(20 * time.Millisecond)
					break
				}
				interrupted.Add(1)
				time.Sleep(25 * time.Millisecond)
			}
		}
	}()

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	for kill := 0; kill < 8; kill++ {
		time.Sleep(time.Duration(80+rng.IntN(250)) * time.Millisecond)
		cur.Load().kill()
		cur.Store(spawnChild(t, dir, env))
	}
	t.Logf("%d of %d uploads acknowledged when the last restart began", acked.Load(), uploads)

	s3c := cur.Load().s3()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out, err := cur.Load().tf().ListExecutions(ctx, &tf.ListExecutionsInput{WorkflowId: aws.String(wf)})
		if err == nil && len(out.Executions) == 0 && acked.Load() == uploads {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("executions still running: %v %v", out, err)
		}
	}
	close(stop)
	wg.Wait()

	// Each file copied once, with exactly the workflow's tag.
	list, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("kept")})
	if err != nil || len(list.Contents) != uploads {
		t.Fatalf("kept holds %d objects (%v), want %d", len(list.Contents), err, uploads)
	}
	for _, o := range list.Contents {
		tags := objectTags(t, s3c, "kept", aws.ToString(o.Key))
		if len(tags) != 1 || tags["done"] != "yes" || !strings.HasPrefix(aws.ToString(o.Key), "grace/f") {
			t.Fatalf("%s: tags %v", aws.ToString(o.Key), tags)
		}
	}
	cur.Load().kill()

	// The logs, read from the store: every execution started once, ended
	// once, and completed each of its three steps once.
	perExec := executionLogCounts(t, openChecked(t, dir, ""), id)
	if len(perExec) < uploads {
		t.Fatalf("%d executions for %d uploads", len(perExec), uploads)
	}
	for exec, n := range perExec {
		if n != (logCount{started: 1, stepStarted: 3, stepCompleted: 3, completed: 1}) {
			t.Errorf("execution %s: %+v", exec, n)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for exec, set := range tokens {
		if len(set) != 1 {
			t.Errorf("execution %s was invoked with %d different tokens", exec, len(set))
		}
	}
	t.Logf("%d executions, %d invocations (%d re-sent after crashes), %d uploads or callbacks cut off by a crash", len(perExec), invoked, invoked-len(tokens), interrupted.Load())
	if interrupted.Load() == 0 && invoked == len(tokens) {
		t.Fatal("the kills interrupted nothing; the test proves nothing")
	}
}

func uploadOnce(t testing.TB, serverID string, key userKey, name, body string) error {
	return uploadAt("127.0.0.1", serverID, key, name, body)
}

// uploadAt writes one file as grace to serverID's endpoint at host.
func uploadAt(host, serverID string, key userKey, name, body string) error {
	conn, err := ssh.Dial("tcp", fmt.Sprintf("%s:%d", host, transfer.Port(serverID)),
		&ssh.ClientConfig{User: "grace", Auth: []ssh.AuthMethod{ssh.PublicKeys(key.signer)}, HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer conn.Close()
	cl, err := sftp.NewClient(conn)
	if err != nil {
		return err
	}
	defer cl.Close()
	f, err := cl.Create(name)
	if err != nil {
		return err
	}
	if _, err := f.Write([]byte(body)); err != nil {
		return err
	}
	return f.Close()
}
