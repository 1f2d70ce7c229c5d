package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	ibtypes "github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
	tf "github.com/aws/aws-sdk-go-v2/service/transfer"
	tftypes "github.com/aws/aws-sdk-go-v2/service/transfer/types"

	"github.com/slipway-dev/slipway/internal/awsmodel"
	"github.com/slipway-dev/slipway/internal/sigv4"
)

func TestAuthenticationFailures(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	ctx := context.Background()
	cases := []struct {
		name   string
		header map[string]string
		when   time.Time
		status int
		code   string
		msg    string
	}{
		{"missing", nil, time.Time{}, 403, "MissingAuthenticationTokenException", "Missing Authentication Token"},
		{"malformed", map[string]string{"Authorization": "AWS4-HMAC-SHA256 Credential=test"}, time.Time{}, 400, "IncompleteSignatureException", "SignedHeaders"},
		{"wrong algorithm", map[string]string{"Authorization": "AWS3 foo"}, time.Time{}, 400, "IncompleteSignatureException", "algorithm"},
		{"expired", nil, time.Now().Add(-20 * time.Minute), 403, "InvalidSignatureException", "Signature expired"},
		{"future", nil, time.Now().Add(20 * time.Minute), 403, "InvalidSignatureException", "not yet current"},
	}
	for _, tc := range cases {
		service := ""
		if !tc.when.IsZero() {
			service = "imagebuilder"
		}
		r := s.raw(t, "POST", "/ListWorkflows", tc.header, "{}", service, tc.when)
		if r.Status != tc.status || r.Header.Get("X-Amzn-ErrorType") != tc.code || !strings.Contains(fmt.Sprint(r.Body["message"]), tc.msg) {
			t.Errorf("%s: %d %s %v", tc.name, r.Status, r.Header.Get("X-Amzn-ErrorType"), r.Body)
		}
	}
	// Transfer answers in its own protocol's error shape.
	r := s.raw(t, "POST", "/", transferHeaders("ListWorkflows"), "{}", "", time.Time{})
	if r.Status != 403 || r.Body["__type"] != "MissingAuthenticationTokenException" {
		t.Errorf("transfer missing auth: %d %v", r.Status, r.Body)
	}
	// A request signed for the wrong service.
	r = s.raw(t, "POST", "/", transferHeaders("ListWorkflows"), "{}", "imagebuilder", time.Now())
	if r.Status != 403 || r.Body["__type"] != "InvalidSignatureException" {
		t.Errorf("wrong service: %d %v", r.Status, r.Body)
	}

	unknown := clientOpts{region: "us-east-1", key: "AKIDUNKNOWN", secret: "x"}
	_, err := s.ib(unknown).ListWorkflows(ctx, &ib.ListWorkflowsInput{})
	apiError(t, err, "UnrecognizedClientException")
	wrong := clientOpts{region: "us-east-1", key: "test", secret: "not-test"}
	_, err = s.ib(wrong).ListWorkflows(ctx, &ib.ListWorkflowsInput{})
	apiError(t, err, "InvalidSignatureException")
	_, err = s.tf(wrong).ListWorkflows(ctx, &tf.ListWorkflowsInput{})
	apiError(t, err, "InvalidSignatureException")
}

func TestAccountsAndRegionsPartitionState(t *testing.T) {
	t.Parallel()
	s := start(t, "", sigv4.Credential{AccessKeyID: "AKIDTEAMB", Secret: "team-b-secret", Account: "111122223333"})
	ctx := context.Background()
	a := s.ib(opts("us-east-1"))
	b := s.ib(clientOpts{region: "us-east-1", key: "AKIDTEAMB", secret: "team-b-secret"})
	west := s.ib(opts("us-west-2"))
	doc := "schemaVersion: 1.0\nsteps:\n  - name: Wait\n    action: WaitForAction\n"
	wa := createWF(t, a, "shared-name", "1.0.0", doc)
	wb := createWF(t, b, "shared-name", "1.0.0", doc)
	if !strings.Contains(aws.ToString(wb.WorkflowBuildVersionArn), ":111122223333:") {
		t.Fatalf("account b arn %s", aws.ToString(wb.WorkflowBuildVersionArn))
	}
	_, err := b.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: wa.WorkflowBuildVersionArn})
	apiError(t, err, "ResourceNotFoundException")
	_, err = west.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: wa.WorkflowBuildVersionArn})
	apiError(t, err, "ResourceNotFoundException")
	for _, c := range []*ib.Client{a, b, west} {
		out, err := c.ListWorkflows(ctx, &ib.ListWorkflowsInput{})
		if err != nil {
			t.Fatal(err)
		}
		want := 1
		if c == west {
			want = 0
		}
		if len(out.WorkflowVersionList) != want {
			t.Fatalf("listing sees %d workflows, want %d", len(out.WorkflowVersionList), want)
		}
	}
}

