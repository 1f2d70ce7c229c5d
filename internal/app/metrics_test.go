package app

import (
	"context"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	ibtypes "github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
	tf "github.com/aws/aws-sdk-go-v2/service/transfer"
	tftypes "github.com/aws/aws-sdk-go-v2/service/transfer/types"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/crypto/ssh"
)

// scrape reads /_slipway/metrics with the Prometheus text parser.
func scrape(t testing.TB, s *server) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(s.URL + "/_slipway/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mf
}

// sum adds the values of a family's series whose labels include want.
func sum(mf map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := mf[name]
	if f == nil {
		return 0
	}
	total := 0.0
next:
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		}
	}
	return total
}

// TestMetrics scrapes the metrics before and after some work: requests,
// store transactions, engine items, execution outcomes, waiting CUSTOM
// steps and SFTP sessions and bytes all move.
func TestMetrics(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	before := scrape(t, s)
	c := s.tf(opts("us-east-1"))
	createBucket(t, s.s3(opts("us-east-1")), "drop")
	wf := createWorkflow(t, c, []tftypes.WorkflowStep{customStep("hold", 600)}, nil)
	id, key := sftpUser(t, c, &tf.CreateServerInput{WorkflowDetails: onUpload(wf)},
		&tf.CreateUserInput{UserName: aws.String("metric"), HomeDirectory: aws.String("/drop")})
	_, err := c.DescribeWorkflow(context.Background(), &tf.DescribeWorkflowInput{WorkflowId: aws.String("w-00000000000000000")})
	apiError(t, err, "ResourceNotFoundException")
	cl, err := dialSFTP(t, id, "metric", ssh.PublicKeys(key.signer))
	if err != nil {
		t.Fatal(err)
	}
	f, _ := cl.Create("/drop/m.txt")
	f.Write([]byte("twelve bytes"))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	inv := waitInvocation(t, s, "m.txt")
	during := scrape(t, s)
	if got := sum(during, "slipway_sftp_sessions", nil); got != 1 {
		t.Fatalf("sessions %v", got)
	}
	if got := sum(during, "slipway_sftp_bytes_total", map[string]string{"direction": "in"}) - sum(before, "slipway_sftp_bytes_total", map[string]string{"direction": "in"}); got != 12 {
		t.Fatalf("bytes in %v", got)
	}
	if sum(during, "slipway_custom_steps_waiting", nil) != 1 || sum(during, "slipway_engine_queue_depth", nil) < 1 {
		t.Fatalf("waiting %v, queue %v", sum(during, "slipway_custom_steps_waiting", nil), sum(during, "slipway_engine_queue_depth", nil))
	}
	if _, err := c.SendWorkflowStepState(context.Background(), &tf.SendWorkflowStepStateInput{WorkflowId: aws.String(wf), ExecutionId: aws.String(inv.ExecutionID),
		Token: aws.String(inv.Token), Status: "SUCCESS"}); err != nil {
		t.Fatal(err)
	}
	var after map[string]*dto.MetricFamily
	waitFor(t, "the execution's outcome", func() bool {
		after = scrape(t, s)
		return sum(after, "slipway_outcomes_total", map[string]string{"kind": "transfer_execution", "status": "COMPLETED"}) == 1
	})
	for name, labels := range map[string]map[string]string{
		"slipway_requests_total":                     {"service": "transfer", "operation": "CreateServer", "status": "200"},
		"slipway_request_duration_seconds":           {"service": "transfer", "operation": "DescribeWorkflow"},
		"slipway_store_transaction_duration_seconds": {"kind": "update"},
		"slipway_engine_items_total":                 {"type": "transfer.step", "outcome": "committed"},
	} {
		if sum(after, name, labels) <= sum(before, name, labels) {
			t.Fatalf("%s%v did not move", name, labels)
		}
	}
	if sum(after, "slipway_requests_total", map[string]string{"operation": "DescribeWorkflow", "status": "400"}) != 1 {
		t.Fatal("the refused DescribeWorkflow was not counted")
	}
	if sum(after, "slipway_custom_steps_waiting", nil) != 0 {
		t.Fatal("the answered step still counts as waiting")
	}
	// A WaitForAction gate counts while it waits.
	ic := s.ib(opts("us-east-1"))
	image := startRun(t, ic, gatedPipeline(t, ic, "metricgate", 3600), nil)
	w := waitingStep(t, ic, image)
	if n := sum(scrape(t, s), "slipway_workflow_gates_waiting", nil); n != 1 {
		t.Fatalf("gates waiting %v", n)
	}
	if _, err := ic.SendWorkflowStepAction(context.Background(), &ib.SendWorkflowStepActionInput{StepExecutionId: w.StepExecutionId, ImageBuildVersionArn: aws.String(image),
		Action: ibtypes.WorkflowStepActionTypeStop}); err != nil {
		t.Fatal(err)
	}
	if n := sum(scrape(t, s), "slipway_workflow_gates_waiting", nil); n != 0 {
		t.Fatalf("gates waiting after STOP %v", n)
	}
}
