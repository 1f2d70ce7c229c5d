package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/middleware"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	ibtypes "github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
)

const approvalWorkflow = `
name: approval
description: Build with a human approval gate
schemaVersion: 1.0
parameters:
  - name: topic
    type: string
    default: "arn:aws:sns:us-east-1:000000000000:approvals"
  - name: skipTests
    type: boolean
    default: false
steps:
  - name: LaunchBuildInstance
    action: LaunchInstance
    inputs:
      waitFor: ssmAgent
  - name: Approve
    action: WaitForAction
    timeoutSeconds: 3600
    inputs:
      snsTopicArn.$: "$.parameters.topic"
  - name: CreateOutputAMI
    action: CreateImage
    if:
      stringEquals: "RESUME"
      value: "$.stepOutputs.Approve.action"
    inputs:
      instanceId.$: "$.stepOutputs.LaunchBuildInstance.instanceId"
  - name: TerminateBuildInstance
    action: TerminateInstance
    onFailure: Continue
    inputs:
      instanceId.$: "$.stepOutputs.LaunchBuildInstance.instanceId"
outputs:
  - name: ImageId
    value: "$.stepOutputs.CreateOutputAMI.imageId"
`

func createWF(t testing.TB, c *ib.Client, name, version, data string, mut ...func(*ib.CreateWorkflowInput)) *ib.CreateWorkflowOutput {
	t.Helper()
	in := &ib.CreateWorkflowInput{Name: aws.String(name), SemanticVersion: aws.String(version), Type: ibtypes.WorkflowTypeBuild, Data: aws.String(data)}
	for _, m := range mut {
		m(in)
	}
	out, err := c.CreateWorkflow(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateWorkflow %s %s: %v", name, version, err)
	}
	return out
}

