package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
)

func TestConfigFileCredentials(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "creds.json")
	if err := os.WriteFile(good, []byte(`{"credentials":[{"accessKeyId":"AKIDTEAMC","secretAccessKey":"s3cret","accountId":"444455556666"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var cfg Config
	if err := cfg.LoadFile(good); err != nil {
		t.Fatal(err)
	}
	s := start(t, "", cfg.Credentials...)
	out := createWF(t, s.ib(clientOpts{region: "eu-central-1", key: "AKIDTEAMC", secret: "s3cret"}), "team-c", "1.0.0", "schemaVersion: 1.0\nsteps:\n  - name: Wait\n    action: WaitForAction\n")
	if !strings.Contains(*out.WorkflowBuildVersionArn, ":eu-central-1:444455556666:") {
		t.Fatalf("arn %s", *out.WorkflowBuildVersionArn)
	}
	// The default pair keeps working next to the configured ones.
	if _, err := s.ib(opts("eu-central-1")).ListWorkflows(context.Background(), &ib.ListWorkflowsInput{}); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"not json":    `{`,
		"no secret":   `{"credentials":[{"accessKeyId":"A","accountId":"444455556666"}]}`,
		"bad account": `{"credentials":[{"accessKeyId":"A","secretAccessKey":"s","accountId":"12"}]}`,
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		var c Config
		if err := c.LoadFile(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	var c Config
	if err := c.LoadFile(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file accepted")
	}
}
