package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
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
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/slipway-dev/slipway/internal/transfer"
)

// TestWorkflowCopyTagDecryptDelete uploads a gpg-encrypted file with OpenSSH's
// sftp to a server whose workflow copies it under the user's name, tags the
// copy, decrypts the upload (key from a keys directory, with a passphrase),
// tags the plaintext and deletes the upload.
func TestWorkflowCopyTagDecryptDelete(t *testing.T) {
	t.Parallel()
	const plain = "quarterly numbers\n"
	private, enc := gpgEncrypt(t, "s3cret phrase", plain)
	// The keys directory is named in a --config file, relative to it.
	confDir := t.TempDir()
	keys := filepath.Join(confDir, "pgp")
	os.WriteFile(filepath.Join(confDir, "slipway.json"), []byte(`{"pgpKeys": {"dir": "pgp"}}`), 0o600)
	cfg := Config{InMemory: true}
	if err := cfg.LoadFile(filepath.Join(confDir, "slipway.json")); err != nil {
		t.Fatal(err)
	}
	s := startApp(t, mustNew(t, cfg))
	c := s.tf(opts("us-east-1"))
	s3c := s.s3(opts("us-east-1"))
	createBucket(t, s3c, "inbox")
	createBucket(t, s3c, "processed")
	wf := createWorkflow(t, c, []tftypes.WorkflowStep{
		copyStep("archive", "${original.file}", "processed", "archive/${transfer:UserName}/"),
		tagStep("mark", "stage", "archived"),
		{Type: tftypes.WorkflowStepTypeDecrypt, DecryptStepDetails: &tftypes.DecryptStepDetails{Name: aws.String("decrypt"), Type: tftypes.EncryptionTypePgp,
			SourceFileLocation: aws.String("${original.file}"), DestinationFileLocation: s3Dest("processed", "plain/${Transfer:UploadDate}/")}},
		tagStep("mark-plain", "decrypted", "yes"),
		{Type: tftypes.WorkflowStepTypeDelete, DeleteStepDetails: &tftypes.DeleteStepDetails{Name: aws.String("cleanup"), SourceFileLocation: aws.String("${original.file}")}},
	}, nil)
	id, key := sftpUser(t, c, &tf.CreateServerInput{WorkflowDetails: onUpload(wf)},
		&tf.CreateUserInput{UserName: aws.String("alice"), HomeDirectory: aws.String("/inbox/alice")})
	secret, _ := json.Marshal(transfer.PGPSecret{PGPPrivateKey: private, PGPPassphrase: "s3cret phrase"})
	os.MkdirAll(filepath.Join(keys, "aws", "transfer", id), 0o700)
	os.WriteFile(filepath.Join(keys, "aws", "transfer", id, "alice"), secret, 0o600)

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "report.csv.gpg"), enc, 0o600)
	os.WriteFile(filepath.Join(dir, "empty.txt"), nil, 0o600)
	if out, err := openssh(t, dir, id, "alice", key, filepath.Join(dir, "known_hosts"), "put report.csv.gpg\nput empty.txt\n"); err != nil {
		t.Fatalf("sftp: %v\n%s", err, out)
	}
	var entries []logEntry
	waitFor(t, "the execution to end", func() bool {
		entries = workflowLogs(t, s, id)
		return countType(entries, "ExecutionCompleted")+countType(entries, "ExecutionErrored") > 0
	})
	if countType(entries, "ExecutionErrored") != 0 || countType(entries, "StepCompleted") != 5 || countType(entries, "ExecutionStarted") != 1 {
		t.Fatalf("log: %+v", entries)
	}
	// The zero-byte upload started nothing; the stream is user.workflow.execution.
	if !strings.HasPrefix(entries[0].Stream, "alice."+wf+".") || entries[0].ExecutionID == "" {
		t.Fatalf("stream %q", entries[0].Stream)
	}
	date := time.Now().UTC().Format("2006-01-02")
	if body, _ := getObject(t, s3c, "processed", "archive/alice/report.csv.gpg"); body != string(enc) {
		t.Fatal("the copy differs from the upload")
	}
	if tags := objectTags(t, s3c, "processed", "archive/alice/report.csv.gpg"); tags["stage"] != "archived" || len(tags) != 1 {
		t.Fatalf("copy tags %v", tags)
	}
	if body, _ := getObject(t, s3c, "processed", "plain/"+date+"/report.csv"); body != plain {
		t.Fatalf("decrypted %q", body)
	}
	if tags := objectTags(t, s3c, "processed", "plain/"+date+"/report.csv"); tags["decrypted"] != "yes" || len(tags) != 1 {
		t.Fatalf("plaintext tags %v", tags)
	}
	noObject(t, s3c, "inbox", "alice/report.csv.gpg")
	if body, _ := getObject(t, s3c, "inbox", "alice/empty.txt"); body != "" {
		t.Fatal("empty file")
	}
	// The finished execution is gone from the API, as on AWS.
	exec := entries[0].ExecutionID
	if _, err := c.DescribeExecution(context.Background(), &tf.DescribeExecutionInput{WorkflowId: aws.String(wf), ExecutionId: aws.String(exec)}); err == nil {
		t.Fatal("a finished execution is described")
	} else {
		apiError(t, err, "ResourceNotFoundException")
	}
	started := entries[0].Details["input"].(map[string]any)["initialFileLocation"].(map[string]any)
	if started["bucket"] != "inbox" || started["key"] != "alice/report.csv.gpg" || started["etag"] == "" {
		t.Fatalf("ExecutionStarted %v", started)
	}

	// Uploading again: the copy's target exists and OverwriteExisting is
	// FALSE, so the step fails ALREADY_EXISTS and the execution errors.
	if out, err := openssh(t, dir, id, "alice", key, filepath.Join(dir, "known_hosts"), "put report.csv.gpg\n"); err != nil {
		t.Fatalf("sftp: %v\n%s", err, out)
	}
	waitFor(t, "the second execution to fail", func() bool {
		entries = workflowLogs(t, s, id)
		return countType(entries, "ExecutionErrored") == 1
	})
	var errored logEntry
	for _, e := range entries {
		if e.Type == "StepErrored" {
			errored = e
		}
	}
	if errored.Details["errorType"] != "ALREADY_EXISTS" || errored.Details["stepType"] != "COPY" || errored.Details["stepName"] != "archive" {
		t.Fatalf("StepErrored %+v", errored)
	}
}

