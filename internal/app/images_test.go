package app

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	ibtypes "github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
)

// TestContainerBuildOutputs builds a container recipe distributed to two
// regions: each region lists its URIs (the versioned tag, latest, and that
// region's containerTags, in the distribution's repository when it names
// one).
func TestContainerBuildOutputs(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	cr, err := c.CreateContainerRecipe(ctx, &ib.CreateContainerRecipeInput{Name: aws.String("svc"), SemanticVersion: aws.String("1.2.0"), ContainerType: ibtypes.ContainerTypeDocker,
		ParentImage: aws.String("amazonlinux:2023"), DockerfileTemplateData: aws.String("FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}\n"),
		TargetRepository: &ibtypes.TargetContainerRepository{Service: ibtypes.ContainerRepositoryServiceEcr, RepositoryName: aws.String("svc")},
		Components:       []ibtypes.ComponentConfiguration{{ComponentArn: aws.String("arn:aws:imagebuilder:us-east-1:aws:component/update-linux/x.x.x")}}})
	if err != nil {
		t.Fatal(err)
	}
	infra, err := c.CreateInfrastructureConfiguration(ctx, &ib.CreateInfrastructureConfigurationInput{Name: aws.String("svc-infra"), InstanceProfileName: aws.String("profile")})
	if err != nil {
		t.Fatal(err)
	}
	dist, err := c.CreateDistributionConfiguration(ctx, &ib.CreateDistributionConfigurationInput{Name: aws.String("svc-dist"), Distributions: []ibtypes.Distribution{
		{Region: aws.String("us-east-1"), ContainerDistributionConfiguration: &ibtypes.ContainerDistributionConfiguration{ContainerTags: []string{"stable", "latest"},
			TargetRepository: &ibtypes.TargetContainerRepository{Service: ibtypes.ContainerRepositoryServiceEcr, RepositoryName: aws.String("svc")}}},
		{Region: aws.String("eu-west-1"), ContainerDistributionConfiguration: &ibtypes.ContainerDistributionConfiguration{
			TargetRepository: &ibtypes.TargetContainerRepository{Service: ibtypes.ContainerRepositoryServiceEcr, RepositoryName: aws.String("svc-eu")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.CreateImage(ctx, &ib.CreateImageInput{ContainerRecipeArn: cr.ContainerRecipeArn, InfrastructureConfigurationArn: infra.InfrastructureConfigurationArn,
		DistributionConfigurationArn: dist.DistributionConfigurationArn})
	if err != nil {
		t.Fatal(err)
	}
	img := waitImage(t, c, aws.ToString(out.ImageBuildVersionArn), ibtypes.ImageStatusAvailable)
	var got []string
	for _, ct := range img.OutputResources.Containers {
		got = append(got, aws.ToString(ct.Region)+"="+strings.Join(ct.ImageUris, ","))
	}
	want := []string{
		"us-east-1=000000000000.dkr.ecr.us-east-1.amazonaws.com/svc:1.2.0-1,000000000000.dkr.ecr.us-east-1.amazonaws.com/svc:latest,000000000000.dkr.ecr.us-east-1.amazonaws.com/svc:stable",
		"eu-west-1=000000000000.dkr.ecr.eu-west-1.amazonaws.com/svc-eu:1.2.0-1,000000000000.dkr.ecr.eu-west-1.amazonaws.com/svc-eu:latest",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") || img.Type != ibtypes.ImageTypeDocker {
		t.Fatalf("containers\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestManagedImagesAndParentOSVersion reads AWS-managed images by wildcard,
// version and build ARNs, lists them, builds on one, and checks that the
// image reports its parent's osVersion; own images resolve by version and
// wildcard ARNs too.
func TestManagedImagesAndParentOSVersion(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.ib(opts("us-west-2"))
	ctx := context.Background()
	const al2 = "arn:aws:imagebuilder:us-west-2:aws:image/amazon-linux-2-x86/"
	for arnIn, want := range map[string]string{al2 + "x.x.x": "2025.3.4/1", al2 + "2024.x.x": "2024.11.5/1", al2 + "2024.6.12/1": "2024.6.12/1", al2 + "2024.11.5": "2024.11.5/1"} {
		out, err := c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: aws.String(arnIn)})
		if err != nil {
			t.Fatalf("%s: %v", arnIn, err)
		}
		img := out.Image
		if aws.ToString(img.Version) != want || aws.ToString(img.OsVersion) != "Amazon Linux 2" || img.Platform != ibtypes.PlatformLinux ||
			aws.ToString(img.Arn) != al2+want || img.State.Status != ibtypes.ImageStatusAvailable || len(img.OutputResources.Amis) != 1 {
			t.Fatalf("%s: %+v", arnIn, img)
		}
	}
	for _, missing := range []string{al2 + "9.x.x", "arn:aws:imagebuilder:us-west-2:aws:image/no-such-os/x.x.x", al2 + "2024.6.12/2"} {
		_, err := c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: aws.String(missing)})
		apiError(t, err, "ResourceNotFoundException")
	}
	var names []string
	var token *string
	for {
		out, err := c.ListImages(ctx, &ib.ListImagesInput{Owner: ibtypes.OwnershipAmazon, MaxResults: aws.Int32(7), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range out.ImageVersionList {
			names = append(names, aws.ToString(v.Name)+"@"+aws.ToString(v.Version))
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	if len(names) < 30 || !slices.Contains(names, "amazon-linux-2023-arm64@2024.6.12") || !slices.Contains(names, "windows-server-2022-english-full-base-x86@2025.3.4") {
		t.Fatalf("managed images %v", names)
	}
	bv, err := c.ListImageBuildVersions(ctx, &ib.ListImageBuildVersionsInput{ImageVersionArn: aws.String(al2 + "2024.11.5")})
	if err != nil || len(bv.ImageSummaryList) != 1 || aws.ToString(bv.ImageSummaryList[0].Arn) != al2+"2024.11.5/1" || aws.ToString(bv.ImageSummaryList[0].Owner) != "Amazon" {
		t.Fatalf("managed build versions %+v %v", bv, err)
	}
	byName, err := c.ListImages(ctx, &ib.ListImagesInput{Owner: ibtypes.OwnershipAmazon, ByName: true, MaxResults: aws.Int32(25),
		Filters: []ibtypes.Filter{{Name: aws.String("platform"), Values: []string{"Windows"}}}})
	if err != nil || len(byName.ImageVersionList) != 3 || aws.ToString(byName.ImageVersionList[0].Version) != "2025.3.4" {
		t.Fatalf("by name %+v %v", byName, err)
	}

	// A recipe on a managed parent: its image reports the parent's OS.
	_, err = c.CreateImageRecipe(ctx, &ib.CreateImageRecipeInput{Name: aws.String("bad"), SemanticVersion: aws.String("1.0.0"),
		ParentImage: aws.String("arn:aws:imagebuilder:us-west-2:aws:image/no-such-os/x.x.x"),
		Components:  []ibtypes.ComponentConfiguration{{ComponentArn: aws.String("arn:aws:imagebuilder:us-west-2:aws:component/update-linux/x.x.x")}}})
	apiError(t, err, "InvalidRequestException")
	recipe, err := c.CreateImageRecipe(ctx, &ib.CreateImageRecipeInput{Name: aws.String("al2"), SemanticVersion: aws.String("1.0.0"), ParentImage: aws.String(al2 + "x.x.x"),
		Components: []ibtypes.ComponentConfiguration{{ComponentArn: aws.String("arn:aws:imagebuilder:us-west-2:aws:component/update-linux/x.x.x")}}})
	if err != nil {
		t.Fatal(err)
	}
	infra, err := c.CreateInfrastructureConfiguration(ctx, &ib.CreateInfrastructureConfigurationInput{Name: aws.String("infra-w2"), InstanceProfileName: aws.String("p")})
	if err != nil {
		t.Fatal(err)
	}
	var built []string
	for range 2 {
		out, err := c.CreateImage(ctx, &ib.CreateImageInput{ImageRecipeArn: recipe.ImageRecipeArn, InfrastructureConfigurationArn: infra.InfrastructureConfigurationArn})
		if err != nil {
			t.Fatal(err)
		}
		img := waitImage(t, c, aws.ToString(out.ImageBuildVersionArn), ibtypes.ImageStatusAvailable)
		if aws.ToString(img.OsVersion) != "Amazon Linux 2" {
			t.Fatalf("osVersion %q, want the parent's", aws.ToString(img.OsVersion))
		}
		built = append(built, aws.ToString(img.Arn))
	}
	// Own images by version and wildcard ARNs: the newest build.
	for _, ref := range []string{"arn:aws:imagebuilder:us-west-2:000000000000:image/al2/1.0.0", "arn:aws:imagebuilder:us-west-2:000000000000:image/al2/x.x.x"} {
		out, err := c.GetImage(ctx, &ib.GetImageInput{ImageBuildVersionArn: aws.String(ref)})
		if err != nil || aws.ToString(out.Image.Arn) != built[1] {
			t.Fatalf("%s resolved to %v (%v), want %s", ref, out, err, built[1])
		}
	}
	// A Windows parent: its platform and its OS version.
	win, err := c.CreateImageRecipe(ctx, &ib.CreateImageRecipeInput{Name: aws.String("win"), SemanticVersion: aws.String("1.0.0"),
		ParentImage: aws.String("arn:aws:imagebuilder:us-west-2:aws:image/windows-server-2019-english-full-base-x86/x.x.x"),
		Components:  []ibtypes.ComponentConfiguration{{ComponentArn: aws.String("arn:aws:imagebuilder:us-west-2:aws:component/update-windows/x.x.x")}}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.CreateImage(ctx, &ib.CreateImageInput{ImageRecipeArn: win.ImageRecipeArn, InfrastructureConfigurationArn: infra.InfrastructureConfigurationArn})
	if err != nil {
		t.Fatal(err)
	}
	if img := waitImage(t, c, aws.ToString(out.ImageBuildVersionArn), ibtypes.ImageStatusAvailable); aws.ToString(img.OsVersion) != "Microsoft Windows Server 2019" || img.Platform != ibtypes.PlatformWindows {
		t.Fatalf("windows image %+v", img)
	}
}
