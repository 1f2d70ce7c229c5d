package wfdoc

import (
	"os"
	"strings"
	"testing"
)

const gated = `
name: gated
schemaVersion: 1.0
parameters:
  - name: approvalTopic
    type: string
    default: "arn:aws:sns:us-east-1:111122223333:approvals"
  - name: retries
    type: integer
    default: 3
  - name: tagList
    type: stringList
    default: ["a", "b"]
steps:
  - name: LaunchBuildInstance
    action: LaunchInstance
    inputs:
      waitFor: ssmAgent
  - name: Approve
    action: WaitForAction
    timeoutSeconds: 3600
    inputs:
      snsTopicArn.$: "$.parameters.approvalTopic"
      payload: '{"instance": "{{ $.stepOutputs.LaunchBuildInstance.instanceId }}", "name": "{{ imagebuilder:buildDate }}"}'
  - name: CreateOutputAMI
    action: CreateImage
    onFailure: continue
    rollbackEnabled: false
    if:
      or:
        - stringEquals: "RESUME"
          value: "$.stepOutputs.Approve.action"
        - numberGreaterThan: 2
          value: "$.parameters.retries"
    inputs:
      instanceId.$: "$.stepOutputs.LaunchBuildInstance.instanceId"
outputs:
  - name: ImageId
    value: "$.stepOutputs.CreateOutputAMI.imageId"
`

func TestParseGood(t *testing.T) {
	t.Parallel()
	d, err := Parse([]byte(gated), Build)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Steps) != 3 || d.Steps[1].TimeoutSeconds != 3600 || d.Steps[0].TimeoutSeconds != 4500 {
		t.Fatalf("steps: %+v", d.Steps)
	}
	if d.Steps[2].OnFailure != "Continue" || d.Steps[2].Rollback != false || d.Steps[2].If.Op != "or" {
		t.Fatalf("step 3: %+v", d.Steps[2])
	}
	if got := d.Parameters[2].DefaultStrings(); strings.Join(got, ",") != "a,b" {
		t.Fatalf("defaults: %v", got)
	}
	if got := d.Parameters[1].DefaultStrings(); got[0] != "3" {
		t.Fatalf("integer default: %v", got)
	}
}

func TestManagedDocumentsParse(t *testing.T) {
	t.Parallel()
	for file, stage := range map[string]Stage{"build-image": Build, "test-image": Test, "distribute-image": Distribution} {
		b, err := os.ReadFile("../imagebuilder/managed/" + file + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(b, stage); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}
}

func TestParseBad(t *testing.T) {
	t.Parallel()
	step := func(s string) string {
		return "schemaVersion: 1.0\nsteps:\n" + s
	}
	cases := map[string]struct{ doc, want string }{
		"not yaml":         {"steps: [", "not valid YAML"},
		"empty":            {"", "empty"},
		"no schema":        {"steps:\n  - name: Wait\n    action: WaitForAction\n", "schemaVersion is required"},
		"bad schema":       {"schemaVersion: 2.0\nsteps: []\n", "unsupported schemaVersion"},
		"no steps":         {"schemaVersion: 1.0\n", "steps is required"},
		"empty steps":      {"schemaVersion: 1.0\nsteps: []\n", "at least one step"},
		"unknown action":   {step("  - name: Foo\n    action: MakeCoffee\n"), `unknown action "MakeCoffee"`},
		"stage":            {step("  - name: Dist\n    action: DistributeImage\n"), "cannot be used in a BUILD workflow"},
		"dup step":         {step("  - name: Wait\n    action: WaitForAction\n  - name: Wait\n    action: WaitForAction\n"), "duplicate step name"},
		"bad name":         {step("  - name: 1abc\n    action: WaitForAction\n"), "step name"},
		"missing input":    {step("  - name: Term\n    action: TerminateInstance\n"), `requires input "instanceId"`},
		"forward ref":      {step("  - name: Term\n    action: TerminateInstance\n    inputs:\n      instanceId.$: $.stepOutputs.Launch.instanceId\n  - name: Launch\n    action: LaunchInstance\n    inputs:\n      waitFor: ssmAgent\n"), "not an earlier step"},
		"bad output":       {step("  - name: Launch\n    action: LaunchInstance\n    inputs:\n      waitFor: ssmAgent\n  - name: Term\n    action: TerminateInstance\n    inputs:\n      instanceId.$: $.stepOutputs.Launch.imageId\n"), `no output "imageId"`},
		"undeclared param": {step("  - name: Wait\n    action: WaitForAction\n    inputs:\n      snsTopicArn.$: $.parameters.topic\n"), "does not declare"},
		"bad sysvar":       {step("  - name: Wait\n    action: WaitForAction\n    if:\n      stringEquals: x\n      value: $.imagebuilder.nope\n"), "unknown system variable"},
		"bad root":         {step("  - name: Wait\n    action: WaitForAction\n    inputs:\n      payload: '{{ $.secrets.x }}'\n"), "must start with $.parameters"},
		"timeout":          {step("  - name: Wait\n    action: WaitForAction\n    timeoutSeconds: 604801\n"), "between 1 and 604800"},
		"timeout type":     {step("  - name: Wait\n    action: WaitForAction\n    timeoutSeconds: soon\n"), "must be an integer"},
		"onFailure":        {step("  - name: Wait\n    action: WaitForAction\n    onFailure: Retry\n"), "onFailure must be"},
		"unknown key":      {step("  - name: Wait\n    action: WaitForAction\n    timeoutSecond: 5\n"), `unknown key "timeoutSecond"`},
		"two operators":    {step("  - name: Wait\n    action: WaitForAction\n    if:\n      stringEquals: a\n      booleanEquals: true\n      value: b\n"), "exactly one operator"},
		"no value":         {step("  - name: Wait\n    action: WaitForAction\n    if:\n      stringEquals: a\n"), "needs a value"},
		"deep if":          {step("  - name: Wait\n    action: WaitForAction\n    if:\n      not:\n        not:\n          not:\n            not:\n              stringEquals: a\n              value: b\n"), "nest at most"},
		"bad number":       {step("  - name: Wait\n    action: WaitForAction\n    if:\n      numberEquals: abc\n      value: \"1\"\n"), "needs a number"},
		"param type":       {"schemaVersion: 1.0\nparameters:\n  - name: p\n    type: float\nsteps:\n  - name: Wait\n    action: WaitForAction\n", "parameter type"},
		"param default":    {"schemaVersion: 1.0\nparameters:\n  - name: p\n    type: boolean\n    default: maybe\nsteps:\n  - name: Wait\n    action: WaitForAction\n", "true or false"},
		"dup output":       {step("  - name: Wait\n    action: WaitForAction\noutputs:\n  - name: a\n    value: x\n  - name: a\n    value: y\n"), "duplicate output"},
		"output ref":       {step("  - name: Wait\n    action: WaitForAction\noutputs:\n  - name: a\n    value: $.stepOutputs.Nope.x\n"), "does not have"},
		"mixed dist":       {"schemaVersion: 1.0\nsteps:\n  - name: Dist1\n    action: DistributeImage\n  - name: Dist2\n    action: DistributeContainerImage\n    inputs:\n      instanceId: i-1\n", "DistributeContainerImage cannot"},
	}
	for name, tc := range cases {
		stage := Build
		if name == "mixed dist" {
			stage = Distribution
		}
		_, err := Parse([]byte(tc.doc), stage)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want error containing %q", name, err, tc.want)
		}
	}
}

