package imagebuilder

import (
	"context"
	"errors"
	"strings"

	"github.com/slipway-dev/slipway/internal/arn"
	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/tagging"
)

// MaxTags is the number of tags an Image Builder resource may carry.
const MaxTags = 50

// taggable maps the resource type in an ARN to the record kind holding it,
// and how many path segments the ARN of a taggable resource has.
var taggable = map[string]struct {
	kind     string
	segments int
}{
	"workflow":                     {kindWorkflow, 5}, // workflow/<type>/<name>/<version>/<build>
	"component":                    {specComponent.Kind, 4},
	"image-recipe":                 {specImageRecipe.Kind, 3},
	"container-recipe":             {specContainerRecipe.Kind, 3},
	"infrastructure-configuration": {specInfra.Kind, 2},
	"distribution-configuration":   {specDist.Kind, 2},
	"image-pipeline":               {specPipeline.Kind, 2},
	"image":                        {kindImage, 4}, // image/<name>/<version>/<build>
}

func (s *Service) taggedRecord(scope store.Scope, resourceARN string) (string, error) {
	a, err := arn.Parse(resourceARN)
	if err != nil || a.Service != "imagebuilder" {
		return "", fault.InvalidField("resourceArn", "%s is not an Image Builder ARN.", resourceARN)
	}
	parts := strings.Split(a.Resource, "/")
	t, ok := taggable[parts[0]]
	if a.Account == ManagedOwner {
		return "", fault.InvalidField("resourceArn", "AWS-managed resources cannot be tagged.")
	}
	if !ok || len(parts) != t.segments || a.Account != scope.Account || a.Region != scope.Region {
		return "", fault.Missing("Resource", resourceARN, "The resource '%s' does not exist.", resourceARN)
	}
	return t.kind, nil
}

func (s *Service) tagError(resourceARN string, err error) error {
	var many tagging.ErrTooMany
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fault.Missing("Resource", resourceARN, "The resource '%s' does not exist.", resourceARN)
	case errors.As(err, &many):
		return fault.InvalidField("tags", "A resource can have at most %d tags.", many.Limit)
	}
	return err
}

// TagResource adds tags to a resource.
func (s *Service) TagResource(ctx context.Context, scope store.Scope, resourceARN string, tags map[string]string) error {
	kind, err := s.taggedRecord(scope, resourceARN)
	if err != nil {
		return err
	}
	return s.tagError(resourceARN, tagging.Tag(ctx, s.store, scope, kind, resourceARN, tags, MaxTags))
}

// UntagResource removes tags from a resource.
func (s *Service) UntagResource(ctx context.Context, scope store.Scope, resourceARN string, keys []string) error {
	kind, err := s.taggedRecord(scope, resourceARN)
	if err != nil {
		return err
	}
	return s.tagError(resourceARN, tagging.Untag(ctx, s.store, scope, kind, resourceARN, keys))
}

// ListTags returns a resource's tags.
func (s *Service) ListTags(ctx context.Context, scope store.Scope, resourceARN string) (map[string]string, error) {
	kind, err := s.taggedRecord(scope, resourceARN)
	if err != nil {
		return nil, err
	}
	tags, err := tagging.List(ctx, s.store, scope, kind, resourceARN)
	return tags, s.tagError(resourceARN, err)
}
