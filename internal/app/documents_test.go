package app

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	ibtypes "github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func putObject(t testing.TB, c *s3.Client, bucket, key, body string) {
	t.Helper()
	if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
}

const dockerfileTemplate = "FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:environments }}}\n{{{ imagebuilder:components }}}\n"

// createFromS3 creates a component, a workflow and a container recipe whose
// documents are s3:// URIs into bucket, and checks each reads back as the
// object held; missing objects and buckets are refused.
func createFromS3(t *testing.T, c *ib.Client, bucket string) {
	t.Helper()
	ctx := context.Background()
	comp, err := c.CreateComponent(ctx, &ib.CreateComponentInput{Name: aws.String("from-s3"), SemanticVersion: aws.String("1.0.0"), Platform: ibtypes.PlatformLinux,
		Uri: aws.String("s3://" + bucket + "/docs/component.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	gc, err := c.GetComponent(ctx, &ib.GetComponentInput{ComponentBuildVersionArn: comp.ComponentBuildVersionArn})
	if err != nil || aws.ToString(gc.Component.Data) != helloComponent || gc.Component.Type != ibtypes.ComponentTypeBuild {
		t.Fatalf("component from S3: %v %+v", err, gc)
	}
	wf, err := c.CreateWorkflow(ctx, &ib.CreateWorkflowInput{Name: aws.String("from-s3"), SemanticVersion: aws.String("1.0.0"), Type: ibtypes.WorkflowTypeBuild,
		Uri: aws.String("s3://" + bucket + "/docs/workflow.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	gw, err := c.GetWorkflow(ctx, &ib.GetWorkflowInput{WorkflowBuildVersionArn: wf.WorkflowBuildVersionArn})
	if err != nil || aws.ToString(gw.Workflow.Data) != buildWorkflow {
		t.Fatalf("workflow from S3: %v %+v", err, gw)
	}
	cr, err := c.CreateContainerRecipe(ctx, &ib.CreateContainerRecipeInput{Name: aws.String("from-s3"), SemanticVersion: aws.String("1.0.0"), ContainerType: ibtypes.ContainerTypeDocker,
		ParentImage: aws.String("amazonlinux:2023"), DockerfileTemplateUri: aws.String("s3://" + bucket + "/docs/Dockerfile"),
		TargetRepository: &ibtypes.TargetContainerRepository{Service: ibtypes.ContainerRepositoryServiceEcr, RepositoryName: aws.String("svc")},
		Components:       []ibtypes.ComponentConfiguration{{ComponentArn: comp.ComponentBuildVersionArn}}})
	if err != nil {
		t.Fatal(err)
	}
	gr, err := c.GetContainerRecipe(ctx, &ib.GetContainerRecipeInput{ContainerRecipeArn: cr.ContainerRecipeArn})
	if err != nil || aws.ToString(gr.ContainerRecipe.DockerfileTemplateData) != dockerfileTemplate {
		t.Fatalf("container recipe from S3: %v %+v", err, gr)
	}
	for _, uri := range []string{"s3://" + bucket + "/docs/missing.yaml", "s3://no-such-bucket-here/x.yaml", "https://example.com/x.yaml"} {
		_, err := c.CreateComponent(ctx, &ib.CreateComponentInput{Name: aws.String("missing"), SemanticVersion: aws.String("1.0.0"), Platform: ibtypes.PlatformLinux, Uri: aws.String(uri)})
		apiError(t, err, "InvalidRequestException") // the error CreateComponent models for a bad value
	}
}

func putDocuments(t *testing.T, c *s3.Client, bucket string) {
	createBucket(t, c, bucket)
	putObject(t, c, bucket, "docs/component.yaml", helloComponent)
	putObject(t, c, bucket, "docs/workflow.yaml", buildWorkflow)
	putObject(t, c, bucket, "docs/Dockerfile", dockerfileTemplate)
}

// TestDocumentsFromS3 reads documents from Slipway's own S3.
func TestDocumentsFromS3(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	putDocuments(t, s.s3(opts("us-east-1")), "ib-docs")
	createFromS3(t, s.ib(opts("us-east-1")), "ib-docs")
}

// TestDocumentsFromExternalS3 reads documents from moto's S3 through
// --s3-endpoint, as the Terraform provider's tests do.
func TestDocumentsFromExternalS3(t *testing.T) {
	t.Parallel()
	motoURL := startMoto(t)
	s := startApp(t, mustNew(t, Config{InMemory: true, S3Endpoint: motoURL}))
	moto := s3.NewFromConfig(opts("us-east-1").config(), func(o *s3.Options) { o.BaseEndpoint = aws.String(motoURL); o.UsePathStyle = true })
	putDocuments(t, moto, "tf-docs")
	createFromS3(t, s.ib(opts("us-east-1")), "tf-docs")
}