func TestPaths(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"$.stepOutputs.step-name.output-name":    "$.stepOutputs.step-name.output-name",
		"$.stepOutputs.CreateSnapshot.output[0]": "$.stepOutputs.CreateSnapshot.output[0]",
		"$['parameters']['a.b']":                 "$.parameters['a.b']",
	} {
		p, err := ParsePath(in)
		if err != nil || p.String() != want {
			t.Errorf("ParsePath(%q) = %q, %v", in, p.String(), err)
		}
	}
	for _, in := range []string{"", "$", "$.", "x.y", "$.a..b", "$.a[", "$.a[-1]", "$[0]", "$.a b"} {
		if _, err := ParsePath(in); err == nil {
			t.Errorf("ParsePath(%q) succeeded", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(gated))
	for _, name := range []string{"build-image", "test-image", "distribute-image"} {
		if b, err := os.ReadFile("../imagebuilder/managed/" + name + ".yaml"); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("schemaVersion: 1.0\nsteps:\n  - {name: Wait, action: WaitForAction}\n"))
	f.Add([]byte("a: &a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 16000 {
			return
		}
		for _, st := range []Stage{Build, Test, Distribution} {
			d, err := Parse(data, st)
			if err == nil && (len(d.Steps) == 0 || len(d.Steps) > MaxSteps) {
				t.Fatalf("accepted %d steps", len(d.Steps))
			}
		}
	})
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"$.stepOutputs.a-b.c[0]", "$['x']", "$.imagebuilder.platform"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			return
		}
		q, err := ParsePath(p.String())
		if err != nil || q.String() != p.String() {
			t.Fatalf("canonical form of %q does not re-parse: %q %v", s, p.String(), err)
		}
	})
}

func TestEvalAndResolve(t *testing.T) {
	t.Parallel()
	d, err := Parse([]byte(gated), Build)
	if err != nil {
		t.Fatal(err)
	}
	ctx := map[string]any{
		"parameters":   map[string]any{"approvalTopic": "arn:topic", "retries": 3},
		"stepOutputs":  map[string]any{"LaunchBuildInstance": map[string]any{"instanceId": "i-1"}, "Approve": map[string]any{"action": "STOP"}},
		"imagebuilder": map[string]any{"imageType": "AMI"},
	}
	look := LookupIn(ctx)
	in, err := ResolveInputs(d.Steps[1].Inputs, look)
	if err != nil {
		t.Fatal(err)
	}
	if in["snsTopicArn"] != "arn:topic" || in["payload"] != `{"instance": "i-1", "name": "{{ imagebuilder:buildDate }}"}` {
		t.Fatalf("resolved %v", in)
	}
	ok, err := d.Steps[2].If.Eval(look) // RESUME == STOP or 3 > 2
	if err != nil || !ok {
		t.Fatalf("eval %v %v", ok, err)
	}
	if _, err := LookupIn(ctx)("$.stepOutputs.Nope.x"); err == nil {
		t.Fatal("missing output resolved")
	}
	if v, err := look("$.ImageBuilder.IMAGETYPE"); err != nil || v != "AMI" {
		t.Fatalf("case-insensitive system variable: %v %v", v, err)
	}
}
