package app

import (
	"context"
	"net/http"
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

// TestImageScanFindings serves a findings fixture for images with scanning
// enabled: filters, pages and every aggregation type.
func TestImageScanFindings(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	in := catalog(t, c, "scan")
	in.ImageScanningConfiguration = &ibtypes.ImageScanningConfiguration{ImageScanningEnabled: aws.Bool(true)}
	pipe, err := c.CreateImagePipeline(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	scanned := startRun(t, c, aws.ToString(pipe.ImagePipelineArn), nil)
	waitImage(t, c, scanned, ibtypes.ImageStatusAvailable)
	plain, err := c.CreateImage(ctx, &ib.CreateImageInput{ImageRecipeArn: in.ImageRecipeArn, InfrastructureConfigurationArn: in.InfrastructureConfigurationArn})
	if err != nil {
		t.Fatal(err)
	}
	waitImage(t, c, aws.ToString(plain.ImageBuildVersionArn), ibtypes.ImageStatusAvailable)
	finding := func(image, cve, severity string) string {
		return `{"imageBuildVersionArn":"` + image + `","severity":"` + severity + `","type":"PACKAGE_VULNERABILITY","title":"` + cve + `",
			"firstObservedAt":1790000000,"packageVulnerabilityDetails":{"vulnerabilityId":"` + cve + `","source":"NVD"}}`
	}
	body := `{"findings":[` + strings.Join([]string{finding(scanned, "CVE-2026-0001", "CRITICAL"), finding(scanned, "CVE-2026-0002", "HIGH"),
		finding(scanned, "CVE-2026-0003", "HIGH"), finding(scanned, "CVE-2026-0001", "MEDIUM"), finding(aws.ToString(plain.ImageBuildVersionArn), "CVE-2026-0009", "CRITICAL")}, ",") + `]}`
	req, _ := http.NewRequest(http.MethodPut, s.URL+"/_slipway/imagebuilder/scan-findings", strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("fixture: %v %v", resp, err)
	}
	resp.Body.Close()

	all, err := c.ListImageScanFindings(ctx, &ib.ListImageScanFindingsInput{})
	if err != nil || len(all.Findings) != 4 {
		t.Fatalf("findings (the unscanned image's are not served): %d %v", len(all.Findings), err)
	}
	if f := all.Findings[0]; aws.ToString(f.ImagePipelineArn) != aws.ToString(pipe.ImagePipelineArn) || aws.ToString(f.AwsAccountId) != "000000000000" || f.FirstObservedAt == nil {
		t.Fatalf("finding %+v", f)
	}
	high, err := c.ListImageScanFindings(ctx, &ib.ListImageScanFindingsInput{Filters: []ibtypes.ImageScanFindingsFilter{{Name: aws.String("severity"), Values: []string{"HIGH"}}}})
	if err != nil || len(high.Findings) != 2 {
		t.Fatalf("HIGH findings %d %v", len(high.Findings), err)
	}
	page, err := c.ListImageScanFindings(ctx, &ib.ListImageScanFindingsInput{MaxResults: aws.Int32(3)})
	if err != nil || len(page.Findings) != 3 || page.NextToken == nil {
		t.Fatalf("page %d %v", len(page.Findings), err)
	}
	rest, err := c.ListImageScanFindings(ctx, &ib.ListImageScanFindingsInput{MaxResults: aws.Int32(3), NextToken: page.NextToken})
	if err != nil || len(rest.Findings) != 1 || rest.NextToken != nil {
		t.Fatalf("second page %d %v", len(rest.Findings), err)
	}
	_, err = c.ListImageScanFindings(ctx, &ib.ListImageScanFindingsInput{Filters: []ibtypes.ImageScanFindingsFilter{{Name: aws.String("color"), Values: []string{"red"}}}})
	apiError(t, err, "InvalidRequestException")

	acct, err := c.ListImageScanFindingAggregations(ctx, &ib.ListImageScanFindingAggregationsInput{})
	if err != nil || aws.ToString(acct.AggregationType) != "accountId" || len(acct.Responses) != 1 {
		t.Fatalf("account aggregation %+v %v", acct, err)
	}
	if sc := acct.Responses[0].AccountAggregation.SeverityCounts; aws.ToInt64(sc.All) != 4 || aws.ToInt64(sc.Critical) != 1 || aws.ToInt64(sc.High) != 2 || aws.ToInt64(sc.Medium) != 1 {
		t.Fatalf("account counts %+v", sc)
	}
	vuln, err := c.ListImageScanFindingAggregations(ctx, &ib.ListImageScanFindingAggregationsInput{Filter: &ibtypes.Filter{Name: aws.String("vulnerabilityId"), Values: []string{"CVE-2026-0001"}}})
	if err != nil || len(vuln.Responses) != 1 || aws.ToInt64(vuln.Responses[0].VulnerabilityIdAggregation.SeverityCounts.All) != 2 {
		t.Fatalf("vulnerability aggregation %+v %v", vuln, err)
	}
	for typ, check := range map[string]func(ibtypes.ImageScanFindingAggregation) bool{
		"imageBuildVersionArn": func(a ibtypes.ImageScanFindingAggregation) bool {
			return aws.ToString(a.ImageAggregation.ImageBuildVersionArn) == scanned
		},
		"imagePipelineArn": func(a ibtypes.ImageScanFindingAggregation) bool {
			return aws.ToString(a.ImagePipelineAggregation.ImagePipelineArn) == aws.ToString(pipe.ImagePipelineArn)
		},
	} {
		out, err := c.ListImageScanFindingAggregations(ctx, &ib.ListImageScanFindingAggregationsInput{Filter: &ibtypes.Filter{Name: aws.String(typ)}})
		if err != nil || aws.ToString(out.AggregationType) != typ || len(out.Responses) != 1 || !check(out.Responses[0]) {
			t.Fatalf("%s aggregation %+v %v", typ, out, err)
		}
	}
}
