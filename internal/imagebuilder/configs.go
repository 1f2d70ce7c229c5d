package imagebuilder

import (
	"context"
	"fmt"

	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/store"
)

var infrastructureConfigurations = named{
	sp: specInfra, arnField: "infrastructureConfigurationArn", out: "infrastructureConfiguration", list: "infrastructureConfigurationSummaryList",
	summary: []string{"arn", "name", "description", "dateCreated", "dateUpdated", "resourceTags", "instanceTypes", "instanceProfileName", "placement"},
	filters: map[string]func(Doc) []string{"name": field("name")},
	mutable: []string{"description", "instanceTypes", "instanceProfileName", "securityGroupIds", "subnetId", "logging", "keyPair",
		"terminateInstanceOnFailure", "snsTopicArn", "instanceMetadataOptions", "resourceTags", "placement"},
	prepare: func(_ *Service, _ store.Tx, _ store.Scope, d Doc) ([]string, error) {
		if _, ok := d["terminateInstanceOnFailure"]; !ok {
			d["terminateInstanceOnFailure"] = true
		}
		if str(d, "subnetId") != "" && len(list(d, "securityGroupIds")) == 0 {
			return nil, fault.InvalidField("securityGroupIds", "Security groups are required when a subnet is specified.")
		}
		if p := obj(d, "placement"); p != nil && str(p, "hostId") != "" && str(p, "hostResourceGroupArn") != "" {
			return nil, fault.InvalidField("placement", "Specify either hostId or hostResourceGroupArn, not both.")
		}
		return nil, nil
	},
}

// distributionOutputs are the members of a distribution that produce
// something in its region.
var distributionOutputs = []string{"amiDistributionConfiguration", "containerDistributionConfiguration", "launchTemplateConfigurations",
	"licenseConfigurationArns", "fastLaunchConfigurations", "s3ExportConfiguration", "ssmParameterConfigurations"}

var distributionConfigurations = named{
	sp: specDist, arnField: "distributionConfigurationArn", out: "distributionConfiguration", list: "distributionConfigurationSummaryList",
	summary: []string{"arn", "name", "description", "dateCreated", "dateUpdated"},
	summarize: func(d, item Doc) {
		var regions []any
		for _, dist := range list(d, "distributions") {
			regions = append(regions, str(dist.(map[string]any), "region"))
		}
		item["regions"] = regions
	},
	filters: map[string]func(Doc) []string{"name": field("name")},
	mutable: []string{"description", "distributions"},
	prepare: func(_ *Service, _ store.Tx, _ store.Scope, d Doc) ([]string, error) {
		dists := list(d, "distributions")
		if len(dists) == 0 {
			return nil, fault.InvalidField("distributions", "At least one distribution is required.")
		}
		seen := map[string]bool{}
		for i, raw := range dists {
			dist, _ := raw.(map[string]any)
			path := fmt.Sprintf("distributions[%d]", i)
			region := str(dist, "region")
			if seen[region] {
				return nil, fault.InvalidField(path, "The region '%s' appears in more than one distribution.", region)
			}
			seen[region] = true
			has := false
			for _, k := range distributionOutputs {
				if _, ok := dist[k]; ok {
					has = true
				}
			}
			if !has {
				return nil, fault.InvalidField(path, "One or more outputs should be provided for each region in a distribution configuration.")
			}
		}
		if _, ok := d["timeoutMinutes"]; !ok {
			d["timeoutMinutes"] = 720
		}
		return nil, nil
	},
}

// CreateInfrastructureConfiguration stores an infrastructure configuration.
func (s *Service) CreateInfrastructureConfiguration(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	return s.createNamed(ctx, scope, infrastructureConfigurations, "CreateInfrastructureConfiguration", in)
}

// UpdateInfrastructureConfiguration replaces an infrastructure configuration.
func (s *Service) UpdateInfrastructureConfiguration(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	return s.updateNamed(ctx, scope, infrastructureConfigurations, "UpdateInfrastructureConfiguration", in)
}

// GetInfrastructureConfiguration returns an infrastructure configuration.
func (s *Service) GetInfrastructureConfiguration(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	return s.getNamed(ctx, scope, infrastructureConfigurations, in)
}

// ListInfrastructureConfigurations lists infrastructure configurations.
func (s *Service) ListInfrastructureConfigurations(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	return s.listNamed(ctx, scope, infrastructureConfigurations, in)
}

// DeleteInfrastructureConfiguration deletes an unused infrastructure configuration.
func (s *Service) DeleteInfrastructureConfiguration(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	return s.deleteNamed(ctx, scope, infrastructureConfigurations, in)
}

// CreateDistributionConfiguration stores a distribution configuration.
func (s *Service) CreateDistributionConfiguration(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	return s.createNamed(ctx, scope, distributionConfigurations, "CreateDistributionConfiguration", in)
}

// UpdateDistributionConfiguration replaces a distribution configuration.
func (s *Service) UpdateDistributionConfiguration(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	return s.updateNamed(ctx, scope, distributionConfigurations, "UpdateDistributionConfiguration", in)
}

// GetDistributionConfiguration returns a distribution configuration.
func (s *Service) GetDistributionConfiguration(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	out, err := s.getNamed(ctx, scope, distributionConfigurations, in)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListDistributionConfigurations lists distribution configurations.
func (s *Service) ListDistributionConfigurations(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	return s.listNamed(ctx, scope, distributionConfigurations, in)
}

// DeleteDistributionConfiguration deletes an unused distribution configuration.
func (s *Service) DeleteDistributionConfiguration(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	return s.deleteNamed(ctx, scope, distributionConfigurations, in)
}
