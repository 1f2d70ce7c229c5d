package imagebuilder

import (
	"context"
	"net/url"
	"strings"

	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/store"
)

// GetMarketplaceResource answers for the components the caller can read
// (its own and the AWS-managed ones) as AWS answers for a subscribed
// Marketplace component: COMPONENT_DATA returns the component's document,
// COMPONENT_ARTIFACT a download URL for the resourceLocation given. Slipway
// has no Marketplace, so any other resource is refused as one the caller
// is not subscribed to.
func (s *Service) GetMarketplaceResource(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	raw := str(in, "resourceArn")
	var comp Doc
	err := s.store.View(ctx, func(tx store.Tx) error {
		if !strings.Contains(raw, ":component/") {
			return fault.New(fault.Invalid, "The resource '%s' is not an AWS Marketplace component you are subscribed to.", raw)
		}
		d, err := s.resolveComponent(tx, scope, raw, "resourceArn")
		if err != nil {
			return fault.New(fault.Invalid, "The resource '%s' is not an AWS Marketplace component you are subscribed to.", raw)
		}
		comp = d
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := Doc{"resourceArn": str(comp, "arn")}
	switch str(in, "resourceType") {
	case "COMPONENT_DATA":
		out["data"] = str(comp, "data")
	case "COMPONENT_ARTIFACT":
		loc := str(in, "resourceLocation")
		bucket, key, ok := strings.Cut(strings.TrimPrefix(loc, "s3://"), "/")
		if loc == "" || !ok {
			return nil, fault.InvalidField("resourceLocation", "A COMPONENT_ARTIFACT request needs the artifact's resourceLocation (s3://bucket/key).")
		}
		// A simulated pre-signed download URL, as AWS returns one.
		out["url"] = "https://" + bucket + ".s3." + scope.Region + ".amazonaws.com/" + (&url.URL{Path: key}).EscapedPath() +
			"?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
	}
	return out, nil
}
