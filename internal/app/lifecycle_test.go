package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	ibtypes "github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"

	"github.com/slipway-dev/slipway/internal/imagebuilder"
)

// lifecycleImage builds an image distributed to us-east-1 (shared with
// 111122223333, tagged team=web) and eu-west-1, and returns its ARN.
func lifecycleImage(t *testing.T, c *ib.Client, name string) string {
	t.Helper()
	ctx := context.Background()
	in := catalog(t, c, name)
	dist, err := c.CreateDistributionConfiguration(ctx, &ib.CreateDistributionConfigurationInput{Name: aws.String(name + "-two"), Distributions: []ibtypes.Distribution{
		{Region: aws.String("us-east-1"), AmiDistributionConfiguration: &ibtypes.AmiDistributionConfiguration{AmiTags: map[string]string{"team": "web"},
			LaunchPermission: &ibtypes.LaunchPermissionConfiguration{UserIds: []string{"111122223333"}}}},
		{Region: aws.String("eu-west-1"), AmiDistributionConfiguration: &ibtypes.AmiDistributionConfiguration{}}}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.CreateImage(ctx, &ib.CreateImageInput{ImageRecipeArn: in.ImageRecipeArn, InfrastructureConfigurationArn: in.InfrastructureConfigurationArn,
		DistributionConfigurationArn: dist.DistributionConfigurationArn})
	if err != nil {
		t.Fatal(err)
	}
	waitImage(t, c, aws.ToString(out.ImageBuildVersionArn), ibtypes.ImageStatusAvailable)
	return aws.ToString(out.ImageBuildVersionArn)
}

func amisOf(t testing.TB, s *server, image string) map[string]imagebuilder.AMI {
	t.Helper()
	resp, err := http.Get(s.URL + "/_slipway/imagebuilder/amis")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AMIs []imagebuilder.AMI `json:"amis"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	m := map[string]imagebuilder.AMI{}
	for _, a := range out.AMIs {
		if a.Image == image {
			m[a.Region] = a
		}
	}
	return m
}

func setAMI(t testing.TB, s *server, id, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, s.URL+"/_slipway/imagebuilder/amis/"+id, bytes.NewBufferString(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("set AMI %s: %v %v", id, resp.Status, err)
	}
	resp.Body.Close()
}

func waitLifecycle(t testing.TB, c *ib.Client, id string, want ibtypes.LifecycleExecutionStatus) *ibtypes.LifecycleExecution {
	t.Helper()
	var ex *ibtypes.LifecycleExecution
	waitFor(t, "lifecycle execution "+string(want), func() bool {
		out, err := c.GetLifecycleExecution(context.Background(), &ib.GetLifecycleExecutionInput{LifecycleExecutionId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		ex = out.LifecycleExecution
		return ex.State.Status == want
	})
	return ex
}

func resources(t testing.TB, c *ib.Client, id, parent string) map[string]ibtypes.LifecycleExecutionResource {
	t.Helper()
	in := &ib.ListLifecycleExecutionResourcesInput{LifecycleExecutionId: aws.String(id)}
	if parent != "" {
		in.ParentResourceId = aws.String(parent)
	}
	out, err := c.ListLifecycleExecutionResources(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]ibtypes.LifecycleExecutionResource{}
	for _, r := range out.Resources {
		m[aws.ToString(r.Region)] = r
	}
	return m
}

func stateUpdate(c *ib.Client, image string, status ibtypes.ResourceStatus, mut ...func(*ib.StartResourceStateUpdateInput)) (*ib.StartResourceStateUpdateOutput, error) {
	in := &ib.StartResourceStateUpdateInput{ResourceArn: aws.String(image), State: &ibtypes.ResourceState{Status: status}, ClientToken: aws.String(newToken())}
	for _, m := range mut {
		m(in)
	}
	return c.StartResourceStateUpdate(context.Background(), in)
}

var tokenSeq atomic.Int64

// newToken returns a fresh clientToken.
func newToken() string { return fmt.Sprintf("tok-%d-%d", time.Now().UnixNano(), tokenSeq.Add(1)) }

func withAMIs(exclude *ibtypes.LifecyclePolicyDetailExclusionRulesAmis, snapshots bool) func(*ib.StartResourceStateUpdateInput) {
	return func(in *ib.StartResourceStateUpdateInput) {
		in.ExecutionRole = aws.String("arn:aws:iam::000000000000:role/lifecycle")
		in.IncludeResources = &ibtypes.ResourceStateUpdateIncludeResources{Amis: true, Snapshots: snapshots}
		if exclude != nil {
			in.ExclusionRules = &ibtypes.ResourceStateUpdateExclusionRules{Amis: exclude}
		}
	}
}

// TestStartResourceStateUpdate walks an image through the rules of
// StartResourceStateUpdate: synchronous changes, executions that change the
// AMIs, each exclusion rule, scheduled deprecation, cancellation, and the
// refusals.
func TestStartResourceStateUpdate(t *testing.T) {
	t.Parallel()
	s := startApp(t, mustNew(t, Config{InMemory: true, ClockControl: true}))
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	image := lifecycleImage(t, c, "life")
	getImage := func() *ibtypes.Image {
		out, err := c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: aws.String(image)})
		if err != nil {
			t.Fatal(err)
		}
		return out.Image
	}

	// Refusals.
	_, err := stateUpdate(c, image, ibtypes.ResourceStatusDeleted)
	apiError(t, err, "InvalidRequestException")
	_, err = stateUpdate(c, image, ibtypes.ResourceStatusDeprecated, func(in *ib.StartResourceStateUpdateInput) { in.ExecutionRole = aws.String("role") })
	apiError(t, err, "InvalidRequestException")
	_, err = stateUpdate(c, image, ibtypes.ResourceStatusDeprecated, withAMIs(nil, true))
	apiError(t, err, "InvalidRequestException")
	_, err = stateUpdate(c, image, ibtypes.ResourceStatusDisabled, func(in *ib.StartResourceStateUpdateInput) { in.UpdateAt = aws.Time(time.Now().Add(time.Hour)) })
	apiError(t, err, "InvalidRequestException")
	_, err = stateUpdate(c, image, ibtypes.ResourceStatusDeprecated, func(in *ib.StartResourceStateUpdateInput) { in.UpdateAt = aws.Time(time.Now().Add(-time.Hour)) })
	apiError(t, err, "InvalidRequestException")

	// Without resources the record changes at once, with no execution.
	out, err := stateUpdate(c, image, ibtypes.ResourceStatusDisabled)
	if err != nil || out.LifecycleExecutionId != nil {
		t.Fatalf("synchronous update %v %v", out, err)
	}
	if st := getImage().State.Status; st != ibtypes.ImageStatusDisabled {
		t.Fatalf("state %s", st)
	}
	if _, err := stateUpdate(c, image, ibtypes.ResourceStatusAvailable); err != nil {
		t.Fatal(err)
	}

	// Deprecate the AMIs outside eu-west-1: that one is skipped by the
	// regions rule.
	out, err = stateUpdate(c, image, ibtypes.ResourceStatusDeprecated, withAMIs(&ibtypes.LifecyclePolicyDetailExclusionRulesAmis{Regions: []string{"eu-west-1"}}, false))
	if err != nil || out.LifecycleExecutionId == nil || !strings.HasPrefix(aws.ToString(out.LifecycleExecutionId), "lce-") {
		t.Fatalf("async update %v %v", out, err)
	}
	lce := aws.ToString(out.LifecycleExecutionId)
	ex := waitLifecycle(t, c, lce, ibtypes.LifecycleExecutionStatusSuccess)
	if ex.LifecyclePolicyArn != nil || ex.StartTime == nil || ex.EndTime == nil || !ex.ResourcesImpactedSummary.HasImpactedResources {
		t.Fatalf("execution %+v", ex)
	}
	img := getImage()
	if img.State.Status != ibtypes.ImageStatusDeprecated || img.DeprecationTime == nil || aws.ToString(img.LifecycleExecutionId) != lce {
		t.Fatalf("image after deprecation %+v", img)
	}
	top := resources(t, c, lce, "")
	if r := top["us-east-1"]; aws.ToString(r.ResourceId) != image || r.Action.Name != ibtypes.LifecycleExecutionResourceActionNameDeprecate || r.State.Status != ibtypes.LifecycleExecutionResourceStatusSuccess {
		t.Fatalf("image resource %+v", top)
	}
	under := resources(t, c, lce, image)
	if under["us-east-1"].State.Status != ibtypes.LifecycleExecutionResourceStatusSuccess || under["eu-west-1"].State.Status != ibtypes.LifecycleExecutionResourceStatusSkipped ||
		!strings.Contains(aws.ToString(under["eu-west-1"].State.Reason), "regions") {
		t.Fatalf("AMI resources %+v", under)
	}
	amis := amisOf(t, s, image)
	if amis["us-east-1"].Tags["DeprecatedBy"] != "EC2 Image Builder" || amis["us-east-1"].DeprecationTime == nil || amis["eu-west-1"].DeprecationTime != nil {
		t.Fatalf("AMIs after deprecation %+v", amis)
	}

	// Back to AVAILABLE: deprecation time and tag go.
	out, err = stateUpdate(c, image, ibtypes.ResourceStatusAvailable, withAMIs(nil, false))
	if err != nil {
		t.Fatal(err)
	}
	waitLifecycle(t, c, aws.ToString(out.LifecycleExecutionId), ibtypes.LifecycleExecutionStatusSuccess)
	if img := getImage(); img.State.Status != ibtypes.ImageStatusAvailable || img.DeprecationTime != nil {
		t.Fatalf("image after reverse transition %+v", img)
	}
	if a := amisOf(t, s, image)["us-east-1"]; a.DeprecationTime != nil || a.Tags["DeprecatedBy"] != "" || a.Tags["team"] != "web" {
		t.Fatalf("AMI after reverse transition %+v", a)
	}

	// A scheduled deprecation: the AMIs at once, the image at updateAt;
	// meanwhile a second execution is refused; cancelling stops it.
	at := time.Now().Add(48 * time.Hour)
	out, err = stateUpdate(c, image, ibtypes.ResourceStatusDeprecated, withAMIs(nil, false), func(in *ib.StartResourceStateUpdateInput) { in.UpdateAt = aws.Time(at) })
	if err != nil {
		t.Fatal(err)
	}
	scheduled := aws.ToString(out.LifecycleExecutionId)
	if ex := waitLifecycle(t, c, scheduled, ibtypes.LifecycleExecutionStatusInProgress); ex.EndTime != nil {
		t.Fatalf("scheduled execution %+v", ex)
	}
	if a := amisOf(t, s, image)["eu-west-1"]; a.DeprecationTime == nil || a.DeprecationTime.Sub(at).Abs() > time.Second {
		t.Fatalf("AMI deprecation time %+v, want %v", a, at)
	}
	if getImage().State.Status != ibtypes.ImageStatusAvailable {
		t.Fatal("the image was deprecated before updateAt")
	}
	_, err = stateUpdate(c, image, ibtypes.ResourceStatusDisabled, withAMIs(nil, false))
	apiError(t, err, "ResourceInUseException")
	postClock(t, s, `{"advance":"49h"}`)
	waitLifecycle(t, c, scheduled, ibtypes.LifecycleExecutionStatusSuccess)
	if img := getImage(); img.State.Status != ibtypes.ImageStatusDeprecated || img.DeprecationTime.Sub(at).Abs() > time.Second {
		t.Fatalf("image at updateAt %+v", img)
	}
	out, err = stateUpdate(c, image, ibtypes.ResourceStatusDeprecated, withAMIs(nil, false), func(in *ib.StartResourceStateUpdateInput) {
		in.UpdateAt = aws.Time(time.Now().Add(100 * time.Hour))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CancelLifecycleExecution(ctx, &ib.CancelLifecycleExecutionInput{LifecycleExecutionId: out.LifecycleExecutionId, ClientToken: aws.String("cancel-1")}); err != nil {
		t.Fatal(err)
	}
	waitLifecycle(t, c, aws.ToString(out.LifecycleExecutionId), ibtypes.LifecycleExecutionStatusCancelled)
	_, err = c.CancelLifecycleExecution(ctx, &ib.CancelLifecycleExecutionInput{LifecycleExecutionId: out.LifecycleExecutionId, ClientToken: aws.String("cancel-2")})
	apiError(t, err, "ResourceInUseException")

	// Each exclusion rule keeps its AMI out of a DISABLE, and nothing else.
	usAMI, euAMI := amisOf(t, s, image)["us-east-1"].ImageID, amisOf(t, s, image)["eu-west-1"].ImageID
	setAMI(t, s, euAMI, `{"public": true, "lastLaunched": "`+time.Now().Add(72*time.Hour).UTC().Format(time.RFC3339)+`"}`)
	for name, rule := range map[string]*ibtypes.LifecyclePolicyDetailExclusionRulesAmis{
		"isPublic":       {IsPublic: true},
		"lastLaunched":   {LastLaunched: &ibtypes.LifecyclePolicyDetailExclusionRulesAmisLastLaunched{Value: aws.Int32(7), Unit: ibtypes.LifecyclePolicyTimeUnitDays}},
		"tagMap":         {TagMap: map[string]string{"team": "web"}},
		"sharedAccounts": {SharedAccounts: []string{"111122223333"}},
	} {
		out, err := stateUpdate(c, image, ibtypes.ResourceStatusDeprecated, withAMIs(rule, false))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		waitLifecycle(t, c, aws.ToString(out.LifecycleExecutionId), ibtypes.LifecycleExecutionStatusSuccess)
		under := resources(t, c, aws.ToString(out.LifecycleExecutionId), image)
		wantSkipped := map[string]string{"isPublic": "eu-west-1", "lastLaunched": "eu-west-1", "tagMap": "us-east-1", "sharedAccounts": "us-east-1"}[name]
		for region, r := range under {
			skipped := r.State.Status == ibtypes.LifecycleExecutionResourceStatusSkipped
			if skipped != (region == wantSkipped) || (skipped && !strings.Contains(aws.ToString(r.State.Reason), name)) {
				t.Fatalf("%s: %s is %s (%s)", name, region, r.State.Status, aws.ToString(r.State.Reason))
			}
		}
	}

	// DELETED with an excluded AMI keeps the image record; the other AMI
	// and its snapshot go.
	out, err = stateUpdate(c, image, ibtypes.ResourceStatusDeleted, withAMIs(&ibtypes.LifecyclePolicyDetailExclusionRulesAmis{SharedAccounts: []string{"111122223333"}}, true))
	if err != nil {
		t.Fatal(err)
	}
	lce = aws.ToString(out.LifecycleExecutionId)
	waitLifecycle(t, c, lce, ibtypes.LifecycleExecutionStatusSuccess)
	amis = amisOf(t, s, image)
	if amis["eu-west-1"].State != "deregistered" || !amis["eu-west-1"].SnapshotDeleted || amis["us-east-1"].State == "deregistered" || amis["us-east-1"].ImageID != usAMI {
		t.Fatalf("AMIs after delete %+v", amis)
	}
	if getImage().State.Status == ibtypes.ImageStatusDeleted {
		t.Fatal("the image record went although an AMI was excluded")
	}
	under = resources(t, c, lce, image)
	if len(under["eu-west-1"].Snapshots) != 1 || under["eu-west-1"].Snapshots[0].State.Status != ibtypes.LifecycleExecutionResourceStatusSuccess {
		t.Fatalf("snapshots %+v", under)
	}
	list, err := c.ListLifecycleExecutions(ctx, &ib.ListLifecycleExecutionsInput{ResourceArn: aws.String(image)})
	if err != nil || len(list.LifecycleExecutions) != 9 {
		t.Fatalf("executions of the image: %d %v", len(list.LifecycleExecutions), err)
	}
	// Without exclusions the image itself is deleted.
	out, err = stateUpdate(c, image, ibtypes.ResourceStatusDeleted, withAMIs(nil, true))
	if err != nil {
		t.Fatal(err)
	}
	waitLifecycle(t, c, aws.ToString(out.LifecycleExecutionId), ibtypes.LifecycleExecutionStatusSuccess)
	if getImage().State.Status != ibtypes.ImageStatusDeleted {
		t.Fatal("the image was not deleted")
	}
	_, err = stateUpdate(c, image, ibtypes.ResourceStatusAvailable)
	apiError(t, err, "ResourceInUseException")
}
