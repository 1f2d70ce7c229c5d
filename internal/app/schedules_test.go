package app

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	ibtypes "github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"

	"github.com/slipway-dev/slipway/internal/store"
)

// pipelineImages lists a pipeline's images with their build types.
func pipelineImages(t testing.TB, c *ib.Client, pipe string) []ibtypes.ImageSummary {
	t.Helper()
	out, err := c.ListImagePipelineImages(context.Background(), &ib.ListImagePipelineImagesInput{ImagePipelineArn: aws.String(pipe), MaxResults: aws.Int32(25)})
	if err != nil {
		t.Fatal(err)
	}
	return out.ImageSummaryList
}

// waitImages waits until the pipeline has n images, none still building.
func waitImages(t testing.TB, c *ib.Client, pipe string, n int) []ibtypes.ImageSummary {
	t.Helper()
	var imgs []ibtypes.ImageSummary
	waitFor(t, fmt.Sprintf("%d finished images", n), func() bool {
		imgs = pipelineImages(t, c, pipe)
		if len(imgs) != n {
			return false
		}
		for _, im := range imgs {
			if !terminal(im.State.Status) {
				return false
			}
		}
		return true
	})
	return imgs
}

func terminal(s ibtypes.ImageStatus) bool {
	return s == ibtypes.ImageStatusAvailable || s == ibtypes.ImageStatusFailed || s == ibtypes.ImageStatusCancelled
}

func nextRunOf(t testing.TB, c *ib.Client, pipe string) string {
	t.Helper()
	out, err := c.GetImagePipeline(context.Background(), &ib.GetImagePipelineInput{ImagePipelineArn: aws.String(pipe)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ImagePipeline.DateNextRun)
}

// TestPipelineSchedule runs a weekday schedule in New York time with the
// clock moved forward: a missed match runs once (a catch-up), matches build
// on weekdays only, and the next run follows the March DST change.
func TestPipelineSchedule(t *testing.T) {
	t.Parallel()
	s := startApp(t, mustNew(t, Config{InMemory: true, ClockControl: true}))
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	in := catalog(t, c, "sched")
	in.Schedule = &ibtypes.Schedule{ScheduleExpression: aws.String("cron(0 10 ? * MON-FRI *)"), Timezone: aws.String("America/New_York"),
		PipelineExecutionStartCondition: ibtypes.PipelineExecutionStartConditionExpressionMatchOnly}
	in.ImageTags = map[string]string{"cadence": "weekday"}
	pipe, err := c.CreateImagePipeline(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(pipe.ImagePipelineArn)
	if nextRunOf(t, c, arn) == "" {
		t.Fatal("no dateNextRun")
	}
	// Friday 12 March 2027, 09:00 EST: every match since creation was
	// missed; one catch-up build runs.
	if code, out := postClock(t, s, `{"set":"2027-03-12T14:00:00Z"}`); code != 200 {
		t.Fatalf("clock: %d %v", code, out)
	}
	imgs := waitImages(t, c, arn, 1)
	if imgs[0].BuildType != ibtypes.BuildTypeScheduled {
		t.Fatalf("build type %s", imgs[0].BuildType)
	}
	if got := nextRunOf(t, c, arn); got != "2027-03-12T15:00:00.000Z" {
		t.Fatalf("next run after the catch-up %s", got)
	}
	// Friday 10:00 EST builds; the next match is Monday 10:00 EDT (the
	// clocks went forward on Sunday 14 March), 14:00 UTC.
	postClock(t, s, `{"set":"2027-03-12T15:00:30Z"}`)
	waitImages(t, c, arn, 2)
	if got := nextRunOf(t, c, arn); got != "2027-03-15T14:00:00.000Z" {
		t.Fatalf("next run across DST %s", got)
	}
	// Through the weekend nothing runs.
	postClock(t, s, `{"set":"2027-03-15T13:59:00Z"}`)
	time.Sleep(300 * time.Millisecond)
	if n := len(pipelineImages(t, c, arn)); n != 2 {
		t.Fatalf("%d images after the weekend", n)
	}
	postClock(t, s, `{"set":"2027-03-15T14:00:30Z"}`)
	imgs = waitImages(t, c, arn, 3)
	for _, im := range imgs {
		if im.BuildType != ibtypes.BuildTypeScheduled {
			t.Fatalf("image %+v", im)
		}
	}
	got, err := c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: imgs[0].Arn})
	if err != nil || got.Image.Tags["cadence"] != "weekday" {
		t.Fatalf("scheduled image tags %v %v", got, err)
	}
	// A disabled pipeline does not fire.
	if _, err := c.UpdateImagePipeline(ctx, &ib.UpdateImagePipelineInput{ImagePipelineArn: pipe.ImagePipelineArn, ImageRecipeArn: in.ImageRecipeArn,
		InfrastructureConfigurationArn: in.InfrastructureConfigurationArn, DistributionConfigurationArn: in.DistributionConfigurationArn,
		Schedule: in.Schedule, Status: ibtypes.PipelineStatusDisabled}); err != nil {
		t.Fatal(err)
	}
	if got := nextRunOf(t, c, arn); got != "" {
		t.Fatalf("a disabled pipeline has dateNextRun %s", got)
	}
	postClock(t, s, `{"advance":"72h"}`)
	time.Sleep(300 * time.Millisecond)
	if n := len(pipelineImages(t, c, arn)); n != 3 {
		t.Fatalf("a disabled pipeline built: %d images", n)
	}
}

