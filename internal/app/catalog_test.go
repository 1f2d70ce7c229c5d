package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	ibtypes "github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
)

const helloComponent = `name: hello
description: says hello
schemaVersion: 1.0
parameters:
  - greeting:
      type: string
      default: hello
phases:
  - name: build
    steps:
      - name: Say
        action: ExecuteBash
        inputs:
          commands: ["echo {{ greeting }}"]
  - name: validate
    steps:
      - name: Check
        action: ExecuteBash
        inputs:
          commands: ["true"]
`

const buildWorkflow = `schemaVersion: 1.0
parameters:
  - name: approver
    type: string
steps:
  - name: LaunchBuildInstance
    action: LaunchInstance
    inputs:
      waitFor: ssmAgent
  - name: Approve
    action: WaitForAction
  - name: CreateOutputAMI
    action: CreateImage
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

// TestTerraformStylePipeline creates what a typical Terraform configuration
// for a Linux AMI pipeline creates, reads it back field by field, updates
// it, and deletes it in dependency order.
func TestTerraformStylePipeline(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	const acct = "arn:aws:imagebuilder:us-east-1:000000000000:"

	comp, err := c.CreateComponent(ctx, &ib.CreateComponentInput{Name: aws.String("hello"), SemanticVersion: aws.String("1.0.0"),
		Platform: ibtypes.PlatformLinux, Data: aws.String(helloComponent), SupportedOsVersions: []string{"Amazon Linux 2023"},
		Description: aws.String("says hello"), Tags: map[string]string{"tf": "component"}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(comp.ComponentBuildVersionArn) != acct+"component/hello/1.0.0/1" || aws.ToString(comp.RequestId) == "" {
		t.Fatalf("component %+v", comp)
	}
	recipe, err := c.CreateImageRecipe(ctx, &ib.CreateImageRecipeInput{
		Name: aws.String("Linux Recipe"), SemanticVersion: aws.String("1.0.0"), ParentImage: aws.String("arn:aws:imagebuilder:us-east-1:aws:image/amazon-linux-2023-x86/x.x.x"),
		Components: []ibtypes.ComponentConfiguration{
			{ComponentArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:component/update-linux/x.x.x")},
			{ComponentArn: aws.String(acct + "component/hello/1.0.0"), Parameters: []ibtypes.ComponentParameter{{Name: aws.String("greeting"), Value: []string{"hi"}}}},
		},
		BlockDeviceMappings: []ibtypes.InstanceBlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"), Ebs: &ibtypes.EbsInstanceBlockDeviceSpecification{
			VolumeSize: aws.Int32(30), VolumeType: ibtypes.EbsVolumeTypeGp3, DeleteOnTermination: aws.Bool(true)}}},
		WorkingDirectory: aws.String("/tmp"), Tags: map[string]string{"tf": "recipe"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(recipe.ImageRecipeArn) != acct+"image-recipe/linux-recipe/1.0.0" {
		t.Fatalf("recipe arn %s", aws.ToString(recipe.ImageRecipeArn))
	}
	infra, err := c.CreateInfrastructureConfiguration(ctx, &ib.CreateInfrastructureConfigurationInput{
		Name: aws.String("linux-infra"), InstanceProfileName: aws.String("EC2InstanceProfileForImageBuilder"),
		InstanceTypes: []string{"t3.micro", "t3.small"}, SubnetId: aws.String("subnet-0123"), SecurityGroupIds: []string{"sg-0123"},
		Logging:                    &ibtypes.Logging{S3Logs: &ibtypes.S3Logs{S3BucketName: aws.String("logs"), S3KeyPrefix: aws.String("ib/")}},
		TerminateInstanceOnFailure: aws.Bool(false), ResourceTags: map[string]string{"builder": "slipway"},
		InstanceMetadataOptions: &ibtypes.InstanceMetadataOptions{HttpTokens: aws.String("required"), HttpPutResponseHopLimit: aws.Int32(2)},
	})
	if err != nil {
		t.Fatal(err)
	}
	dist, err := c.CreateDistributionConfiguration(ctx, &ib.CreateDistributionConfigurationInput{
		Name: aws.String("linux-dist"), Distributions: []ibtypes.Distribution{
			// AMI and container outputs together, with fast launch: AWS
			// accepts the combination.
			{Region: aws.String("us-east-1"), AmiDistributionConfiguration: &ibtypes.AmiDistributionConfiguration{
				Name: aws.String("linux-{{ imagebuilder:buildDate }}"), AmiTags: map[string]string{"Name": "linux"}, TargetAccountIds: []string{"111122223333"}},
				ContainerDistributionConfiguration: &ibtypes.ContainerDistributionConfiguration{ContainerTags: []string{"latest"},
					TargetRepository: &ibtypes.TargetContainerRepository{RepositoryName: aws.String("linux"), Service: ibtypes.ContainerRepositoryServiceEcr}},
				FastLaunchConfigurations: []ibtypes.FastLaunchConfiguration{{Enabled: false}}},
			{Region: aws.String("eu-west-1"), AmiDistributionConfiguration: &ibtypes.AmiDistributionConfiguration{Name: aws.String("linux-{{ imagebuilder:buildDate }}")},
				LaunchTemplateConfigurations: []ibtypes.LaunchTemplateConfiguration{{LaunchTemplateId: aws.String("lt-0123456789abcdef0"), SetDefaultVersion: aws.Bool(true)}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	wf := createWF(t, c, "gated-build", "1.0.0", buildWorkflow)
	pipe, err := c.CreateImagePipeline(ctx, &ib.CreateImagePipelineInput{
		Name: aws.String("linux-pipeline"), ImageRecipeArn: recipe.ImageRecipeArn, InfrastructureConfigurationArn: infra.InfrastructureConfigurationArn,
		DistributionConfigurationArn: dist.DistributionConfigurationArn, ExecutionRole: aws.String("arn:aws:iam::000000000000:role/ImageBuilderExecution"),
		Workflows: []ibtypes.WorkflowConfiguration{{WorkflowArn: wf.WorkflowBuildVersionArn, Parameters: []ibtypes.WorkflowParameter{{Name: aws.String("approver"), Value: []string{"ops"}}}},
			{WorkflowArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:workflow/test/test-image/x.x.x"), ParallelGroup: aws.String("tests"), OnFailure: ibtypes.OnWorkflowFailureContinue}},
		Schedule:                &ibtypes.Schedule{ScheduleExpression: aws.String("cron(0 8 ? * MON *)"), Timezone: aws.String("Europe/Berlin")},
		ImageTestsConfiguration: &ibtypes.ImageTestsConfiguration{ImageTestsEnabled: aws.Bool(true), TimeoutMinutes: aws.Int32(90)},
		ImageTags:               map[string]string{"built-by": "slipway"}, Tags: map[string]string{"tf": "pipeline"},
	})
	if err != nil {
		t.Fatal(err)
	}

	// Read everything back, field by field.
	gc, err := c.GetComponent(ctx, &ib.GetComponentInput{ComponentBuildVersionArn: aws.String(acct + "component/hello/x.x.x")})
	if err != nil {
		t.Fatal(err)
	}
	cm := gc.Component
	if aws.ToString(cm.Arn) != acct+"component/hello/1.0.0/1" || cm.Type != ibtypes.ComponentTypeBuild || cm.Platform != ibtypes.PlatformLinux ||
		aws.ToString(cm.Data) != helloComponent || !aws.ToBool(cm.Encrypted) || cm.State.Status != ibtypes.ComponentStatusActive ||
		len(cm.Parameters) != 1 || aws.ToString(cm.Parameters[0].Name) != "greeting" || cm.Tags["tf"] != "component" ||
		cm.SupportedOsVersions[0] != "Amazon Linux 2023" || aws.ToString(gc.LatestVersionReferences.LatestMinorVersionArn) != acct+"component/hello/1.0.x" {
		t.Fatalf("component read back: %+v", cm)
	}
	gr, err := c.GetImageRecipe(ctx, &ib.GetImageRecipeInput{ImageRecipeArn: recipe.ImageRecipeArn})
	if err != nil {
		t.Fatal(err)
	}
	r := gr.ImageRecipe
	if aws.ToString(r.Name) != "Linux Recipe" || aws.ToString(r.Version) != "1.0.0" || r.Platform != ibtypes.PlatformLinux || r.Type != ibtypes.ImageTypeAmi ||
		len(r.Components) != 2 || r.Components[1].Parameters[0].Value[0] != "hi" || aws.ToInt32(r.BlockDeviceMappings[0].Ebs.VolumeSize) != 30 ||
		r.BlockDeviceMappings[0].Ebs.VolumeType != ibtypes.EbsVolumeTypeGp3 || aws.ToString(r.WorkingDirectory) != "/tmp" || aws.ToString(r.Owner) != "000000000000" || r.Tags["tf"] != "recipe" {
		t.Fatalf("recipe read back: %+v", r)
	}
	gi, err := c.GetInfrastructureConfiguration(ctx, &ib.GetInfrastructureConfigurationInput{InfrastructureConfigurationArn: infra.InfrastructureConfigurationArn})
	if err != nil {
		t.Fatal(err)
	}
	ic := gi.InfrastructureConfiguration
	if aws.ToString(ic.InstanceProfileName) != "EC2InstanceProfileForImageBuilder" || len(ic.InstanceTypes) != 2 || aws.ToBool(ic.TerminateInstanceOnFailure) ||
		aws.ToString(ic.Logging.S3Logs.S3KeyPrefix) != "ib/" || ic.ResourceTags["builder"] != "slipway" || aws.ToInt32(ic.InstanceMetadataOptions.HttpPutResponseHopLimit) != 2 ||
		aws.ToString(ic.DateCreated) == "" || ic.DateUpdated != nil {
		t.Fatalf("infrastructure read back: %+v", ic)
	}
	gd, err := c.GetDistributionConfiguration(ctx, &ib.GetDistributionConfigurationInput{DistributionConfigurationArn: dist.DistributionConfigurationArn})
	if err != nil {
		t.Fatal(err)
	}
	dc := gd.DistributionConfiguration
	if len(dc.Distributions) != 2 || aws.ToInt32(dc.TimeoutMinutes) != 720 || dc.Distributions[0].AmiDistributionConfiguration.AmiTags["Name"] != "linux" ||
		!aws.ToBool(dc.Distributions[1].LaunchTemplateConfigurations[0].SetDefaultVersion) ||
		aws.ToString(dc.Distributions[0].ContainerDistributionConfiguration.TargetRepository.RepositoryName) != "linux" ||
		len(dc.Distributions[0].FastLaunchConfigurations) != 1 || dc.DateUpdated != nil {
		t.Fatalf("distribution read back: %+v", dc)
	}
	gp, err := c.GetImagePipeline(ctx, &ib.GetImagePipelineInput{ImagePipelineArn: pipe.ImagePipelineArn})
	if err != nil {
		t.Fatal(err)
	}
	p := gp.ImagePipeline
	if aws.ToString(p.Arn) != acct+"image-pipeline/linux-pipeline" || p.Status != ibtypes.PipelineStatusEnabled || p.Platform != ibtypes.PlatformLinux ||
		aws.ToString(p.ImageRecipeArn) != aws.ToString(recipe.ImageRecipeArn) || len(p.Workflows) != 2 || aws.ToString(p.Workflows[1].ParallelGroup) != "tests" ||
		aws.ToString(p.Schedule.Timezone) != "Europe/Berlin" || p.Schedule.PipelineExecutionStartCondition != ibtypes.PipelineExecutionStartConditionExpressionMatchAndDependencyUpdatesAvailable ||
		aws.ToString(p.DateNextRun) == "" || aws.ToInt32(p.ImageTestsConfiguration.TimeoutMinutes) != 90 || !aws.ToBool(p.EnhancedImageMetadataEnabled) ||
		p.ImageTags["built-by"] != "slipway" || p.Tags["tf"] != "pipeline" || aws.ToInt32(p.ConsecutiveFailures) != 0 ||
		aws.ToString(p.DateUpdated) == "" || aws.ToString(p.DateUpdated) != aws.ToString(p.DateCreated) {
		t.Fatalf("pipeline read back: %+v", p)
	}

	dl, err := c.ListDistributionConfigurations(ctx, &ib.ListDistributionConfigurationsInput{Filters: []ibtypes.Filter{{Name: aws.String("name"), Values: []string{"linux-dist"}}}})
	if err != nil || len(dl.DistributionConfigurationSummaryList) != 1 || strings.Join(dl.DistributionConfigurationSummaryList[0].Regions, ",") != "us-east-1,eu-west-1" {
		t.Fatalf("list distributions: %v %+v", err, dl)
	}
	pl, err := c.ListImagePipelines(ctx, &ib.ListImagePipelinesInput{Filters: []ibtypes.Filter{{Name: aws.String("status"), Values: []string{"ENABLED"}},
		{Name: aws.String("imageRecipeArn"), Values: []string{aws.ToString(recipe.ImageRecipeArn)}}}})
	if err != nil || len(pl.ImagePipelineList) != 1 || aws.ToString(pl.ImagePipelineList[0].Name) != "linux-pipeline" || len(pl.ImagePipelineList[0].Workflows) != 2 {
		t.Fatalf("list pipelines: %v %+v", err, pl)
	}
	rl, err := c.ListImageRecipes(ctx, &ib.ListImageRecipesInput{Filters: []ibtypes.Filter{{Name: aws.String("platform"), Values: []string{"Linux"}}}})
	if err != nil || len(rl.ImageRecipeSummaryList) != 1 || rl.ImageRecipeSummaryList[0].Tags["tf"] != "recipe" {
		t.Fatalf("list recipes: %v %+v", err, rl)
	}

	// Update is a full replace.
	if _, err := c.UpdateImagePipeline(ctx, &ib.UpdateImagePipelineInput{ImagePipelineArn: pipe.ImagePipelineArn, ImageRecipeArn: recipe.ImageRecipeArn,
		InfrastructureConfigurationArn: infra.InfrastructureConfigurationArn, Status: ibtypes.PipelineStatusDisabled, Description: aws.String("now manual")}); err != nil {
		t.Fatal(err)
	}
	gp, _ = c.GetImagePipeline(ctx, &ib.GetImagePipelineInput{ImagePipelineArn: pipe.ImagePipelineArn})
	p = gp.ImagePipeline
	if p.Status != ibtypes.PipelineStatusDisabled || p.Schedule != nil || len(p.Workflows) != 0 || p.DistributionConfigurationArn != nil ||
		aws.ToString(p.Description) != "now manual" || aws.ToString(p.DateUpdated) == "" || aws.ToString(p.DateCreated) == "" {
		t.Fatalf("pipeline after update: %+v", p)
	}
	if _, err := c.UpdateInfrastructureConfiguration(ctx, &ib.UpdateInfrastructureConfigurationInput{InfrastructureConfigurationArn: infra.InfrastructureConfigurationArn,
		InstanceProfileName: aws.String("OtherProfile")}); err != nil {
		t.Fatal(err)
	}
	gi, _ = c.GetInfrastructureConfiguration(ctx, &ib.GetInfrastructureConfigurationInput{InfrastructureConfigurationArn: infra.InfrastructureConfigurationArn})
	if aws.ToString(gi.InfrastructureConfiguration.InstanceProfileName) != "OtherProfile" || len(gi.InfrastructureConfiguration.InstanceTypes) != 0 ||
		!aws.ToBool(gi.InfrastructureConfiguration.TerminateInstanceOnFailure) {
		t.Fatalf("infrastructure after update: %+v", gi.InfrastructureConfiguration)
	}
	if _, err := c.UpdateDistributionConfiguration(ctx, &ib.UpdateDistributionConfigurationInput{DistributionConfigurationArn: dist.DistributionConfigurationArn,
		Distributions: []ibtypes.Distribution{{Region: aws.String("us-west-2"), AmiDistributionConfiguration: &ibtypes.AmiDistributionConfiguration{}}}}); err != nil {
		t.Fatal(err)
	}

	// Delete in dependency order; anything still used refuses.
	var dep *ibtypes.ResourceDependencyException
	_, err = c.DeleteImageRecipe(ctx, &ib.DeleteImageRecipeInput{ImageRecipeArn: recipe.ImageRecipeArn})
	if !errors.As(err, &dep) {
		t.Fatalf("recipe in use: %v", err)
	}
	_, err = c.DeleteComponent(ctx, &ib.DeleteComponentInput{ComponentBuildVersionArn: comp.ComponentBuildVersionArn})
	if !errors.As(err, &dep) {
		t.Fatalf("component in use: %v", err)
	}
	_, err = c.DeleteInfrastructureConfiguration(ctx, &ib.DeleteInfrastructureConfigurationInput{InfrastructureConfigurationArn: infra.InfrastructureConfigurationArn})
	if !errors.As(err, &dep) {
		t.Fatalf("infrastructure in use: %v", err)
	}
	// The update dropped the workflow, so it is free again.
	if _, err := c.DeleteWorkflow(ctx, &ib.DeleteWorkflowInput{WorkflowBuildVersionArn: wf.WorkflowBuildVersionArn}); err != nil {
		t.Fatal(err)
	}
	steps := []func() error{
		func() error {
			_, err := c.DeleteImagePipeline(ctx, &ib.DeleteImagePipelineInput{ImagePipelineArn: pipe.ImagePipelineArn})
			return err
		},
		func() error {
			_, err := c.DeleteImageRecipe(ctx, &ib.DeleteImageRecipeInput{ImageRecipeArn: recipe.ImageRecipeArn})
			return err
		},
		func() error {
			_, err := c.DeleteComponent(ctx, &ib.DeleteComponentInput{ComponentBuildVersionArn: comp.ComponentBuildVersionArn})
			return err
		},
		func() error {
			_, err := c.DeleteInfrastructureConfiguration(ctx, &ib.DeleteInfrastructureConfigurationInput{InfrastructureConfigurationArn: infra.InfrastructureConfigurationArn})
			return err
		},
		func() error {
			_, err := c.DeleteDistributionConfiguration(ctx, &ib.DeleteDistributionConfigurationInput{DistributionConfigurationArn: dist.DistributionConfigurationArn})
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("delete step %d: %v", i, err)
		}
	}
	_, err = c.GetImagePipeline(ctx, &ib.GetImagePipelineInput{ImagePipelineArn: pipe.ImagePipelineArn})
	apiError(t, err, "ResourceNotFoundException")
	_, err = c.GetComponent(ctx, &ib.GetComponentInput{ComponentBuildVersionArn: comp.ComponentBuildVersionArn})
	apiError(t, err, "ResourceNotFoundException")
}

func TestCatalogVersionsAndWildcards(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	const acct = "arn:aws:imagebuilder:us-east-1:000000000000:"
	mk := func(version, data string) string {
		out, err := c.CreateComponent(ctx, &ib.CreateComponentInput{Name: aws.String("Tools"), SemanticVersion: aws.String(version), Platform: ibtypes.PlatformLinux, Data: aws.String(data)})
		if err != nil {
			t.Fatalf("%s: %v", version, err)
		}
		return aws.ToString(out.ComponentBuildVersionArn)
	}
	mk("1.0.0", helloComponent)
	mk("1.2.0", helloComponent)
	mk("1.10.0", helloComponent)
	newest := mk("1.10.0", helloComponent+"# second build\n")
	mk("2.0.0", helloComponent)
	_, err := c.CreateComponent(ctx, &ib.CreateComponentInput{Name: aws.String("tools"), SemanticVersion: aws.String("2.0.0"), Platform: ibtypes.PlatformLinux, Data: aws.String(helloComponent)})
	apiError(t, err, "ResourceAlreadyExistsException")
	if newest != acct+"component/tools/1.10.0/2" {
		t.Fatalf("second build %s", newest)
	}
	for ref, want := range map[string]string{"1.x.x": "1.10.0/2", "x.x.x": "2.0.0/1", "1.2.x": "1.2.0/1", "1.10.0": "1.10.0/2", "1.10.0/1": "1.10.0/1"} {
		got, err := c.GetComponent(ctx, &ib.GetComponentInput{ComponentBuildVersionArn: aws.String(acct + "component/tools/" + ref)})
		if err != nil || !strings.HasSuffix(aws.ToString(got.Component.Arn), "/"+want) {
			t.Errorf("%s resolved to %v (%v), want %s", ref, got, err, want)
		}
	}
	_, err = c.GetComponent(ctx, &ib.GetComponentInput{ComponentBuildVersionArn: aws.String(acct + "component/tools/3.x.x")})
	apiError(t, err, "ResourceNotFoundException")

	list, err := c.ListComponents(ctx, &ib.ListComponentsInput{Filters: []ibtypes.Filter{{Name: aws.String("version"), Values: []string{"1.10.0", "2.0.0"}}}})
	if err != nil || len(list.ComponentVersionList) != 2 {
		t.Fatalf("filtered list: %v %+v", err, list)
	}
	byName, err := c.ListComponents(ctx, &ib.ListComponentsInput{ByName: true})
	if err != nil || len(byName.ComponentVersionList) != 1 || aws.ToString(byName.ComponentVersionList[0].Version) != "2.0.0" {
		t.Fatalf("byName: %v %+v", err, byName)
	}
	if _, err := c.CreateComponent(ctx, &ib.CreateComponentInput{Name: aws.String("zeta"), SemanticVersion: aws.String("1.0.0"), Platform: ibtypes.PlatformLinux, Data: aws.String(helloComponent)}); err != nil {
		t.Fatal(err)
	}
	var byNames []string
	bp := ib.NewListComponentsPaginator(c, &ib.ListComponentsInput{ByName: true, MaxResults: aws.Int32(1)})
	for bp.HasMorePages() {
		out, err := bp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range out.ComponentVersionList {
			byNames = append(byNames, aws.ToString(v.Name)+"@"+aws.ToString(v.Version))
		}
	}
	if strings.Join(byNames, ",") != "Tools@2.0.0,zeta@1.0.0" {
		t.Fatalf("byName pages: %v", byNames)
	}
	var all []string
	p := ib.NewListComponentsPaginator(c, &ib.ListComponentsInput{MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range out.ComponentVersionList {
			all = append(all, aws.ToString(v.Version))
		}
	}
	if strings.Join(all, ",") != "1.0.0,1.2.0,1.10.0,2.0.0,1.0.0" {
		t.Fatalf("pages: %v", all)
	}
	builds, err := c.ListComponentBuildVersions(ctx, &ib.ListComponentBuildVersionsInput{ComponentVersionArn: aws.String(acct + "component/tools/1.10.0"), MaxResults: aws.Int32(1)})
	if err != nil || len(builds.ComponentSummaryList) != 1 || builds.NextToken == nil {
		t.Fatalf("builds page: %v %+v", err, builds)
	}
	for _, owner := range []ibtypes.Ownership{ibtypes.OwnershipShared, ibtypes.OwnershipThirdparty} {
		out, err := c.ListComponents(ctx, &ib.ListComponentsInput{Owner: owner})
		if err != nil || len(out.ComponentVersionList) != 0 {
			t.Fatalf("owner %s: %v %+v", owner, err, out)
		}
	}
	// AWS-managed components keep their version history: every version is
	// listed, byName gives the newest of each, and any version resolves.
	linux := []ibtypes.Filter{{Name: aws.String("platform"), Values: []string{"Linux"}}}
	amazon, err := c.ListComponents(ctx, &ib.ListComponentsInput{Owner: ibtypes.OwnershipAmazon, Filters: linux, MaxResults: aws.Int32(25)})
	if err != nil || len(amazon.ComponentVersionList) != 16 || aws.ToString(amazon.ComponentVersionList[0].Owner) != "Amazon" {
		t.Fatalf("managed components: %v %+v", err, amazon)
	}
	newestByName, err := c.ListComponents(ctx, &ib.ListComponentsInput{Owner: ibtypes.OwnershipAmazon, Filters: linux, ByName: true})
	if err != nil || len(newestByName.ComponentVersionList) != 8 {
		t.Fatalf("managed components by name: %v %+v", err, newestByName)
	}
	paged, err := c.ListComponents(ctx, &ib.ListComponentsInput{Owner: ibtypes.OwnershipAmazon, Filters: linux, MaxResults: aws.Int32(4)})
	if err != nil || len(paged.ComponentVersionList) != 4 || paged.NextToken == nil {
		t.Fatalf("managed components page: %v %+v", err, paged)
	}
	rest, err := c.ListComponents(ctx, &ib.ListComponentsInput{Owner: ibtypes.OwnershipAmazon, Filters: linux, MaxResults: aws.Int32(25), NextToken: paged.NextToken})
	if err != nil || len(rest.ComponentVersionList) != 12 {
		t.Fatalf("managed components second page: %v %+v", err, rest)
	}
	for ref, want := range map[string]string{"update-linux/1.0.0": "update-linux/1.0.0/1", "update-linux/x.x.x": "update-linux/1.0.2/1",
		"update-linux/1.0.1/1": "update-linux/1.0.1/1", "aws-cli-version-2-linux/1.0.x": "aws-cli-version-2-linux/1.0.4/1",
		// Versions public examples pin.
		"docker-ce-linux/1.0.0/1": "docker-ce-linux/1.0.0/1", "amazon-cloudwatch-agent-linux/1.0.1/1": "amazon-cloudwatch-agent-linux/1.0.1/1",
		"amazon-cloudwatch-agent-linux/1.0.0": "amazon-cloudwatch-agent-linux/1.0.0/1", "simple-boot-test-linux/1.0.0/1": "simple-boot-test-linux/1.0.0/1",
		"amazon-corretto-11/1.0.0/1": "amazon-corretto-11/1.0.0/1", "reboot-test-linux/1.0.0/1": "reboot-test-linux/1.0.0/1"} {
		got, err := c.GetComponent(ctx, &ib.GetComponentInput{ComponentBuildVersionArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:component/" + ref)})
		if err != nil || aws.ToString(got.Component.Arn) != "arn:aws:imagebuilder:us-east-1:aws:component/"+want {
			t.Fatalf("%s: %v %+v", ref, err, got)
		}
	}
	bv, err := c.ListComponentBuildVersions(ctx, &ib.ListComponentBuildVersionsInput{ComponentVersionArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:component/update-linux/1.0.0")})
	if err != nil || len(bv.ComponentSummaryList) != 1 || aws.ToString(bv.ComponentSummaryList[0].Version) != "1.0.0" {
		t.Fatalf("managed build versions: %v %+v", err, bv)
	}
	pinned, err := c.CreateImageRecipe(ctx, &ib.CreateImageRecipeInput{Name: aws.String("pinned"), SemanticVersion: aws.String("1.0.0"), ParentImage: aws.String("ami-0123456789abcdef0"),
		Components: []ibtypes.ComponentConfiguration{{ComponentArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:component/update-linux/1.0.0")}}})
	if err != nil || pinned.ImageRecipeArn == nil {
		t.Fatalf("recipe on update-linux/1.0.0: %v", err)
	}
	_, err = c.GetComponent(ctx, &ib.GetComponentInput{ComponentBuildVersionArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:component/update-linux/0.9.0")})
	apiError(t, err, "ResourceNotFoundException")

	// Recipes with wildcard versions take the next free one.
	for i, want := range []string{"1.0.0", "1.0.1", "1.0.2"} {
		out, err := c.CreateImageRecipe(ctx, &ib.CreateImageRecipeInput{Name: aws.String("auto"), SemanticVersion: aws.String("1.0.x"), ParentImage: aws.String("ami-0123456789abcdef0"),
			Components: []ibtypes.ComponentConfiguration{{ComponentArn: aws.String(acct + "component/tools/1.x.x")}}})
		if err != nil || !strings.HasSuffix(aws.ToString(out.ImageRecipeArn), "/"+want) {
			t.Fatalf("auto version %d: %v %v", i, out, err)
		}
	}
	_, err = c.CreateImageRecipe(ctx, &ib.CreateImageRecipeInput{Name: aws.String("auto"), SemanticVersion: aws.String("1.0.1"), ParentImage: aws.String("ami-0123456789abcdef0"),
		Components: []ibtypes.ComponentConfiguration{{ComponentArn: aws.String(acct + "component/tools/1.x.x")}}})
	var exists *ibtypes.ResourceAlreadyExistsException
	if !errors.As(err, &exists) || !strings.Contains(exists.ErrorMessage(), "The following resource 'ImageRecipe' already exists") {
		t.Fatalf("duplicate recipe: %v", err)
	}
	// The recipes hold the build their wildcard resolved to.
	_, err = c.DeleteComponent(ctx, &ib.DeleteComponentInput{ComponentBuildVersionArn: aws.String(newest)})
	var dep *ibtypes.ResourceDependencyException
	if !errors.As(err, &dep) {
		t.Fatalf("delete used component: %v", err)
	}
	if _, err := c.DeleteComponent(ctx, &ib.DeleteComponentInput{ComponentBuildVersionArn: aws.String(acct + "component/tools/2.0.0/1")}); err != nil {
		t.Fatalf("delete unused component: %v", err)
	}
}

func TestCatalogValidation(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	const acct = "arn:aws:imagebuilder:us-east-1:000000000000:"
	check := func(name string, err error, code, msg string) {
		t.Helper()
		var ae interface {
			ErrorCode() string
			ErrorMessage() string
		}
		if !errors.As(err, &ae) || ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), msg) {
			t.Errorf("%s: got %v, want %s mentioning %q", name, err, code, msg)
		}
	}
	_, err := c.CreateComponent(ctx, &ib.CreateComponentInput{Name: aws.String("bad"), SemanticVersion: aws.String("1.0.0"), Platform: ibtypes.PlatformLinux, Data: aws.String("schemaVersion: 1.0\nphases:\n  - name: deploy\n    steps: [{name: a, action: Reboot}]\n")})
	check("component phase", err, "InvalidRequestException", "build, validate or test")
	_, err = c.CreateComponent(ctx, &ib.CreateComponentInput{Name: aws.String("bad"), SemanticVersion: aws.String("1.0.0"), Platform: "Solaris", Data: aws.String(helloComponent)})
	check("platform enum", err, "InvalidRequestException", "enum value set")
	_, err = c.CreateComponent(ctx, &ib.CreateComponentInput{Name: aws.String("dry"), SemanticVersion: aws.String("1.0.0"), Platform: ibtypes.PlatformLinux, Data: aws.String(helloComponent), DryRun: true})
	check("dry run", err, "DryRunOperationException", "DryRun")
	_, err = c.CreateImageRecipe(ctx, &ib.CreateImageRecipeInput{Name: aws.String("rec"), SemanticVersion: aws.String("1.0.0"), ParentImage: aws.String("ami-1"),
		Components: []ibtypes.ComponentConfiguration{{ComponentArn: aws.String(acct + "component/missing/1.0.0")}}})
	check("missing component", err, "InvalidRequestException", "component/missing/1.0.0")
	_, err = c.CreateImageRecipe(ctx, &ib.CreateImageRecipeInput{Name: aws.String("rec"), SemanticVersion: aws.String("x.2.x"), ParentImage: aws.String("ami-1"),
		Components: []ibtypes.ComponentConfiguration{{ComponentArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:component/update-linux/x.x.x")}}})
	check("bad wildcard", err, "InvalidVersionNumberException", "semanticVersion")
	_, err = c.CreateImageRecipe(ctx, &ib.CreateImageRecipeInput{Name: aws.String("mixed"), SemanticVersion: aws.String("1.0.0"), ParentImage: aws.String("ami-1"),
		Components: []ibtypes.ComponentConfiguration{{ComponentArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:component/update-linux/x.x.x")},
			{ComponentArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:component/update-windows/x.x.x")}}})
	check("mixed platforms", err, "InvalidRequestException", "is for Windows")
	_, err = c.CreateInfrastructureConfiguration(ctx, &ib.CreateInfrastructureConfigurationInput{Name: aws.String("infra-x"), InstanceProfileName: aws.String("p"), SubnetId: aws.String("subnet-1")})
	check("subnet without security groups", err, "InvalidRequestException", "securityGroupIds")
	_, err = c.CreateDistributionConfiguration(ctx, &ib.CreateDistributionConfigurationInput{Name: aws.String("dist"), Distributions: []ibtypes.Distribution{{Region: aws.String("us-east-1")}}})
	check("distribution without outputs", err, "InvalidRequestException", "One or more outputs should be provided")
	_, err = c.CreateDistributionConfiguration(ctx, &ib.CreateDistributionConfigurationInput{Name: aws.String("dist"), Distributions: []ibtypes.Distribution{
		{Region: aws.String("us-east-1"), AmiDistributionConfiguration: &ibtypes.AmiDistributionConfiguration{}},
		{Region: aws.String("us-east-1"), AmiDistributionConfiguration: &ibtypes.AmiDistributionConfiguration{}}}})
	check("duplicate region", err, "InvalidRequestException", "distributions[1]")

	infra, err := c.CreateInfrastructureConfiguration(ctx, &ib.CreateInfrastructureConfigurationInput{Name: aws.String("infra"), InstanceProfileName: aws.String("p")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateInfrastructureConfiguration(ctx, &ib.CreateInfrastructureConfigurationInput{Name: aws.String("INFRA"), InstanceProfileName: aws.String("p")})
	check("duplicate normalised name", err, "ResourceAlreadyExistsException", "infrastructure-configuration/infra")
	recipe, err := c.CreateImageRecipe(ctx, &ib.CreateImageRecipeInput{Name: aws.String("rec"), SemanticVersion: aws.String("1.0.0"), ParentImage: aws.String("ami-1"),
		Components: []ibtypes.ComponentConfiguration{{ComponentArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:component/update-linux/x.x.x")}}})
	if err != nil {
		t.Fatal(err)
	}
	pipe := func(mut func(*ib.CreateImagePipelineInput)) error {
		in := &ib.CreateImagePipelineInput{Name: aws.String("pipe"), ImageRecipeArn: recipe.ImageRecipeArn, InfrastructureConfigurationArn: infra.InfrastructureConfigurationArn}
		mut(in)
		_, err := c.CreateImagePipeline(ctx, in)
		return err
	}
	check("five-field cron", pipe(func(in *ib.CreateImagePipelineInput) {
		in.Schedule = &ibtypes.Schedule{ScheduleExpression: aws.String("cron(0 8 * * *)")}
	}), "InvalidRequestException", "schedule.scheduleExpression")
	check("timezone", pipe(func(in *ib.CreateImagePipelineInput) {
		in.Schedule = &ibtypes.Schedule{ScheduleExpression: aws.String("cron(0 8 * * ? *)"), Timezone: aws.String("Mars/Olympus")}
	}), "InvalidRequestException", "schedule.timezone")
	check("two recipes", pipe(func(in *ib.CreateImagePipelineInput) {
		in.ContainerRecipeArn = aws.String(acct + "container-recipe/c/1.0.0")
	}), "InvalidRequestException", "exactly one of")
	check("missing infrastructure", pipe(func(in *ib.CreateImagePipelineInput) {
		in.InfrastructureConfigurationArn = aws.String(acct + "infrastructure-configuration/nope")
	}), "InvalidRequestException", "infrastructure-configuration/nope")
	check("workflows without role", pipe(func(in *ib.CreateImagePipelineInput) {
		in.Workflows = []ibtypes.WorkflowConfiguration{{WorkflowArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:workflow/build/build-image/x.x.x")}}
	}), "InvalidRequestException", "An execution role is required to provide workflows")
	check("two build workflows", pipe(func(in *ib.CreateImagePipelineInput) {
		in.ExecutionRole = aws.String("arn:aws:iam::000000000000:role/r")
		in.Workflows = []ibtypes.WorkflowConfiguration{{WorkflowArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:workflow/build/build-image/x.x.x")},
			{WorkflowArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:workflow/build/build-image/1.0.3")}}
	}), "InvalidRequestException", "at most one BUILD")
	check("parallel group on build", pipe(func(in *ib.CreateImagePipelineInput) {
		in.ExecutionRole = aws.String("arn:aws:iam::000000000000:role/r")
		in.Workflows = []ibtypes.WorkflowConfiguration{{WorkflowArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:workflow/build/build-image/x.x.x"), ParallelGroup: aws.String("g")}}
	}), "InvalidRequestException", "parallel group")
	check("missing workflow", pipe(func(in *ib.CreateImagePipelineInput) {
		in.ExecutionRole = aws.String("arn:aws:iam::000000000000:role/r")
		in.Workflows = []ibtypes.WorkflowConfiguration{{WorkflowArn: aws.String(acct + "workflow/build/nope/1.0.0")}}
	}), "InvalidRequestException", "workflow/build/nope")
	check("dry run pipeline", pipe(func(in *ib.CreateImagePipelineInput) { in.DryRun = true }), "DryRunOperationException", "DryRun")
	list, err := c.ListImagePipelines(ctx, &ib.ListImagePipelinesInput{})
	if err != nil || len(list.ImagePipelineList) != 0 {
		t.Fatalf("refused pipelines were stored: %v %+v", err, list)
	}
	if err := pipe(func(in *ib.CreateImagePipelineInput) {}); err != nil {
		t.Fatal(err)
	}
	check("duplicate pipeline", pipe(func(in *ib.CreateImagePipelineInput) {}), "ResourceAlreadyExistsException", "image-pipeline/pipe")
	_, err = c.GetImagePipeline(ctx, &ib.GetImagePipelineInput{ImagePipelineArn: aws.String(acct + "image-pipeline/other")})
	check("get missing pipeline", err, "ResourceNotFoundException", "image-pipeline/other")
}

func TestCatalogPoliciesTagsAndListing(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	comp, err := c.CreateComponent(ctx, &ib.CreateComponentInput{Name: aws.String("shared"), SemanticVersion: aws.String("1.0.0"), Platform: ibtypes.PlatformLinux, Data: aws.String(helloComponent)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetComponentPolicy(ctx, &ib.GetComponentPolicyInput{ComponentArn: comp.ComponentBuildVersionArn})
	var nf *ibtypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("policy before put: %v", err)
	}
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["111122223333"]},"Action":["imagebuilder:GetComponent"],"Resource":["*"]}]}`
	if _, err := c.PutComponentPolicy(ctx, &ib.PutComponentPolicyInput{ComponentArn: comp.ComponentBuildVersionArn, Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetComponentPolicy(ctx, &ib.GetComponentPolicyInput{ComponentArn: comp.ComponentBuildVersionArn})
	if err != nil || aws.ToString(got.Policy) != policy {
		t.Fatalf("policy: %v %v", err, got)
	}
	_, err = c.PutComponentPolicy(ctx, &ib.PutComponentPolicyInput{ComponentArn: comp.ComponentBuildVersionArn, Policy: aws.String("not json")})
	var ipv *ibtypes.InvalidParameterValueException
	if !errors.As(err, &ipv) {
		t.Fatalf("bad policy: %v", err)
	}

	var arns []string
	for i := 0; i < 5; i++ {
		out, err := c.CreateInfrastructureConfiguration(ctx, &ib.CreateInfrastructureConfigurationInput{Name: aws.String(fmt.Sprintf("infra-%d", i)), InstanceProfileName: aws.String("p"),
			Tags: map[string]string{"n": fmt.Sprint(i)}})
		if err != nil {
			t.Fatal(err)
		}
		arns = append(arns, aws.ToString(out.InfrastructureConfigurationArn))
	}
	var names []string
	p := ib.NewListInfrastructureConfigurationsPaginator(c, &ib.ListInfrastructureConfigurationsInput{MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, sm := range out.InfrastructureConfigurationSummaryList {
			names = append(names, aws.ToString(sm.Name)+"="+sm.Tags["n"])
		}
	}
	if strings.Join(names, ",") != "infra-0=0,infra-1=1,infra-2=2,infra-3=3,infra-4=4" {
		t.Fatalf("infrastructure pages: %v", names)
	}
	for _, a := range []string{arns[2], aws.ToString(comp.ComponentBuildVersionArn)} {
		if _, err := c.TagResource(ctx, &ib.TagResourceInput{ResourceArn: aws.String(a), Tags: map[string]string{"extra": "x"}}); err != nil {
			t.Fatalf("tag %s: %v", a, err)
		}
		tags, err := c.ListTagsForResource(ctx, &ib.ListTagsForResourceInput{ResourceArn: aws.String(a)})
		if err != nil || tags.Tags["extra"] != "x" {
			t.Fatalf("tags of %s: %v %v", a, err, tags)
		}
	}
	_, err = c.ListInfrastructureConfigurations(ctx, &ib.ListInfrastructureConfigurationsInput{Filters: []ibtypes.Filter{{Name: aws.String("color"), Values: []string{"x"}}}})
	apiError(t, err, "InvalidRequestException")
}

func TestContainerRecipesImportAndRecipePolicies(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	imp, err := c.ImportComponent(ctx, &ib.ImportComponentInput{Name: aws.String("script"), SemanticVersion: aws.String("1.0.0"), Type: ibtypes.ComponentTypeTest,
		Format: ibtypes.ComponentFormatShell, Platform: ibtypes.PlatformLinux, Data: aws.String("echo one\necho two\n")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetComponent(ctx, &ib.GetComponentInput{ComponentBuildVersionArn: imp.ComponentBuildVersionArn})
	if err != nil || got.Component.Type != ibtypes.ComponentTypeTest || !strings.Contains(aws.ToString(got.Component.Data), `"echo two"`) {
		t.Fatalf("imported component: %v %+v", err, got)
	}
	in := &ib.CreateContainerRecipeInput{Name: aws.String("web"), SemanticVersion: aws.String("2.1.0"), ContainerType: ibtypes.ContainerTypeDocker,
		ParentImage: aws.String("amazonlinux:2023"), DockerfileTemplateData: aws.String("FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:environments }}}\n{{{ imagebuilder:components }}}\n"),
		TargetRepository:      &ibtypes.TargetContainerRepository{Service: ibtypes.ContainerRepositoryServiceEcr, RepositoryName: aws.String("web")},
		Components:            []ibtypes.ComponentConfiguration{{ComponentArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:component/update-linux/x.x.x")}, {ComponentArn: imp.ComponentBuildVersionArn}},
		InstanceConfiguration: &ibtypes.InstanceConfiguration{Image: aws.String("ami-0123456789abcdef0")}, Tags: map[string]string{"app": "web"}}
	cr, err := c.CreateContainerRecipe(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	g, err := c.GetContainerRecipe(ctx, &ib.GetContainerRecipeInput{ContainerRecipeArn: cr.ContainerRecipeArn})
	if err != nil {
		t.Fatal(err)
	}
	r := g.ContainerRecipe
	if aws.ToString(r.Arn) != "arn:aws:imagebuilder:us-east-1:000000000000:container-recipe/web/2.1.0" || r.ContainerType != ibtypes.ContainerTypeDocker ||
		aws.ToString(r.TargetRepository.RepositoryName) != "web" || r.Platform != ibtypes.PlatformLinux || !aws.ToBool(r.Encrypted) || r.Tags["app"] != "web" ||
		aws.ToString(r.InstanceConfiguration.Image) != "ami-0123456789abcdef0" || len(r.Components) != 2 {
		t.Fatalf("container recipe: %+v", r)
	}
	list, err := c.ListContainerRecipes(ctx, &ib.ListContainerRecipesInput{Filters: []ibtypes.Filter{{Name: aws.String("containerType"), Values: []string{"DOCKER"}}}})
	if err != nil || len(list.ContainerRecipeSummaryList) != 1 || aws.ToString(list.ContainerRecipeSummaryList[0].Name) != "web" {
		t.Fatalf("list container recipes: %v %+v", err, list)
	}
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"imagebuilder:GetContainerRecipe","Resource":"*"}]}`
	if _, err := c.PutContainerRecipePolicy(ctx, &ib.PutContainerRecipePolicyInput{ContainerRecipeArn: cr.ContainerRecipeArn, Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	gp, err := c.GetContainerRecipePolicy(ctx, &ib.GetContainerRecipePolicyInput{ContainerRecipeArn: cr.ContainerRecipeArn})
	if err != nil || aws.ToString(gp.Policy) != policy {
		t.Fatalf("container recipe policy: %v %v", err, gp)
	}
	ir, err := c.CreateImageRecipe(ctx, &ib.CreateImageRecipeInput{Name: aws.String("ami"), SemanticVersion: aws.String("1.0.0"), ParentImage: aws.String("ami-1"),
		Components: []ibtypes.ComponentConfiguration{{ComponentArn: imp.ComponentBuildVersionArn}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutImageRecipePolicy(ctx, &ib.PutImageRecipePolicyInput{ImageRecipeArn: ir.ImageRecipeArn, Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	if p, err := c.GetImageRecipePolicy(ctx, &ib.GetImageRecipePolicyInput{ImageRecipeArn: ir.ImageRecipeArn}); err != nil || aws.ToString(p.Policy) != policy {
		t.Fatalf("image recipe policy: %v", err)
	}
	irs, err := c.ListImageRecipes(ctx, &ib.ListImageRecipesInput{Filters: []ibtypes.Filter{{Name: aws.String("parentImage"), Values: []string{"ami-1"}}}})
	if err != nil || len(irs.ImageRecipeSummaryList) != 1 {
		t.Fatalf("list image recipes: %v %+v", err, irs)
	}
	// Recipes keep the imported component; deleting both recipes frees it.
	_, err = c.DeleteComponent(ctx, &ib.DeleteComponentInput{ComponentBuildVersionArn: imp.ComponentBuildVersionArn})
	apiError(t, err, "ResourceDependencyException")
	if _, err := c.DeleteContainerRecipe(ctx, &ib.DeleteContainerRecipeInput{ContainerRecipeArn: cr.ContainerRecipeArn}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteImageRecipe(ctx, &ib.DeleteImageRecipeInput{ImageRecipeArn: ir.ImageRecipeArn}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteComponent(ctx, &ib.DeleteComponentInput{ComponentBuildVersionArn: imp.ComponentBuildVersionArn}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetContainerRecipePolicy(ctx, &ib.GetContainerRecipePolicyInput{ContainerRecipeArn: cr.ContainerRecipeArn})
	apiError(t, err, "ResourceNotFoundException")
}
