package app

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	tf "github.com/aws/aws-sdk-go-v2/service/transfer"
	tftypes "github.com/aws/aws-sdk-go-v2/service/transfer/types"
	"golang.org/x/crypto/ssh"
)

func postClock(t testing.TB, s *server, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(s.URL+"/_slipway/clock", "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestClockControl moves domain time forward: refused without the flag;
// with it, a CUSTOM step's 30-minute timeout fires at once, and the moved
// clock survives a restart.
func TestClockControl(t *testing.T) {
	t.Parallel()
	if code, _ := postClock(t, start(t, ""), `{"advance":"1h"}`); code != http.StatusForbidden {
		t.Fatalf("moving a fixed clock answered %d", code)
	}
	dir := t.TempDir()
	s := startApp(t, mustNew(t, Config{DataDir: dir, ClockControl: true}))
	c := s.tf(opts("us-east-1"))
	createBucket(t, s.s3(opts("us-east-1")), "drop")
	wf := createWorkflow(t, c, []tftypes.WorkflowStep{customStep("slow", 1800)}, []tftypes.WorkflowStep{tagStep("late", "timed-out", "yes")})
	id, key := sftpUser(t, c, &tf.CreateServerInput{WorkflowDetails: onUpload(wf)},
		&tf.CreateUserInput{UserName: aws.String("zoe"), HomeDirectory: aws.String("/drop")})
	cl, err := dialSFTP(t, id, "zoe", ssh.PublicKeys(key.signer))
	if err != nil {
		t.Fatal(err)
	}
	f, _ := cl.Create("/drop/wait.txt")
	f.Write([]byte("x"))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	inv := waitInvocation(t, s, "wait.txt")
	if d := time.Until(inv.Deadline); d < 29*time.Minute {
		t.Fatalf("deadline in %v", d)
	}
	for _, bad := range []string{`{"advance":"-1h"}`, `{"set":"2001-01-01T00:00:00Z"}`, `{}`, `nonsense`} {
		if code, _ := postClock(t, s, bad); code != http.StatusBadRequest {
			t.Fatalf("%s answered %d", bad, code)
		}
	}
	code, state := postClock(t, s, `{"advance":"31m"}`)
	if code != http.StatusOK || state["offsetSeconds"].(float64) < 31*60 {
		t.Fatalf("advance: %d %v", code, state)
	}
	s3c := s.s3(opts("us-east-1"))
	waitFor(t, "the timeout after the clock moved", func() bool { return objectTags(t, s3c, "drop", "wait.txt")["timed-out"] == "yes" })

	s.stop(t)
	s = startApp(t, mustNew(t, Config{DataDir: dir, ClockControl: true}))
	resp, err := http.Get(s.URL + "/_slipway/clock")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]any
	json.NewDecoder(resp.Body).Decode(&got)
	now, _ := time.Parse(time.RFC3339Nano, got["now"].(string))
	if got["offsetSeconds"].(float64) < 31*60 || now.Before(time.Now().Add(30*time.Minute)) {
		t.Fatalf("after restart %v", got)
	}
}
