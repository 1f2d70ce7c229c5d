// Package compdoc parses and validates Image Builder component documents
// (the AWSTOE format): schemaVersion, parameters, and phases of steps.
package compdoc

import (
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v4"
)

// Document is a parsed component document.
type Document struct {
	Name        string
	Description string
	Parameters  []Parameter
	Phases      []string // phase names in document order
}

// Parameter is a declared component parameter.
type Parameter struct {
	Name        string
	Type        string
	Default     []string
	HasDefault  bool
	Description string
}

// Type is BUILD unless the document only has a test phase (then TEST), as
// Image Builder classifies components.
func (d *Document) Type() string {
	if len(d.Phases) == 1 && d.Phases[0] == "test" {
		return "TEST"
	}
	return "BUILD"
}

// Actions are the AWSTOE step actions a component may use.
var Actions = map[string]bool{}

func init() {
	for _, a := range strings.Fields(`Assert AppendFile CopyFile CopyFolder CreateFile CreateFolder CreateSymlink
		DeleteFile DeleteFolder ExecuteBash ExecuteBinary ExecuteDocument ExecutePowerShell InstallMSI ListFiles
		MoveFile MoveFolder ReadFile Reboot S3Download S3Upload SetFileEncoding SetFileOwner SetFilePermissions
		SetFolderOwner SetFolderPermissions SetRegistry UninstallMSI UpdateOS WebDownload`) {
		Actions[a] = true
	}
}

var (
	phases     = map[string]bool{"build": true, "validate": true, "test": true}
	stepNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	paramTypes = map[string]bool{"string": true, "integer": true, "boolean": true, "stringList": true}
)

// Parse validates a component document.
func Parse(data []byte) (*Document, error) {
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("the document is not valid YAML: %v", err)
	}
	top, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the document must be a mapping with schemaVersion and phases")
	}
	for k := range top {
		switch k {
		case "name", "description", "schemaVersion", "parameters", "phases", "constants":
		default:
			return nil, fmt.Errorf("unknown top-level key %q", k)
		}
	}
	d := &Document{}
	d.Name, _ = top["name"].(string)
	d.Description, _ = top["description"].(string)
	if sv := fmt.Sprint(top["schemaVersion"]); top["schemaVersion"] == nil || (sv != "1" && sv != "1.0") {
		return nil, fmt.Errorf("schemaVersion must be 1.0")
	}
	if err := d.parameters(top["parameters"]); err != nil {
		return nil, err
	}
	list, ok := top["phases"].([]any)
	if !ok || len(list) == 0 {
		return nil, fmt.Errorf("phases must be a non-empty list")
	}
	seen := map[string]bool{}
	for i, p := range list {
		pm, ok := p.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("phases[%d] must be a mapping with name and steps", i)
		}
		name, _ := pm["name"].(string)
		if !phases[name] {
			return nil, fmt.Errorf("phases[%d].name must be build, validate or test, not %q", i, name)
		}
		if seen[name] {
			return nil, fmt.Errorf("phase %q appears twice", name)
		}
		seen[name] = true
		d.Phases = append(d.Phases, name)
		steps, ok := pm["steps"].([]any)
		if !ok || len(steps) == 0 {
			return nil, fmt.Errorf("phase %q must have a non-empty steps list", name)
		}
		stepNames := map[string]bool{}
		for j, st := range steps {
			sm, ok := st.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("phase %q steps[%d] must be a mapping", name, j)
			}
			sn, _ := sm["name"].(string)
			if !stepNameRE.MatchString(sn) {
				return nil, fmt.Errorf("phase %q steps[%d].name %q must be 1-128 letters, digits, '-' or '_'", name, j, sn)
			}
			if stepNames[sn] {
				return nil, fmt.Errorf("phase %q has two steps named %q", name, sn)
			}
			stepNames[sn] = true
			act, _ := sm["action"].(string)
			if !Actions[act] {
				return nil, fmt.Errorf("phase %q step %q: unknown action %q", name, sn, act)
			}
			if of, ok := sm["onFailure"]; ok {
				switch fmt.Sprint(of) {
				case "Abort", "Continue", "Ignore":
				default:
					return nil, fmt.Errorf("phase %q step %q: onFailure must be Abort, Continue or Ignore", name, sn)
				}
			}
		}
	}
	return d, nil
}

func (d *Document) parameters(v any) error {
	if v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		return fmt.Errorf("parameters must be a list")
	}
	seen := map[string]bool{}
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok || len(m) != 1 {
			return fmt.Errorf("parameters[%d] must be a mapping of one parameter name to its definition", i)
		}
		for name, defv := range m {
			def, ok := defv.(map[string]any)
			if !ok {
				return fmt.Errorf("parameter %q must have a definition with type", name)
			}
			if seen[name] {
				return fmt.Errorf("parameter %q is declared twice", name)
			}
			seen[name] = true
			p := Parameter{Name: name}
			p.Type, _ = def["type"].(string)
			if !paramTypes[p.Type] {
				return fmt.Errorf("parameter %q: type must be string, integer, boolean or stringList", name)
			}
			p.Description, _ = def["description"].(string)
			if dv, ok := def["default"]; ok {
				p.HasDefault = true
				if l, ok := dv.([]any); ok {
					for _, x := range l {
						p.Default = append(p.Default, fmt.Sprint(x))
					}
				} else {
					p.Default = []string{fmt.Sprint(dv)}
				}
			}
			d.Parameters = append(d.Parameters, p)
		}
	}
	return nil
}