func TestImageBuilderWorkflowLifecycle(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()

	out := createWF(t, c, "My Approval_Flow", "1.2.3", approvalWorkflow, func(in *ib.CreateWorkflowInput) {
		in.Description = aws.String("gate")
		in.Tags = map[string]string{"team": "platform"}
		in.KmsKeyId = aws.String("alias/mine")
	})
	const arn = "arn:aws:imagebuilder:us-east-1:000000000000:workflow/build/my-approval-flow/1.2.3/1"
	if aws.ToString(out.WorkflowBuildVersionArn) != arn {
		t.Fatalf("arn = %s", aws.ToString(out.WorkflowBuildVersionArn))
	}
	if out.ClientToken == nil || *out.ClientToken == "" {
		t.Fatal("clientToken not echoed")
	}
	refs := out.LatestVersionReferences
	if aws.ToString(refs.LatestVersionArn) != "arn:aws:imagebuilder:us-east-1:000000000000:workflow/build/my-approval-flow/x.x.x" ||
		aws.ToString(refs.LatestMajorVersionArn) != "arn:aws:imagebuilder:us-east-1:000000000000:workflow/build/my-approval-flow/1.x.x" ||
		aws.ToString(refs.LatestMinorVersionArn) != "arn:aws:imagebuilder:us-east-1:000000000000:workflow/build/my-approval-flow/1.2.x" ||
		aws.ToString(refs.LatestPatchVersionArn) != "arn:aws:imagebuilder:us-east-1:000000000000:workflow/build/my-approval-flow/1.2.3" {
		t.Fatalf("references: %+v", refs)
	}
	reqID, _ := middleware.GetRequestIDMetadata(out.ResultMetadata)
	if len(reqID) != 36 {
		t.Fatalf("request id %q", reqID)
	}

	for _, ref := range []string{arn, strings.TrimSuffix(arn, "/1"), strings.Replace(arn, "1.2.3/1", "x.x.x", 1), strings.Replace(arn, "1.2.3/1", "1.x.x", 1), strings.Replace(arn, "1.2.3/1", "1.2.x", 1)} {
		got, err := c.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: aws.String(ref)})
		if err != nil {
			t.Fatalf("GetWorkflow(%s): %v", ref, err)
		}
		w := got.Workflow
		if aws.ToString(w.Arn) != arn || aws.ToString(w.Name) != "My Approval_Flow" || aws.ToString(w.Version) != "1.2.3" ||
			w.Type != ibtypes.WorkflowTypeBuild || aws.ToString(w.Owner) != "000000000000" || aws.ToString(w.Data) != approvalWorkflow ||
			aws.ToString(w.Description) != "gate" || aws.ToString(w.KmsKeyId) != "alias/mine" || w.Tags["team"] != "platform" {
			t.Fatalf("GetWorkflow(%s) = %+v", ref, w)
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", aws.ToString(w.DateCreated)); err != nil {
			t.Fatalf("dateCreated %q: %v", aws.ToString(w.DateCreated), err)
		}
		if len(w.Parameters) != 2 || aws.ToString(w.Parameters[1].Name) != "skipTests" || aws.ToString(w.Parameters[1].Type) != "boolean" ||
			len(w.Parameters[1].DefaultValue) != 1 || w.Parameters[1].DefaultValue[0] != "false" {
			t.Fatalf("parameters: %+v", w.Parameters)
		}
	}

	// The same content again is refused; changed content is build 2, which
	// version and wildcard ARNs now resolve to.
	_, err := c.CreateWorkflow(ctx, &ib.CreateWorkflowInput{Name: aws.String("My Approval_Flow"), SemanticVersion: aws.String("1.2.3"),
		Type: ibtypes.WorkflowTypeBuild, Data: aws.String(approvalWorkflow), Description: aws.String("gate"), KmsKeyId: aws.String("alias/mine")})
	apiError(t, err, "ResourceAlreadyExistsException")
	second := createWF(t, c, "my approval flow", "1.2.3", approvalWorkflow+"\n# v2\n")
	if !strings.HasSuffix(aws.ToString(second.WorkflowBuildVersionArn), "/1.2.3/2") {
		t.Fatalf("second build = %s", aws.ToString(second.WorkflowBuildVersionArn))
	}
	got, err := c.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: aws.String(strings.Replace(arn, "1.2.3/1", "x.x.x", 1))})
	if err != nil || aws.ToString(got.Workflow.Arn) != aws.ToString(second.WorkflowBuildVersionArn) {
		t.Fatalf("wildcard after second build: %v %v", err, got)
	}

	// Deleting build 2 makes build 1 the newest again; deleting both
	// removes the version, and build numbers are never reused.
	del, err := c.DeleteWorkflow(ctx, &ib.DeleteWorkflowInput{WorkflowBuildVersionArn: second.WorkflowBuildVersionArn})
	if err != nil || aws.ToString(del.WorkflowBuildVersionArn) != aws.ToString(second.WorkflowBuildVersionArn) {
		t.Fatalf("delete: %v", err)
	}
	got, err = c.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: aws.String(strings.TrimSuffix(arn, "/1"))})
	if err != nil || aws.ToString(got.Workflow.Arn) != arn {
		t.Fatalf("version after delete: %v", err)
	}
	_, err = c.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: second.WorkflowBuildVersionArn})
	apiError(t, err, "ResourceNotFoundException")
	_, err = c.DeleteWorkflow(ctx, &ib.DeleteWorkflowInput{WorkflowBuildVersionArn: second.WorkflowBuildVersionArn})
	apiError(t, err, "ResourceNotFoundException")
	if _, err := c.DeleteWorkflow(ctx, &ib.DeleteWorkflowInput{WorkflowBuildVersionArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	list, err := c.ListWorkflows(ctx, &ib.ListWorkflowsInput{})
	if err != nil || len(list.WorkflowVersionList) != 0 {
		t.Fatalf("list after deletes: %v %+v", err, list)
	}
	third := createWF(t, c, "My Approval_Flow", "1.2.3", approvalWorkflow)
	if !strings.HasSuffix(aws.ToString(third.WorkflowBuildVersionArn), "/1.2.3/3") {
		t.Fatalf("build number reused: %s", aws.ToString(third.WorkflowBuildVersionArn))
	}
}

func TestImageBuilderIdempotency(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	in := func(data string) *ib.CreateWorkflowInput {
		return &ib.CreateWorkflowInput{Name: aws.String("idem"), SemanticVersion: aws.String("1.0.0"), Type: ibtypes.WorkflowTypeTest,
			Data: aws.String(data), ClientToken: aws.String("token-1")}
	}
	doc := "schemaVersion: 1.0\nsteps:\n  - name: Wait\n    action: WaitForAction\n"
	a, err := c.CreateWorkflow(ctx, in(doc))
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.CreateWorkflow(ctx, in(doc))
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	if aws.ToString(a.WorkflowBuildVersionArn) != aws.ToString(b.WorkflowBuildVersionArn) || aws.ToString(b.ClientToken) != "token-1" {
		t.Fatalf("replay differs: %s vs %s", aws.ToString(a.WorkflowBuildVersionArn), aws.ToString(b.WorkflowBuildVersionArn))
	}
	_, err = c.CreateWorkflow(ctx, in(doc+"# changed\n"))
	var mismatch *ibtypes.IdempotentParameterMismatchException
	if !errors.As(err, &mismatch) {
		t.Fatalf("want IdempotentParameterMismatchException, got %v", err)
	}
	builds, err := c.ListWorkflowBuildVersions(ctx, &ib.ListWorkflowBuildVersionsInput{WorkflowVersionArn: aws.String(strings.TrimSuffix(aws.ToString(a.WorkflowBuildVersionArn), "/1"))})
	if err != nil || len(builds.WorkflowSummaryList) != 1 {
		t.Fatalf("idempotent create made %d builds (%v)", len(builds.WorkflowSummaryList), err)
	}
}

func TestImageBuilderValidation(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	wait := "schemaVersion: 1.0\nsteps:\n  - name: Wait\n    action: WaitForAction\n"
	cases := []struct {
		name string
		in   ib.CreateWorkflowInput
		code string
		msg  string
	}{
		{"bad yaml", ib.CreateWorkflowInput{Data: aws.String("steps: [")}, "InvalidRequestException", "'data'"},
		{"unknown action", ib.CreateWorkflowInput{Data: aws.String("schemaVersion: 1.0\nsteps:\n  - name: Brew\n    action: MakeCoffee\n")}, "InvalidRequestException", `unknown action "MakeCoffee"`},
		{"bad reference", ib.CreateWorkflowInput{Data: aws.String("schemaVersion: 1.0\nsteps:\n  - name: Stop\n    action: TerminateInstance\n    inputs:\n      instanceId.$: $.stepOutputs.Launch.instanceId\n")}, "InvalidRequestException", "not an earlier step"},
		{"stage", ib.CreateWorkflowInput{Type: ibtypes.WorkflowTypeDistribution, Data: aws.String("schemaVersion: 1.0\nsteps:\n  - name: Run\n    action: ExecuteComponents\n    inputs:\n      instanceId: i-1\n")}, "InvalidRequestException", "cannot be used in a DISTRIBUTION workflow"},
		{"both data and uri", ib.CreateWorkflowInput{Uri: aws.String("s3://bucket/key.yaml")}, "InvalidParameterCombinationException", "not both"},
		{"neither data nor uri", ib.CreateWorkflowInput{Data: aws.String("")}, "InvalidParameterCombinationException", "either 'data' or 'uri'"},
		{"name pattern", ib.CreateWorkflowInput{Name: aws.String("bad!name")}, "InvalidRequestException", "'name'"},
		{"version pattern", ib.CreateWorkflowInput{SemanticVersion: aws.String("1.0")}, "InvalidRequestException", "'semanticVersion'"},
		{"version range", ib.CreateWorkflowInput{SemanticVersion: aws.String("1073741824.0.0")}, "InvalidVersionNumberException", "semanticVersion"},
		{"enum", ib.CreateWorkflowInput{Type: "DEPLOY"}, "InvalidRequestException", "enum value set: [BUILD, TEST, DISTRIBUTION]"},
		{"tag key", ib.CreateWorkflowInput{Tags: map[string]string{"aws:owner": "x"}}, "InvalidRequestException", "must not start with 'aws:'"},
		{"description length", ib.CreateWorkflowInput{Description: aws.String(strings.Repeat("d", 1025))}, "InvalidRequestException", "length less than or equal to 1024"},
		{"dry run", ib.CreateWorkflowInput{DryRun: true}, "DryRunOperationException", "DryRun"},
	}
	for _, tc := range cases {
		in := tc.in
		if in.Name == nil {
			in.Name = aws.String("valid-name")
		}
		if in.SemanticVersion == nil {
			in.SemanticVersion = aws.String("1.0.0")
		}
		if in.Type == "" {
			in.Type = ibtypes.WorkflowTypeBuild
		}
		if in.Data == nil {
			in.Data = aws.String(wait)
		} else if aws.ToString(in.Data) == "" {
			in.Data = nil
		}
		_, err := c.CreateWorkflow(ctx, &in)
		ae := apiError(t, err, tc.code)
		if !strings.Contains(ae.ErrorMessage(), tc.msg) {
			t.Errorf("%s: message %q lacks %q", tc.name, ae.ErrorMessage(), tc.msg)
		}
	}
	// None of the refused requests (the dry run included) stored anything.
	list, err := c.ListWorkflows(ctx, &ib.ListWorkflowsInput{})
	if err != nil || len(list.WorkflowVersionList) != 0 {
		t.Fatalf("refused requests stored something: %v %+v", err, list.WorkflowVersionList)
	}

	// Required members the SDK would refuse to omit: sent raw.
	r := s.raw(t, "PUT", "/CreateWorkflow", map[string]string{"Content-Type": "application/json"},
		`{"name":"x-flow","semanticVersion":"1.0.0","clientToken":"t1"}`, "imagebuilder", time.Now())
	if r.Status != 400 || r.Header.Get("X-Amzn-ErrorType") != "InvalidRequestException" || !strings.Contains(fmt.Sprint(r.Body["message"]), "'type' failed to satisfy constraint: Member must not be null") {
		t.Fatalf("missing type: %d %v %v", r.Status, r.Header.Get("X-Amzn-ErrorType"), r.Body)
	}
	r = s.raw(t, "PUT", "/CreateWorkflow", map[string]string{"Content-Type": "application/json"}, `{"name": 5}`, "imagebuilder", time.Now())
	if r.Status != 400 || r.Header.Get("X-Amzn-ErrorType") != "SerializationException" {
		t.Fatalf("wrong type: %d %v", r.Status, r.Body)
	}
	r = s.raw(t, "PUT", "/CreateWorkflow", nil, `{not json`, "imagebuilder", time.Now())
	if r.Status != 400 || r.Header.Get("X-Amzn-ErrorType") != "SerializationException" {
		t.Fatalf("bad json: %d %v", r.Status, r.Body)
	}
	_, err = c.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: aws.String("arn:aws:imagebuilder:us-east-1:000000000000:image/x/1.0.0/1")})
	apiError(t, err, "InvalidRequestException")
}

