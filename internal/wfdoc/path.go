package wfdoc

import (
	"fmt"
	"strconv"
	"strings"
)

// Segment is one step of a path: a member name or a list index.
type Segment struct {
	Name    string
	Index   int
	IsIndex bool
}

// Path is a parsed dynamic-variable reference such as
// $.stepOutputs.LaunchBuildInstance.instanceId or $.parameters.list[0].
type Path struct {
	Raw      string
	Segments []Segment
}

// maxPathLen bounds the work spent on one reference.
const maxPathLen = 1024

// ParsePath parses the subset of JSONPath Image Builder workflows use:
// "$" followed by ".name", "[n]" and "['name']" segments. Names may contain
// hyphens, which full JSONPath dot notation would reject.
func ParsePath(s string) (Path, error) {
	p := Path{Raw: s}
	if len(s) > maxPathLen {
		return p, fmt.Errorf("path is longer than %d characters", maxPathLen)
	}
	if !strings.HasPrefix(s, "$") {
		return p, fmt.Errorf("path %q must start with '$'", s)
	}
	i := 1
	for i < len(s) {
		switch s[i] {
		case '.':
			j := i + 1
			for j < len(s) && isNameByte(s[j]) {
				j++
			}
			if j == i+1 {
				return p, fmt.Errorf("path %q: expected a name at offset %d", s, i+1)
			}
			p.Segments = append(p.Segments, Segment{Name: s[i+1 : j]})
			i = j
		case '[':
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return p, fmt.Errorf("path %q: unclosed '['", s)
			}
			inner := s[i+1 : i+end]
			if len(inner) >= 2 && (inner[0] == '\'' || inner[0] == '"') && inner[len(inner)-1] == inner[0] {
				name := inner[1 : len(inner)-1]
				if name == "" {
					return p, fmt.Errorf("path %q: empty name in brackets", s)
				}
				p.Segments = append(p.Segments, Segment{Name: name})
			} else {
				n, err := strconv.Atoi(inner)
				if err != nil || n < 0 || strings.HasPrefix(inner, "+") {
					return p, fmt.Errorf("path %q: index %q is not a non-negative integer", s, inner)
				}
				p.Segments = append(p.Segments, Segment{Index: n, IsIndex: true})
			}
			i += end + 1
		default:
			return p, fmt.Errorf("path %q: unexpected %q at offset %d", s, s[i], i)
		}
	}
	if len(p.Segments) == 0 {
		return p, fmt.Errorf("path %q names nothing", s)
	}
	if p.Segments[0].IsIndex {
		return p, fmt.Errorf("path %q must start with a name", s)
	}
	return p, nil
}

func isNameByte(c byte) bool {
	return c == '-' || c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// String formats the path in canonical form.
func (p Path) String() string {
	var b strings.Builder
	b.WriteByte('$')
	for _, s := range p.Segments {
		if s.IsIndex {
			b.WriteString("[" + strconv.Itoa(s.Index) + "]")
			continue
		}
		if isName(s.Name) {
			b.WriteString("." + s.Name)
		} else {
			b.WriteString("['" + s.Name + "']")
		}
	}
	return b.String()
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

// Interpolations returns the paths written as {{ $.path }} inside s. Text in
// braces that does not start with '$' (such as AMI-name macros like
// {{ imagebuilder:buildDate }}) is not a path and is left alone.
func Interpolations(s string) ([]string, error) {
	var out []string
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			return out, nil
		}
		j := strings.Index(s[i+2:], "}}")
		if j < 0 {
			return out, nil
		}
		inner := strings.TrimSpace(s[i+2 : i+2+j])
		if strings.HasPrefix(inner, "$") {
			out = append(out, inner)
		}
		s = s[i+2+j+2:]
	}
}
