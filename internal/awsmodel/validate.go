package awsmodel

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Violation is one constraint that a request value breaks.
type Violation struct {
	Path       string // e.g. Steps[0].CopyStepDetails.Name
	Value      any    // the offending value; nil when missing
	Constraint string // e.g. "Member must not be null"
}

// ValidationError lists the constraints a request breaks. Its message follows
// the wording AWS services use for model validation failures.
type ValidationError struct {
	Violations []Violation
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	n := len(e.Violations)
	if n == 1 {
		b.WriteString("1 validation error detected: ")
	} else {
		fmt.Fprintf(&b, "%d validation errors detected: ", n)
	}
	for i, v := range e.Violations {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "Value %s at '%s' failed to satisfy constraint: %s", quote(v.Value), v.Path, v.Constraint)
	}
	return b.String()
}

// Field names the first offending member.
func (e *ValidationError) Field() string { return e.Violations[0].Path }

// TypeError reports a value of the wrong JSON type, which AWS reports as a
// serialization failure rather than a validation failure.
type TypeError struct {
	Path string
	Want string
}

func (e *TypeError) Error() string {
	return fmt.Sprintf("Unexpected value type at '%s': expected %s", e.Path, e.Want)
}

func quote(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if utf8.RuneCountInString(x) > 64 {
			r := []rune(x)
			x = string(r[:64]) + "..."
		}
		return "'" + x + "'"
	case json.Number:
		return "'" + x.String() + "'"
	case bool:
		return "'" + strconv.FormatBool(x) + "'"
	case []any:
		return fmt.Sprintf("'[%d items]'", len(x))
	case map[string]any:
		return fmt.Sprintf("'{%d members}'", len(x))
	}
	return fmt.Sprintf("'%v'", v)
}

// maxViolations bounds the work and the message for hostile inputs.
const maxViolations = 10

// Validate checks v (decoded JSON: map[string]any, []any, string,
// json.Number, bool, nil) against the named shape. It returns a *TypeError
// for a wrong JSON type, a *ValidationError for broken constraints, or nil.
func (s *Service) Validate(shape string, v any) error {
	w := &walker{svc: s}
	if err := w.walk(shape, "", v); err != nil {
		return err
	}
	if len(w.violations) > 0 {
		return &ValidationError{Violations: w.violations}
	}
	return nil
}

type walker struct {
	svc        *Service
	violations []Violation
}

func (w *walker) add(path string, v any, constraint string) {
	if len(w.violations) < maxViolations {
		w.violations = append(w.violations, Violation{Path: path, Value: v, Constraint: constraint})
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func (w *walker) walk(shapeName, path string, v any) error {
	sh := w.svc.Shapes[shapeName]
	if sh == nil {
		return fmt.Errorf("awsmodel: unknown shape %q", shapeName)
	}
	if v == nil {
		return nil
	}
	switch sh.Type {
	case "structure":
		obj, ok := v.(map[string]any)
		if !ok {
			return &TypeError{Path: path, Want: "an object"}
		}
		for _, r := range sh.Required {
			if val, ok := obj[r]; !ok || val == nil {
				w.add(join(path, r), nil, "Member must not be null")
			}
		}
		// Walk members in a stable order so messages are deterministic.
		names := make([]string, 0, len(sh.Members))
		for n := range sh.Members {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if val, ok := obj[n]; ok {
				if err := w.walk(sh.Members[n].Shape, join(path, n), val); err != nil {
					return err
				}
			}
		}
	case "list":
		arr, ok := v.([]any)
		if !ok {
			return &TypeError{Path: path, Want: "an array"}
		}
		w.size(sh, path, v, len(arr))
		for i, item := range arr {
			if err := w.walk(sh.Member, fmt.Sprintf("%s[%d]", path, i), item); err != nil {
				return err
			}
		}
	case "map":
		obj, ok := v.(map[string]any)
		if !ok {
			return &TypeError{Path: path, Want: "an object"}
		}
		w.size(sh, path, v, len(obj))
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if err := w.walk(sh.Key, path+"."+"key", k); err != nil {
				return err
			}
			if err := w.walk(sh.Value, fmt.Sprintf("%s.%s", path, k), obj[k]); err != nil {
				return err
			}
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return &TypeError{Path: path, Want: "a string"}
		}
		w.size(sh, path, v, utf8.RuneCountInString(str))
		if len(sh.Enum) > 0 && !contains(sh.Enum, str) {
			w.add(path, v, "Member must satisfy enum value set: ["+strings.Join(sh.Enum, ", ")+"]")
		}
		if sh.forbidPrefix != "" && strings.HasPrefix(str, sh.forbidPrefix) {
			w.add(path, v, "Member must not start with '"+sh.forbidPrefix+"'")
		} else if sh.re != nil && !sh.re.MatchString(str) {
			w.add(path, v, "Member must satisfy regular expression pattern: "+sh.Pattern)
		}
	case "integer", "long":
		n, ok := v.(json.Number)
		if !ok {
			return &TypeError{Path: path, Want: "an integer"}
		}
		i, err := n.Int64()
		if err != nil {
			return &TypeError{Path: path, Want: "an integer"}
		}
		if sh.Min != nil && float64(i) < *sh.Min {
			w.add(path, v, "Member must have value greater than or equal to "+num(*sh.Min))
		}
		if sh.Max != nil && float64(i) > *sh.Max {
			w.add(path, v, "Member must have value less than or equal to "+num(*sh.Max))
		}
	case "double", "float":
		n, ok := v.(json.Number)
		if !ok {
			return &TypeError{Path: path, Want: "a number"}
		}
		if _, err := n.Float64(); err != nil {
			return &TypeError{Path: path, Want: "a number"}
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return &TypeError{Path: path, Want: "a boolean"}
		}
	case "timestamp":
		switch v.(type) {
		case json.Number, string:
		default:
			return &TypeError{Path: path, Want: "a timestamp"}
		}
	case "blob":
		if _, ok := v.(string); !ok {
			return &TypeError{Path: path, Want: "a base64 string"}
		}
	}
	return nil
}

func (w *walker) size(sh *Shape, path string, v any, n int) {
	if sh.Min != nil && float64(n) < *sh.Min {
		w.add(path, v, "Member must have length greater than or equal to "+num(*sh.Min))
	}
	if sh.Max != nil && float64(n) > *sh.Max {
		w.add(path, v, "Member must have length less than or equal to "+num(*sh.Max))
	}
}

func num(f float64) string {
	if f == math.Trunc(f) {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
