package app

import (
	"net/http"
	"strconv"

	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/transfer"
)

// invocations lists the CUSTOM steps waiting for SendWorkflowStepState, with
// their Lambda events and tokens.
func (a *App) invocations(w http.ResponseWriter, r *http.Request) {
	inv, err := a.tf.Invocations(r.Context())
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"invocations": inv})
}

// transferLogs serves a server's workflow log group:
// ?serverId=s-...&region=us-east-1&account=000000000000&after=<next>&limit=N.
func (a *App) transferLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	server := q.Get("serverId")
	if server == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "serverId is required"})
		return
	}
	scope := store.Scope{Account: q.Get("account"), Region: q.Get("region")}
	if scope.Account == "" {
		scope.Account = DefaultAccount
	}
	if scope.Region == "" {
		scope.Region = "us-east-1"
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	events, next, err := a.tf.LogEvents(r.Context(), scope, transfer.LogGroup(server), q.Get("after"), limit)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
		return
	}
	if events == nil {
		events = []transfer.LogEvent{}
	}
	out := map[string]any{"logGroupName": transfer.LogGroup(server), "events": events}
	if next != "" {
		out["next"] = next
	}
	writeJSON(w, http.StatusOK, out)
}
