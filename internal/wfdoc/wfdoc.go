// Package wfdoc parses and validates Image Builder workflow documents (YAML
// or JSON): schemaVersion, parameters, steps with their actions, inputs,
// onFailure, rollbackEnabled, timeoutSeconds and if-conditions, outputs, and
// every $.path reference, whole-value ("key.$") or {{ interpolated }}.
package wfdoc

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// Document limits, from the Image Builder user guide.
const (
	MaxSteps          = 15
	MaxParameters     = 25
	MaxOutputs        = 25
	MaxConditionDepth = 4
	MaxConditionItems = 10
)

// Error is a problem in a document, with the line it was found on.
type Error struct {
	Line int
	Path string // e.g. steps[2].inputs
	Msg  string
}

func (e *Error) Error() string {
	where := e.Path
	if e.Line > 0 {
		if where != "" {
			where += ", "
		}
		where += "line " + strconv.Itoa(e.Line)
	}
	if where == "" {
		return e.Msg
	}
	return where + ": " + e.Msg
}

// Document is a parsed workflow document.
type Document struct {
	Name          string
	Description   string
	SchemaVersion string
	Parameters    []Parameter
	Steps         []Step
	Outputs       []Output
}

// Parameter is a declared workflow parameter.
type Parameter struct {
	Name        string
	Type        string // string, integer, boolean or stringList
	Description string
	HasDefault  bool
	Default     any
}

// DefaultStrings renders the default as the API does: a list of strings.
func (p Parameter) DefaultStrings() []string {
	if !p.HasDefault {
		return nil
	}
	switch v := p.Default.(type) {
	case []any:
		out := make([]string, len(v))
		for i, x := range v {
			out[i] = fmt.Sprint(x)
		}
		return out
	default:
		return []string{fmt.Sprint(v)}
	}
}

// Step is one workflow step.
type Step struct {
	Name        string
	Action      string
	Description string
	// OnFailure is "Abort" (the default) or "Continue".
	OnFailure string
	// Rollback is true, false, or a $.path string resolved at run time.
	Rollback any
	// TimeoutSeconds is the explicit timeout, or the action's default.
	TimeoutSeconds int
	If             *Condition
	Inputs         map[string]any
}

// Output is a workflow output.
type Output struct {
	Name  string
	Value string
}

// Condition is an if-statement node: a branch (and, or), a modifier (not) or
// a comparison with its operand and value.
type Condition struct {
	Op       string
	Children []*Condition
	Operand  any
	Value    any
}

var (
	stepNameRE  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{2,99}$`)
	paramNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,127}$`)
	numberRE    = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
)

var comparisons = map[string]bool{
	"booleanEquals": true, "numberEquals": true, "numberGreaterThan": true, "numberGreaterThanEquals": true,
	"numberLessThan": true, "numberLessThanEquals": true, "stringEquals": true,
}

var paramTypes = map[string]bool{"string": true, "integer": true, "boolean": true, "stringList": true}

type parser struct {
	stage Stage
	doc   *Document
	steps map[string]int // step name -> index
}

func errAt(n *yaml.Node, path, format string, args ...any) *Error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{Line: line, Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Parse parses and validates a workflow document for a stage.
func Parse(data []byte, stage Stage) (*Document, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &Error{Msg: "the document is not valid YAML: " + err.Error()}
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, &Error{Msg: "the document is empty"}
	}
	top := root.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, errAt(top, "", "the document must be a mapping with schemaVersion and steps")
	}
	p := &parser{stage: stage, doc: &Document{}, steps: map[string]int{}}
	if err := p.document(top); err != nil {
		return nil, err
	}
	return p.doc, nil
}

// pairs returns a mapping's keys and values, rejecting duplicate and
// unknown keys.
func pairs(n *yaml.Node, path string, known ...string) (map[string]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, errAt(n, path, "expected a mapping")
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, errAt(k, path, "keys must be plain strings")
		}
		if _, dup := out[k.Value]; dup {
			return nil, errAt(k, path, "duplicate key %q", k.Value)
		}
		if len(known) > 0 && !contains(known, k.Value) {
			return nil, errAt(k, path, "unknown key %q (expected one of %s)", k.Value, strings.Join(known, ", "))
		}
		out[k.Value] = v
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func str(n *yaml.Node, path string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", errAt(n, path, "expected a string")
	}
	return n.Value, nil
}

