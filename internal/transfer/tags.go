package transfer

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/slipway-dev/slipway/internal/arn"
	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/pagetoken"
	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/tagging"
)

// MaxTags is the number of tags a Transfer Family resource may carry.
const MaxTags = 50

func tagMap(tags []Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

func tagList(m map[string]string) []Tag {
	out := make([]Tag, 0, len(m))
	for k, v := range m {
		out = append(out, Tag{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func checkTags(tags []Tag) error {
	seen := map[string]bool{}
	for _, t := range tags {
		if seen[t.Key] {
			return fault.New(fault.Invalid, "Tag key %q appears more than once.", t.Key)
		}
		seen[t.Key] = true
	}
	return nil
}

// taggedRecord resolves an ARN to the record that holds its tags.
func (s *Service) taggedRecord(scope store.Scope, arnText string) (kind, id string, err error) {
	if _, perr := arn.Parse(arnText); perr != nil {
		return "", "", fault.New(fault.Invalid, "%s is not a valid ARN.", arnText)
	}
	if id, ok := workflowIDFromARN(scope, arnText); ok {
		return kindWorkflow, id, nil
	}
	for _, k := range []struct{ prefix, kind string }{{"server/", kindServer}, {"user/", kindUser}, {"host-key/", kindHostKey}} {
		if id, ok := strings.CutPrefix(arnText, resourceARN(scope, k.prefix)); ok && id != "" {
			return k.kind, id, nil
		}
	}
	return "", "", fault.Missing("Unknown", arnText, "Unknown resource %s", arnText)
}

func (s *Service) tagError(kind, id, resourceARN string, err error) error {
	var many tagging.ErrTooMany
	switch {
	case errors.Is(err, store.ErrNotFound):
		switch kind {
		case kindWorkflow:
			return notFoundWorkflow(id)
		case kindServer:
			return notFoundServer(id)
		case kindUser:
			server, name, _ := strings.Cut(id, "/")
			return notFoundUser(server, name)
		case kindHostKey:
			_, key, _ := strings.Cut(id, "/")
			return notFoundHostKey(key)
		}
		return fault.Missing("Unknown", resourceARN, "Unknown resource %s", resourceARN)
	case errors.As(err, &many):
		return fault.New(fault.Invalid, "A resource can have at most %d tags.", many.Limit)
	}
	return err
}

// TagResource adds tags to a resource.
func (s *Service) TagResource(ctx context.Context, scope store.Scope, resourceARN string, tags []Tag) error {
	kind, id, err := s.taggedRecord(scope, resourceARN)
	if err != nil {
		return err
	}
	if err := checkTags(tags); err != nil {
		return err
	}
	return s.tagError(kind, id, resourceARN, tagging.Tag(ctx, s.store, scope, kind, id, tagMap(tags), MaxTags))
}

// UntagResource removes tags from a resource.
func (s *Service) UntagResource(ctx context.Context, scope store.Scope, resourceARN string, keys []string) error {
	kind, id, err := s.taggedRecord(scope, resourceARN)
	if err != nil {
		return err
	}
	return s.tagError(kind, id, resourceARN, tagging.Untag(ctx, s.store, scope, kind, id, keys))
}

// TagPage is a page of tags.
type TagPage struct {
	Tags      []Tag
	NextToken string
}

// ListTags lists a resource's tags in key order.
func (s *Service) ListTags(ctx context.Context, scope store.Scope, resourceARN string, maxResults int, nextToken string) (*TagPage, error) {
	kind, id, err := s.taggedRecord(scope, resourceARN)
	if err != nil {
		return nil, err
	}
	tscope := tokenScope(scope, "ListTagsForResource", resourceARN)
	cursor, err := s.tokens.Cursor(tscope, nextToken)
	if err != nil {
		return nil, err
	}
	m, err := tagging.List(ctx, s.store, scope, kind, id)
	if err != nil {
		return nil, s.tagError(kind, id, resourceARN, err)
	}
	all := tagList(m)
	if after, ok := strings.CutPrefix(cursor, "k:"); ok {
		all = all[sort.Search(len(all), func(i int) bool { return all[i].Key > after }):]
	}
	page := &TagPage{Tags: all}
	if max := pagetoken.Limit(maxResults, DefaultMaxResults); len(all) > max {
		page.Tags = all[:max]
		page.NextToken = s.tokens.Encode(tscope, "k:"+all[max-1].Key)
	}
	return page, nil
}