// TestCustomStepCallbacks drives CUSTOM steps through a Lambda Invoke API
// server: SUCCESS continues, FAILURE runs the exception steps, silence times
// out into them, and refused callbacks change nothing.
func TestCustomStepCallbacks(t *testing.T) {
	t.Parallel()
	lam := startLambda(t, http.StatusAccepted)
	s := startApp(t, mustNew(t, Config{InMemory: true, LambdaEndpoint: lam.URL}))
	c := s.tf(opts("us-east-1"))
	s3c := s.s3(opts("us-east-1"))
	ctx := context.Background()
	createBucket(t, s3c, "drop")
	createBucket(t, s3c, "out")
	wf := createWorkflow(t, c, []tftypes.WorkflowStep{customStep("scan", 60), copyStep("deliver", "${previous.file}", "out", "done/")},
		[]tftypes.WorkflowStep{copyStep("quarantine", "${original.file}", "out", "failed/")})
	other := createWorkflow(t, c, []tftypes.WorkflowStep{customStep("other", 60)}, nil)
	id, key := sftpUser(t, c, &tf.CreateServerInput{WorkflowDetails: onUpload(wf)},
		&tf.CreateUserInput{UserName: aws.String("carol"), HomeDirectory: aws.String("/drop")})
	cl, err := dialSFTP(t, id, "carol", ssh.PublicKeys(key.signer))
	if err != nil {
		t.Fatal(err)
	}
	upload := func(name string) {
		t.Helper()
		f, err := cl.Create("/drop/" + name)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte("data of " + name))
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	send := func(exec, token, status string) error {
		_, err := c.SendWorkflowStepState(ctx, &tf.SendWorkflowStepStateInput{WorkflowId: aws.String(wf), ExecutionId: aws.String(exec),
			Token: aws.String(token), Status: tftypes.CustomStepStatus(status)})
		return err
	}

	// SUCCESS.
	upload("a.txt")
	call := lam.next(t)
	token, exec, objKey := call.ids()
	if call.Path != "/2015-03-31/functions/scan/invocations" || call.InvocationType != "Event" || !strings.Contains(call.Authorization, "/us-east-1/lambda/aws4_request") {
		t.Fatalf("invocation %+v", call)
	}
	var event map[string]any
	json.Unmarshal(call.Raw, &event)
	want := fmt.Sprintf(`{"fileLocation":{"bucket":"drop","domain":"S3","eTag":%q,"key":"a.txt","versionId":null},"serviceMetadata":{"executionDetails":{"executionId":%q,"workflowId":%q},"transferDetails":{"serverId":%q,"sessionId":%q,"userName":"carol"}},"token":%q}`,
		event["fileLocation"].(map[string]any)["eTag"], exec, wf, id, event["serviceMetadata"].(map[string]any)["transferDetails"].(map[string]any)["sessionId"], token)
	if got, _ := json.Marshal(event); string(got) != want || objKey != "a.txt" || len(token) < 16 || strings.ContainsAny(token, "+/=") {
		t.Fatalf("event\n%s\nwant\n%s", got, want)
	}
	// While it waits: listed and described, with no results yet.
	list, err := c.ListExecutions(ctx, &tf.ListExecutionsInput{WorkflowId: aws.String(wf)})
	if err != nil || len(list.Executions) != 1 || aws.ToString(list.Executions[0].ExecutionId) != exec || list.Executions[0].Status != tftypes.ExecutionStatusInProgress {
		t.Fatalf("list %+v %v", list, err)
	}
	d, err := c.DescribeExecution(ctx, &tf.DescribeExecutionInput{WorkflowId: aws.String(wf), ExecutionId: aws.String(exec)})
	if err != nil {
		t.Fatal(err)
	}
	e := d.Execution
	if e.Status != tftypes.ExecutionStatusInProgress || aws.ToString(e.InitialFileLocation.S3FileLocation.Key) != "a.txt" || e.Results != nil ||
		aws.ToString(e.ServiceMetadata.UserDetails.UserName) != "carol" || aws.ToString(e.ServiceMetadata.UserDetails.ServerId) != id ||
		aws.ToString(e.ExecutionRole) != "arn:aws:iam::000000000000:role/wf" || aws.ToString(e.LoggingConfiguration.LogGroupName) != "/aws/transfer/"+id {
		t.Fatalf("described %+v", e)
	}
	// Refused callbacks change nothing.
	apiError(t, send(exec, token+"x", "SUCCESS"), "InvalidRequestException")
	apiError(t, send("00000000-0000-0000-0000-000000000000", token, "SUCCESS"), "ResourceNotFoundException")
	_, err = c.SendWorkflowStepState(ctx, &tf.SendWorkflowStepStateInput{WorkflowId: aws.String(other), ExecutionId: aws.String(exec), Token: aws.String(token), Status: "SUCCESS"})
	apiError(t, err, "ResourceNotFoundException")
	_, err = c.SendWorkflowStepState(ctx, &tf.SendWorkflowStepStateInput{WorkflowId: aws.String("w-00000000000000000"), ExecutionId: aws.String(exec), Token: aws.String(token), Status: "SUCCESS"})
	apiError(t, err, "ResourceNotFoundException")
	_, err = c.SendWorkflowStepState(ctx, &tf.SendWorkflowStepStateInput{WorkflowId: aws.String(wf), ExecutionId: aws.String(exec), Token: aws.String("not+a/word"), Status: "SUCCESS"})
	apiError(t, err, "InvalidRequestException")
	if _, err := c.DescribeExecution(ctx, &tf.DescribeExecutionInput{WorkflowId: aws.String(wf), ExecutionId: aws.String(exec)}); err != nil {
		t.Fatalf("a refused callback ended the execution: %v", err)
	}
	if err := send(exec, token, "SUCCESS"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the copy", func() bool {
		_, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("out"), Key: aws.String("done/a.txt")})
		return err == nil
	})
	// A repeated (late) callback: the execution is over.
	waitFor(t, "the execution to end", func() bool {
		_, err := c.DescribeExecution(ctx, &tf.DescribeExecutionInput{WorkflowId: aws.String(wf), ExecutionId: aws.String(exec)})
		return err != nil
	})
	apiError(t, send(exec, token, "SUCCESS"), "ResourceNotFoundException")

	// FAILURE runs the exception steps.
	upload("b.txt")
	token, exec, _ = lam.next(t).ids()
	if err := send(exec, token, "FAILURE"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the quarantine copy", func() bool {
		_, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("out"), Key: aws.String("failed/b.txt")})
		return err == nil
	})
	noObject(t, s3c, "out", "done/b.txt")

	// SUCCESS and FAILURE at once: exactly one wins.
	upload("c.txt")
	token, exec, _ = lam.next(t).ids()
	errs := make(chan error, 2)
	for _, st := range []string{"SUCCESS", "FAILURE"} {
		go func() { errs <- send(exec, token, st) }()
	}
	e1, e2 := <-errs, <-errs
	if (e1 == nil) == (e2 == nil) {
		t.Fatalf("both or neither callback won: %v, %v", e1, e2)
	}
	entries := workflowLogs(t, s, id)
	var ended []string
	waitFor(t, "c.txt's execution to end", func() bool {
		entries = workflowLogs(t, s, id)
		ended = nil
		for _, en := range entries {
			if en.ExecutionID == exec && (en.Type == "ExecutionCompleted" || en.Type == "ExecutionErrored") {
				ended = append(ended, en.Type)
			}
		}
		return len(ended) > 0
	})
	if len(ended) != 1 {
		t.Fatalf("ended %v", ended)
	}

	// A failed invocation fails the step as AWS would.
	lam.mu.Lock()
	lam.status = http.StatusNotFound
	lam.mu.Unlock()
	upload("d.txt")
	waitFor(t, "the quarantine copy of d.txt", func() bool {
		_, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("out"), Key: aws.String("failed/d.txt")})
		return err == nil
	})
	entries = workflowLogs(t, s, id)
	last := ""
	for _, en := range entries {
		if en.Type == "StepErrored" {
			last = fmt.Sprint(en.Details["errorType"])
		}
	}
	if last != "NOT_FOUND" {
		t.Fatalf("a 404 from the Invoke API gave %s", last)
	}
}

