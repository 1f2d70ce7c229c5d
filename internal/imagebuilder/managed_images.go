package imagebuilder

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/slipway-dev/slipway/internal/arn"
	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/store"
)

// managedImages are the AWS-managed parent images served under owner Amazon
// in every region, each in a few dated versions (AWS publishes a new one
// as the base OS is patched), so version, wildcard and build ARNs resolve
// as on AWS.
var managedImages = []struct {
	name, platform, osVersion, imageType string
}{
	{"amazon-linux-2-x86", "Linux", "Amazon Linux 2", "AMI"},
	{"amazon-linux-2-arm64", "Linux", "Amazon Linux 2", "AMI"},
	{"amazon-linux-2023-x86", "Linux", "Amazon Linux 2023", "AMI"},
	{"amazon-linux-2023-arm64", "Linux", "Amazon Linux 2023", "AMI"},
	{"ubuntu-server-20-lts-x86", "Linux", "Ubuntu 20", "AMI"},
	{"ubuntu-server-22-lts-x86", "Linux", "Ubuntu 22", "AMI"},
	{"ubuntu-server-22-lts-arm64", "Linux", "Ubuntu 22", "AMI"},
	{"ubuntu-server-24-lts-x86", "Linux", "Ubuntu 24", "AMI"},
	{"windows-server-2019-english-full-base-x86", "Windows", "Microsoft Windows Server 2019", "AMI"},
	{"windows-server-2022-english-full-base-x86", "Windows", "Microsoft Windows Server 2022", "AMI"},
	{"windows-server-2022-english-core-base-x86", "Windows", "Microsoft Windows Server 2022", "AMI"},
	// Container parents (the Terraform provider's container tests use the
	// first).
	{"amazon-linux-x86-latest", "Linux", "Amazon Linux 2023", "DOCKER"},
	{"amazon-linux-x86-2", "Linux", "Amazon Linux 2", "DOCKER"},
}

// managedImageVersions are the versions every managed image has, oldest
// first; each has build 1.
var managedImageVersions = []string{"2024.6.12", "2024.11.5", "2025.3.4"}

// managedImageDocs returns the managed images of the caller's region, one
// document per version, ordered by name then version.
func managedImageDocs(scope store.Scope) []Doc {
	out := make([]Doc, 0, len(managedImages)*len(managedImageVersions))
	for _, m := range managedImages {
		for _, v := range managedImageVersions {
			a := resourceARN(scope, ManagedOwner, "image/"+m.name+"/"+v+"/1")
			d := Doc{"arn": a, "name": m.name, "version": v + "/1", "type": m.imageType, "platform": m.platform, "osVersion": m.osVersion,
				"owner": ManagedOwnerName, "dateCreated": FormatTime(managedCreated), "state": Doc{"status": statusAvailable},
				"buildType": "IMPORT", "imageSource": "AMAZON_MANAGED"}
			if m.imageType == "AMI" {
				d["outputResources"] = Doc{"amis": []any{Doc{"region": scope.Region, "image": managedAMI(scope.Region, a), "name": m.name + " " + v,
					"description": "AWS-managed parent image (Slipway)", "state": Doc{"status": statusAvailable}}}}
			} else {
				d["outputResources"] = Doc{"containers": []any{Doc{"region": scope.Region,
					"imageUris": []any{"public.ecr.aws/amazonlinux/amazonlinux:" + strings.ReplaceAll(v, ".", "")}}}}
			}
			out = append(out, d)
		}
	}
	return out
}

// managedAMI is a stable AMI ID for a managed image in a region.
func managedAMI(region, imageARN string) string {
	sum := sha256.Sum256([]byte(region + "|" + imageARN))
	return "ami-" + hex.EncodeToString(sum[:])[:17]
}

// imageRef is a parsed image ARN: a build (version and build number), a
// version, or a wildcard version.
type imageRef struct {
	a       arn.ARN
	name    string
	version arn.Version
	build   int // 0: the newest build of the newest matching version
}

func parseImageRef(raw, field string) (imageRef, error) {
	a, parts, err := parseARN(raw, field, specImage, 2, 3)
	if err != nil {
		return imageRef{}, err
	}
	v, err := arn.ParseWildcard(parts[1])
	if err != nil {
		return imageRef{}, fault.InvalidField(field, "%s is not a valid Image ARN.", raw)
	}
	ref := imageRef{a: a, name: parts[0], version: v}
	if len(parts) == 3 {
		n, err := strconv.Atoi(parts[2])
		if err != nil || n < 1 || v.HasWildcard() {
			return imageRef{}, fault.InvalidField(field, "%s is not a valid Image ARN.", raw)
		}
		ref.build = n
	}
	return ref, nil
}

// resolveImage finds the image build an ARN names, the caller's own or an
// AWS-managed one: a build ARN exactly, a version or wildcard ARN as the
// newest build of the newest matching version.
func (s *Service) resolveImage(tx store.Tx, scope store.Scope, raw, field string) (Doc, *store.Record, error) {
	return s.resolveImageWith(tx, scope, raw, field, loadDoc)
}

// resolveImageWith is resolveImage reading the image with load (loadShared
// for readers that do not change it).
func (s *Service) resolveImageWith(tx store.Tx, scope store.Scope, raw, field string,
	load func(store.Tx, store.Scope, spec, string) (Doc, *store.Record, error)) (Doc, *store.Record, error) {
	ref, err := parseImageRef(raw, field)
	if err != nil {
		return nil, nil, err
	}
	missing := notFound(specImage, raw)
	if ref.a.Region != scope.Region {
		return nil, nil, missing
	}
	if ref.a.Account == ManagedOwner {
		best, ok := newestOf(managedImageDocs(scope), func(d Doc) string { return strings.Split(str(d, "version"), "/")[0] }, func(d Doc) bool {
			return str(d, "name") == ref.name && ref.version.Matches(mustVersion(strings.Split(str(d, "version"), "/")[0])) &&
				(ref.build == 0 || strings.HasSuffix(str(d, "version"), "/"+strconv.Itoa(ref.build)))
		})
		if !ok {
			return nil, nil, missing
		}
		return best, nil, nil
	}
	if ref.a.Account != scope.Account {
		return nil, nil, missing
	}
	target := raw
	if ref.build == 0 {
		latest, err := imageVersions.newest(tx, scope, ref.name+"/", ref.version)
		if err != nil {
			return nil, nil, err
		}
		if latest == "" {
			return nil, nil, missing
		}
		target = latest
	}
	d, rec, err := load(tx, scope, specImage, target)
	if fault.Is(err, fault.NotFound) {
		return nil, nil, missing
	}
	return d, rec, err
}

// parentOSVersion is the osVersion an image built on parent reports: the
// parent image's own when parent is an image ARN, else the default OS of
// the recipe's platform (an AMI ID or a container reference says nothing
// more).
func (s *Service) parentOSVersion(tx store.Tx, scope store.Scope, parent, platform string) string {
	if strings.HasPrefix(parent, "arn:") {
		if d, _, err := s.resolveImage(tx, scope, parent, "parentImage"); err == nil && str(d, "osVersion") != "" {
			return str(d, "osVersion")
		}
	}
	if v := map[string]string{"Windows": "Microsoft Windows Server 2022", "macOS": "macOS 14"}[platform]; v != "" {
		return v
	}
	return "Amazon Linux 2023"
}
