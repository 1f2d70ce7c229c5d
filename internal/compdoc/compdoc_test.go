package compdoc

import (
	"strings"
	"testing"
)

const hello = `name: hello
description: says hello
schemaVersion: 1.0
parameters:
  - greeting:
      type: string
      default: hello
      description: what to say
phases:
  - name: build
    steps:
      - name: Say
        action: ExecuteBash
        inputs:
          commands:
            - echo "{{ greeting }}"
  - name: validate
    steps:
      - name: Check
        action: ExecuteBash
        onFailure: Abort
        inputs:
          commands: ["true"]
`

func TestParse(t *testing.T) {
	t.Parallel()
	d, err := Parse([]byte(hello))
	if err != nil {
		t.Fatal(err)
	}
	if d.Type() != "BUILD" || len(d.Parameters) != 1 || d.Parameters[0].Default[0] != "hello" || strings.Join(d.Phases, ",") != "build,validate" {
		t.Fatalf("%+v", d)
	}
	test, err := Parse([]byte("schemaVersion: 1.0\nphases:\n  - name: test\n    steps:\n      - name: T\n        action: ExecuteBash\n"))
	if err != nil || test.Type() != "TEST" {
		t.Fatalf("test-only component: %v %v", test, err)
	}
	for name, doc := range map[string]string{
		"yaml":    "phases: [",
		"schema":  "schemaVersion: 2.0\nphases: []\n",
		"phases":  "schemaVersion: 1.0\n",
		"phase":   "schemaVersion: 1.0\nphases:\n  - name: deploy\n    steps: [{name: a, action: ExecuteBash}]\n",
		"action":  "schemaVersion: 1.0\nphases:\n  - name: build\n    steps: [{name: a, action: Teleport}]\n",
		"dup":     "schemaVersion: 1.0\nphases:\n  - name: build\n    steps: [{name: a, action: Reboot}, {name: a, action: Reboot}]\n",
		"param":   "schemaVersion: 1.0\nparameters:\n  - p: {type: float}\nphases:\n  - name: build\n    steps: [{name: a, action: Reboot}]\n",
		"onfail":  "schemaVersion: 1.0\nphases:\n  - name: build\n    steps: [{name: a, action: Reboot, onFailure: Retry}]\n",
		"unknown": "schemaVersion: 1.0\nphase: []\n",
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(hello))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) <= 16000 {
			_, _ = Parse(b)
		}
	})
}
