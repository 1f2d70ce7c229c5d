package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	ibtypes "github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"

	"github.com/slipway-dev/slipway/internal/imagebuilder"
)

const notifyingGate = `schemaVersion: 1.0
steps:
  - name: LaunchBuildInstance
    action: LaunchInstance
    inputs:
      waitFor: ssmAgent
  - name: Approve
    action: WaitForAction
    inputs:
      snsTopicArn: arn:aws:sns:us-east-1:000000000000:approvals
      lambdaFunctionName: approver
      payload: "instance {{ $.stepOutputs.LaunchBuildInstance.instanceId }}"
  - name: CreateOutputAMI
    action: CreateImage
    inputs:
      instanceId.$: "$.stepOutputs.LaunchBuildInstance.instanceId"
`

func notificationsOf(t testing.TB, s *server) []imagebuilder.Notification {
	t.Helper()
	resp, err := http.Get(s.URL + "/_slipway/imagebuilder/notifications")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Notifications []imagebuilder.Notification `json:"notifications"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	return out.Notifications
}

// TestNotifications: a WaitForAction step publishes to its SNS topic and
// invokes its Lambda function with the documented keys, and the
// infrastructure configuration's topic hears the image become AVAILABLE;
// without endpoints the notifications are recorded as not sent.
func TestNotifications(t *testing.T) {
	t.Parallel()
	topic := startReceiver(t, 200)
	lam := startLambda(t, 202)
	s := startApp(t, mustNew(t, Config{InMemory: true, SNSEndpoint: topic.URL, LambdaEndpoint: lam.URL}))
	c := s.ib(opts("us-east-1"))
	ctx := context.Background()
	in := catalog(t, c, "notify")
	infra, err := c.CreateInfrastructureConfiguration(ctx, &ib.CreateInfrastructureConfigurationInput{Name: aws.String("notify-infra-sns"), InstanceProfileName: aws.String("p"),
		SnsTopicArn: aws.String("arn:aws:sns:us-east-1:000000000000:images")})
	if err != nil {
		t.Fatal(err)
	}
	in.InfrastructureConfigurationArn = infra.InfrastructureConfigurationArn
	wf := createWF(t, c, "notify-gate", "1.0.0", notifyingGate)
	in.ExecutionRole = aws.String("arn:aws:iam::000000000000:role/ib")
	in.Workflows = []ibtypes.WorkflowConfiguration{{WorkflowArn: wf.WorkflowBuildVersionArn}}
	pipe, err := c.CreateImagePipeline(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	image := startRun(t, c, aws.ToString(pipe.ImagePipelineArn), nil)
	w := waitingStep(t, c, image)

	call := lam.next(t)
	if call.Path != "/2015-03-31/functions/approver/invocations" || call.InvocationType != "Event" || call.Event["imageArn"] != image ||
		call.Event["workflowStepExecutionId"] != aws.ToString(w.StepExecutionId) || call.Event["workflowStepName"] != "Approve" || call.Event["version"] != "1.0" ||
		!strings.HasPrefix(call.Event["customPayload"].(string), "instance i-") {
		t.Fatalf("lambda event %+v", call)
	}
	var form url.Values
	waitFor(t, "the SNS publish", func() bool {
		topic.mu.Lock()
		defer topic.mu.Unlock()
		for i, b := range topic.bodies {
			f, _ := url.ParseQuery(string(b))
			if f.Get("TopicArn") == "arn:aws:sns:us-east-1:000000000000:approvals" {
				form = f
				if !strings.Contains(topic.heads[i].Get("Authorization"), "/us-east-1/sns/aws4_request") {
					t.Fatalf("SNS signature %s", topic.heads[i].Get("Authorization"))
				}
				return true
			}
		}
		return false
	})
	var msg map[string]any
	if form.Get("Action") != "Publish" || json.Unmarshal([]byte(form.Get("Message")), &msg) != nil || msg["workflowStepExecutionId"] != aws.ToString(w.StepExecutionId) {
		t.Fatalf("SNS publish %v", form)
	}
	if _, err := c.SendWorkflowStepAction(ctx, &ib.SendWorkflowStepActionInput{StepExecutionId: w.StepExecutionId, ImageBuildVersionArn: aws.String(image),
		Action: ibtypes.WorkflowStepActionTypeResume}); err != nil {
		t.Fatal(err)
	}
	waitImage(t, c, image, ibtypes.ImageStatusAvailable)
	waitFor(t, "the image notification", func() bool {
		topic.mu.Lock()
		defer topic.mu.Unlock()
		for _, b := range topic.bodies {
			f, _ := url.ParseQuery(string(b))
			if f.Get("TopicArn") == "arn:aws:sns:us-east-1:000000000000:images" {
				var m map[string]any
				json.Unmarshal([]byte(f.Get("Message")), &m)
				return m["arn"] == image && m["state"].(map[string]any)["status"] == "AVAILABLE" && m["buildVersion"] == float64(1) && m["semver"] != nil &&
					m["versionlessArn"] == strings.TrimSuffix(image, "/1.0.0/1")
			}
		}
		return false
	})
	// A delivery is marked sent once the endpoint answered, just after.
	waitFor(t, "three notifications sent", func() bool {
		sent := 0
		for _, n := range notificationsOf(t, s) {
			if n.Status == "sent" {
				sent++
			}
		}
		return sent == 3
	})

	// Without endpoints nothing fails: the notifications are recorded.
	bare := start(t, "")
	bc := bare.ib(opts("us-east-1"))
	bin := catalog(t, bc, "bare")
	bwf := createWF(t, bc, "bare-gate", "1.0.0", notifyingGate)
	bin.ExecutionRole = aws.String("arn:aws:iam::000000000000:role/ib")
	bin.Workflows = []ibtypes.WorkflowConfiguration{{WorkflowArn: bwf.WorkflowBuildVersionArn}}
	bpipe, err := bc.CreateImagePipeline(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	waitingStep(t, bc, startRun(t, bc, aws.ToString(bpipe.ImagePipelineArn), nil))
	waitFor(t, "the unsent notifications", func() bool {
		ns := notificationsOf(t, bare)
		return len(ns) == 2 && strings.HasPrefix(ns[0].Status, "not sent") && strings.HasPrefix(ns[1].Status, "not sent")
	})
}
