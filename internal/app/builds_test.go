package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	ibtypes "github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
)

// catalog creates a recipe, infrastructure and distribution configuration
// and returns a pipeline input ready for workflows.
func catalog(t testing.TB, c *ib.Client, name string) *ib.CreateImagePipelineInput {
	t.Helper()
	ctx := context.Background()
	recipe, err := c.CreateImageRecipe(ctx, &ib.CreateImageRecipeInput{Name: aws.String(name + "-recipe"), SemanticVersion: aws.String("1.0.0"), ParentImage: aws.String("ami-0123456789abcdef0"),
		Components: []ibtypes.ComponentConfiguration{{ComponentArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:component/update-linux/x.x.x")}}})
	if err != nil {
		t.Fatal(err)
	}
	infra, err := c.CreateInfrastructureConfiguration(ctx, &ib.CreateInfrastructureConfigurationInput{Name: aws.String(name + "-infra"), InstanceProfileName: aws.String("profile")})
	if err != nil {
		t.Fatal(err)
	}
	dist, err := c.CreateDistributionConfiguration(ctx, &ib.CreateDistributionConfigurationInput{Name: aws.String(name + "-dist"), Distributions: []ibtypes.Distribution{
		{Region: aws.String("us-east-1"), AmiDistributionConfiguration: &ibtypes.AmiDistributionConfiguration{Name: aws.String(name + "-{{ imagebuilder:buildDate }}")}},
		{Region: aws.String("eu-west-1"), AmiDistributionConfiguration: &ibtypes.AmiDistributionConfiguration{}}}})
	if err != nil {
		t.Fatal(err)
	}
	return &ib.CreateImagePipelineInput{Name: aws.String(name), ImageRecipeArn: recipe.ImageRecipeArn,
		InfrastructureConfigurationArn: infra.InfrastructureConfigurationArn, DistributionConfigurationArn: dist.DistributionConfigurationArn}
}

// waitImage polls GetImage until the image reaches a terminal status.
func waitImage(t testing.TB, c *ib.Client, image string, want ibtypes.ImageStatus) *ibtypes.Image {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := c.GetImage(context.Background(), &ib.GetImageInput{ImageBuildVersionArn: aws.String(image)})
		if err != nil {
			t.Fatal(err)
		}
		st := out.Image.State.Status
		switch st {
		case ibtypes.ImageStatusAvailable, ibtypes.ImageStatusFailed, ibtypes.ImageStatusCancelled:
			if st != want {
				t.Fatalf("image %s ended %s (%s), want %s", image, st, aws.ToString(out.Image.State.Reason), want)
			}
			return out.Image
		}
		if st == want {
			return out.Image
		}
		if time.Now().After(deadline) {
			t.Fatalf("image %s still %s", image, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitingStep polls until the image has a step waiting for an action.
func waitingStep(t testing.TB, c *ib.Client, image string) ibtypes.WorkflowStepExecution {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		p := ib.NewListWaitingWorkflowStepsPaginator(c, &ib.ListWaitingWorkflowStepsInput{})
		for p.HasMorePages() {
			out, err := p.NextPage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range out.Steps {
				if aws.ToString(s.ImageBuildVersionArn) == image {
					return s
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no waiting step for %s", image)
	return ibtypes.WorkflowStepExecution{}
}

func stepsOf(t testing.TB, c *ib.Client, image string) map[string][]ibtypes.WorkflowStepMetadata {
	t.Helper()
	ctx := context.Background()
	execs, err := c.ListWorkflowExecutions(ctx, &ib.ListWorkflowExecutionsInput{ImageBuildVersionArn: aws.String(image)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]ibtypes.WorkflowStepMetadata{}
	for _, ex := range execs.WorkflowExecutions {
		steps, err := c.ListWorkflowStepExecutions(ctx, &ib.ListWorkflowStepExecutionsInput{WorkflowExecutionId: ex.WorkflowExecutionId})
		if err != nil {
			t.Fatal(err)
		}
		out[string(ex.Type)] = append(out[string(ex.Type)], steps.Steps...)
	}
	return out
}

func TestPipelineWithDefaultWorkflowsBecomesAvailable(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	in := catalog(t, c, "default")
	pipe, err := c.CreateImagePipeline(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	run, err := c.StartImagePipelineExecution(ctx, &ib.StartImagePipelineExecutionInput{ImagePipelineArn: pipe.ImagePipelineArn, Tags: map[string]string{"run": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	image := aws.ToString(run.ImageBuildVersionArn)
	if image != "arn:aws:imagebuilder:us-east-1:000000000000:image/default-recipe/1.0.0/1" {
		t.Fatalf("image arn %s", image)
	}
	img := waitImage(t, c, image, ibtypes.ImageStatusAvailable)
	if aws.ToString(img.Version) != "1.0.0/1" || img.BuildType != ibtypes.BuildTypeUserInitiated || aws.ToString(img.SourcePipelineArn) != aws.ToString(pipe.ImagePipelineArn) ||
		len(img.OutputResources.Amis) != 2 || !strings.HasPrefix(aws.ToString(img.OutputResources.Amis[0].Image), "ami-") || aws.ToString(img.OutputResources.Amis[1].Region) != "eu-west-1" ||
		aws.ToString(img.ImageRecipe.Name) != "default-recipe" || aws.ToString(img.InfrastructureConfiguration.Name) != "default-infra" || img.Tags["run"] != "1" {
		t.Fatalf("image %+v", img)
	}
	// Images are taggable like every other resource.
	if _, err := c.TagResource(ctx, &ib.TagResourceInput{ResourceArn: aws.String(image), Tags: map[string]string{"team": "infra"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagResource(ctx, &ib.UntagResourceInput{ResourceArn: aws.String(image), TagKeys: []string{"run"}}); err != nil {
		t.Fatal(err)
	}
	lt, err := c.ListTagsForResource(ctx, &ib.ListTagsForResourceInput{ResourceArn: aws.String(image)})
	if err != nil || len(lt.Tags) != 1 || lt.Tags["team"] != "infra" {
		t.Fatalf("image tags %v %v", lt, err)
	}
	if got, err := c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: aws.String(image)}); err != nil || got.Image.Tags["team"] != "infra" || got.Image.Tags["run"] != "" {
		t.Fatalf("GetImage tags %v %v", got, err)
	}
	_, err = c.TagResource(ctx, &ib.TagResourceInput{ResourceArn: aws.String(image[:len(image)-1] + "9"), Tags: map[string]string{"a": "b"}})
	apiError(t, err, "ResourceNotFoundException")
	execs, err := c.ListWorkflowExecutions(ctx, &ib.ListWorkflowExecutionsInput{ImageBuildVersionArn: aws.String(image)})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ex := range execs.WorkflowExecutions {
		types = append(types, string(ex.Type)+"="+string(ex.Status))
		if ex.TotalStepsSucceeded+ex.TotalStepsSkipped != ex.TotalStepCount {
			t.Fatalf("execution counts %+v", ex)
		}
	}
	if strings.Join(types, ",") != "BUILD=COMPLETED,TEST=COMPLETED,DISTRIBUTION=COMPLETED" {
		t.Fatalf("executions %v", types)
	}
	build := execs.WorkflowExecutions[0]
	if !strings.Contains(aws.ToString(build.WorkflowBuildVersionArn), ":aws:workflow/build/build-image/1.0.3/1") || build.TotalStepCount != 7 || build.TotalStepsSkipped != 1 {
		t.Fatalf("build execution %+v", build)
	}
	steps := stepsOf(t, c, image)["BUILD"]
	var launch, create ibtypes.WorkflowStepMetadata
	for _, st := range steps {
		switch aws.ToString(st.Name) {
		case "LaunchBuildInstance":
			launch = st
		case "CreateOutputAMI":
			create = st
		case "RunSysPrepScript":
			if st.Status != ibtypes.WorkflowStepExecutionStatusSkipped || !strings.Contains(aws.ToString(st.Inputs), "instanceId.$") {
				t.Fatalf("skipped step keeps unresolved inputs: %+v", st)
			}
		}
	}
	var launchOut struct {
		InstanceID string `json:"instanceId"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(launch.Outputs)), &launchOut); err != nil || !strings.HasPrefix(launchOut.InstanceID, "i-") {
		t.Fatalf("launch outputs %q", aws.ToString(launch.Outputs))
	}
	if !strings.Contains(aws.ToString(create.Inputs), launchOut.InstanceID) {
		t.Fatalf("CreateOutputAMI inputs %q do not carry the instance %s", aws.ToString(create.Inputs), launchOut.InstanceID)
	}
	got, err := c.GetImagePipeline(ctx, &ib.GetImagePipelineInput{ImagePipelineArn: pipe.ImagePipelineArn})
	if err != nil || got.ImagePipeline.LastRunStatus != ibtypes.ImageStatusAvailable || aws.ToString(got.ImagePipeline.DateLastRun) == "" {
		t.Fatalf("pipeline bookkeeping: %v %+v", err, got)
	}
	pk, err := c.ListImagePackages(ctx, &ib.ListImagePackagesInput{ImageBuildVersionArn: aws.String(image)})
	if err != nil || len(pk.ImagePackageList) == 0 {
		t.Fatalf("packages: %v", err)
	}
	// A disabled pipeline still runs manually, and build numbers go up.
	in.Status = ibtypes.PipelineStatusDisabled
	if _, err := c.UpdateImagePipeline(ctx, &ib.UpdateImagePipelineInput{ImagePipelineArn: pipe.ImagePipelineArn, ImageRecipeArn: in.ImageRecipeArn,
		InfrastructureConfigurationArn: in.InfrastructureConfigurationArn, Status: ibtypes.PipelineStatusDisabled}); err != nil {
		t.Fatal(err)
	}
	run2, err := c.StartImagePipelineExecution(ctx, &ib.StartImagePipelineExecutionInput{ImagePipelineArn: pipe.ImagePipelineArn})
	if err != nil || !strings.HasSuffix(aws.ToString(run2.ImageBuildVersionArn), "/1.0.0/2") {
		t.Fatalf("second run: %v %v", err, run2)
	}
	img2 := waitImage(t, c, aws.ToString(run2.ImageBuildVersionArn), ibtypes.ImageStatusAvailable)
	if len(img2.OutputResources.Amis) != 1 { // the update removed the distribution configuration
		t.Fatalf("second image outputs %+v", img2.OutputResources)
	}
	list, err := c.ListImagePipelineImages(ctx, &ib.ListImagePipelineImagesInput{ImagePipelineArn: pipe.ImagePipelineArn})
	if err != nil || len(list.ImageSummaryList) != 2 {
		t.Fatalf("pipeline images: %v %+v", err, list)
	}
	images, err := c.ListImages(ctx, &ib.ListImagesInput{})
	if err != nil || len(images.ImageVersionList) != 1 || aws.ToString(images.ImageVersionList[0].Version) != "1.0.0" {
		t.Fatalf("list images: %v %+v", err, images)
	}
	builds, err := c.ListImageBuildVersions(ctx, &ib.ListImageBuildVersionsInput{ImageVersionArn: images.ImageVersionList[0].Arn, MaxResults: aws.Int32(1)})
	if err != nil || len(builds.ImageSummaryList) != 1 || builds.NextToken == nil {
		t.Fatalf("build versions: %v %+v", err, builds)
	}
	// Idempotency of Start: the same token gives the same image.
	a, err := c.StartImagePipelineExecution(ctx, &ib.StartImagePipelineExecutionInput{ImagePipelineArn: pipe.ImagePipelineArn, ClientToken: aws.String("same")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.StartImagePipelineExecution(ctx, &ib.StartImagePipelineExecutionInput{ImagePipelineArn: pipe.ImagePipelineArn, ClientToken: aws.String("same")})
	if err != nil || aws.ToString(a.ImageBuildVersionArn) != aws.ToString(b.ImageBuildVersionArn) {
		t.Fatalf("idempotent start: %v %v %v", err, a.ImageBuildVersionArn, b.ImageBuildVersionArn)
	}
	_, err = c.StartImagePipelineExecution(ctx, &ib.StartImagePipelineExecutionInput{ImagePipelineArn: pipe.ImagePipelineArn, ClientToken: aws.String("same"), Tags: map[string]string{"x": "y"}})
	var mismatch *ibtypes.IdempotentParameterMismatchException
	if !errors.As(err, &mismatch) {
		t.Fatalf("start with reused token: %v", err)
	}
	waitImage(t, c, aws.ToString(a.ImageBuildVersionArn), ibtypes.ImageStatusAvailable)
	_, err = c.StartImagePipelineExecution(ctx, &ib.StartImagePipelineExecutionInput{ImagePipelineArn: aws.String("arn:aws:imagebuilder:us-east-1:000000000000:image-pipeline/nope")})
	var nf *ibtypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("start unknown pipeline: %v", err)
	}
	if _, err := c.DeleteImage(ctx, &ib.DeleteImageInput{ImageBuildVersionArn: aws.String(image)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: aws.String(image)})
	apiError(t, err, "ResourceNotFoundException")
}

const approvalGate = `schemaVersion: 1.0
steps:
  - name: LaunchBuildInstance
    action: LaunchInstance
    inputs:
      waitFor: ssmAgent
  - name: Approve
    action: WaitForAction
    timeoutSeconds: %d
  - name: CreateOutputAMI
    action: CreateImage
    if:
      stringEquals: "RESUME"
      value: "$.stepOutputs.Approve.action"
    inputs:
      instanceId.$: "$.stepOutputs.LaunchBuildInstance.instanceId"
      description: "approved: {{ $.stepOutputs.Approve.reason }}"
  - name: TerminateBuildInstance
    action: TerminateInstance
    onFailure: Continue
    inputs:
      instanceId.$: "$.stepOutputs.LaunchBuildInstance.instanceId"
outputs:
  - name: ImageId
    value: "$.stepOutputs.CreateOutputAMI.imageId"
`

func gatedPipeline(t testing.TB, c *ib.Client, name string, timeout int) string {
	t.Helper()
	in := catalog(t, c, name)
	wf := createWF(t, c, name+"-gate", "1.0.0", fmt.Sprintf(approvalGate, timeout))
	in.ExecutionRole = aws.String("arn:aws:iam::000000000000:role/ImageBuilder")
	in.Workflows = []ibtypes.WorkflowConfiguration{{WorkflowArn: wf.WorkflowBuildVersionArn}}
	pipe, err := c.CreateImagePipeline(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(pipe.ImagePipelineArn)
}

func startRun(t testing.TB, c *ib.Client, pipe string, tags map[string]string) string {
	t.Helper()
	run, err := c.StartImagePipelineExecution(context.Background(), &ib.StartImagePipelineExecutionInput{ImagePipelineArn: aws.String(pipe), Tags: tags})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(run.ImageBuildVersionArn)
}

func TestWaitForActionResumeAndStop(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	pipe := gatedPipeline(t, c, "gated", 3600)

	image := startRun(t, c, pipe, nil)
	w := waitingStep(t, c, image)
	if aws.ToString(w.Name) != "Approve" || aws.ToString(w.Action) != "WaitForAction" || aws.ToString(w.StartTime) == "" {
		t.Fatalf("waiting step %+v", w)
	}
	got, err := c.GetWorkflowStepExecution(ctx, &ib.GetWorkflowStepExecutionInput{StepExecutionId: w.StepExecutionId})
	if err != nil || got.Status != ibtypes.WorkflowStepExecutionStatusRunning || aws.ToInt32(got.TimeoutSeconds) != 3600 || aws.ToString(got.OnFailure) != "Abort" {
		t.Fatalf("waiting step detail: %v %+v", err, got)
	}
	if st := waitImage(t, c, image, ibtypes.ImageStatusBuilding); st.State.Status != ibtypes.ImageStatusBuilding {
		t.Fatal("not building while waiting")
	}
	// The wrong image, a bad id, then the real thing; then a duplicate.
	_, err = c.SendWorkflowStepAction(ctx, &ib.SendWorkflowStepActionInput{StepExecutionId: w.StepExecutionId, ImageBuildVersionArn: aws.String(strings.Replace(image, "/1.0.0/1", "/1.0.0/9", 1)), Action: ibtypes.WorkflowStepActionTypeResume})
	var ipv *ibtypes.InvalidParameterValueException
	if !errors.As(err, &ipv) {
		t.Fatalf("wrong image: %v", err)
	}
	_, err = c.SendWorkflowStepAction(ctx, &ib.SendWorkflowStepActionInput{StepExecutionId: aws.String("step-00000000-0000-4000-8000-000000000000"), ImageBuildVersionArn: aws.String(image), Action: ibtypes.WorkflowStepActionTypeResume})
	var nf *ibtypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("unknown step: %v", err)
	}
	send := &ib.SendWorkflowStepActionInput{StepExecutionId: w.StepExecutionId, ImageBuildVersionArn: aws.String(image), Action: ibtypes.WorkflowStepActionTypeResume,
		Reason: aws.String("looks good"), ClientToken: aws.String("approve-1")}
	out, err := c.SendWorkflowStepAction(ctx, send)
	if err != nil || aws.ToString(out.StepExecutionId) != aws.ToString(w.StepExecutionId) || aws.ToString(out.ClientToken) != "approve-1" {
		t.Fatalf("resume: %v %+v", err, out)
	}
	if _, err := c.SendWorkflowStepAction(ctx, send); err != nil {
		t.Fatalf("idempotent replay: %v", err)
	}
	send.ClientToken = aws.String("approve-2")
	_, err = c.SendWorkflowStepAction(ctx, send)
	var inUse *ibtypes.ResourceInUseException
	if !errors.As(err, &inUse) {
		t.Fatalf("second action on a finished step: %v", err)
	}
	waitImage(t, c, image, ibtypes.ImageStatusAvailable)
	for _, st := range stepsOf(t, c, image)["BUILD"] {
		switch aws.ToString(st.Name) {
		case "Approve":
			if st.Status != ibtypes.WorkflowStepExecutionStatusCompleted || !strings.Contains(aws.ToString(st.Outputs), `"reason":"looks good"`) {
				t.Fatalf("approve step %+v", st)
			}
		case "CreateOutputAMI":
			if st.Status != ibtypes.WorkflowStepExecutionStatusCompleted || !strings.Contains(aws.ToString(st.Inputs), "approved: looks good") {
				t.Fatalf("create step %+v", st)
			}
		}
	}
	// The pipeline's custom workflows replace the defaults: only BUILD and
	// the distribution from the configuration ran.
	if steps := stepsOf(t, c, image); len(steps["TEST"]) != 0 || len(steps["DISTRIBUTION"]) == 0 {
		t.Fatalf("stages %v", steps)
	}

	// STOP fails the build and rolls back the launched instance.
	image2 := startRun(t, c, pipe, nil)
	w2 := waitingStep(t, c, image2)
	if _, err := c.SendWorkflowStepAction(ctx, &ib.SendWorkflowStepActionInput{StepExecutionId: w2.StepExecutionId, ImageBuildVersionArn: aws.String(image2),
		Action: ibtypes.WorkflowStepActionTypeStop, Reason: aws.String("rejected")}); err != nil {
		t.Fatal(err)
	}
	img := waitImage(t, c, image2, ibtypes.ImageStatusFailed)
	if !strings.Contains(aws.ToString(img.State.Reason), "rejected") {
		t.Fatalf("reason %q", aws.ToString(img.State.Reason))
	}
	execs, _ := c.ListWorkflowExecutions(ctx, &ib.ListWorkflowExecutionsInput{ImageBuildVersionArn: aws.String(image2)})
	if execs.WorkflowExecutions[0].Status != ibtypes.WorkflowExecutionStatusRollbackCompleted || execs.WorkflowExecutions[0].TotalStepsFailed != 1 {
		t.Fatalf("execution after stop: %+v", execs.WorkflowExecutions[0])
	}
	for _, st := range stepsOf(t, c, image2)["BUILD"] {
		want := map[string]ibtypes.WorkflowStepExecutionStatus{"LaunchBuildInstance": "COMPLETED", "Approve": "FAILED", "CreateOutputAMI": "CANCELLED", "TerminateBuildInstance": "CANCELLED"}[aws.ToString(st.Name)]
		if st.Status != want {
			t.Fatalf("step %s is %s, want %s", aws.ToString(st.Name), st.Status, want)
		}
		if aws.ToString(st.Name) == "LaunchBuildInstance" && st.RollbackStatus != ibtypes.WorkflowStepExecutionRollbackStatusCompleted {
			t.Fatalf("launch not rolled back: %+v", st)
		}
	}
	p, _ := c.GetImagePipeline(ctx, &ib.GetImagePipelineInput{ImagePipelineArn: aws.String(pipe)})
	if p.ImagePipeline.LastRunStatus != ibtypes.ImageStatusFailed {
		t.Fatalf("lastRunStatus %s", p.ImagePipeline.LastRunStatus)
	}
}

func TestWaitForActionTimeoutAndCancel(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	pipe := gatedPipeline(t, c, "timeout", 1)
	image := startRun(t, c, pipe, nil)
	img := waitImage(t, c, image, ibtypes.ImageStatusFailed)
	if !strings.Contains(aws.ToString(img.State.Reason), "timed out") {
		t.Fatalf("timeout reason %q", aws.ToString(img.State.Reason))
	}
	_, err := c.ListWaitingWorkflowSteps(ctx, &ib.ListWaitingWorkflowStepsInput{NextToken: aws.String("forged.token")})
	var badToken *ibtypes.InvalidPaginationTokenException
	if !errors.As(err, &badToken) {
		t.Fatalf("forged token: %v", err)
	}
	w, _ := c.ListWaitingWorkflowSteps(ctx, &ib.ListWaitingWorkflowStepsInput{})
	if len(w.Steps) != 0 {
		t.Fatalf("a timed-out step is still listed: %+v", w.Steps)
	}

	pipe2 := gatedPipeline(t, c, "cancel", 3600)
	image2 := startRun(t, c, pipe2, nil)
	step := waitingStep(t, c, image2)
	out, err := c.CancelImageCreation(ctx, &ib.CancelImageCreationInput{ImageBuildVersionArn: aws.String(image2)})
	if err != nil || aws.ToString(out.ImageBuildVersionArn) != image2 {
		t.Fatalf("cancel: %v", err)
	}
	waitImage(t, c, image2, ibtypes.ImageStatusCancelled)
	_, err = c.SendWorkflowStepAction(ctx, &ib.SendWorkflowStepActionInput{StepExecutionId: step.StepExecutionId, ImageBuildVersionArn: aws.String(image2), Action: ibtypes.WorkflowStepActionTypeResume})
	var inUse *ibtypes.ResourceInUseException
	if !errors.As(err, &inUse) {
		t.Fatalf("action after cancel: %v", err)
	}
	_, err = c.CancelImageCreation(ctx, &ib.CancelImageCreationInput{ImageBuildVersionArn: aws.String(image2)})
	if !errors.As(err, &inUse) {
		t.Fatalf("cancel twice: %v", err)
	}
	execs, _ := c.ListWorkflowExecutions(ctx, &ib.ListWorkflowExecutionsInput{ImageBuildVersionArn: aws.String(image2)})
	if execs.WorkflowExecutions[0].Status != ibtypes.WorkflowExecutionStatusCancelled {
		t.Fatalf("execution after cancel: %+v", execs.WorkflowExecutions[0])
	}
}

func TestFailureInjectionOnFailureAndRetry(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	in := catalog(t, c, "inject")
	pipe, err := c.CreateImagePipeline(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	// TerminateBuildInstance is onFailure: Continue: the build still succeeds.
	image := startRun(t, c, aws.ToString(pipe.ImagePipelineArn), map[string]string{"slipway:fail-steps": "TerminateBuildInstance"})
	waitImage(t, c, image, ibtypes.ImageStatusAvailable)
	for _, st := range stepsOf(t, c, image)["BUILD"] {
		if aws.ToString(st.Name) == "TerminateBuildInstance" && (st.Status != ibtypes.WorkflowStepExecutionStatusFailed || !strings.Contains(aws.ToString(st.Outputs), "errorMessage")) {
			t.Fatalf("continued step %+v", st)
		}
	}
	// ApplyTestComponents aborts: the image fails in TESTING with context.
	image2 := startRun(t, c, aws.ToString(pipe.ImagePipelineArn), map[string]string{"slipway:fail-steps": "ApplyTestComponents"})
	img := waitImage(t, c, image2, ibtypes.ImageStatusFailed)
	if !strings.Contains(aws.ToString(img.State.Reason), "ApplyTestComponents") {
		t.Fatalf("reason %q", aws.ToString(img.State.Reason))
	}
	test := stepsOf(t, c, image2)["TEST"]
	if len(test) != 4 || test[0].RollbackStatus != ibtypes.WorkflowStepExecutionRollbackStatusCompleted {
		t.Fatalf("test steps %+v", test)
	}
	// RetryImage reruns the test stage of the same build version; the
	// injected failure is still tagged, so it fails again the same way.
	r, err := c.RetryImage(ctx, &ib.RetryImageInput{ImageBuildVersionArn: aws.String(image2)})
	if err != nil || aws.ToString(r.ImageBuildVersionArn) != image2 {
		t.Fatalf("retry: %v", err)
	}
	waitImage(t, c, image2, ibtypes.ImageStatusFailed)
	execs, _ := c.ListWorkflowExecutions(ctx, &ib.ListWorkflowExecutionsInput{ImageBuildVersionArn: aws.String(image2)})
	if len(execs.WorkflowExecutions) != 3 || !aws.ToBool(execs.WorkflowExecutions[2].Retried) {
		t.Fatalf("executions after retry %+v", execs.WorkflowExecutions)
	}
	_, err = c.RetryImage(ctx, &ib.RetryImageInput{ImageBuildVersionArn: aws.String(image)})
	var inUse *ibtypes.ResourceInUseException
	if !errors.As(err, &inUse) {
		t.Fatalf("retry of an available image: %v", err)
	}
	// Injected via the pipeline's tags this time, failing the build stage.
	if _, err := c.TagResource(ctx, &ib.TagResourceInput{ResourceArn: pipe.ImagePipelineArn, Tags: map[string]string{"slipway:fail-steps": "CreateOutputAMI"}}); err != nil {
		t.Fatal(err)
	}
	image3 := startRun(t, c, aws.ToString(pipe.ImagePipelineArn), nil)
	waitImage(t, c, image3, ibtypes.ImageStatusFailed)
	_, err = c.RetryImage(ctx, &ib.RetryImageInput{ImageBuildVersionArn: aws.String(image3)})
	apiError(t, err, "InvalidRequestException")
}

func TestStepListingPagination(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	pipe, err := c.CreateImagePipeline(ctx, catalog(t, c, "pages"))
	if err != nil {
		t.Fatal(err)
	}
	image := startRun(t, c, aws.ToString(pipe.ImagePipelineArn), nil)
	waitImage(t, c, image, ibtypes.ImageStatusAvailable)
	execs, err := c.ListWorkflowExecutions(ctx, &ib.ListWorkflowExecutionsInput{ImageBuildVersionArn: aws.String(image), MaxResults: aws.Int32(2)})
	if err != nil || len(execs.WorkflowExecutions) != 2 || execs.NextToken == nil {
		t.Fatalf("executions page: %v %+v", err, execs)
	}
	var names []string
	p := ib.NewListWorkflowStepExecutionsPaginator(c, &ib.ListWorkflowStepExecutionsInput{WorkflowExecutionId: execs.WorkflowExecutions[0].WorkflowExecutionId, MaxResults: aws.Int32(3)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.ImageBuildVersionArn) != image {
			t.Fatalf("page without its image: %+v", out)
		}
		for _, st := range out.Steps {
			names = append(names, aws.ToString(st.Name))
		}
	}
	if strings.Join(names, ",") != "LaunchBuildInstance,ApplyBuildComponents,InventoryCollection,RunSanitizeScript,RunSysPrepScript,CreateOutputAMI,TerminateBuildInstance" {
		t.Fatalf("steps %v", names)
	}
	_, err = c.ListWorkflowStepExecutions(ctx, &ib.ListWorkflowStepExecutionsInput{WorkflowExecutionId: execs.WorkflowExecutions[0].WorkflowExecutionId, NextToken: execs.NextToken})
	var bad *ibtypes.InvalidPaginationTokenException
	if !errors.As(err, &bad) {
		t.Fatalf("foreign token: %v", err)
	}
	ex, err := c.GetWorkflowExecution(ctx, &ib.GetWorkflowExecutionInput{WorkflowExecutionId: execs.WorkflowExecutions[1].WorkflowExecutionId})
	if err != nil || ex.Type != ibtypes.WorkflowTypeTest || aws.ToString(ex.ImageBuildVersionArn) != image || aws.ToString(ex.EndTime) == "" {
		t.Fatalf("get execution: %v %+v", err, ex)
	}
	_, err = c.GetWorkflowExecution(ctx, &ib.GetWorkflowExecutionInput{WorkflowExecutionId: aws.String("wf-00000000-0000-4000-8000-000000000000")})
	apiError(t, err, "ResourceNotFoundException")
}

const paramTest = `schemaVersion: 1.0
parameters:
  - name: doc
    type: string
  - name: retries
    type: integer
    default: 2
steps:
  - name: LaunchTestInstance
    action: LaunchInstance
    inputs:
      waitFor: ssmAgent
      imageIdOverride.$: "$.workflowOutputs.ImageId"
  - name: RunChecks
    action: RunCommand
    if:
      numberGreaterThan: 1
      value: "$.parameters.retries"
    inputs:
      instanceId.$: "$.stepOutputs.LaunchTestInstance.instanceId"
      documentName.$: "$.parameters.doc"
      parameters:
        note: ["image {{ $.imagebuilder.imageName }} build {{ $.imagebuilder.imageBuildNumber }}"]
  - name: TerminateTestInstance
    action: TerminateInstance
    inputs:
      instanceId.$: "$.stepOutputs.LaunchTestInstance.instanceId"
`

func TestCreateImageWithParallelTestGroupsAndParameters(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	in := catalog(t, c, "groups")
	build := createWF(t, c, "groups-build", "1.0.0", fmt.Sprintf(approvalGate, 60))
	test := createWF(t, c, "groups-test", "1.0.0", paramTest, func(in *ib.CreateWorkflowInput) { in.Type = ibtypes.WorkflowTypeTest })
	param := func(v string) []ibtypes.WorkflowParameter {
		return []ibtypes.WorkflowParameter{{Name: aws.String("doc"), Value: []string{v}}}
	}
	out, err := c.CreateImage(ctx, &ib.CreateImageInput{ImageRecipeArn: in.ImageRecipeArn, InfrastructureConfigurationArn: in.InfrastructureConfigurationArn,
		ExecutionRole: aws.String("arn:aws:iam::000000000000:role/r"), Tags: map[string]string{"one-off": "yes"},
		Workflows: []ibtypes.WorkflowConfiguration{
			{WorkflowArn: build.WorkflowBuildVersionArn},
			{WorkflowArn: test.WorkflowBuildVersionArn, ParallelGroup: aws.String("g1"), Parameters: param("AWS-RunShellScript")},
			{WorkflowArn: test.WorkflowBuildVersionArn, ParallelGroup: aws.String("g1"), Parameters: param("AWS-RunPatchBaseline")},
			{WorkflowArn: test.WorkflowBuildVersionArn, ParallelGroup: aws.String("g2"), Parameters: param("AWS-Inventory")},
		}})
	if err != nil {
		t.Fatal(err)
	}
	image := aws.ToString(out.ImageBuildVersionArn)
	w := waitingStep(t, c, image)
	if _, err := c.SendWorkflowStepAction(ctx, &ib.SendWorkflowStepActionInput{StepExecutionId: w.StepExecutionId, ImageBuildVersionArn: aws.String(image), Action: ibtypes.WorkflowStepActionTypeResume}); err != nil {
		t.Fatal(err)
	}
	img := waitImage(t, c, image, ibtypes.ImageStatusAvailable)
	if img.BuildType != ibtypes.BuildTypeUserInitiated || img.SourcePipelineArn != nil || img.Tags["one-off"] != "yes" || len(img.Workflows) != 4 || len(img.OutputResources.Amis) != 1 {
		t.Fatalf("image %+v", img)
	}
	execs, err := c.ListWorkflowExecutions(ctx, &ib.ListWorkflowExecutionsInput{ImageBuildVersionArn: aws.String(image)})
	if err != nil {
		t.Fatal(err)
	}
	var groups []string
	var g1End, g2Start string
	var buildAMI string
	for _, ex := range execs.WorkflowExecutions {
		groups = append(groups, string(ex.Type)+":"+aws.ToString(ex.ParallelGroup))
		switch aws.ToString(ex.ParallelGroup) {
		case "g1":
			if e := aws.ToString(ex.EndTime); e > g1End {
				g1End = e
			}
		case "g2":
			g2Start = aws.ToString(ex.StartTime)
		}
		steps, err := c.ListWorkflowStepExecutions(ctx, &ib.ListWorkflowStepExecutionsInput{WorkflowExecutionId: ex.WorkflowExecutionId})
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range steps.Steps {
			if aws.ToString(st.Name) == "CreateOutputAMI" {
				var o struct {
					ImageID string `json:"imageId"`
				}
				_ = json.Unmarshal([]byte(aws.ToString(st.Outputs)), &o)
				buildAMI = o.ImageID
			}
			if aws.ToString(st.Name) == "LaunchTestInstance" && (buildAMI == "" || !strings.Contains(aws.ToString(st.Inputs), buildAMI)) {
				t.Fatalf("test instance not launched from the build's AMI %s: %s", buildAMI, aws.ToString(st.Inputs))
			}
			if aws.ToString(st.Name) == "RunChecks" {
				if st.Status != ibtypes.WorkflowStepExecutionStatusCompleted || !strings.Contains(aws.ToString(st.Inputs), `"documentName":"AWS-`) ||
					!strings.Contains(aws.ToString(st.Inputs), "image groups-recipe build 1") {
					t.Fatalf("RunChecks %+v", st)
				}
			}
		}
	}
	if strings.Join(groups, ",") != "BUILD:,TEST:g1,TEST:g1,TEST:g2" {
		t.Fatalf("executions %v", groups)
	}
	if g2Start < g1End {
		t.Fatalf("group g2 started at %s before g1 ended at %s", g2Start, g1End)
	}
	// Deleting the image does not give its build number back.
	if _, err := c.DeleteImage(ctx, &ib.DeleteImageInput{ImageBuildVersionArn: aws.String(image)}); err != nil {
		t.Fatal(err)
	}
	again, err := c.CreateImage(ctx, &ib.CreateImageInput{ImageRecipeArn: in.ImageRecipeArn, InfrastructureConfigurationArn: in.InfrastructureConfigurationArn,
		ImageTestsConfiguration: &ibtypes.ImageTestsConfiguration{ImageTestsEnabled: aws.Bool(false)}})
	if err != nil || !strings.HasSuffix(aws.ToString(again.ImageBuildVersionArn), "/1.0.0/2") {
		t.Fatalf("next build: %v %v", err, again)
	}
	waitImage(t, c, aws.ToString(again.ImageBuildVersionArn), ibtypes.ImageStatusAvailable)
	ex2, _ := c.ListWorkflowExecutions(ctx, &ib.ListWorkflowExecutionsInput{ImageBuildVersionArn: again.ImageBuildVersionArn})
	if len(ex2.WorkflowExecutions) != 1 { // tests disabled, no distribution configuration
		t.Fatalf("executions without tests: %+v", ex2.WorkflowExecutions)
	}
	_, err = c.CreateImage(ctx, &ib.CreateImageInput{ImageRecipeArn: in.ImageRecipeArn, InfrastructureConfigurationArn: aws.String("arn:aws:imagebuilder:us-east-1:000000000000:infrastructure-configuration/nope")})
	apiError(t, err, "InvalidRequestException")
}

func TestImageStatusWalkAndStepTimeout(t *testing.T) {
	t.Parallel()
	// Each state lasts at least a step delay, long enough for a poll every
	// 2 ms to see it even when the race detector and the other tests load
	// the machine (25 ms was not).
	a, err := New(context.Background(), Config{InMemory: true, StepDelay: 100 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := startApp(t, a)
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	pipe, err := c.CreateImagePipeline(ctx, catalog(t, c, "walk"))
	if err != nil {
		t.Fatal(err)
	}
	image := startRun(t, c, aws.ToString(pipe.ImagePipelineArn), nil)
	var seen []string
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		out, err := c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: aws.String(image)})
		if err != nil {
			t.Fatal(err)
		}
		st := string(out.Image.State.Status)
		if len(seen) == 0 || seen[len(seen)-1] != st {
			seen = append(seen, st)
		}
		if st == "AVAILABLE" || st == "FAILED" {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if got := strings.Join(seen, ">"); !strings.HasSuffix(got, "BUILDING>TESTING>DISTRIBUTING>INTEGRATING>AVAILABLE") {
		t.Fatalf("status walk %s", got)
	}

	// A step that takes longer than its timeoutSeconds fails as timed out.
	slow := strings.Replace(fmt.Sprintf(approvalGate, 60), "    action: LaunchInstance\n", "    action: LaunchInstance\n    timeoutSeconds: 1\n", 1)
	a2, err := New(context.Background(), Config{InMemory: true, StepDelay: 1500 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c2 := startApp(t, a2).ib(opts("us-east-1"))
	in := catalog(t, c2, "slow")
	wf := createWF(t, c2, "slow-build", "1.0.0", slow)
	in.ExecutionRole = aws.String("arn:aws:iam::000000000000:role/r")
	in.Workflows = []ibtypes.WorkflowConfiguration{{WorkflowArn: wf.WorkflowBuildVersionArn}}
	p2, err := c2.CreateImagePipeline(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	img := waitImage(t, c2, startRun(t, c2, aws.ToString(p2.ImagePipelineArn), nil), ibtypes.ImageStatusFailed)
	if !strings.Contains(aws.ToString(img.State.Reason), "timed out after 1 seconds") {
		t.Fatalf("reason %q", aws.ToString(img.State.Reason))
	}
}
