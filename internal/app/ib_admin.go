package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/imagebuilder"
	"github.com/slipway-dev/slipway/internal/lambda"
	"github.com/slipway-dev/slipway/internal/sns"
	"github.com/slipway-dev/slipway/internal/store"
)

// adminScope reads ?account=&region= (the default account, us-east-1).
func adminScope(r *http.Request) store.Scope {
	sc := store.Scope{Account: r.URL.Query().Get("account"), Region: r.URL.Query().Get("region")}
	if sc.Account == "" {
		sc.Account = DefaultAccount
	}
	if sc.Region == "" {
		sc.Region = "us-east-1"
	}
	return sc
}

// amis lists the simulated AMIs of Image Builder's images.
func (a *App) amis(w http.ResponseWriter, r *http.Request) {
	list, err := a.ib.AMIs(r.Context(), adminScope(r))
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
		return
	}
	if list == nil {
		list = []*imagebuilder.AMI{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"amis": list})
}

// setAMI sets the attributes lifecycle exclusion rules read on a simulated
// AMI: {"public": true, "sharedAccounts": [...], "tags": {...},
// "lastLaunched": "2026-11-01T00:00:00Z"}.
func (a *App) setAMI(w http.ResponseWriter, r *http.Request) {
	var in imagebuilder.AMIAttributes
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "the body must be JSON: " + err.Error()})
		return
	}
	ami, err := a.ib.SetAMIAttributes(r.Context(), adminScope(r), r.PathValue("id"), in)
	switch {
	case errors.Is(err, imagebuilder.ErrNoAMI):
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "no image has the AMI " + r.PathValue("id")})
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
	default:
		writeJSON(w, http.StatusOK, ami)
	}
}

// runPolicy starts a lifecycle policy's run now:
// {"lifecyclePolicyArn": "..."} (?account=&region= as for the AMIs).
func (a *App) runPolicy(w http.ResponseWriter, r *http.Request) {
	var in struct {
		LifecyclePolicyArn string `json:"lifecyclePolicyArn"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil || in.LifecyclePolicyArn == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "the body must be {\"lifecyclePolicyArn\": \"...\"}"})
		return
	}
	id, err := a.ib.StartPolicyRun(r.Context(), adminScope(r), in.LifecyclePolicyArn)
	switch {
	case fault.Is(err, fault.NotFound):
		writeJSON(w, http.StatusNotFound, map[string]any{"error": err.Error()})
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"lifecycleExecutionId": id})
	}
}

// setScanFindings replaces the image scan findings fixture of a scope:
// {"findings": [ImageScanFinding, ...]} (?account=&region=).
func (a *App) setScanFindings(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Findings []imagebuilder.Doc `json:"findings"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "the body must be {\"findings\": [...]}: " + err.Error()})
		return
	}
	if err := a.ib.SetScanFindings(r.Context(), adminScope(r), in.Findings); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"findings": len(in.Findings)})
}

// notifications lists the scope's SNS and Lambda notifications with what
// became of each.
func (a *App) notifications(w http.ResponseWriter, r *http.Request) {
	list, err := a.ib.Notifications(r.Context(), adminScope(r))
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"notifications": list})
}

// notifier sends Image Builder's notifications through the SNS and Lambda
// endpoints the user configured.
type notifier struct {
	sns    *sns.Client
	lambda *lambda.Client
}

func (n notifier) Publish(ctx context.Context, topicArn, message string) error {
	err := n.sns.Publish(ctx, topicArn, message)
	if errors.Is(err, sns.ErrNoEndpoint) {
		return fmt.Errorf("%w (--sns-endpoint)", imagebuilder.ErrNotConfigured)
	}
	return err
}

func (n notifier) Invoke(ctx context.Context, function, region string, payload []byte) error {
	res, err := n.lambda.Invoke(ctx, function, region, payload, true)
	switch {
	case errors.Is(err, lambda.ErrNoEndpoint):
		return fmt.Errorf("%w (--lambda-endpoint)", imagebuilder.ErrNotConfigured)
	case err != nil:
		return err
	case res.StatusCode >= 300:
		return fmt.Errorf("lambda: %s answered %d", function, res.StatusCode)
	}
	return nil
}
