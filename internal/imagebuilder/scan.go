package imagebuilder

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/slipway-dev/slipway/internal/events"
	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/store"
)

// Image scan findings come from a fixture a user supplies per account and
// region (PUT /_slipway/imagebuilder/scan-findings): findings in the API's
// ImageScanFinding shape. They are served for images that exist and have
// scanning enabled, as Inspector's findings would be.

const (
	kindScanFixture = "imagebuilder.scan-findings"
	scanFixtureID   = "fixture"
)

// SetScanFindings replaces the scope's findings fixture.
func (s *Service) SetScanFindings(ctx context.Context, scope store.Scope, findings []Doc) error {
	for i, f := range findings {
		if str(f, "imageBuildVersionArn") == "" {
			return fault.InvalidField(fmt.Sprintf("findings[%d].imageBuildVersionArn", i), "Each finding names the image build it was found in.")
		}
	}
	now := s.nowMillis()
	return s.store.Update(ctx, func(tx store.Tx) error {
		var old []Doc
		rec, err := getJSON(tx, scope, kindScanFixture, scanFixtureID, &old)
		switch {
		case errors.Is(err, store.ErrNotFound):
			err = insertJSON(tx, &store.Record{Scope: scope, Kind: kindScanFixture, ID: scanFixtureID, SortKey: scanFixtureID, Created: now, Updated: now}, findings)
		case err == nil:
			err = putJSON(tx, rec, findings, now)
		}
		if err != nil {
			return err
		}
		return s.emitCVEDetected(tx, scope, findings, now)
	})
}

// emitCVEDetected sends a CVE Detected event for each scanned image the
// findings name (the scan of that image "completed" with them).
func (s *Service) emitCVEDetected(tx store.Tx, scope store.Scope, findings []Doc, now time.Time) error {
	counts := map[string]map[string]int{}
	var order []string
	for _, f := range findings {
		a := str(f, "imageBuildVersionArn")
		if counts[a] == nil {
			counts[a] = map[string]int{"all": 0, "critical": 0, "high": 0, "medium": 0}
			order = append(order, a)
		}
		counts[a]["all"]++
		switch str(f, "severity") {
		case "CRITICAL":
			counts[a]["critical"]++
		case "HIGH":
			counts[a]["high"]++
		case "MEDIUM":
			counts[a]["medium"]++
		}
	}
	for _, a := range order {
		img, _, err := loadDoc(tx, scope, specImage, a)
		if fault.Is(err, fault.NotFound) || (err == nil && !boolean(obj(img, "imageScanningConfiguration"), "imageScanningEnabled")) {
			continue
		} else if err != nil {
			return err
		}
		resources := []string{a}
		if p := str(img, "sourcePipelineArn"); p != "" {
			resources = append(resources, p)
		}
		ev := events.New(scope, eventSource, "EC2 Image Builder CVE Detected", now, resources,
			map[string]any{"resource-id": "i-" + randHex(17), "finding-severity-counts": counts[a]})
		if err := events.Emit(tx, ev); err != nil {
			return err
		}
	}
	return nil
}

// scanFindings returns the fixture's findings for images that exist with
// scanning enabled, filled in with what the image knows.
func (s *Service) scanFindings(ctx context.Context, scope store.Scope) ([]Doc, error) {
	var out []Doc
	err := s.store.View(ctx, func(tx store.Tx) error {
		out = nil // the store may run this again
		var all []Doc
		if _, err := getJSON(tx, scope, kindScanFixture, scanFixtureID, &all); errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		scanned := map[string]Doc{}
		for _, f := range all {
			a := str(f, "imageBuildVersionArn")
			img, ok := scanned[a]
			if !ok {
				d, _, err := loadDoc(tx, scope, specImage, a)
				if fault.Is(err, fault.NotFound) {
					scanned[a] = nil
					continue
				} else if err != nil {
					return err
				}
				if boolean(obj(d, "imageScanningConfiguration"), "imageScanningEnabled") {
					img = d
				}
				scanned[a] = img
			}
			if img == nil {
				continue
			}
			g := Doc{}
			for k, v := range f {
				g[k] = v
			}
			if str(g, "awsAccountId") == "" {
				g["awsAccountId"] = scope.Account
			}
			if p := str(img, "sourcePipelineArn"); p != "" && str(g, "imagePipelineArn") == "" {
				g["imagePipelineArn"] = p
			}
			out = append(out, g)
		}
		return nil
	})
	return out, err
}

