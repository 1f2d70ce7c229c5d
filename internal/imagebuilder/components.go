package imagebuilder

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/slipway-dev/slipway/internal/arn"
	"github.com/slipway-dev/slipway/internal/compdoc"
	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/store"
)

func componentVersionKey(name string, v arn.Version) string {
	return arn.NormalizeName(name) + "/" + v.SortKey()
}

// componentRef is a parsed component ARN (build, version or wildcard).
type componentRef struct {
	a       arn.ARN
	name    string
	version arn.Version
	build   int
}

func parseComponentARN(s, field string) (componentRef, error) {
	a, parts, err := parseARN(s, field, specComponent, 2, 3)
	if err != nil {
		return componentRef{}, err
	}
	ref := componentRef{a: a, name: parts[0]}
	if ref.version, err = arn.ParseWildcard(parts[1]); err != nil {
		return componentRef{}, fault.InvalidField(field, "%s: %v.", s, err)
	}
	if len(parts) == 3 {
		n, err := strconv.Atoi(parts[2])
		if err != nil || n < 1 || ref.version.HasWildcard() {
			return componentRef{}, fault.InvalidField(field, "%s has an invalid build number.", s)
		}
		ref.build = n
	}
	return ref, nil
}

func componentDoc(scope store.Scope, account, name, version string, build int) string {
	return resourceARN(scope, account, "component/"+arn.NormalizeName(name)+"/"+version+"/"+strconv.Itoa(build))
}

func versionOf(buildARN string) string { return buildARN[:strings.LastIndexByte(buildARN, '/')] }

// references computes latestVersionReferences for a versioned ARN
// (".../<name>/<M.m.p>[/<build>]").
func references(versionARN string, version string, managed bool) Doc {
	base := versionARN[:strings.LastIndexByte(versionARN, '/')+1]
	refs := Doc{"latestVersionArn": base + "x.x.x"}
	if managed {
		return refs
	}
	v := mustVersion(version)
	refs["latestMajorVersionArn"] = base + fmt.Sprintf("%d.x.x", v.Major)
	refs["latestMinorVersionArn"] = base + fmt.Sprintf("%d.%d.x", v.Major, v.Minor)
	refs["latestPatchVersionArn"] = base + v.String()
	return refs
}

// resolveComponent finds the build a component ARN names, own or managed.
func (s *Service) resolveComponent(tx store.Tx, scope store.Scope, raw, field string) (Doc, error) {
	ref, err := parseComponentARN(raw, field)
	if err != nil {
		return nil, err
	}
	missing := fault.Missing("Component", raw, "The component '%s' does not exist.", raw)
	if ref.a.Region != scope.Region {
		return nil, missing
	}
	if ref.a.Account == ManagedOwner {
		best, ok := newestOf(managedComponentDocs(scope), func(c Doc) string { return str(c, "version") }, func(c Doc) bool {
			return arn.NormalizeName(str(c, "name")) == ref.name && ref.version.Matches(mustVersion(str(c, "version"))) &&
				(ref.build == 0 || strings.HasSuffix(str(c, "arn"), "/"+strconv.Itoa(ref.build)))
		})
		if !ok {
			return nil, missing
		}
		return best, nil
	}
	if ref.a.Account != scope.Account {
		return nil, missing
	}
	if ref.build != 0 {
		d, _, err := loadDoc(tx, scope, specComponent, componentDoc(scope, scope.Account, ref.name, ref.version.String(), ref.build))
		if fault.Is(err, fault.NotFound) {
			return nil, missing
		}
		return d, err
	}
	latest, err := componentVersions.newest(tx, scope, ref.name+"/", ref.version)
	if err != nil {
		return nil, err
	}
	if latest == "" {
		return nil, missing
	}
	d, _, err := loadDoc(tx, scope, specComponent, latest)
	return d, err
}

// CreateComponent validates a component document and stores a new build.
func (s *Service) CreateComponent(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	data, err := s.document(ctx, "data", str(in, "data"), "uri", str(in, "uri"))
	if err != nil {
		return nil, err
	}
	return s.createComponent(ctx, scope, "CreateComponent", in, data)
}