func TestImageBuilderListingAndPagination(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	doc := "schemaVersion: 1.0\nsteps:\n  - name: Wait\n    action: WaitForAction\n"
	for i := 0; i < 7; i++ {
		createWF(t, c, fmt.Sprintf("flow-%d", i), "1.0.0", doc)
	}
	createWF(t, c, "flow-0", "1.10.0", doc)
	createWF(t, c, "flow-0", "1.9.0", doc)
	for i := 0; i < 4; i++ {
		createWF(t, c, "flow-0", "1.9.0", fmt.Sprintf("%s# build %d\n", doc, i))
	}

	var seen []string
	var token *string
	pages := 0
	for {
		out, err := c.ListWorkflows(ctx, &ib.ListWorkflowsInput{MaxResults: aws.Int32(4), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, w := range out.WorkflowVersionList {
			seen = append(seen, aws.ToString(w.Name)+"@"+aws.ToString(w.Version))
			if aws.ToString(w.Owner) != "000000000000" || w.Type != ibtypes.WorkflowTypeBuild {
				t.Fatalf("item %+v", w)
			}
		}
		if out.NextToken == nil {
			break
		}
		token = out.NextToken
	}
	want := "flow-0@1.0.0 flow-0@1.9.0 flow-0@1.10.0 flow-1@1.0.0 flow-2@1.0.0 flow-3@1.0.0 flow-4@1.0.0 flow-5@1.0.0 flow-6@1.0.0"
	if strings.Join(seen, " ") != want || pages != 3 {
		t.Fatalf("pages=%d\n got %s\nwant %s", pages, strings.Join(seen, " "), want)
	}

	// The SDK paginator walks the same pages.
	p := ib.NewListWorkflowsPaginator(c, &ib.ListWorkflowsInput{MaxResults: aws.Int32(2), Filters: []ibtypes.Filter{{Name: aws.String("name"), Values: []string{"flow-0", "flow-3"}}}})
	n := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(out.WorkflowVersionList)
	}
	if n != 4 {
		t.Fatalf("filtered listing returned %d, want 4", n)
	}

	// byName across pages: each name once, with its newest version.
	var named []string
	np := ib.NewListWorkflowsPaginator(c, &ib.ListWorkflowsInput{ByName: true, MaxResults: aws.Int32(1)})
	for np.HasMorePages() {
		out, err := np.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range out.WorkflowVersionList {
			named = append(named, aws.ToString(w.Name)+"@"+aws.ToString(w.Version))
		}
	}
	if strings.Join(named, " ") != "flow-0@1.10.0 flow-1@1.0.0 flow-2@1.0.0 flow-3@1.0.0 flow-4@1.0.0 flow-5@1.0.0 flow-6@1.0.0" {
		t.Fatalf("byName pages: %v", named)
	}
	byName, err := c.ListWorkflows(ctx, &ib.ListWorkflowsInput{ByName: true, MaxResults: aws.Int32(25)})
	if err != nil || len(byName.WorkflowVersionList) != 7 || aws.ToString(byName.WorkflowVersionList[0].Version) != "1.10.0" {
		t.Fatalf("byName: %v %+v", err, byName)
	}

	// Builds of one version, two per page.
	va := "arn:aws:imagebuilder:us-east-1:000000000000:workflow/build/flow-0/1.9.0"
	var builds []string
	bp := ib.NewListWorkflowBuildVersionsPaginator(c, &ib.ListWorkflowBuildVersionsInput{WorkflowVersionArn: aws.String(va), MaxResults: aws.Int32(2)})
	for bp.HasMorePages() {
		out, err := bp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range out.WorkflowSummaryList {
			builds = append(builds, aws.ToString(w.Arn)[len(va):])
		}
	}
	if strings.Join(builds, ",") != "/1,/2,/3,/4,/5" {
		t.Fatalf("builds: %v", builds)
	}
	wild, err := c.ListWorkflowBuildVersions(ctx, &ib.ListWorkflowBuildVersionsInput{WorkflowVersionArn: aws.String("arn:aws:imagebuilder:us-east-1:000000000000:workflow/build/flow-0/1.x.x")})
	if err != nil || len(wild.WorkflowSummaryList) != 7 {
		t.Fatalf("wildcard builds: %v %d", err, len(wild.WorkflowSummaryList))
	}

	// Tokens are bound to the call that issued them.
	first, err := c.ListWorkflows(ctx, &ib.ListWorkflowsInput{MaxResults: aws.Int32(1)})
	if err != nil || first.NextToken == nil {
		t.Fatal(err)
	}
	_, err = c.ListWorkflowBuildVersions(ctx, &ib.ListWorkflowBuildVersionsInput{WorkflowVersionArn: aws.String(va), NextToken: first.NextToken})
	var badToken *ibtypes.InvalidPaginationTokenException
	if !errors.As(err, &badToken) {
		t.Fatalf("foreign token: %v", err)
	}
	_, err = c.ListWorkflows(ctx, &ib.ListWorkflowsInput{NextToken: aws.String("forged.token")})
	if !errors.As(err, &badToken) {
		t.Fatalf("forged token: %v", err)
	}
	_, err = c.ListWorkflows(ctx, &ib.ListWorkflowsInput{MaxResults: aws.Int32(26)})
	apiError(t, err, "InvalidRequestException")
	other := s.ib(opts("eu-west-1"))
	_, err = other.ListWorkflows(ctx, &ib.ListWorkflowsInput{MaxResults: aws.Int32(1), NextToken: first.NextToken})
	if !errors.As(err, &badToken) {
		t.Fatalf("token from another region: %v", err)
	}
}

func TestImageBuilderManagedWorkflows(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.ib(opts("eu-west-1"))
	ctx := context.Background()
	out, err := c.ListWorkflows(ctx, &ib.ListWorkflowsInput{Owner: ibtypes.OwnershipAmazon})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, w := range out.WorkflowVersionList {
		names = append(names, aws.ToString(w.Name))
		if aws.ToString(w.Owner) != "Amazon" || !strings.HasPrefix(aws.ToString(w.Arn), "arn:aws:imagebuilder:eu-west-1:aws:workflow/") {
			t.Fatalf("managed item %+v", w)
		}
	}
	if strings.Join(names, ",") != "build-image,distribute-image,test-image" {
		t.Fatalf("managed workflows: %v", names)
	}
	got, err := c.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: aws.String("arn:aws:imagebuilder:eu-west-1:aws:workflow/build/build-image/x.x.x")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.Workflow.Arn) != "arn:aws:imagebuilder:eu-west-1:aws:workflow/build/build-image/1.0.3/1" ||
		!strings.Contains(aws.ToString(got.Workflow.Data), "LaunchBuildInstance") ||
		aws.ToString(got.LatestVersionReferences.LatestVersionArn) != "arn:aws:imagebuilder:eu-west-1:aws:workflow/build/build-image/x.x.x" ||
		got.LatestVersionReferences.LatestMajorVersionArn != nil {
		t.Fatalf("managed get: %+v %+v", got.Workflow, got.LatestVersionReferences)
	}
	if _, err := c.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: aws.String("arn:aws:imagebuilder:eu-west-1:aws:workflow/test/test-image/1.0.0/1")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteWorkflow(ctx, &ib.DeleteWorkflowInput{WorkflowBuildVersionArn: aws.String("arn:aws:imagebuilder:eu-west-1:aws:workflow/build/build-image/1.0.3/1")})
	apiError(t, err, "InvalidRequestException")
	self, err := c.ListWorkflows(ctx, &ib.ListWorkflowsInput{})
	if err != nil || len(self.WorkflowVersionList) != 0 {
		t.Fatalf("self listing includes managed: %+v", self)
	}
}

