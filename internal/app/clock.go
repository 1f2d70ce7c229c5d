package app

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/slipway-dev/slipway/internal/clock"
	"github.com/slipway-dev/slipway/internal/store"
)

// clockMeta keeps the controllable clock's offset, so time moved forward
// stays moved across restarts (what came due stays due).
const clockMeta = "clock-offset"

func openClock(ctx context.Context, st store.Store, controllable bool) (*clock.Clock, error) {
	if !controllable {
		return clock.New(false, 0), nil
	}
	off, err := storedOffset(ctx, st)
	return clock.New(true, off), err
}

// topicClock tells replicas that the stored clock offset moved.
const topicClock = "clock"

func storedOffset(ctx context.Context, st store.Store) (time.Duration, error) {
	var off time.Duration
	err := st.View(ctx, func(tx store.Tx) error {
		var err error
		off, err = readOffset(tx)
		return err
	})
	return off, err
}

func readOffset(tx store.Tx) (time.Duration, error) {
	b, err := tx.Meta(clockMeta)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	return time.Duration(n), err
}

// saveClock stores the offset (never lowering it: replicas may move the
// clock at once) and tells the other replicas, which follow.
func (a *App) saveClock(off time.Duration) {
	err := a.store.Update(context.Background(), func(tx store.Tx) error {
		prev, err := readOffset(tx)
		if err != nil {
			return err
		}
		tx.Notify(topicClock)
		return tx.PutMeta(clockMeta, []byte(strconv.FormatInt(int64(max(prev, off)), 10)))
	})
	if err != nil {
		a.log.Error("clock: saving the offset failed", "error", err)
	}
}

// followClock keeps this replica's clock at the stored offset.
func (a *App) followClock() {
	off, err := storedOffset(context.Background(), a.store)
	if err != nil {
		a.log.Error("clock: reading the offset failed", "error", err)
		return
	}
	if off > a.clock.Offset() {
		a.clock.Follow(off)
		a.engine.Wake() // work may be due now
	}
}

func (a *App) clockState() map[string]any {
	return map[string]any{"now": a.clock.Now().UTC().Format(time.RFC3339Nano), "offsetSeconds": a.clock.Offset().Seconds(),
		"controllable": a.clock.Controllable()}
}

// getClock reports the domain time.
func (a *App) getClock(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.clockState())
}

// moveClock moves domain time forward: {"advance": "36h"} (a Go duration),
// {"advanceSeconds": 3600} or {"set": "2027-01-01T00:00:00Z"}.
func (a *App) moveClock(w http.ResponseWriter, r *http.Request) {
	if !a.clock.Controllable() {
		writeJSON(w, http.StatusForbidden, map[string]any{"error": clock.ErrFixed.Error()})
		return
	}
	var in struct {
		Advance        string   `json:"advance"`
		AdvanceSeconds *float64 `json:"advanceSeconds"`
		Set            string   `json:"set"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "the body must be JSON: " + err.Error()})
		return
	}
	var err error
	switch {
	case in.Advance != "":
		var d time.Duration
		if d, err = time.ParseDuration(in.Advance); err == nil {
			err = a.clock.Advance(d)
		}
	case in.AdvanceSeconds != nil:
		err = a.clock.Advance(time.Duration(*in.AdvanceSeconds * float64(time.Second)))
	case in.Set != "":
		var t time.Time
		if t, err = time.Parse(time.RFC3339Nano, in.Set); err == nil {
			err = a.clock.Set(t)
		}
	default:
		err = errors.New(`give "advance", "advanceSeconds" or "set"`)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, a.clockState())
}