func TestUnknownAndUnimplementedOperations(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	r := s.raw(t, "PUT", "/MakeCoffee", nil, "{}", "imagebuilder", time.Now())
	if r.Status != 404 || r.Header.Get("X-Amzn-ErrorType") != "UnknownOperationException" {
		t.Fatalf("unknown rest op: %d %v", r.Status, r.Body)
	}
	r = s.raw(t, "POST", "/", transferHeaders("MakeCoffee"), "{}", "transfer", time.Now())
	if r.Status != 400 || r.Body["__type"] != "UnknownOperationException" {
		t.Fatalf("unknown target: %d %v", r.Status, r.Body)
	}
	r = s.raw(t, "POST", "/", map[string]string{"X-Amz-Target": "CoffeeService.Brew"}, "{}", "transfer", time.Now())
	if r.Status != 400 || r.Body["__type"] != "UnknownOperationException" {
		t.Fatalf("unknown target prefix: %d %v", r.Status, r.Body)
	}
	r = s.raw(t, "GET", "/", nil, "", "imagebuilder", time.Now())
	if r.Status != 404 || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /: %d %v", r.Status, r.Body)
	}
	// A modelled operation Slipway does not run yet says so, without a retry storm.
	_, err := s.tf(opts("us-east-1")).ListAgreements(context.Background(), &tf.ListAgreementsInput{ServerId: aws.String("s-00000000000000000")})
	apiError(t, err, "NotImplementedException")
}

func TestHealthAndReset(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	ctx := context.Background()
	resp, err := http.Get(s.URL + "/_slipway/health")
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Status   string
		Version  string
		Services map[string]struct{ Operations []string }
		Store    struct{ Engine string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Every one of Image Builder's 77 operations answers.
	if h.Status != "ok" || h.Version == "" || h.Store.Engine != wantEngine() || len(h.Services["imagebuilder"].Operations) != len(awsmodel.Load("imagebuilder").Operations) ||
		len(h.Services["imagebuilder"].Operations) != 77 || len(h.Services["transfer"].Operations) == 0 {
		t.Fatalf("health: %+v", h)
	}
	c := s.tf(opts("us-east-1"))
	steps := []tftypes.WorkflowStep{{Type: tftypes.WorkflowStepTypeDelete, DeleteStepDetails: &tftypes.DeleteStepDetails{}}}
	if _, err := c.CreateWorkflow(ctx, &tf.CreateWorkflowInput{Steps: steps}); err != nil {
		t.Fatal(err)
	}
	resp, err = http.Post(s.URL+"/_slipway/reset", "application/json", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("reset: %v %v", err, resp)
	}
	resp.Body.Close()
	out, err := c.ListWorkflows(ctx, &tf.ListWorkflowsInput{})
	if err != nil || len(out.Workflows) != 0 {
		t.Fatalf("after reset: %v %+v", err, out)
	}
	resp, err = http.Get(s.URL + "/_slipway/reset")
	if err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET reset: %v %v", err, resp.StatusCode)
	}
	resp.Body.Close()
}

