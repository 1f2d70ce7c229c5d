package wfdoc

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Lookup resolves a $.path at run time.
type Lookup func(path string) (any, error)

// LookupIn resolves paths against a context of roots (parameters,
// stepOutputs, workflowOutputs, imagebuilder). Member names under the
// imagebuilder root, and the root itself, match case-insensitively.
func LookupIn(ctx map[string]any) Lookup {
	return func(raw string) (any, error) {
		p, err := ParsePath(raw)
		if err != nil {
			return nil, err
		}
		var cur any = ctx
		for i, seg := range p.Segments {
			switch {
			case seg.IsIndex:
				l, ok := cur.([]any)
				if !ok || seg.Index >= len(l) {
					return nil, fmt.Errorf("%s: no element %d", raw, seg.Index)
				}
				cur = l[seg.Index]
			default:
				m, ok := cur.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("%s: %q is not an object", raw, seg.Name)
				}
				v, ok := m[seg.Name]
				if !ok && (i == 0 || strings.EqualFold(p.Segments[0].Name, "imagebuilder")) {
					for k, x := range m {
						if strings.EqualFold(k, seg.Name) {
							v, ok = x, true
						}
					}
				}
				if !ok {
					return nil, fmt.Errorf("%s: %q has no value", raw, seg.Name)
				}
				cur = v
			}
		}
		return cur, nil
	}
}

// ResolveInputs returns a step's inputs with "key.$" references replaced by
// their values (under "key") and {{ $.path }} interpolated inside strings.
func ResolveInputs(inputs map[string]any, look Lookup) (map[string]any, error) {
	v, err := resolve(inputs, look)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

func resolve(v any, look Lookup) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if name, ok := strings.CutSuffix(k, ".$"); ok {
				ref, _ := e.(string)
				val, err := look(ref)
				if err != nil {
					return nil, err
				}
				out[name] = val
				continue
			}
			r, err := resolve(e, look)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := resolve(e, look)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case string:
		return Interpolate(x, look)
	}
	return v, nil
}

// Interpolate replaces every {{ $.path }} in s with the value's text.
func Interpolate(s string, look Lookup) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			break
		}
		j := strings.Index(s[i+2:], "}}")
		if j < 0 {
			break
		}
		inner := strings.TrimSpace(s[i+2 : i+2+j])
		b.WriteString(s[:i])
		if strings.HasPrefix(inner, "$") {
			v, err := look(inner)
			if err != nil {
				return "", err
			}
			b.WriteString(text(v))
		} else {
			b.WriteString(s[i : i+2+j+2])
		}
		s = s[i+2+j+2:]
	}
	b.WriteString(s)
	return b.String(), nil
}

func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case bool, int, int64, float64:
		return fmt.Sprint(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Eval evaluates an if-condition.
func (c *Condition) Eval(look Lookup) (bool, error) {
	switch c.Op {
	case "and", "or":
		for _, ch := range c.Children {
			ok, err := ch.Eval(look)
			if err != nil {
				return false, err
			}
			if c.Op == "and" && !ok {
				return false, nil
			}
			if c.Op == "or" && ok {
				return true, nil
			}
		}
		return c.Op == "and", nil
	case "not":
		ok, err := c.Children[0].Eval(look)
		return !ok, err
	}
	a, err := operand(c.Operand, look)
	if err != nil {
		return false, err
	}
	b, err := operand(c.Value, look)
	if err != nil {
		return false, err
	}
	switch c.Op {
	case "stringEquals":
		return text(a) == text(b), nil
	case "booleanEquals":
		x, err1 := strconv.ParseBool(text(a))
		y, err2 := strconv.ParseBool(text(b))
		if err1 != nil || err2 != nil {
			return false, fmt.Errorf("booleanEquals compares booleans, not %q and %q", text(a), text(b))
		}
		return x == y, nil
	}
	// "numberGreaterThan: 2, value: $.x" reads "$.x is greater than 2".
	x, err1 := strconv.ParseFloat(text(b), 64)
	y, err2 := strconv.ParseFloat(text(a), 64)
	if err1 != nil || err2 != nil {
		return false, fmt.Errorf("%s compares numbers, not %q and %q", c.Op, text(a), text(b))
	}
	switch c.Op {
	case "numberEquals":
		return x == y, nil
	case "numberGreaterThan":
		return x > y, nil
	case "numberGreaterThanEquals":
		return x >= y, nil
	case "numberLessThan":
		return x < y, nil
	case "numberLessThanEquals":
		return x <= y, nil
	}
	return false, fmt.Errorf("unknown operator %q", c.Op)
}

func operand(v any, look Lookup) (any, error) {
	if s, ok := v.(string); ok && strings.HasPrefix(s, "$.") {
		return look(s)
	}
	return v, nil
}