func TestImageBuilderTags(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	out := createWF(t, c, "tagged", "1.0.0", "schemaVersion: 1.0\nsteps:\n  - name: Wait\n    action: WaitForAction\n", func(in *ib.CreateWorkflowInput) {
		in.Tags = map[string]string{"a": "1"}
	})
	arn := out.WorkflowBuildVersionArn
	if _, err := c.TagResource(ctx, &ib.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"b": "2", "a": "one"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagResource(ctx, &ib.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"b", "missing"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListTagsForResource(ctx, &ib.ListTagsForResourceInput{ResourceArn: arn})
	if err != nil || len(tags.Tags) != 1 || tags.Tags["a"] != "one" {
		t.Fatalf("tags: %v %v", err, tags)
	}
	missing := aws.String("arn:aws:imagebuilder:us-east-1:000000000000:workflow/build/nope/1.0.0/1")
	_, err = c.TagResource(ctx, &ib.TagResourceInput{ResourceArn: missing, Tags: map[string]string{"a": "b"}})
	var nf *ibtypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("tag missing resource: %v", err)
	}
	_, err = c.TagResource(ctx, &ib.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"aws:reserved": "x"}})
	var ip *ibtypes.InvalidParameterException
	if !errors.As(err, &ip) {
		t.Fatalf("reserved tag key: %v", err)
	}
	many := map[string]string{}
	for i := 0; i < 50; i++ {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	_, err = c.TagResource(ctx, &ib.TagResourceInput{ResourceArn: arn, Tags: many})
	if !errors.As(err, &ip) {
		t.Fatalf("51 tags: %v", err)
	}
	// Another region does not see the resource at all.
	_, err = s.ib(opts("us-west-2")).ListTagsForResource(ctx, &ib.ListTagsForResourceInput{ResourceArn: arn})
	if !errors.As(err, &nf) {
		t.Fatalf("cross-region tags: %v", err)
	}
}