// TestRestartKeepsEverything stops the server and starts a new one on the
// same data directory: every resource, tag and issued page token survives.
func TestRestartKeepsEverything(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	s1 := start(t, dir)
	ibc, tfc := s1.ib(opts("us-east-1")), s1.tf(opts("us-east-1"))
	doc := "schemaVersion: 1.0\nsteps:\n  - name: Wait\n    action: WaitForAction\n"
	var arns []string
	for i := 0; i < 3; i++ {
		out := createWF(t, ibc, fmt.Sprintf("keep-%d", i), "2.0.0", doc, func(in *ib.CreateWorkflowInput) {
			in.Tags = map[string]string{"n": fmt.Sprint(i)}
			in.ClientToken = aws.String(fmt.Sprintf("tok-%d", i))
		})
		arns = append(arns, aws.ToString(out.WorkflowBuildVersionArn))
	}
	steps := []tftypes.WorkflowStep{{Type: tftypes.WorkflowStepTypeDelete, DeleteStepDetails: &tftypes.DeleteStepDetails{Name: aws.String("rm")}}}
	tw, err := tfc.CreateWorkflow(ctx, &tf.CreateWorkflowInput{Steps: steps, Tags: []tftypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	if err != nil {
		t.Fatal(err)
	}
	page, err := ibc.ListWorkflows(ctx, &ib.ListWorkflowsInput{MaxResults: aws.Int32(1)})
	if err != nil || page.NextToken == nil {
		t.Fatal(err)
	}
	comp, err := ibc.CreateComponent(ctx, &ib.CreateComponentInput{Name: aws.String("kept"), SemanticVersion: aws.String("1.0.0"), Platform: ibtypes.PlatformLinux, Data: aws.String(helloComponent)})
	if err != nil {
		t.Fatal(err)
	}
	recipe, err := ibc.CreateImageRecipe(ctx, &ib.CreateImageRecipeInput{Name: aws.String("kept"), SemanticVersion: aws.String("1.0.0"), ParentImage: aws.String("ami-1"),
		Components: []ibtypes.ComponentConfiguration{{ComponentArn: comp.ComponentBuildVersionArn}}})
	if err != nil {
		t.Fatal(err)
	}
	s1.stop(t)

	s2 := start(t, dir)
	ibc, tfc = s2.ib(opts("us-east-1")), s2.tf(opts("us-east-1"))
	for i, a := range arns {
		got, err := ibc.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: aws.String(a)})
		if err != nil || got.Workflow.Tags["n"] != fmt.Sprint(i) || aws.ToString(got.Workflow.Data) != doc {
			t.Fatalf("after restart %s: %v %+v", a, err, got)
		}
	}
	// The token issued before the restart still pages.
	next, err := ibc.ListWorkflows(ctx, &ib.ListWorkflowsInput{MaxResults: aws.Int32(5), NextToken: page.NextToken})
	if err != nil || len(next.WorkflowVersionList) != 2 {
		t.Fatalf("old token after restart: %v %+v", err, next)
	}
	// So does idempotency: the same token and parameters replay.
	replay := createWF(t, ibc, "keep-0", "2.0.0", doc, func(in *ib.CreateWorkflowInput) {
		in.Tags = map[string]string{"n": "0"}
		in.ClientToken = aws.String("tok-0")
	})
	if aws.ToString(replay.WorkflowBuildVersionArn) != arns[0] {
		t.Fatalf("replay after restart: %s", aws.ToString(replay.WorkflowBuildVersionArn))
	}
	d, err := tfc.DescribeWorkflow(ctx, &tf.DescribeWorkflowInput{WorkflowId: tw.WorkflowId})
	if err != nil || len(d.Workflow.Tags) != 1 || aws.ToString(d.Workflow.Steps[0].DeleteStepDetails.Name) != "rm" {
		t.Fatalf("transfer after restart: %v %+v", err, d)
	}
	// A new build of an existing version continues the numbering.
	out := createWF(t, ibc, "keep-0", "2.0.0", doc+"# changed\n")
	if !strings.HasSuffix(aws.ToString(out.WorkflowBuildVersionArn), "/2.0.0/2") {
		t.Fatalf("numbering after restart: %s", aws.ToString(out.WorkflowBuildVersionArn))
	}
	if _, err := ibc.GetImageRecipe(ctx, &ib.GetImageRecipeInput{ImageRecipeArn: recipe.ImageRecipeArn}); err != nil {
		t.Fatalf("recipe after restart: %v", err)
	}
	// Dependencies are stored too: the component is still in use.
	_, err = ibc.DeleteComponent(ctx, &ib.DeleteComponentInput{ComponentBuildVersionArn: comp.ComponentBuildVersionArn})
	apiError(t, err, "ResourceDependencyException")
	var nf *ibtypes.ResourceNotFoundException
	if _, err := ibc.TagResource(ctx, &ib.TagResourceInput{ResourceArn: aws.String(arns[0] + "0"), Tags: map[string]string{"a": "b"}}); !errors.As(err, &nf) {
		t.Fatalf("tag unknown after restart: %v", err)
	}
}

// TestAcceptAnyCredentials: unknown keys are refused by default; with the
// flag, a 12-digit key is its own account and any other the default one.
func TestAcceptAnyCredentials(t *testing.T) {
	t.Parallel()
	strict := start(t, "")
	_, err := strict.tf(clientOpts{region: "us-east-1", key: "ANYTHING", secret: "x"}).ListWorkflows(context.Background(), &tf.ListWorkflowsInput{})
	apiError(t, err, "UnrecognizedClientException")
	s := startApp(t, mustNew(t, Config{InMemory: true, AcceptAnyCredentials: true}))
	mine := s.tf(clientOpts{region: "us-east-1", key: "111122223333", secret: "anything"})
	if _, err := mine.CreateWorkflow(context.Background(), &tf.CreateWorkflowInput{Steps: []tftypes.WorkflowStep{{Type: tftypes.WorkflowStepTypeDelete, DeleteStepDetails: &tftypes.DeleteStepDetails{}}}}); err != nil {
		t.Fatal(err)
	}
	out, err := mine.ListWorkflows(context.Background(), &tf.ListWorkflowsInput{})
	if err != nil || len(out.Workflows) != 1 || !strings.Contains(aws.ToString(out.Workflows[0].Arn), ":111122223333:") {
		t.Fatalf("12-digit key's account: %+v %v", out, err)
	}
	other, err := s.tf(clientOpts{region: "us-east-1", key: "LOCALSTACKKEY", secret: "x"}).ListWorkflows(context.Background(), &tf.ListWorkflowsInput{})
	if err != nil || len(other.Workflows) != 0 {
		t.Fatalf("default account sees %+v %v", other, err)
	}
	_, err = s.tf(clientOpts{region: "us-east-1", key: "test", secret: "wrong"}).ListWorkflows(context.Background(), &tf.ListWorkflowsInput{})
	apiError(t, err, "InvalidSignatureException")
}

// wantEngine is the store the end-to-end tests run on.
func wantEngine() string {
	if os.Getenv("SLIPWAY_TEST_STORE") == "postgres" {
		return "postgres"
	}
	return "sqlite"
}
