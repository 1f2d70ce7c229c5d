package imagebuilder

import (
	"context"
	"strings"

	"github.com/slipway-dev/slipway/internal/arn"
	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/store"
)

// DistributeImage distributes an existing image with a distribution
// configuration: a new build of the source image's version that runs only
// the DISTRIBUTION stage and lists its own outputs.
func (s *Service) DistributeImage(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	source := str(in, "sourceImage")
	now := s.nowMillis()
	out, err := s.idempotent(ctx, scope, "DistributeImage", in, func(tx store.Tx) (Doc, error) {
		src, _, err := s.resolveImage(tx, scope, source, "sourceImage")
		if err != nil {
			return nil, err
		}
		if st := str(obj(src, "state"), "status"); st != statusAvailable {
			return nil, fault.New(fault.InUse, "Only AVAILABLE images can be distributed; '%s' is %s.", source, st)
		}
		if err := requireOwned(tx, scope, specDist, "distributionConfigurationArn", str(in, "distributionConfigurationArn")); err != nil {
			return nil, err
		}
		dist, _, err := loadDoc(tx, scope, specDist, str(in, "distributionConfigurationArn"))
		if err != nil {
			return nil, err
		}
		req := buildRequest{Mode: "distribute", Dist: dist, Infra: obj(src, "infrastructureConfiguration"), ExecutionRole: str(in, "executionRole"),
			Tags: tagsOf(in), BuildType: "USER_INITIATED", OSVersion: str(src, "osVersion"), Logging: obj(in, "loggingConfiguration"),
			Tests: Doc{"imageTestsEnabled": false}}
		req.Recipe = obj(src, "imageRecipe")
		if req.Recipe == nil {
			req.Recipe, req.Container = obj(src, "containerRecipe"), true
		}
		if req.Recipe == nil {
			// An imported image: its name and version stand for a recipe.
			req.Recipe = Doc{"name": str(src, "name"), "version": versionPart(str(src, "version")), "platform": src["platform"]}
		}
		image, err := s.startBuild(tx, scope, req, now)
		if err != nil {
			return nil, err
		}
		return Doc{"clientToken": in["clientToken"], "imageBuildVersionArn": image}, nil
	})
	return out, err
}

// ImportVmImage turns a VM Import task into an image (buildType IMPORT).
func (s *Service) ImportVmImage(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	task := str(in, "vmImportTaskId")
	if !strings.HasPrefix(task, "import-ami-") {
		return nil, fault.InvalidField("vmImportTaskId", "'%s' is not a VM Import task ID (import-ami-...).", task)
	}
	out, err := s.importImage(ctx, scope, "ImportVmImage", in, "IMPORT", nil)
	if err != nil {
		return nil, err
	}
	return Doc{"clientToken": in["clientToken"], "imageArn": out}, nil
}

// ImportDiskImage turns an ISO disk image in S3 into an image (buildType
// IMPORT_ISO).
func (s *Service) ImportDiskImage(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	uri := str(in, "uri")
	if b, k, ok := strings.Cut(strings.TrimPrefix(uri, "s3://"), "/"); !strings.HasPrefix(uri, "s3://") || !ok || b == "" || k == "" {
		return nil, fault.InvalidField("uri", "'%s' is not an S3 URI of the form s3://bucket/key.", uri)
	}
	out, err := s.importImage(ctx, scope, "ImportDiskImage", in, "IMPORT_ISO", func(tx store.Tx) (Doc, error) {
		if err := requireOwned(tx, scope, specInfra, "infrastructureConfigurationArn", str(in, "infrastructureConfigurationArn")); err != nil {
			return nil, err
		}
		infra, _, err := loadDoc(tx, scope, specInfra, str(in, "infrastructureConfigurationArn"))
		return infra, err
	})
	if err != nil {
		return nil, err
	}
	return Doc{"clientToken": in["clientToken"], "imageBuildVersionArn": out}, nil
}

// importImage starts an import build: no recipe and no workflow; the image
// becomes AVAILABLE with one AMI in the caller's region.
func (s *Service) importImage(ctx context.Context, scope store.Scope, op string, in Doc, buildType string, infra func(store.Tx) (Doc, error)) (string, error) {
	if _, err := arn.ParseVersion(str(in, "semanticVersion")); err != nil {
		return "", fault.InvalidField("semanticVersion", "%v", err)
	}
	now := s.nowMillis()
	// A replayed clientToken answers with the image the first call started.
	res, err := s.idempotent(ctx, scope, op, in, func(tx store.Tx) (Doc, error) {
		req := buildRequest{Mode: "import", BuildType: buildType, Tags: tagsOf(in), OSVersion: str(in, "osVersion"), Logging: obj(in, "loggingConfiguration"),
			ExecutionRole: str(in, "executionRole"),
			Recipe:        Doc{"name": str(in, "name"), "version": str(in, "semanticVersion"), "platform": in["platform"], "description": in["description"]}}
		if infra != nil {
			var err error
			if req.Infra, err = infra(tx); err != nil {
				return nil, err
			}
		}
		image, err := s.startBuild(tx, scope, req, now)
		if err != nil {
			return nil, err
		}
		return Doc{"image": image}, nil
	})
	if err != nil {
		return "", err
	}
	return str(res, "image"), nil
}
