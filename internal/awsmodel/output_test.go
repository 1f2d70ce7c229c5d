package awsmodel

import (
	"strings"
	"testing"
)

func TestCheckOutput(t *testing.T) {
	t.Parallel()
	tf := Load("transfer")
	ib := Load("imagebuilder")
	cases := []struct {
		svc  *Service
		op   string
		body string
		want []string // substrings of the problems, in order; none for a match
	}{
		{tf, "DescribeExecution", `{"WorkflowId":"w-01234567890123456","Execution":{"ExecutionId":"5d5bbd5c-4d0e-4a8a-8f0e-2f3b0c1d2e3f","Status":"IN_PROGRESS","Results":{"Steps":[{"StepType":"TAG"}]}}}`, nil},
		{tf, "DescribeExecution", `{"Execution":{}}`, []string{"DescribeExecutionResponse.WorkflowId: required member missing"}},
		{tf, "DescribeExecution", `{"WorkflowId":"w-01234567890123456","Execution":{"Status":"DONE"}}`, []string{`Execution.Status: "DONE" is not one of`}},
		{tf, "DescribeExecution", `{"WorkflowId":"w-01234567890123456","Execution":{"Results":{"Steps":[]}}}`, []string{"Results.Steps: length 0 below the minimum 1"}},
		{tf, "DescribeExecution", `{"WorkflowId":"w-01234567890123456","Execution":{"StepName":"x"}}`, []string{"Execution.StepName: not a member of DescribedExecution"}},
		{tf, "DescribeExecution", `{"WorkflowId":"w-01234567890123456","Execution":{"ExecutionRole":null}}`, []string{"ExecutionRole: null"}},
		{tf, "DescribeHostKey", `{"HostKey":{"Arn":"arn:aws:transfer:us-east-1:000000000000:host-key/s-0123/hostkey-0123","DateImported":"2026-01-01T00:00:00Z"}}`, []string{"DateImported: want epoch seconds"}},
		{tf, "ListExecutions", `{"WorkflowId":"w-01234567890123456","Executions":{}}`, []string{"Executions: want an array"}},
		{tf, "SendWorkflowStepState", `{}`, nil},
		{ib, "GetImage", `{"requestId":"r","image":{"version":"1.0.0/1","osVersion":2023,"failureContext":{}}}`, []string{"image.failureContext: not a member of Image", "image.osVersion: want a string"}},
	}
	for _, c := range cases {
		got := c.svc.CheckOutput(c.op, []byte(c.body))
		if len(got) != len(c.want) {
			t.Errorf("%s %s: got %q, want %d problems", c.op, c.body, got, len(c.want))
			continue
		}
		for i, w := range c.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s %s: problem %q does not say %q", c.op, c.body, got[i], w)
			}
		}
	}
}
