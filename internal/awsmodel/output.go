package awsmodel

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// CheckOutput checks a response body against the operation's output shape
// as strictly as a generated SDK reads it: every member known to the shape,
// each of the right JSON type (timestamps as epoch numbers), enums and
// required members as the model says, list and string lengths kept. It
// returns one line per problem (at most 50), or nil.
func (s *Service) CheckOutput(operation string, body []byte) []string {
	op := s.Operations[operation]
	if op == nil {
		return []string{"unknown operation " + operation}
	}
	if op.Output == "" {
		if len(bytes.TrimSpace(body)) > 0 && string(bytes.TrimSpace(body)) != "{}" {
			return []string{"the operation has no output shape but the body is " + string(body)}
		}
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []string{"the body is not JSON: " + err.Error()}
	}
	c := &outputChecker{svc: s}
	c.walk(op.Output, op.Output, v)
	return c.problems
}

type outputChecker struct {
	svc      *Service
	problems []string
}

func (c *outputChecker) add(path, format string, args ...any) {
	if len(c.problems) < 50 {
		c.problems = append(c.problems, path+": "+fmt.Sprintf(format, args...))
	}
}

func (c *outputChecker) walk(shapeName, path string, v any) {
	sh := c.svc.Shapes[shapeName]
	if sh == nil {
		c.add(path, "unknown shape %s", shapeName)
		return
	}
	if v == nil {
		c.add(path, "null (leave the member out instead)")
		return
	}
	switch sh.Type {
	case "structure":
		obj, ok := v.(map[string]any)
		if !ok {
			c.add(path, "want an object (%s), got %s", shapeName, jsonType(v))
			return
		}
		for _, r := range sh.Required {
			if _, ok := obj[r]; !ok {
				c.add(path+"."+r, "required member missing")
			}
		}
		names := make([]string, 0, len(obj))
		for n := range obj {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			m, ok := sh.Members[n]
			if !ok {
				c.add(path+"."+n, "not a member of %s", shapeName)
				continue
			}
			if m.Location != "" {
				c.add(path+"."+n, "bound to the %s, not the body", m.Location)
				continue
			}
			c.walk(m.Shape, path+"."+n, obj[n])
		}
	case "list":
		arr, ok := v.([]any)
		if !ok {
			c.add(path, "want an array (%s), got %s", shapeName, jsonType(v))
			return
		}
		c.size(sh, path, len(arr))
		for i, item := range arr {
			c.walk(sh.Member, fmt.Sprintf("%s[%d]", path, i), item)
		}
	case "map":
		obj, ok := v.(map[string]any)
		if !ok {
			c.add(path, "want an object (%s), got %s", shapeName, jsonType(v))
			return
		}
		c.size(sh, path, len(obj))
		for k, val := range obj {
			c.walk(sh.Key, path+"{key}", k)
			c.walk(sh.Value, path+"."+k, val)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			c.add(path, "want a string (%s), got %s", shapeName, jsonType(v))
			return
		}
		c.size(sh, path, utf8.RuneCountInString(str))
		if len(sh.Enum) > 0 && !contains(sh.Enum, str) {
			c.add(path, "%q is not one of %s", str, strings.Join(sh.Enum, ", "))
		}
		// Patterns are not checked: they constrain requests, and AWS's own
		// responses break them (GetImage's version is "1.0.0/1" where the
		// VersionNumber shape's pattern allows only "1.0.0").
	case "integer", "long":
		n, ok := v.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			c.add(path, "want an integer (%s), got %s", shapeName, jsonType(v))
		}
	case "double", "float":
		n, ok := v.(json.Number)
		if _, err := n.Float64(); !ok || err != nil {
			c.add(path, "want a number (%s), got %s", shapeName, jsonType(v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			c.add(path, "want a boolean (%s), got %s", shapeName, jsonType(v))
		}
	case "timestamp":
		// The JSON protocols send timestamps as epoch seconds.
		if _, ok := v.(json.Number); !ok {
			c.add(path, "want epoch seconds (%s), got %s", shapeName, jsonType(v))
		}
	case "blob":
		if _, ok := v.(string); !ok {
			c.add(path, "want a base64 string (%s), got %s", shapeName, jsonType(v))
		}
	}
}

func (c *outputChecker) size(sh *Shape, path string, n int) {
	if sh.Min != nil && float64(n) < *sh.Min {
		c.add(path, "length %d below the minimum %s", n, num(*sh.Min))
	}
	if sh.Max != nil && float64(n) > *sh.Max {
		c.add(path, "length %d above the maximum %s", n, num(*sh.Max))
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}