func decode(n *yaml.Node, path string) (any, error) {
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, errAt(n, path, "%v", err)
	}
	return normalize(v), nil
}

// normalize makes decoded YAML JSON-shaped (string-keyed maps).
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	}
	return v
}

func (p *parser) document(top *yaml.Node) error {
	m, err := pairs(top, "", "name", "description", "schemaVersion", "parameters", "steps", "outputs")
	if err != nil {
		return err
	}
	d := p.doc
	if n, ok := m["name"]; ok {
		if d.Name, err = str(n, "name"); err != nil {
			return err
		}
	}
	if n, ok := m["description"]; ok {
		if d.Description, err = str(n, "description"); err != nil {
			return err
		}
	}
	sv, ok := m["schemaVersion"]
	if !ok {
		return errAt(top, "", "schemaVersion is required")
	}
	if d.SchemaVersion, err = str(sv, "schemaVersion"); err != nil {
		return err
	}
	if d.SchemaVersion != "1.0" {
		return errAt(sv, "schemaVersion", "unsupported schemaVersion %q (only 1.0 is supported)", d.SchemaVersion)
	}
	if n, ok := m["parameters"]; ok {
		if err := p.parameters(n); err != nil {
			return err
		}
	}
	steps, ok := m["steps"]
	if !ok {
		return errAt(top, "", "steps is required")
	}
	if err := p.stepList(steps); err != nil {
		return err
	}
	if n, ok := m["outputs"]; ok {
		if err := p.outputs(n); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) parameters(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return errAt(n, "parameters", "expected a list")
	}
	if len(n.Content) > MaxParameters {
		return errAt(n, "parameters", "at most %d parameters are allowed, found %d", MaxParameters, len(n.Content))
	}
	seen := map[string]bool{}
	for i, item := range n.Content {
		path := fmt.Sprintf("parameters[%d]", i)
		m, err := pairs(item, path, "name", "type", "default", "description")
		if err != nil {
			return err
		}
		var prm Parameter
		nn, ok := m["name"]
		if !ok {
			return errAt(item, path, "name is required")
		}
		if prm.Name, err = str(nn, path+".name"); err != nil {
			return err
		}
		if !paramNameRE.MatchString(prm.Name) {
			return errAt(nn, path+".name", "parameter name %q must start with a letter and contain only letters, digits, '-' and '_' (at most 128 characters)", prm.Name)
		}
		if seen[prm.Name] {
			return errAt(nn, path+".name", "duplicate parameter name %q", prm.Name)
		}
		seen[prm.Name] = true
		prm.Type = "string"
		if tn, ok := m["type"]; ok {
			if prm.Type, err = str(tn, path+".type"); err != nil {
				return err
			}
			if !paramTypes[prm.Type] {
				return errAt(tn, path+".type", "parameter type %q must be one of string, integer, boolean, stringList", prm.Type)
			}
		}
		if dn, ok := m["description"]; ok {
			if prm.Description, err = str(dn, path+".description"); err != nil {
				return err
			}
			if len(prm.Description) > 1024 {
				return errAt(dn, path+".description", "description is longer than 1024 characters")
			}
		}
		if dn, ok := m["default"]; ok {
			v, err := decode(dn, path+".default")
			if err != nil {
				return err
			}
			if err := checkParamValue(prm.Type, v); err != nil {
				return errAt(dn, path+".default", "%v", err)
			}
			prm.HasDefault, prm.Default = true, v
		}
		p.doc.Parameters = append(p.doc.Parameters, prm)
	}
	return nil
}

func checkParamValue(typ string, v any) error {
	switch typ {
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("default must be a string")
		}
	case "integer":
		switch v.(type) {
		case int, int64, uint64:
		default:
			return fmt.Errorf("default must be an integer")
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("default must be true or false")
		}
	case "stringList":
		l, ok := v.([]any)
		if !ok {
			return fmt.Errorf("default must be a list of strings")
		}
		for _, e := range l {
			if _, ok := e.(string); !ok {
				return fmt.Errorf("default must be a list of strings")
			}
		}
	}
	return nil
}

