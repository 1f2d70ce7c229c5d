package imagebuilder

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// What a finished build produced: the AMIs or container images of each
// distribution region.

// distributed returns one distributed AMI per region of the distribution.
func (b *build) distributed(now time.Time) []any {
	var out []any
	for _, r := range b.Regions {
		region, _ := r.(string)
		out = append(out, Doc{"region": region, "name": b.amiName(region, now), "amiId": b.ami(region), "accountId": b.Account,
			"dateStarted": FormatTime(now), "dateStopped": FormatTime(now), "status": "Completed", "step": "Completed"})
	}
	return out
}

func (b *build) ami(region string) string {
	if b.AMIs == nil {
		b.AMIs = map[string]string{}
	}
	if b.AMIs[region] == "" {
		b.AMIs[region] = amiID()
	}
	return b.AMIs[region]
}

func (b *build) amiName(region string, now time.Time) string {
	name := b.ImageName + " " + now.UTC().Format("2006-01-02T15-04-05.000000Z")
	for _, d := range list(b.distDoc(), "distributions") {
		dm, _ := d.(map[string]any)
		if str(dm, "region") == region {
			if n := str(obj(dm, "amiDistributionConfiguration"), "name"); n != "" {
				name = strings.ReplaceAll(n, "{{ imagebuilder:buildDate }}", now.UTC().Format("20060102150405"))
			}
		}
	}
	return name
}

// containerOutputs lists, per distribution region, the URIs a container
// build is pushed under: the versioned tag <version>-<build>, "latest", and
// the distribution's containerTags for that region, in the recipe's
// repository unless the distribution names another.
func (b *build) containerOutputs(repo string) []any {
	byRegion := map[string]Doc{}
	for _, raw := range list(b.distDoc(), "distributions") {
		if dist, ok := raw.(map[string]any); ok {
			byRegion[str(dist, "region")] = obj(dist, "containerDistributionConfiguration")
		}
	}
	out := []any{}
	for _, r := range b.Regions {
		region, _ := r.(string)
		cfg := byRegion[region]
		regionRepo := repo
		if name := str(obj(cfg, "targetRepository"), "repositoryName"); name != "" {
			regionRepo = name
		}
		base := fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s:", b.Account, region, regionRepo)
		tags := []string{fmt.Sprintf("%s-%d", b.Version, b.Number), "latest"}
		for _, t := range list(cfg, "containerTags") {
			if tag, ok := t.(string); ok && !slices.Contains(tags, tag) {
				tags = append(tags, tag)
			}
		}
		uris := make([]any, len(tags))
		for i, t := range tags {
			uris[i] = base + t
		}
		out = append(out, Doc{"region": region, "imageUris": uris})
	}
	return out
}