// TestCustomStepTimeoutAndNoEndpoint answers a CUSTOM step from the admin
// endpoint (no Lambda configured) and lets another time out.
func TestCustomStepTimeoutAndNoEndpoint(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.tf(opts("us-east-1"))
	s3c := s.s3(opts("us-east-1"))
	ctx := context.Background()
	createBucket(t, s3c, "drop")
	wf := createWorkflow(t, c, []tftypes.WorkflowStep{customStep("quick", 1), tagStep("ok", "result", "passed")},
		[]tftypes.WorkflowStep{tagStep("failed", "result", "failed")})
	id, key := sftpUser(t, c, &tf.CreateServerInput{WorkflowDetails: onUpload(wf)},
		&tf.CreateUserInput{UserName: aws.String("dave"), HomeDirectory: aws.String("/drop")})
	cl, err := dialSFTP(t, id, "dave", ssh.PublicKeys(key.signer))
	if err != nil {
		t.Fatal(err)
	}
	f, _ := cl.Create("/drop/slow.txt")
	f.Write([]byte("x"))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	inv := waitInvocation(t, s, "slow.txt")
	if inv.Target != "arn:aws:lambda:us-east-1:000000000000:function:quick" || !strings.HasPrefix(inv.Delivery, "not invoked") {
		t.Fatalf("invocation %+v", inv)
	}
	waitFor(t, "the timeout", func() bool { return objectTags(t, s3c, "drop", "slow.txt")["result"] == "failed" })
	entries := workflowLogs(t, s, id)
	found := false
	for _, e := range entries {
		if e.Type == "StepErrored" && e.Details["errorType"] == "TIMEOUT" && e.Details["stepType"] == "CUSTOM" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no TIMEOUT in %+v", entries)
	}
	// The late callback is refused and changes nothing.
	_, err = c.SendWorkflowStepState(ctx, &tf.SendWorkflowStepStateInput{WorkflowId: aws.String(wf), ExecutionId: aws.String(inv.ExecutionID), Token: aws.String(inv.Token), Status: "SUCCESS"})
	apiError(t, err, "ResourceNotFoundException")
	if objectTags(t, s3c, "drop", "slow.txt")["result"] != "failed" {
		t.Fatal("a late callback changed the outcome")
	}
}

