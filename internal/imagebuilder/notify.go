package imagebuilder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/engine"
	"github.com/slipway-dev/slipway/internal/store"
)

// Notifications: a WaitForAction step's snsTopicArn and lambdaFunctionName,
// and an infrastructure configuration's snsTopicArn (image AVAILABLE or
// FAILED). Each is a record (listed at /_slipway/imagebuilder/notifications
// with what became of it) and an engine item that sends it, retried until
// sent; without an endpoint it is recorded as not sent, and nothing fails.

const (
	kindNotification = "imagebuilder.notification"
	itemNotify       = "imagebuilder.notify"
)

// Notification is one message to an SNS topic or a Lambda function.
type Notification struct {
	ID      string          `json:"id"`
	Kind    string          `json:"kind"` // "sns" or "lambda"
	Target  string          `json:"target"`
	Reason  string          `json:"reason"` // "WaitForAction" or "ImageStatus"
	Message json.RawMessage `json:"message"`
	Created time.Time       `json:"created"`
	Status  string          `json:"status"` // queued, sent, not sent: ..., retrying: ...
}

// Notifier sends notifications.
type Notifier interface {
	Publish(ctx context.Context, topicArn, message string) error
	Invoke(ctx context.Context, function, region string, payload []byte) error
}

// ErrNotConfigured is what a Notifier returns when no endpoint is set for
// the target.
var ErrNotConfigured = errors.New("no endpoint configured")

func (s *Service) queueNotification(tx store.Tx, scope store.Scope, kind, target, reason string, message any, now time.Time) error {
	b, err := json.Marshal(message)
	if err != nil {
		return err
	}
	n := Notification{ID: newUUID(), Kind: kind, Target: target, Reason: reason, Message: b, Created: now, Status: "queued"}
	if err := insertJSON(tx, &store.Record{Scope: scope, Kind: kindNotification, ID: n.ID, SortKey: fmt.Sprintf("%013d|%s", now.UnixMilli(), n.ID),
		Created: now, Updated: now}, n); err != nil {
		return err
	}
	return enqueue(tx, scope, itemNotify, n.ID, now)
}

// waitNotifications queues what a WaitForAction step asks for: its
// resolved inputs name the topic, the function and a custom payload.
func (s *Service) waitNotifications(tx store.Tx, scope store.Scope, step *stepExec, inputs map[string]any, now time.Time) error {
	msg := map[string]any{"imageArn": step.Image, "workflowArn": step.WorkflowARN, "workflowExecutionId": step.Exec,
		"workflowStepExecutionId": step.ID, "workflowStepName": step.Name, "version": "1.0"}
	if p, ok := inputs["payload"]; ok {
		msg["customPayload"] = p
	}
	if topic, _ := inputs["snsTopicArn"].(string); topic != "" {
		if err := s.queueNotification(tx, scope, "sns", topic, "WaitForAction", msg, now); err != nil {
			return err
		}
	}
	if fn, _ := inputs["lambdaFunctionName"].(string); fn != "" {
		return s.queueNotification(tx, scope, "lambda", fn, "WaitForAction", msg, now)
	}
	return nil
}

// imageNotification queues the infrastructure configuration's SNS message
// for an image that became AVAILABLE or FAILED.
func (s *Service) imageNotification(tx store.Tx, scope store.Scope, img Doc, now time.Time) error {
	topic := str(obj(img, "infrastructureConfiguration"), "snsTopicArn")
	if topic == "" {
		return nil
	}
	a := str(img, "arn")
	version, build, _ := strings.Cut(str(img, "version"), "/")
	v := mustVersion(version)
	var n int
	fmt.Sscanf(build, "%d", &n)
	semver := new(big.Int).Lsh(big.NewInt(int64(v.Major)), 90)
	semver.Or(semver, new(big.Int).Lsh(big.NewInt(int64(v.Minor)), 60))
	semver.Or(semver, new(big.Int).Lsh(big.NewInt(int64(v.Patch)), 30))
	semver.Or(semver, big.NewInt(int64(n)))
	msg := map[string]any{"versionlessArn": a[:strings.Index(a, "/"+version)], "semver": json.Number(semver.String()), "arn": a,
		"name": img["name"], "version": version, "type": img["type"], "buildVersion": n, "state": img["state"], "platform": img["platform"],
		"sourcePipelineArn": img["sourcePipelineArn"], "infrastructureConfiguration": img["infrastructureConfiguration"],
		"imageTestsConfigurationDocument": img["imageTestsConfiguration"], "distributionConfiguration": img["distributionConfiguration"],
		"dateCreated": img["dateCreated"], "outputResources": img["outputResources"], "accountId": scope.Account, "osVersion": img["osVersion"],
		"enhancedImageMetadataEnabled": img["enhancedImageMetadataEnabled"], "buildType": img["buildType"]}
	for _, k := range []string{"imageRecipe", "containerRecipe"} {
		if r, ok := img[k]; ok {
			msg[k] = r
		}
	}
	return s.queueNotification(tx, scope, "sns", topic, "ImageStatus", msg, now)
}

// runNotify sends a notification (outside any transaction) and records
// the outcome; a failed send is retried by the engine.
func (s *Service) runNotify(ctx context.Context, it engine.Item) (func(store.Tx) error, error) {
	var id string
	if err := json.Unmarshal(it.Payload, &id); err != nil {
		return nil, err
	}
	var n Notification
	err := s.store.View(ctx, func(tx store.Tx) error {
		_, err := getJSON(tx, it.Scope, kindNotification, id, &n)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	status := "sent"
	switch {
	case s.Notifier == nil:
		status = "not sent: " + ErrNotConfigured.Error()
	case n.Kind == "sns":
		err = s.Notifier.Publish(ctx, n.Target, string(n.Message))
	default:
		err = s.Notifier.Invoke(ctx, n.Target, it.Scope.Region, n.Message)
	}
	if errors.Is(err, ErrNotConfigured) {
		status, err = "not sent: "+err.Error(), nil
	}
	if err != nil {
		return nil, err // retried with backoff
	}
	return func(tx store.Tx) error {
		rec, err := getJSON(tx, it.Scope, kindNotification, id, &n)
		if err != nil {
			return err
		}
		n.Status = status
		return putJSON(tx, rec, n, s.nowMillis())
	}, nil
}

// Notifications lists a scope's notifications, oldest first.
func (s *Service) Notifications(ctx context.Context, scope store.Scope) ([]Notification, error) {
	out := []Notification{}
	err := s.store.View(ctx, func(tx store.Tx) error {
		out = []Notification{} // the store may run this again
		recs, err := tx.List(store.ListQuery{Scope: scope, Kind: kindNotification, Limit: 10000})
		if err != nil {
			return err
		}
		for _, r := range recs {
			var n Notification
			if err := decodeInto(r, &n); err != nil {
				return err
			}
			out = append(out, n)
		}
		return nil
	})
	return out, err
}
