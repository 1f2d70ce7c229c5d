package app

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	ibtypes "github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
)

func runPolicyNow(t testing.TB, s *server, policy string) string {
	t.Helper()
	resp, err := http.Post(s.URL+"/_slipway/imagebuilder/lifecycle-policies/run", "application/json",
		bytes.NewBufferString(`{"lifecyclePolicyArn":"`+policy+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 200 || out["lifecycleExecutionId"] == "" {
		t.Fatalf("run: %s %v", resp.Status, out)
	}
	return out["lifecycleExecutionId"]
}

// TestLifecyclePolicy keeps the newest image per recipe version and, run
// after run, deprecates, then disables, then deletes the rest; a FAILED
// image goes at once, a tag-excluded one stays without taking the kept
// slot, and enabled policies also run daily.
func TestLifecyclePolicy(t *testing.T) {
	t.Parallel()
	s := startApp(t, mustNew(t, Config{InMemory: true, ClockControl: true}))
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	in := catalog(t, c, "lp")
	build := func(tags map[string]string, want ibtypes.ImageStatus) string {
		out, err := c.CreateImage(ctx, &ib.CreateImageInput{ImageRecipeArn: in.ImageRecipeArn, InfrastructureConfigurationArn: in.InfrastructureConfigurationArn,
			DistributionConfigurationArn: in.DistributionConfigurationArn, Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		waitImage(t, c, aws.ToString(out.ImageBuildVersionArn), want)
		postClock(t, s, `{"advance":"240h"}`)
		return aws.ToString(out.ImageBuildVersionArn)
	}
	a := build(nil, ibtypes.ImageStatusAvailable)
	b := build(map[string]string{"keep": "true"}, ibtypes.ImageStatusAvailable)
	f := build(map[string]string{"slipway:fail-steps": "CreateOutputAMI"}, ibtypes.ImageStatusFailed)
	newest := build(nil, ibtypes.ImageStatusAvailable)
	status := func(img string) ibtypes.ImageStatus {
		out, err := c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: aws.String(img)})
		if err != nil {
			t.Fatal(err)
		}
		return out.Image.State.Status
	}
	keepOne := func(action ibtypes.LifecyclePolicyDetailActionType) ibtypes.LifecyclePolicyDetail {
		d := ibtypes.LifecyclePolicyDetail{Action: &ibtypes.LifecyclePolicyDetailAction{Type: action},
			Filter: &ibtypes.LifecyclePolicyDetailFilter{Type: ibtypes.LifecyclePolicyDetailFilterTypeCount, Value: aws.Int32(1)}}
		if action == ibtypes.LifecyclePolicyDetailActionTypeDelete {
			d.Action.IncludeResources = &ibtypes.LifecyclePolicyDetailActionIncludeResources{Amis: true, Snapshots: true}
			d.ExclusionRules = &ibtypes.LifecyclePolicyDetailExclusionRules{TagMap: map[string]string{"keep": "true"}}
		}
		return d
	}
	policyIn := &ib.CreateLifecyclePolicyInput{Name: aws.String("tidy"), ExecutionRole: aws.String("arn:aws:iam::000000000000:role/lifecycle"),
		ResourceType: ibtypes.LifecyclePolicyResourceTypeAmiImage, ClientToken: aws.String("lp-1"),
		PolicyDetails: []ibtypes.LifecyclePolicyDetail{keepOne(ibtypes.LifecyclePolicyDetailActionTypeDelete), keepOne(ibtypes.LifecyclePolicyDetailActionTypeDeprecate),
			keepOne(ibtypes.LifecyclePolicyDetailActionTypeDisable)},
		ResourceSelection: &ibtypes.LifecyclePolicyResourceSelection{Recipes: []ibtypes.LifecyclePolicyResourceSelectionRecipe{{Name: aws.String("lp-recipe"), SemanticVersion: aws.String("1.x.x")}}},
		Tags:              map[string]string{"team": "infra"}}
	created, err := c.CreateLifecyclePolicy(ctx, policyIn)
	if err != nil {
		t.Fatal(err)
	}
	policy := aws.ToString(created.LifecyclePolicyArn)
	if policy != "arn:aws:imagebuilder:us-east-1:000000000000:lifecycle-policy/tidy" {
		t.Fatalf("policy arn %s", policy)
	}
	_, err = c.CreateLifecyclePolicy(ctx, func() *ib.CreateLifecyclePolicyInput { x := *policyIn; x.ClientToken = aws.String("lp-2"); return &x }())
	apiError(t, err, "ResourceAlreadyExistsException")
	bad := *policyIn
	bad.ClientToken = aws.String("lp-3")
	bad.Name = aws.String("bad")
	bad.PolicyDetails = []ibtypes.LifecyclePolicyDetail{keepOne(ibtypes.LifecyclePolicyDetailActionTypeDelete), keepOne(ibtypes.LifecyclePolicyDetailActionTypeDelete)}
	_, err = c.CreateLifecyclePolicy(ctx, &bad)
	apiError(t, err, "InvalidRequestException")

	// Run 1: the FAILED image is deleted; the older two are deprecated.
	lce := runPolicyNow(t, s, policy)
	waitLifecycle(t, c, lce, ibtypes.LifecycleExecutionStatusSuccess)
	if got := []ibtypes.ImageStatus{status(a), status(b), status(f), status(newest)}; got[0] != "DEPRECATED" || got[1] != "DEPRECATED" || got[2] != "DELETED" || got[3] != "AVAILABLE" {
		t.Fatalf("after run 1: %v", got)
	}
	ex, err := c.GetLifecycleExecution(ctx, &ib.GetLifecycleExecutionInput{LifecycleExecutionId: aws.String(lce)})
	if err != nil || aws.ToString(ex.LifecycleExecution.LifecyclePolicyArn) != policy {
		t.Fatalf("execution %+v %v", ex, err)
	}
	// Run 2: disabled.
	waitLifecycle(t, c, runPolicyNow(t, s, policy), ibtypes.LifecycleExecutionStatusSuccess)
	if status(a) != "DISABLED" || status(b) != "DISABLED" || status(newest) != "AVAILABLE" {
		t.Fatalf("after run 2: %s %s %s", status(a), status(b), status(newest))
	}
	// Run 3: deleted, except the tag-excluded one, which takes no slot.
	lce = runPolicyNow(t, s, policy)
	waitLifecycle(t, c, lce, ibtypes.LifecycleExecutionStatusSuccess)
	if status(a) != "DELETED" || status(b) != "DISABLED" || status(newest) != "AVAILABLE" {
		t.Fatalf("after run 3: %s %s %s", status(a), status(b), status(newest))
	}
	if amis := amisOf(t, s, a); amis["us-east-1"].State != "deregistered" || !amis["us-east-1"].SnapshotDeleted {
		t.Fatalf("AMIs of the deleted image %+v", amis)
	}

	// The policy's executions, its bookkeeping, and a daily run.
	list, err := c.ListLifecycleExecutions(ctx, &ib.ListLifecycleExecutionsInput{ResourceArn: aws.String(policy)})
	if err != nil || len(list.LifecycleExecutions) != 3 {
		t.Fatalf("policy executions %d %v", len(list.LifecycleExecutions), err)
	}
	got, err := c.GetLifecyclePolicy(ctx, &ib.GetLifecyclePolicyInput{LifecyclePolicyArn: aws.String(policy)})
	if err != nil || got.LifecyclePolicy.DateLastRun == nil || got.LifecyclePolicy.Status != ibtypes.LifecyclePolicyStatusEnabled || got.LifecyclePolicy.Tags["team"] != "infra" ||
		len(got.LifecyclePolicy.PolicyDetails) != 3 {
		t.Fatalf("policy %+v %v", got, err)
	}
	postClock(t, s, `{"advance":"25h"}`)
	waitFor(t, "the daily run", func() bool {
		list, err := c.ListLifecycleExecutions(ctx, &ib.ListLifecycleExecutionsInput{ResourceArn: aws.String(policy)})
		return err == nil && len(list.LifecycleExecutions) == 4
	})
	summaries, err := c.ListLifecyclePolicies(ctx, &ib.ListLifecyclePoliciesInput{Filters: []ibtypes.Filter{{Name: aws.String("name"), Values: []string{"tidy"}}}})
	if err != nil || len(summaries.LifecyclePolicySummaryList) != 1 || summaries.LifecyclePolicySummaryList[0].ResourceType != ibtypes.LifecyclePolicyResourceTypeAmiImage {
		t.Fatalf("list %+v %v", summaries, err)
	}
	// Updates replace the settings but never the resource type.
	up := &ib.UpdateLifecyclePolicyInput{LifecyclePolicyArn: aws.String(policy), ExecutionRole: policyIn.ExecutionRole, ResourceType: ibtypes.LifecyclePolicyResourceTypeContainerImage,
		PolicyDetails: []ibtypes.LifecyclePolicyDetail{keepOne(ibtypes.LifecyclePolicyDetailActionTypeDelete)}, ResourceSelection: policyIn.ResourceSelection, ClientToken: aws.String("up-1")}
	_, err = c.UpdateLifecyclePolicy(ctx, up)
	apiError(t, err, "InvalidParameterCombinationException")
	up.ResourceType, up.ClientToken, up.Status = ibtypes.LifecyclePolicyResourceTypeAmiImage, aws.String("up-2"), ibtypes.LifecyclePolicyStatusDisabled
	if _, err := c.UpdateLifecyclePolicy(ctx, up); err != nil {
		t.Fatal(err)
	}
	postClock(t, s, `{"advance":"49h"}`)
	if list, _ := c.ListLifecycleExecutions(ctx, &ib.ListLifecycleExecutionsInput{ResourceArn: aws.String(policy)}); len(list.LifecycleExecutions) != 4 {
		t.Fatalf("a disabled policy ran: %d executions", len(list.LifecycleExecutions))
	}
	if _, err := c.DeleteLifecyclePolicy(ctx, &ib.DeleteLifecyclePolicyInput{LifecyclePolicyArn: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetLifecyclePolicy(ctx, &ib.GetLifecyclePolicyInput{LifecyclePolicyArn: aws.String(policy)})
	apiError(t, err, "ResourceNotFoundException")
}