// TestPartialUploadAndRestart leaves a file open when the session drops
// (OnPartialUpload copies what arrived), then restarts Slipway while a
// CUSTOM step waits: the step keeps its token and still completes.
func TestPartialUploadAndRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startApp(t, mustNew(t, Config{DataDir: dir}))
	c := s.tf(opts("us-east-1"))
	s3c := s.s3(opts("us-east-1"))
	ctx := context.Background()
	createBucket(t, s3c, "drop")
	full := createWorkflow(t, c, []tftypes.WorkflowStep{customStep("hold", 1800), tagStep("released", "released", "true")}, nil)
	partial := createWorkflow(t, c, []tftypes.WorkflowStep{copyStep("keep", "${original.file}", "drop", "partial/")}, nil)
	details := onUpload(full)
	details.OnPartialUpload = []tftypes.WorkflowDetail{{WorkflowId: aws.String(partial), ExecutionRole: aws.String("arn:aws:iam::000000000000:role/wf")}}
	id, key := sftpUser(t, c, &tf.CreateServerInput{WorkflowDetails: details},
		&tf.CreateUserInput{UserName: aws.String("erin"), HomeDirectory: aws.String("/drop")})

	// A session that drops with the file open.
	conn, err := ssh.Dial("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(transfer.Port(id))),
		&ssh.ClientConfig{User: "erin", Auth: []ssh.AuthMethod{ssh.PublicKeys(key.signer)}, HostKeyCallback: ssh.InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := sftp.NewClient(conn)
	if err != nil {
		t.Fatal(err)
	}
	f, err := cl.Create("/drop/cut.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("first half")); err != nil {
		t.Fatal(err)
	}
	conn.Close() // no CLOSE: the session ends with the file open
	waitFor(t, "the partial-upload copy", func() bool {
		_, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("drop"), Key: aws.String("partial/cut.bin")})
		return err == nil
	})
	if body, _ := getObject(t, s3c, "drop", "partial/cut.bin"); body != "first half" {
		t.Fatalf("partial copy %q", body)
	}
	if inv := invocations(t, s); len(inv) != 0 {
		t.Fatalf("the partial upload started the OnUpload workflow: %+v", inv)
	}

	// A complete upload waits at the CUSTOM step across a restart.
	cl2, err := dialSFTP(t, id, "erin", ssh.PublicKeys(key.signer))
	if err != nil {
		t.Fatal(err)
	}
	g, _ := cl2.Create("/drop/whole.txt")
	g.Write([]byte("all of it"))
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	before := waitInvocation(t, s, "whole.txt")

	// Another server's CUSTOM step times out while Slipway is down: the
	// timeout fires once, on start.
	brief := createWorkflow(t, c, []tftypes.WorkflowStep{customStep("brief", 1)}, []tftypes.WorkflowStep{tagStep("late", "timed-out", "yes")})
	briefID, briefKey := sftpUser(t, c, &tf.CreateServerInput{WorkflowDetails: onUpload(brief)},
		&tf.CreateUserInput{UserName: aws.String("erin"), HomeDirectory: aws.String("/drop/brief")})
	cl3, err := dialSFTP(t, briefID, "erin", ssh.PublicKeys(briefKey.signer))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := cl3.Create("/drop/brief/t.txt")
	h.Write([]byte("t"))
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	waitInvocation(t, s, "brief/t.txt")
	s.stop(t)
	time.Sleep(1500 * time.Millisecond) // the deadline passes while nothing runs
	s = startApp(t, mustNew(t, Config{DataDir: dir}))
	c = s.tf(opts("us-east-1"))
	s3c = s.s3(opts("us-east-1"))
	after := waitInvocation(t, s, "whole.txt")
	if after.Token != before.Token || !after.Deadline.Equal(before.Deadline) || after.ExecutionID != before.ExecutionID {
		t.Fatalf("after restart %+v, before %+v", after, before)
	}
	if _, err := c.DescribeExecution(ctx, &tf.DescribeExecutionInput{WorkflowId: aws.String(full), ExecutionId: aws.String(after.ExecutionID)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendWorkflowStepState(ctx, &tf.SendWorkflowStepStateInput{WorkflowId: aws.String(full), ExecutionId: aws.String(after.ExecutionID),
		Token: aws.String(after.Token), Status: "SUCCESS"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the tag after the callback", func() bool { return objectTags(t, s3c, "drop", "whole.txt")["released"] == "true" })
	waitFor(t, "the timeout that came due while down", func() bool { return objectTags(t, s3c, "drop", "brief/t.txt")["timed-out"] == "yes" })
	// The tag is applied before its step's commit writes the log entries.
	waitFor(t, "the errored execution's log", func() bool { return countType(workflowLogs(t, s, briefID), "ExecutionErrored") == 1 })
	if entries := workflowLogs(t, s, briefID); countType(entries, "StepErrored") != 1 || countType(entries, "ExecutionErrored") != 1 {
		t.Fatalf("brief server's log %+v", entries)
	}
}

// TestExecutionThrottling uploads more files than the token bucket holds:
// executions over the limit are dropped with an ExecutionThrottled entry.
func TestExecutionThrottling(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.tf(opts("us-east-1"))
	createBucket(t, s.s3(opts("us-east-1")), "drop")
	wf := createWorkflow(t, c, []tftypes.WorkflowStep{customStep("wait", 1800)}, nil)
	id, key := sftpUser(t, c, &tf.CreateServerInput{WorkflowDetails: onUpload(wf)},
		&tf.CreateUserInput{UserName: aws.String("frank"), HomeDirectory: aws.String("/drop")})
	cl, err := dialSFTP(t, id, "frank", ssh.PublicKeys(key.signer))
	if err != nil {
		t.Fatal(err)
	}
	// Four uploads at a time, so the 105 usually take well under the five
	// seconds in which the bucket refills five tokens.
	const uploads = 105
	began := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < uploads; i += 4 {
				f, err := cl.Create(fmt.Sprintf("/drop/f%03d", i))
				if err != nil {
					t.Error(err)
					return
				}
				f.Write([]byte("x"))
				if err := f.Close(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	entries := workflowLogs(t, s, id)
	started, throttled := countType(entries, "ExecutionStarted"), countType(entries, "ExecutionThrottled")
	if started+throttled != uploads || started < 100 || float64(started) > 100+elapsed.Seconds()+1 || (throttled == 0 && elapsed < 4*time.Second) {
		t.Fatalf("%d started, %d throttled in %v", started, throttled, elapsed)
	}
	for _, e := range entries {
		if e.Type == "ExecutionThrottled" && (e.Details["errorType"] != "THROTTLED" || e.WorkflowID != wf) {
			t.Fatalf("throttled entry %+v", e)
		}
	}
	// The waiting executions page through ListExecutions, each once.
	var seen []string
	var token *string
	for pages := 0; ; pages++ {
		out, err := c.ListExecutions(context.Background(), &tf.ListExecutionsInput{WorkflowId: aws.String(wf), MaxResults: aws.Int32(30), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Executions) > 30 || aws.ToString(out.WorkflowId) != wf {
			t.Fatalf("page of %d", len(out.Executions))
		}
		for _, e := range out.Executions {
			seen = append(seen, aws.ToString(e.InitialFileLocation.S3FileLocation.Key))
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	// Uploads ran four at a time, so start order is not name order.
	sort.Strings(seen)
	if len(seen) != started || len(slices.Compact(slices.Clone(seen))) != started {
		t.Fatalf("listed %d of %d: %v", len(seen), started, seen)
	}
	_, err = c.ListExecutions(context.Background(), &tf.ListExecutionsInput{WorkflowId: aws.String(wf), NextToken: aws.String("forged")})
	apiError(t, err, "InvalidNextTokenException")
	_, err = c.ListExecutions(context.Background(), &tf.ListExecutionsInput{WorkflowId: aws.String("w-00000000000000000")})
	apiError(t, err, "ResourceNotFoundException")
}

// TestWorkflowOnEFS runs steps on an EFS server: DECRYPT to another EFS
// path (key from an inline @pgp-default secret without passphrase), DELETE
// of the upload, then TAG, which EFS cannot do (BAD_REQUEST), and an
// exception COPY, which is S3 only.
func TestWorkflowOnEFS(t *testing.T) {
	t.Parallel()
	const plain = "efs payload\n"
	private, enc := gpgEncrypt(t, "", plain)
	dir := t.TempDir()
	keys := &transfer.KeySource{Secrets: map[string]transfer.PGPSecret{}}
	s := startApp(t, mustNew(t, Config{DataDir: dir, PGPKeys: keys}))
	c := s.tf(opts("us-east-1"))
	const fsID = "fs-0123456789abcdef0"
	wf := createWorkflow(t, c, []tftypes.WorkflowStep{
		{Type: tftypes.WorkflowStepTypeDecrypt, DecryptStepDetails: &tftypes.DecryptStepDetails{Name: aws.String("open"), Type: tftypes.EncryptionTypePgp,
			DestinationFileLocation: &tftypes.InputFileLocation{EfsFileLocation: &tftypes.EfsFileLocation{FileSystemId: aws.String(fsID), Path: aws.String("/plain/${transfer:UserName}/")}}}},
		{Type: tftypes.WorkflowStepTypeDelete, DeleteStepDetails: &tftypes.DeleteStepDetails{Name: aws.String("drop"), SourceFileLocation: aws.String("${original.file}")}},
		tagStep("label", "k", "v"),
	}, []tftypes.WorkflowStep{copyStep("to-s3", "${previous.file}", "nowhere", "x/")})
	id, key := sftpUser(t, c, &tf.CreateServerInput{Domain: tftypes.DomainEfs, WorkflowDetails: onUpload(wf)},
		&tf.CreateUserInput{UserName: aws.String("bob"), HomeDirectory: aws.String("/" + fsID + "/home/bob"),
			PosixProfile: &tftypes.PosixProfile{Uid: aws.Int64(4242), Gid: aws.Int64(4343)}})
	keys.Secrets["aws/transfer/"+id+"/@pgp-default"] = transfer.PGPSecret{PGPPrivateKey: private}
	cl, err := dialSFTP(t, id, "bob", ssh.PublicKeys(key.signer))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.MkdirAll("/" + fsID + "/home/bob"); err != nil {
		t.Fatal(err)
	}
	f, err := cl.Create("/" + fsID + "/home/bob/secret.txt.gpg")
	if err != nil {
		t.Fatal(err)
	}
	f.Write(enc)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var entries []logEntry
	waitFor(t, "the execution to end", func() bool {
		entries = workflowLogs(t, s, id)
		return countType(entries, "ExecutionErrored") == 1
	})
	var got []string
	for _, e := range entries {
		switch e.Type {
		case "StepCompleted":
			got = append(got, fmt.Sprint(e.Details["stepType"], " ok"))
		case "StepErrored":
			got = append(got, fmt.Sprint(e.Details["stepType"], " ", e.Details["errorType"], " ", e.Details["errorMessage"]))
		}
	}
	want := []string{"DECRYPT ok", "DELETE ok", "TAG BAD_REQUEST Cannot tag Efs file"}
	if len(got) != 4 || strings.Join(got[:3], "|") != strings.Join(want, "|") || !strings.HasPrefix(got[3], "COPY BAD_REQUEST") {
		t.Fatalf("steps %q", got)
	}
	started := entries[0].Details["input"].(map[string]any)["initialFileLocation"].(map[string]any)
	if started["fileSystemId"] != fsID || started["path"] != "/home/bob/secret.txt.gpg" {
		t.Fatalf("initial file %v", started)
	}
	b, err := os.ReadFile(filepath.Join(dir, "efs", fsID, "plain", "bob", "secret.txt"))
	if err != nil || string(b) != plain {
		t.Fatalf("decrypted file %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "efs", fsID, "home", "bob", "secret.txt.gpg")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the upload was not deleted: %v", err)
	}
}

// TestSlowLambdaHoldsUpNothing keeps one Lambda endpoint from answering
// while another server's COPY workflow runs: the copy finishes first.
func TestSlowLambdaHoldsUpNothing(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	slow := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(20 * time.Second):
		}
		w.WriteHeader(http.StatusAccepted)
	})}
	go func() { _ = slow.Serve(ln) }()
	t.Cleanup(func() { close(release); slow.Close() })
	s := startApp(t, mustNew(t, Config{InMemory: true, LambdaEndpoint: "http://" + ln.Addr().String()}))
	c := s.tf(opts("us-east-1"))
	s3c := s.s3(opts("us-east-1"))
	createBucket(t, s3c, "drop")
	gated := createWorkflow(t, c, []tftypes.WorkflowStep{customStep("stuck", 60)}, nil)
	quick := createWorkflow(t, c, []tftypes.WorkflowStep{copyStep("copy", "${previous.file}", "drop", "copied/")}, nil)
	slowID, slowKey := sftpUser(t, c, &tf.CreateServerInput{WorkflowDetails: onUpload(gated)},
		&tf.CreateUserInput{UserName: aws.String("slowpoke"), HomeDirectory: aws.String("/drop/slow")})
	quickID, quickKey := sftpUser(t, c, &tf.CreateServerInput{WorkflowDetails: onUpload(quick)},
		&tf.CreateUserInput{UserName: aws.String("speedy"), HomeDirectory: aws.String("/drop/quick")})
	put := func(id, user string, key userKey, n int) {
		cl, err := dialSFTP(t, id, user, ssh.PublicKeys(key.signer))
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			f, _ := cl.Create(fmt.Sprintf("f%d.txt", i))
			f.Write([]byte("x"))
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	put(slowID, "slowpoke", slowKey, 3) // three invocations that hang
	put(quickID, "speedy", quickKey, 1)
	waitFor(t, "the quick copy while the Lambda hangs", func() bool {
		_, err := s3c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("drop"), Key: aws.String("copied/f0.txt")})
		return err == nil
	})
	select {
	case <-release:
		t.Fatal("the slow endpoint was released early")
	default:
	}
}