// ImportComponent turns a shell script into a component and stores it.
func (s *Service) ImportComponent(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	script, err := s.document(ctx, "data", str(in, "data"), "uri", str(in, "uri"))
	if err != nil {
		return nil, err
	}
	phase := "build"
	if str(in, "type") == "TEST" {
		phase = "test"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\nschemaVersion: 1.0\nphases:\n  - name: %s\n    steps:\n      - name: ImportedScript\n        action: ExecuteBash\n        inputs:\n          commands:\n", strconv.Quote(str(in, "name")), phase)
	for _, line := range strings.Split(strings.TrimRight(script, "\n"), "\n") {
		fmt.Fprintf(&b, "            - %s\n", strconv.Quote(line))
	}
	out, err := s.createComponent(ctx, scope, "ImportComponent", in, b.String())
	if err != nil {
		return nil, err
	}
	delete(out, "latestVersionReferences")
	return out, nil
}

func (s *Service) createComponent(ctx context.Context, scope store.Scope, op string, in Doc, data string) (Doc, error) {
	version, err := arn.ParseVersion(str(in, "semanticVersion"))
	if err != nil {
		return nil, &fault.Error{Kind: fault.InvalidVersion, Field: "semanticVersion", Message: "The value supplied for parameter 'semanticVersion' is not valid. " + err.Error() + "."}
	}
	doc, err := compdoc.Parse([]byte(data))
	if err != nil {
		return nil, fault.InvalidField("data", "The component document is not valid: %v.", err)
	}
	if t := str(in, "type"); t != "" && t != doc.Type() {
		return nil, fault.InvalidField("type", "The component is a %s component; its document has phases %s.", doc.Type(), strings.Join(doc.Phases, ", "))
	}
	if err := dryRun(in); err != nil {
		return nil, err
	}
	now := s.nowMillis()
	name := str(in, "name")
	versionARN := resourceARN(scope, scope.Account, "component/"+arn.NormalizeName(name)+"/"+version.String())
	return s.idempotent(ctx, scope, op, in, func(tx store.Tx) (Doc, error) {
		if latestARN, err := componentVersions.latest(tx, scope, versionARN); err == nil {
			latest, _, err := loadDoc(tx, scope, specComponent, latestARN)
			if err != nil {
				return nil, err
			}
			if str(latest, "data") == data && str(latest, "description") == str(in, "description") && str(latest, "platform") == str(in, "platform") &&
				str(latest, "changeDescription") == str(in, "changeDescription") && str(latest, "kmsKeyId") == str(in, "kmsKeyId") {
				return nil, alreadyExists(specComponent, latestARN)
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		build, err := nextBuild(tx, scope, versionARN, now)
		if err != nil {
			return nil, err
		}
		d := Doc{
			"arn": versionARN + "/" + strconv.Itoa(build), "name": name, "version": version.String(), "type": doc.Type(),
			"platform": in["platform"], "owner": scope.Account, "data": data, "encrypted": true,
			"dateCreated": FormatTime(now), "state": Doc{"status": "ACTIVE"},
		}
		for _, k := range []string{"description", "changeDescription", "supportedOsVersions", "kmsKeyId"} {
			if v, ok := in[k]; ok {
				d[k] = v
			}
		}
		if len(doc.Parameters) > 0 {
			var params []any
			for _, p := range doc.Parameters {
				pd := Doc{"name": p.Name, "type": p.Type}
				if p.HasDefault {
					pd["defaultValue"] = p.Default
				}
				if p.Description != "" {
					pd["description"] = p.Description
				}
				params = append(params, pd)
			}
			d["parameters"] = params
		}
		if err := insertDoc(tx, scope, specComponent, str(d, "arn"), versionARN, buildSortKey(build), d, tagsOf(in), now); err != nil {
			return nil, err
		}
		if err := componentVersions.setLatest(tx, scope, versionARN, componentVersionKey(name, version), str(d, "arn"), now); err != nil {
			return nil, err
		}
		return Doc{"clientToken": in["clientToken"], "componentBuildVersionArn": d["arn"], "latestVersionReferences": references(versionARN, version.String(), false)}, nil
	})
}

// GetComponent returns the build a build, version or wildcard ARN names.
func (s *Service) GetComponent(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	var out Doc
	err := s.store.View(ctx, func(tx store.Tx) error {
		d, err := s.resolveComponent(tx, scope, str(in, "componentBuildVersionArn"), "componentBuildVersionArn")
		if err != nil {
			return err
		}
		var tags map[string]string
		if rec, err := tx.Get(scope, specComponent.Kind, str(d, "arn")); err == nil {
			tags = rec.Tags
		}
		managed := str(d, "owner") == ManagedOwnerName
		out = Doc{"component": withTags(d, tags), "latestVersionReferences": references(versionOf(str(d, "arn")), str(d, "version"), managed)}
		return nil
	})
	return out, err
}

var componentFilters = map[string]func(Doc) []string{
	"description": field("description"), "name": field("name"), "platform": field("platform"),
	"supportedOsVersion": field("supportedOsVersions"), "type": field("type"), "version": field("version"),
}

func componentVersionItem(d Doc) Doc {
	item := project(d, "name", "version", "description", "platform", "supportedOsVersions", "type", "owner", "dateCreated")
	item["arn"] = versionOf(str(d, "arn"))
	if st := obj(d, "state"); st != nil {
		item["status"] = st["status"]
	}
	return item
}

// ListComponents lists the newest build of each component version.
func (s *Service) ListComponents(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	accept, err := filters(in, componentFilters)
	if err != nil {
		return nil, err
	}
	items := []any{}
	switch owner := str(in, "owner"); owner {
	case "", "Self":
		docs, next, err := listLatest(ctx, s, scope, "ListComponents", in, componentVersions, decodeDoc, accept)
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			items = append(items, componentVersionItem(d))
		}
		out := Doc{"componentVersionList": items}
		if next != "" {
			out["nextToken"] = next
		}
		return out, nil
	case "Amazon":
		return s.pageManaged(scope, "ListComponents", in, managedComponentDocs(scope), accept, "componentVersionList", componentVersionItem)
	}
	return Doc{"componentVersionList": items}, nil
}

// ListComponentBuildVersions lists the builds of a component version.
func (s *Service) ListComponentBuildVersions(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	raw := str(in, "componentVersionArn")
	ref, err := parseComponentARN(raw, "componentVersionArn")
	if err != nil {
		return nil, err
	}
	if ref.build != 0 || ref.version.HasWildcard() {
		return nil, fault.InvalidField("componentVersionArn", "%s must be a component version ARN, without wildcards or a build number.", raw)
	}
	items := []any{}
	summary := func(d Doc, tags map[string]string) Doc {
		return withTags(project(d, "arn", "name", "version", "platform", "supportedOsVersions", "state", "type", "owner", "description", "changeDescription", "dateCreated"), tags)
	}
	if ref.a.Account == ManagedOwner {
		for _, d := range managedComponentDocs(scope) {
			if versionOf(str(d, "arn")) == raw {
				items = append(items, summary(d, nil))
			}
		}
		return Doc{"componentSummaryList": items}, nil
	}
	if !ownedBy(ref.a, scope) {
		return Doc{"componentSummaryList": items}, nil
	}
	docs, recs, next, err := s.page(ctx, scope, "ListComponentBuildVersions", in, specComponent.Kind, raw, func(store.Tx, Doc, *store.Record) bool { return true })
	if err != nil {
		return nil, err
	}
	for i, d := range docs {
		items = append(items, summary(d, recs[i].Tags))
	}
	out := Doc{"componentSummaryList": items}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

// DeleteComponent deletes a component build no recipe uses.
func (s *Service) DeleteComponent(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	raw := str(in, "componentBuildVersionArn")
	ref, err := parseComponentARN(raw, "componentBuildVersionArn")
	if err != nil {
		return nil, err
	}
	if ref.a.Account == ManagedOwner {
		return nil, fault.InvalidField("componentBuildVersionArn", "AWS-managed components cannot be deleted.")
	}
	if ref.build == 0 || !ownedBy(ref.a, scope) {
		return nil, notFound(specComponent, raw)
	}
	now := s.nowMillis()
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if _, _, err := loadDoc(tx, scope, specComponent, raw); err != nil {
			return err
		}
		if err := checkUnused(tx, scope, specComponent, raw); err != nil {
			return err
		}
		if err := tx.Delete(scope, specComponent.Kind, raw); err != nil {
			return err
		}
		if err := dropPolicy(tx, scope, raw); err != nil {
			return err
		}
		return componentVersions.dropBuild(tx, scope, versionOf(raw), now)
	})
	if err != nil {
		return nil, err
	}
	return Doc{"componentBuildVersionArn": raw}, nil
}

// PutComponentPolicy sets a component build's resource policy.
func (s *Service) PutComponentPolicy(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	raw := str(in, "componentArn")
	ref, err := parseComponentARN(raw, "componentArn")
	if err != nil {
		return nil, err
	}
	if ref.build == 0 || !ownedBy(ref.a, scope) {
		return nil, notFound(specComponent, raw)
	}
	err = s.putPolicy(ctx, scope, raw, str(in, "policy"), func(tx store.Tx) error {
		_, _, err := loadDoc(tx, scope, specComponent, raw)
		return err
	})
	if err != nil {
		return nil, err
	}
	return Doc{"componentArn": raw}, nil
}

// GetComponentPolicy returns a component build's resource policy.
func (s *Service) GetComponentPolicy(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	p, err := s.getPolicy(ctx, scope, specComponent, str(in, "componentArn"))
	if err != nil {
		return nil, err
	}
	return Doc{"policy": p}, nil
}