func (p *parser) stepList(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return errAt(n, "steps", "expected a list")
	}
	if len(n.Content) == 0 {
		return errAt(n, "steps", "at least one step is required")
	}
	if len(n.Content) > MaxSteps {
		return errAt(n, "steps", "at most %d steps are allowed, found %d", MaxSteps, len(n.Content))
	}
	var hasContainerDist, hasAMIDist bool
	for i, item := range n.Content {
		s, err := p.step(item, i)
		if err != nil {
			return err
		}
		switch s.Action {
		case "DistributeContainerImage":
			hasContainerDist = true
		case "DistributeImage", "ModifyImageAttributes", "ApplyImageConfigurations":
			hasAMIDist = true
		}
		p.steps[s.Name] = i
		p.doc.Steps = append(p.doc.Steps, *s)
	}
	if hasContainerDist && hasAMIDist {
		return errAt(n, "steps", "a workflow with DistributeContainerImage cannot also use DistributeImage, ModifyImageAttributes or ApplyImageConfigurations")
	}
	return nil
}

func (p *parser) step(item *yaml.Node, i int) (*Step, error) {
	path := fmt.Sprintf("steps[%d]", i)
	m, err := pairs(item, path, "name", "action", "description", "inputs", "onFailure", "rollbackEnabled", "timeoutSeconds", "if")
	if err != nil {
		return nil, err
	}
	s := &Step{OnFailure: "Abort", Rollback: true}
	nn, ok := m["name"]
	if !ok {
		return nil, errAt(item, path, "name is required")
	}
	if s.Name, err = str(nn, path+".name"); err != nil {
		return nil, err
	}
	if !stepNameRE.MatchString(s.Name) {
		return nil, errAt(nn, path+".name", "step name %q must be 3 to 100 characters, start with a letter, and contain only letters, digits, '-' and '_'", s.Name)
	}
	if _, dup := p.steps[s.Name]; dup {
		return nil, errAt(nn, path+".name", "duplicate step name %q", s.Name)
	}
	path = fmt.Sprintf("steps[%d](%s)", i, s.Name)
	an, ok := m["action"]
	if !ok {
		return nil, errAt(item, path, "action is required")
	}
	if s.Action, err = str(an, path+".action"); err != nil {
		return nil, err
	}
	act := Actions[s.Action]
	if act == nil {
		return nil, errAt(an, path+".action", "unknown action %q", s.Action)
	}
	if !act.AllowedIn(p.stage) {
		return nil, errAt(an, path+".action", "action %s cannot be used in a %s workflow", s.Action, p.stage)
	}
	if dn, ok := m["description"]; ok {
		if s.Description, err = str(dn, path+".description"); err != nil {
			return nil, err
		}
		if len(s.Description) > 1024 {
			return nil, errAt(dn, path+".description", "description is longer than 1024 characters")
		}
	}
	if fn, ok := m["onFailure"]; ok {
		v, err := str(fn, path+".onFailure")
		if err != nil {
			return nil, err
		}
		switch strings.ToLower(v) {
		case "abort":
			s.OnFailure = "Abort"
		case "continue":
			s.OnFailure = "Continue"
		default:
			return nil, errAt(fn, path+".onFailure", "onFailure must be Abort or Continue, not %q", v)
		}
	}
	if rn, ok := m["rollbackEnabled"]; ok {
		v, err := decode(rn, path+".rollbackEnabled")
		if err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case bool:
			s.Rollback = x
		case string:
			if err := p.reference(x, i, rn, path+".rollbackEnabled"); err != nil {
				return nil, err
			}
			s.Rollback = x
		default:
			return nil, errAt(rn, path+".rollbackEnabled", "rollbackEnabled must be true, false or a $.path")
		}
	}
	s.TimeoutSeconds = act.DefaultTimeout
	if tn, ok := m["timeoutSeconds"]; ok {
		v, err := decode(tn, path+".timeoutSeconds")
		if err != nil {
			return nil, err
		}
		n, ok := v.(int)
		if !ok {
			return nil, errAt(tn, path+".timeoutSeconds", "timeoutSeconds must be an integer")
		}
		if n < 1 || n > act.MaxTimeout {
			return nil, errAt(tn, path+".timeoutSeconds", "timeoutSeconds must be between 1 and %d for action %s, found %d", act.MaxTimeout, s.Action, n)
		}
		s.TimeoutSeconds = n
	}
	if in, ok := m["if"]; ok {
		c, err := p.condition(in, i, path+".if", 1)
		if err != nil {
			return nil, err
		}
		s.If = c
	}
	s.Inputs = map[string]any{}
	if in, ok := m["inputs"]; ok && in.Tag != "!!null" {
		v, err := decode(in, path+".inputs")
		if err != nil {
			return nil, err
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, errAt(in, path+".inputs", "inputs must be a mapping")
		}
		s.Inputs = obj
		if err := p.inputs(obj, i, in, path+".inputs"); err != nil {
			return nil, err
		}
	}
	for _, req := range act.Required {
		_, plain := s.Inputs[req]
		_, ref := s.Inputs[req+".$"]
		if !plain && !ref {
			return nil, errAt(item, path+".inputs", "action %s requires input %q", s.Action, req)
		}
	}
	return s, nil
}

