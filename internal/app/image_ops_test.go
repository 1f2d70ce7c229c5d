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
