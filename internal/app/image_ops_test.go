package app

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	ibtypes "github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
)

const imagePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["123456789012"]},"Action":["imagebuilder:GetImage","imagebuilder:ListImages"],"Resource":["*"]}]}`

// TestImagePoliciesAndMarketplace covers PutImagePolicy / GetImagePolicy and
// GetMarketplaceResource.
func TestImagePoliciesAndMarketplace(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	pipe, err := c.CreateImagePipeline(ctx, catalog(t, c, "pol"))
	if err != nil {
		t.Fatal(err)
	}
	image := startRun(t, c, aws.ToString(pipe.ImagePipelineArn), nil)
	waitImage(t, c, image, ibtypes.ImageStatusAvailable)
	_, err = c.GetImagePolicy(ctx, &ib.GetImagePolicyInput{ImageArn: aws.String(image)})
	apiError(t, err, "ResourceNotFoundException")
	put, err := c.PutImagePolicy(ctx, &ib.PutImagePolicyInput{ImageArn: aws.String(image), Policy: aws.String(imagePolicy)})
	if err != nil || aws.ToString(put.ImageArn) != image {
		t.Fatalf("put %v %v", put, err)
	}
	got, err := c.GetImagePolicy(ctx, &ib.GetImagePolicyInput{ImageArn: aws.String(image)})
	if err != nil || !strings.Contains(aws.ToString(got.Policy), "imagebuilder:GetImage") {
		t.Fatalf("get %v %v", got, err)
	}
	_, err = c.PutImagePolicy(ctx, &ib.PutImagePolicyInput{ImageArn: aws.String(image), Policy: aws.String("not json")})
	apiError(t, err, "InvalidParameterValueException")
	_, err = c.PutImagePolicy(ctx, &ib.PutImagePolicyInput{ImageArn: aws.String(image[:len(image)-1] + "7"), Policy: aws.String(imagePolicy)})
	apiError(t, err, "ResourceNotFoundException")

	// Marketplace: the caller's readable components answer, anything else is refused.
	data, err := c.GetMarketplaceResource(ctx, &ib.GetMarketplaceResourceInput{ResourceType: ibtypes.MarketplaceResourceTypeComponentData,
		ResourceArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:component/update-linux/1.0.0/1")})
	if err != nil || !strings.Contains(aws.ToString(data.Data), "UpdateOS") || aws.ToString(data.ResourceArn) != "arn:aws:imagebuilder:us-east-1:aws:component/update-linux/1.0.0/1" {
		t.Fatalf("component data %v %v", data, err)
	}
	art, err := c.GetMarketplaceResource(ctx, &ib.GetMarketplaceResourceInput{ResourceType: ibtypes.MarketplaceResourceTypeComponentArtifact,
		ResourceArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:component/update-linux/1.0.0/1"), ResourceLocation: aws.String("s3://artifacts/tools/agent.tar.gz")})
	if err != nil || !strings.HasPrefix(aws.ToString(art.Url), "https://artifacts.s3.us-east-1.amazonaws.com/tools/agent.tar.gz?") {
		t.Fatalf("artifact %v %v", art, err)
	}
	_, err = c.GetMarketplaceResource(ctx, &ib.GetMarketplaceResourceInput{ResourceType: ibtypes.MarketplaceResourceTypeComponentData,
		ResourceArn: aws.String("arn:aws:imagebuilder:us-east-1:123456789012:component/vendor-tool/1.0.0/1")})
	apiError(t, err, "InvalidRequestException")
	_, err = c.GetMarketplaceResource(ctx, &ib.GetMarketplaceResourceInput{ResourceType: ibtypes.MarketplaceResourceTypeComponentData, ResourceArn: aws.String(image)})
	apiError(t, err, "InvalidRequestException")
}

// TestDistributeAndImport distributes a built image to more regions and
// imports images from a VM Import task and an ISO in S3.
func TestDistributeAndImport(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	in := catalog(t, c, "dist")
	out, err := c.CreateImage(ctx, &ib.CreateImageInput{ImageRecipeArn: in.ImageRecipeArn, InfrastructureConfigurationArn: in.InfrastructureConfigurationArn})
	if err != nil {
		t.Fatal(err)
	}
	source := aws.ToString(out.ImageBuildVersionArn)
	waitImage(t, c, source, ibtypes.ImageStatusAvailable)
	dist, err := c.DistributeImage(ctx, &ib.DistributeImageInput{SourceImage: aws.String(source), DistributionConfigurationArn: in.DistributionConfigurationArn,
		ExecutionRole: aws.String("arn:aws:iam::000000000000:role/dist"), ClientToken: aws.String("dist-1"), Tags: map[string]string{"copy": "yes"}})
	if err != nil {
		t.Fatal(err)
	}
	copied := aws.ToString(dist.ImageBuildVersionArn)
	if copied == source || !strings.HasPrefix(copied, "arn:aws:imagebuilder:us-east-1:000000000000:image/dist-recipe/1.0.0/") {
		t.Fatalf("distributed image %s", copied)
	}
	img := waitImage(t, c, copied, ibtypes.ImageStatusAvailable)
	if len(img.OutputResources.Amis) != 2 || aws.ToString(img.OutputResources.Amis[1].Region) != "eu-west-1" || img.Tags["copy"] != "yes" {
		t.Fatalf("distributed image %+v", img)
	}
	execs, err := c.ListWorkflowExecutions(ctx, &ib.ListWorkflowExecutionsInput{ImageBuildVersionArn: aws.String(copied)})
	if err != nil || len(execs.WorkflowExecutions) != 1 || execs.WorkflowExecutions[0].Type != ibtypes.WorkflowTypeDistribution {
		t.Fatalf("executions of the distribution %+v %v", execs, err)
	}
	again, err := c.DistributeImage(ctx, &ib.DistributeImageInput{SourceImage: aws.String(source), DistributionConfigurationArn: in.DistributionConfigurationArn,
		ExecutionRole: aws.String("arn:aws:iam::000000000000:role/dist"), ClientToken: aws.String("dist-1"), Tags: map[string]string{"copy": "yes"}})
	if err != nil || aws.ToString(again.ImageBuildVersionArn) != copied {
		t.Fatalf("replayed DistributeImage %v %v", again, err)
	}
	_, err = c.DistributeImage(ctx, &ib.DistributeImageInput{SourceImage: aws.String(source + "0"), DistributionConfigurationArn: in.DistributionConfigurationArn,
		ExecutionRole: aws.String("arn:aws:iam::000000000000:role/dist"), ClientToken: aws.String("dist-2")})
	apiError(t, err, "ResourceNotFoundException")

	vm, err := c.ImportVmImage(ctx, &ib.ImportVmImageInput{Name: aws.String("imported"), SemanticVersion: aws.String("2.0.0"), Platform: ibtypes.PlatformLinux,
		OsVersion: aws.String("Ubuntu 22"), VmImportTaskId: aws.String("import-ami-0123456789abcdef0"), ClientToken: aws.String("vm-1")})
	if err != nil {
		t.Fatal(err)
	}
	img = waitImage(t, c, aws.ToString(vm.ImageArn), ibtypes.ImageStatusAvailable)
	if img.BuildType != ibtypes.BuildTypeImport || img.ImageSource != ibtypes.ImageSourceImported || aws.ToString(img.OsVersion) != "Ubuntu 22" ||
		img.ImageRecipe != nil || len(img.OutputResources.Amis) != 1 {
		t.Fatalf("imported VM image %+v", img)
	}
	_, err = c.ImportVmImage(ctx, &ib.ImportVmImageInput{Name: aws.String("imported"), SemanticVersion: aws.String("2.0.1"), Platform: ibtypes.PlatformLinux,
		VmImportTaskId: aws.String("not-a-task"), ClientToken: aws.String("vm-2")})
	if err == nil {
		t.Fatal("a bad VM Import task ID was accepted")
	}
	disk, err := c.ImportDiskImage(ctx, &ib.ImportDiskImageInput{Name: aws.String("iso"), SemanticVersion: aws.String("1.0.0"), Platform: aws.String("Windows"),
		OsVersion: aws.String("Microsoft Windows 11"), InfrastructureConfigurationArn: in.InfrastructureConfigurationArn, Uri: aws.String("s3://isos/win11.iso"),
		ClientToken: aws.String("iso-1")})
	if err != nil {
		t.Fatal(err)
	}
	if img := waitImage(t, c, aws.ToString(disk.ImageBuildVersionArn), ibtypes.ImageStatusAvailable); img.BuildType != ibtypes.BuildTypeImportIso ||
		img.Platform != ibtypes.PlatformWindows || img.InfrastructureConfiguration == nil {
		t.Fatalf("imported disk image %+v", img)
	}
}