// inputs checks every reference inside a step's inputs.
func (p *parser) inputs(v any, step int, n *yaml.Node, path string) error {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			e := x[k]
			if strings.HasSuffix(k, ".$") {
				ref, ok := e.(string)
				if !ok {
					return errAt(n, path+"."+k, "a key ending in '.$' must hold a $.path string")
				}
				if err := p.reference(ref, step, n, path+"."+k); err != nil {
					return err
				}
				continue
			}
			if err := p.inputs(e, step, n, path+"."+k); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range x {
			if err := p.inputs(e, step, n, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case string:
		refs, err := Interpolations(x)
		if err != nil {
			return errAt(n, path, "%v", err)
		}
		for _, r := range refs {
			if err := p.reference(r, step, n, path); err != nil {
				return err
			}
		}
	}
	return nil
}

// reference validates a $.path used by step number step (-1 for outputs,
// which may reference any step).
func (p *parser) reference(ref string, step int, n *yaml.Node, path string) error {
	pp, err := ParsePath(ref)
	if err != nil {
		return errAt(n, path, "%v", err)
	}
	root := pp.Segments[0].Name
	rest := pp.Segments[1:]
	if len(rest) == 0 || rest[0].IsIndex {
		return errAt(n, path, "reference %q must name a member of $.%s", ref, root)
	}
	switch {
	case root == "parameters":
		for _, prm := range p.doc.Parameters {
			if prm.Name == rest[0].Name {
				return nil
			}
		}
		return errAt(n, path, "reference %q names parameter %q, which the document does not declare", ref, rest[0].Name)
	case root == "stepOutputs":
		target, ok := p.steps[rest[0].Name]
		if !ok {
			if step < 0 {
				return errAt(n, path, "reference %q names step %q, which the document does not have", ref, rest[0].Name)
			}
			return errAt(n, path, "reference %q names step %q, which is not an earlier step", ref, rest[0].Name)
		}
		if len(rest) < 2 || rest[1].IsIndex {
			return errAt(n, path, "reference %q must name an output of step %q", ref, rest[0].Name)
		}
		act := Actions[p.doc.Steps[target].Action]
		if !contains(act.Outputs, rest[1].Name) {
			if len(act.Outputs) == 0 {
				return errAt(n, path, "reference %q: action %s of step %q has no outputs", ref, act.Name, rest[0].Name)
			}
			return errAt(n, path, "reference %q: action %s of step %q has no output %q (it has %s)", ref, act.Name, rest[0].Name, rest[1].Name, strings.Join(act.Outputs, ", "))
		}
		return nil
	case root == "workflowOutputs":
		return nil
	case strings.EqualFold(root, "imagebuilder"):
		for _, v := range SystemVariables {
			if strings.EqualFold(v, rest[0].Name) {
				return nil
			}
		}
		return errAt(n, path, "reference %q names an unknown system variable %q", ref, rest[0].Name)
	}
	return errAt(n, path, "reference %q must start with $.parameters, $.stepOutputs, $.workflowOutputs or $.imagebuilder", ref)
}

func (p *parser) condition(n *yaml.Node, step int, path string, depth int) (*Condition, error) {
	if depth > MaxConditionDepth {
		return nil, errAt(n, path, "conditions may nest at most %d levels", MaxConditionDepth)
	}
	m, err := pairs(n, path)
	if err != nil {
		return nil, err
	}
	var ops []string
	for k := range m {
		if k != "value" {
			ops = append(ops, k)
		}
	}
	sort.Strings(ops)
	if len(ops) != 1 {
		return nil, errAt(n, path, "a condition must have exactly one operator (and, or, not, or a comparison), found %d", len(ops))
	}
	c := &Condition{Op: ops[0]}
	body := m[c.Op]
	switch {
	case c.Op == "and" || c.Op == "or":
		if _, ok := m["value"]; ok {
			return nil, errAt(n, path, "%s does not take a value", c.Op)
		}
		if body.Kind != yaml.SequenceNode || len(body.Content) < 1 || len(body.Content) > MaxConditionItems {
			return nil, errAt(body, path+"."+c.Op, "%s must be a list of 1 to %d conditions", c.Op, MaxConditionItems)
		}
		for i, child := range body.Content {
			cc, err := p.condition(child, step, fmt.Sprintf("%s.%s[%d]", path, c.Op, i), depth+1)
			if err != nil {
				return nil, err
			}
			c.Children = append(c.Children, cc)
		}
	case c.Op == "not":
		if _, ok := m["value"]; ok {
			return nil, errAt(n, path, "not does not take a value")
		}
		cc, err := p.condition(body, step, path+".not", depth+1)
		if err != nil {
			return nil, err
		}
		c.Children = []*Condition{cc}
	case comparisons[c.Op]:
		vn, ok := m["value"]
		if !ok {
			return nil, errAt(n, path, "%s needs a value to compare with", c.Op)
		}
		if c.Operand, err = decode(body, path+"."+c.Op); err != nil {
			return nil, err
		}
		if c.Value, err = decode(vn, path+".value"); err != nil {
			return nil, err
		}
		for _, side := range []struct {
			v    any
			node *yaml.Node
			path string
		}{{c.Operand, body, path + "." + c.Op}, {c.Value, vn, path + ".value"}} {
			switch x := side.v.(type) {
			case string:
				if strings.HasPrefix(x, "$.") {
					if err := p.reference(x, step, side.node, side.path); err != nil {
						return nil, err
					}
					continue
				}
				if strings.HasPrefix(c.Op, "number") && !numberRE.MatchString(x) {
					return nil, errAt(side.node, side.path, "%s needs a number, not %q", c.Op, x)
				}
				if c.Op == "booleanEquals" && x != "true" && x != "false" {
					return nil, errAt(side.node, side.path, "booleanEquals needs true or false, not %q", x)
				}
			case map[string]any, []any, nil:
				return nil, errAt(side.node, side.path, "%s compares scalar values", c.Op)
			}
		}
	default:
		return nil, errAt(n, path, "unknown condition operator %q", c.Op)
	}
	return c, nil
}

func (p *parser) outputs(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return errAt(n, "outputs", "expected a list")
	}
	if len(n.Content) > MaxOutputs {
		return errAt(n, "outputs", "at most %d outputs are allowed, found %d", MaxOutputs, len(n.Content))
	}
	seen := map[string]bool{}
	for i, item := range n.Content {
		path := fmt.Sprintf("outputs[%d]", i)
		m, err := pairs(item, path, "name", "value")
		if err != nil {
			return err
		}
		var o Output
		nn, ok := m["name"]
		if !ok {
			return errAt(item, path, "name is required")
		}
		if o.Name, err = str(nn, path+".name"); err != nil {
			return err
		}
		if !paramNameRE.MatchString(o.Name) {
			return errAt(nn, path+".name", "output name %q must start with a letter and contain only letters, digits, '-' and '_'", o.Name)
		}
		if seen[o.Name] {
			return errAt(nn, path+".name", "duplicate output name %q", o.Name)
		}
		seen[o.Name] = true
		vn, ok := m["value"]
		if !ok {
			return errAt(item, path, "value is required")
		}
		if o.Value, err = str(vn, path+".value"); err != nil {
			return err
		}
		if strings.HasPrefix(o.Value, "$") {
			if err := p.reference(o.Value, -1, vn, path+".value"); err != nil {
				return err
			}
		} else if refs, _ := Interpolations(o.Value); len(refs) > 0 {
			for _, r := range refs {
				if err := p.reference(r, -1, vn, path+".value"); err != nil {
					return err
				}
			}
		}
		p.doc.Outputs = append(p.doc.Outputs, o)
	}
	return nil
}
