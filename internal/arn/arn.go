// Package arn parses and formats Amazon Resource Names, normalises resource
// names into ARN segments, and handles Image Builder semantic versions.
package arn

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ARN is arn:partition:service:region:account:resource.
type ARN struct {
	Partition string
	Service   string
	Region    string
	Account   string
	Resource  string
}

// ErrMalformed is returned for strings that are not ARNs.
var ErrMalformed = errors.New("arn: malformed ARN")

// Parse splits s into its parts. The resource part may contain ':'.
func Parse(s string) (ARN, error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] == "" || parts[5] == "" {
		return ARN{}, ErrMalformed
	}
	return ARN{Partition: parts[1], Service: parts[2], Region: parts[3], Account: parts[4], Resource: parts[5]}, nil
}

// String formats the ARN.
func (a ARN) String() string {
	return "arn:" + a.Partition + ":" + a.Service + ":" + a.Region + ":" + a.Account + ":" + a.Resource
}

// PartitionOf returns the AWS partition a region belongs to.
func PartitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	}
	return "aws"
}

// NormalizeName turns a resource name into its ARN segment: lower case, with
// spaces and underscores as hyphens (so "My_Work Flow" is "my-work-flow").
func NormalizeName(name string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '_' {
			return '-'
		}
		if r >= 'A' && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, name)
}

// MaxVersionNode is the largest value of a semantic version node (2^30-1).
const MaxVersionNode = 1<<30 - 1

// Wildcard marks a version node given as "x".
const Wildcard = -1

// Version is major.minor.patch where each node may be Wildcard.
type Version struct {
	Major, Minor, Patch int
}

// ParseVersion parses "1.2.3" (no wildcards).
func ParseVersion(s string) (Version, error) {
	v, err := ParseWildcard(s)
	if err != nil {
		return v, err
	}
	if v.HasWildcard() {
		return v, fmt.Errorf("version %q must not contain wildcards", s)
	}
	return v, nil
}

// ParseWildcard parses "1.2.3", "1.2.x", "1.x.x" or "x.x.x". Once a node is
// "x" every node to its right must be "x" too.
func ParseWildcard(s string) (Version, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("version %q must have three nodes: <major>.<minor>.<patch>", s)
	}
	var nodes [3]int
	wild := false
	for i, p := range parts {
		if p == "x" {
			nodes[i] = Wildcard
			wild = true
			continue
		}
		if wild {
			return Version{}, fmt.Errorf("version %q: a number cannot follow a wildcard node", s)
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || p == "" || (len(p) > 1 && p[0] == '+') {
			return Version{}, fmt.Errorf("version %q: node %q is not a non-negative integer", s, p)
		}
		if n > MaxVersionNode {
			return Version{}, fmt.Errorf("version %q: node %d exceeds the limit of %d", s, n, MaxVersionNode)
		}
		nodes[i] = n
	}
	return Version{nodes[0], nodes[1], nodes[2]}, nil
}

// HasWildcard reports whether any node is "x".
func (v Version) HasWildcard() bool {
	return v.Major == Wildcard || v.Minor == Wildcard || v.Patch == Wildcard
}

// Matches reports whether the concrete version c matches v's pattern.
func (v Version) Matches(c Version) bool {
	return (v.Major == Wildcard || v.Major == c.Major) &&
		(v.Minor == Wildcard || v.Minor == c.Minor) &&
		(v.Patch == Wildcard || v.Patch == c.Patch)
}

func node(n int) string {
	if n == Wildcard {
		return "x"
	}
	return strconv.Itoa(n)
}

// String formats the version.
func (v Version) String() string {
	return node(v.Major) + "." + node(v.Minor) + "." + node(v.Patch)
}

// SortKey is a string that sorts like the version (nodes zero-padded).
func (v Version) SortKey() string {
	return fmt.Sprintf("%010d.%010d.%010d", v.Major, v.Minor, v.Patch)
}

// Compare orders concrete versions.
func (v Version) Compare(o Version) int {
	for _, d := range [3]int{v.Major - o.Major, v.Minor - o.Minor, v.Patch - o.Patch} {
		if d != 0 {
			if d < 0 {
				return -1
			}
			return 1
		}
	}
	return 0
}