// TestScheduleStartConditionAndAutoDisable checks the default start
// condition (build only when a wildcard reference resolves to something
// newer) and autoDisablePolicy (disabled after N failed scheduled runs).
func TestScheduleStartConditionAndAutoDisable(t *testing.T) {
	t.Parallel()
	s := startApp(t, mustNew(t, Config{InMemory: true, ClockControl: true}))
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	mkComponent := func(version string) {
		if _, err := c.CreateComponent(ctx, &ib.CreateComponentInput{Name: aws.String("tools"), SemanticVersion: aws.String(version), Platform: ibtypes.PlatformLinux,
			Data: aws.String(helloComponent)}); err != nil {
			t.Fatal(err)
		}
	}
	mkComponent("1.0.0")
	in := catalog(t, c, "deps")
	recipe, err := c.CreateImageRecipe(ctx, &ib.CreateImageRecipeInput{Name: aws.String("deps-tools"), SemanticVersion: aws.String("1.0.0"), ParentImage: aws.String("ami-0123456789abcdef0"),
		Components: []ibtypes.ComponentConfiguration{{ComponentArn: aws.String("arn:aws:imagebuilder:us-east-1:000000000000:component/tools/1.0.x")}}})
	if err != nil {
		t.Fatal(err)
	}
	in.ImageRecipeArn = recipe.ImageRecipeArn
	in.Schedule = &ibtypes.Schedule{ScheduleExpression: aws.String("cron(0 * * * ? *)")} // hourly, default condition
	pipe, err := c.CreateImagePipeline(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(pipe.ImagePipelineArn)
	postClock(t, s, `{"advance":"61m"}`)
	waitImages(t, c, arn, 1) // the first scheduled run builds
	postClock(t, s, `{"advance":"60m"}`)
	time.Sleep(300 * time.Millisecond)
	if n := len(pipelineImages(t, c, arn)); n != 1 {
		t.Fatalf("nothing newer, yet %d images", n)
	}
	mkComponent("1.0.1") // tools/1.0.x now resolves to something newer
	postClock(t, s, `{"advance":"60m"}`)
	waitImages(t, c, arn, 2)

	// Failing scheduled runs disable the pipeline after failureCount.
	failing := catalog(t, c, "flaky")
	failing.Schedule = &ibtypes.Schedule{ScheduleExpression: aws.String("cron(30 * * * ? *)"),
		PipelineExecutionStartCondition: ibtypes.PipelineExecutionStartConditionExpressionMatchOnly,
		AutoDisablePolicy:               &ibtypes.AutoDisablePolicy{FailureCount: aws.Int32(2)}}
	failing.Tags = map[string]string{"slipway:fail-steps": "CreateOutputAMI"}
	fp, err := c.CreateImagePipeline(ctx, failing)
	if err != nil {
		t.Fatal(err)
	}
	farn := aws.ToString(fp.ImagePipelineArn)
	for i := 1; i <= 2; i++ {
		postClock(t, s, `{"advance":"60m"}`)
		imgs := waitImages(t, c, farn, i)
		if imgs[0].State.Status != ibtypes.ImageStatusFailed {
			t.Fatalf("run %d: %s", i, imgs[0].State.Status)
		}
	}
	waitFor(t, "the pipeline to be disabled", func() bool {
		out, err := c.GetImagePipeline(ctx, &ib.GetImagePipelineInput{ImagePipelineArn: fp.ImagePipelineArn})
		return err == nil && out.ImagePipeline.Status == ibtypes.PipelineStatusDisabled && aws.ToInt32(out.ImagePipeline.ConsecutiveFailures) == 2 &&
			out.ImagePipeline.DateNextRun == nil
	})
	postClock(t, s, `{"advance":"60m"}`)
	time.Sleep(300 * time.Millisecond)
	if n := len(pipelineImages(t, c, farn)); n != 2 {
		t.Fatalf("an auto-disabled pipeline built again: %d", n)
	}
}

// TestScheduleCatchUpAfterDowntime stops Slipway across five hourly matches
// (the stored clock offset moved forward while it was down): on start the
// schedule runs once, not five times.
func TestScheduleCatchUpAfterDowntime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startApp(t, mustNew(t, Config{DataDir: dir, ClockControl: true}))
	c := s.ib(opts("us-east-1"))
	in := catalog(t, c, "downtime")
	in.Schedule = &ibtypes.Schedule{ScheduleExpression: aws.String("cron(15 * * * ? *)"),
		PipelineExecutionStartCondition: ibtypes.PipelineExecutionStartConditionExpressionMatchOnly}
	pipe, err := c.CreateImagePipeline(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	s.stop(t)
	st := openTestStore(t, dir)
	err = st.Update(context.Background(), func(tx store.Tx) error {
		return tx.PutMeta("clock-offset", []byte(fmt.Sprint(int64(5*time.Hour))))
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	s = startApp(t, mustNew(t, Config{DataDir: dir, ClockControl: true}))
	c = s.ib(opts("us-east-1"))
	waitImages(t, c, aws.ToString(pipe.ImagePipelineArn), 1)
	time.Sleep(300 * time.Millisecond)
	if n := len(pipelineImages(t, c, aws.ToString(pipe.ImagePipelineArn))); n != 1 {
		t.Fatalf("%d catch-up runs, want 1", n)
	}
}