// findingKey reads a finding's value for a filter or aggregation name.
func findingKey(f Doc, name string) string {
	switch name {
	case "accountId":
		return str(f, "awsAccountId")
	case "vulnerabilityId":
		return str(obj(f, "packageVulnerabilityDetails"), "vulnerabilityId")
	}
	return str(f, name)
}

var scanFilterNames = []string{"imageBuildVersionArn", "imagePipelineArn", "vulnerabilityId", "severity"}

// ListImageScanFindings lists the findings the filters keep.
func (s *Service) ListImageScanFindings(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	filters := list(in, "filters")
	for i, raw := range filters {
		if f, _ := raw.(map[string]any); !slices.Contains(scanFilterNames, str(f, "name")) {
			return nil, fault.InvalidField(fmt.Sprintf("filters[%d].name", i), "The filter name must be one of %v.", scanFilterNames)
		}
	}
	all, err := s.scanFindings(ctx, scope)
	if err != nil {
		return nil, err
	}
	var kept []any
	for _, f := range all {
		ok := true
		for _, raw := range filters {
			flt, _ := raw.(map[string]any)
			if !slices.Contains(list(flt, "values"), any(findingKey(f, str(flt, "name")))) {
				ok = false
			}
		}
		if ok {
			kept = append(kept, f)
		}
	}
	items, next, err := s.pageSlice(scope, "ListImageScanFindings", in, []any{in["filters"]}, kept)
	if err != nil {
		return nil, err
	}
	out := Doc{"findings": items}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

// aggregationMembers names each aggregation type's member and key.
var aggregationMembers = map[string][2]string{
	"accountId":            {"accountAggregation", "accountId"},
	"imageBuildVersionArn": {"imageAggregation", "imageBuildVersionArn"},
	"imagePipelineArn":     {"imagePipelineAggregation", "imagePipelineArn"},
	"vulnerabilityId":      {"vulnerabilityIdAggregation", "vulnerabilityId"},
}

// ListImageScanFindingAggregations counts findings by severity, grouped by
// the filter's name (the account when there is no filter) for each of its
// values (every value seen when it lists none).
func (s *Service) ListImageScanFindingAggregations(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	flt := obj(in, "filter")
	typ := str(flt, "name")
	if typ == "" {
		typ = "accountId"
	}
	member, ok := aggregationMembers[typ]
	if !ok {
		return nil, fault.InvalidField("filter.name", "The filter name must be accountId, imageBuildVersionArn, imagePipelineArn or vulnerabilityId.")
	}
	all, err := s.scanFindings(ctx, scope)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, v := range list(flt, "values") {
		if k, ok := v.(string); ok {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		if typ == "accountId" {
			keys = []string{scope.Account}
		}
		for _, f := range all {
			if k := findingKey(f, typ); k != "" && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	var responses []any
	for _, k := range keys {
		counts := map[string]int{"all": 0, "critical": 0, "high": 0, "medium": 0}
		for _, f := range all {
			if findingKey(f, typ) != k {
				continue
			}
			counts["all"]++
			switch str(f, "severity") {
			case "CRITICAL":
				counts["critical"]++
			case "HIGH":
				counts["high"]++
			case "MEDIUM":
				counts["medium"]++
			}
		}
		responses = append(responses, Doc{member[0]: Doc{member[1]: k, "severityCounts": counts}})
	}
	items, next, err := s.pageSlice(scope, "ListImageScanFindingAggregations", in, []any{in["filter"]}, responses)
	if err != nil {
		return nil, err
	}
	out := Doc{"aggregationType": typ, "responses": items}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

// pageSlice pages a list computed in memory, by position.
func (s *Service) pageSlice(scope store.Scope, op string, in Doc, bind []any, all []any) ([]any, string, error) {
	tscope := tokenScope(scope, op, bind)
	cursor, err := s.tokens.Cursor(tscope, str(in, "nextToken"))
	if err != nil {
		return nil, "", err
	}
	start := 0
	if cursor != "" {
		start, _ = strconv.Atoi(cursor)
	}
	max := intOf(in["maxResults"])
	if max <= 0 || max > DefaultMaxResults {
		max = DefaultMaxResults
	}
	items := []any{}
	if start < len(all) {
		items = all[start:min(len(all), start+max)]
	}
	next := ""
	if start+max < len(all) {
		next = s.tokens.Encode(tscope, fmt.Sprintf("%09d", start+max))
	}
	return items, next, nil
}
