// Package engine is the durable step engine both services run on: a queue
// of work items kept in the store, claimed under a lease, handled outside
// any transaction, and completed in one transaction together with whatever
// the handler writes. A crash at any instant loses nothing: an unfinished
// item comes back when its lease expires (or at once on restart of a
// single-node store), and a finished one was removed in the same
// transaction as its effects, so it never runs again. Waiting costs a row:
// an item due at a deadline, not a goroutine.
package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slipway-dev/slipway/internal/store"
)

// queueScope holds the queue rows; it is no account's scope.
var queueScope = store.Scope{Account: "~engine", Region: "~"}

const kindItem = "engine.item"

// Topic is the store notification Enqueue sends: every engine sharing the
// store (one per replica) wakes and looks for due work.
const Topic = "engine"

// Item is one unit of work.
type Item struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Scope   store.Scope     `json:"scope"`
	Payload json.RawMessage `json:"payload,omitempty"`
	Due     time.Time       `json:"due"`
	Attempt int             `json:"attempt"`
	Lease   string          `json:"lease,omitempty"`
	// Nonce is new each time the item is enqueued, so a claim kept in
	// memory can tell the item it took from one that replaced it.
	Nonce string `json:"nonce,omitempty"`
}

func sortKey(due time.Time, id string) string {
	return fmt.Sprintf("%013d|%s", due.UnixMilli(), id)
}

// Enqueue adds (or replaces) an item inside the caller's transaction.
func Enqueue(tx store.Tx, it Item) error {
	it.Lease, it.Nonce = "", newNonce()
	b, err := json.Marshal(it)
	if err != nil {
		return err
	}
	// An item handed on (chain.go) wakes nobody: its handler's goroutine
	// runs it next, or wakes the dispatcher if it does not.
	if c, ok := tx.(*chainTx); !ok || !c.c.offer(it) {
		tx.Notify(Topic)
	}
	rec := &store.Record{Scope: queueScope, Kind: kindItem, ID: it.ID, SortKey: sortKey(it.Due, it.ID), Created: it.Due, Updated: it.Due, Body: b}
	if err := tx.Update(rec); errors.Is(err, store.ErrNotFound) {
		return tx.Insert(rec)
	} else {
		return err
	}
}

// Cancel removes an item if it is queued.
func Cancel(tx store.Tx, id string) error {
	if c, ok := tx.(*chainTx); ok {
		c.c.withdraw(id)
	}
	if err := tx.Delete(queueScope, kindItem, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// Handler does an item's work outside any transaction and returns what to
// commit. The commit runs in the transaction that removes the item; it may
// enqueue further items (including one with the same ID).
type Handler func(ctx context.Context, it Item) (commit func(tx store.Tx) error, err error)

// Options tune an engine.
type Options struct {
	// Lease is how long a claimed item is held before another worker may
	// take it (default 30s).
	Lease time.Duration
	// Exclusive says no other process shares the store (the embedded
	// SQLite case). Leases a previous run left are then released at start,
	// and claims are kept in memory instead of written: nobody else could
	// take an item, and a crash ends every claim anyway.
	Exclusive bool
	// Poll bounds how long the dispatcher sleeps without a wake-up.
	Poll time.Duration
	// Workers bounds how many handlers run at once (default 64 on an
	// exclusive store, 16 on a shared one). Handlers
	// do real I/O (Lambda calls, copies), so one slow item must not hold
	// up the others.
	Workers int
	Now     func() time.Time
	// Observe, when set, hears each item's outcome ("committed",
	// "retried", "stale") and Reclaimed how many leases a start released.
	Observe   func(itemType, outcome string)
	Reclaimed func(n int)
}

// Engine dispatches due items to their handlers.
type Engine struct {
	st       store.Store
	log      *slog.Logger
	opts     Options
	worker   string
	handlers map[string]Handler
	wake     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	cancel   context.CancelFunc

	claims   atomic.Int64
	started  time.Time // when New ran: items due before may have run already
	mu       sync.Mutex
	inflight map[string]Item // claimed items whose handlers run now
	reserved map[string]bool // IDs a commit in progress may hand on (chain.go)
	// claiming is set while claimInMemory reads; lateReserved lists the
	// IDs reserved meanwhile.
	claiming     bool
	lateReserved []string
	ready        []Item        // claimed items waiting for a free slot (exclusive stores)
	freed        chan struct{} // a handler finished
	wg           sync.WaitGroup
}

// New returns an engine over st. Register handlers, then Start.
func New(st store.Store, log *slog.Logger, opts Options) *Engine {
	if opts.Lease <= 0 {
		opts.Lease = 30 * time.Second
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Workers <= 0 {
		// On an exclusive (SQLite) store more items in hand make larger
		// group-commit batches; on PostgreSQL they add conflicts.
		opts.Workers = 16
		if opts.Exclusive {
			opts.Workers = 64
		}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{st: st, log: log, opts: opts, worker: newWorkerID(), handlers: map[string]Handler{}, started: opts.Now(),
		wake: make(chan struct{}, 1), done: make(chan struct{}), inflight: map[string]Item{}, reserved: map[string]bool{}, freed: make(chan struct{}, 1)}
}

// Register sets the handler for an item type.
func (e *Engine) Register(typ string, h Handler) { e.handlers[typ] = h }

// Wake tells the dispatcher that items may be due now.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Start runs the dispatcher until Stop.
func (e *Engine) Start(ctx context.Context) error {
	if e.opts.Exclusive {
		if err := e.reclaimAll(ctx); err != nil {
			return err
		}
	}
	ctx, e.cancel = context.WithCancel(ctx)
	// Work queued by any process sharing the store wakes the dispatcher;
	// the poll is the backstop for a notification lost on the way.
	unlisten := e.st.Listen(Topic, e.Wake)
	context.AfterFunc(ctx, unlisten)
	go e.loop(ctx)
	if !e.opts.Exclusive {
		go e.renew(ctx)
	}
	return nil
}

// Stop ends the dispatcher and waits for the items in hand to finish.
func (e *Engine) Stop() {
	e.stopOnce.Do(func() {
		if e.cancel == nil {
			close(e.done)
			return
		}
		e.cancel()
		<-e.done
	})
}

// reclaimAll releases the leases a previous run of this process held. A
// claim or renewal makes an item due at most one lease from then, so the
// held items are those due between now and one lease ahead: items due
// earlier are due anyway, and the paused work due later (timeouts,
// schedules) is never read, which keeps start-up flat however much waits.
func (e *Engine) reclaimAll(ctx context.Context) error {
	now := e.opts.Now()
	from, to := fmt.Sprintf("%013d}", now.UnixMilli()), fmt.Sprintf("%013d}", now.Add(e.opts.Lease).UnixMilli())
	reclaimed := 0
	defer func() {
		if e.opts.Reclaimed != nil && reclaimed > 0 {
			e.opts.Reclaimed(reclaimed)
		}
	}()
	return e.st.Update(ctx, func(tx store.Tx) error {
		reclaimed = 0
		after := from
		for {
			recs, err := tx.List(store.ListQuery{Scope: queueScope, Kind: kindItem, After: after, Limit: 500})
			if err != nil {
				return err
			}
			for _, r := range recs {
				if r.SortKey > to {
					return nil
				}
				var it Item
				if err := json.Unmarshal(r.Body, &it); err != nil {
					return err
				}
				if it.Lease != "" {
					reclaimed++
					it.Due = now
					if err := tx.Delete(queueScope, kindItem, it.ID); err != nil {
						return err
					}
					if err := Enqueue(tx, it); err != nil {
						return err
					}
				}
			}
			if len(recs) < 500 {
				return nil
			}
			after = recs[len(recs)-1].SortKey
		}
	})
}

func (e *Engine) loop(ctx context.Context) {
	defer close(e.done)
	defer e.wg.Wait()
	for {
		free := e.opts.Workers - e.running()
		var n int
		var next time.Time
		if free > 0 && len(e.ready) == 0 {
			// On an exclusive store a claim costs a read past the items in
			// hand, so it takes a whole batch and starts the rest as slots
			// free up.
			limit := min(free, batch)
			if e.opts.Exclusive {
				limit = batch
			}
			_, nx, err := e.claim(ctx, limit, true)
			if err != nil && ctx.Err() == nil {
				e.log.Error("engine: dispatch failed", "error", err)
			}
			next = nx
		}
		if free > 0 && len(e.ready) > 0 {
			e.mu.Lock()
			take := e.ready[:min(free, len(e.ready))]
			e.ready = e.ready[len(take):]
			e.mu.Unlock()
			for _, it := range take {
				e.start(ctx, it)
			}
			n = len(take)
		}
		if ctx.Err() != nil {
			return
		}
		if n > 0 && n == free {
			continue // there may be more due work for the free slots
		}
		wait := e.opts.Poll
		if !next.IsZero() && free > n {
			if d := next.Sub(e.opts.Now()); d < wait {
				wait = d
			}
		}
		if wait <= 0 {
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-e.wake:
		case <-e.freed:
		case <-t.C:
		}
		t.Stop()
	}
}

func (e *Engine) running() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.inflight)
}

// start runs an item's handler on its own goroutine; the dispatcher never
// waits for one.
func (e *Engine) start(ctx context.Context, it Item) {
	// An item replaced while its handler runs may be claimed again under
	// the same ID, so the in-hand set is keyed by lease.
	key := it.Lease
	e.mu.Lock()
	e.inflight[key] = it
	e.mu.Unlock()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			next, ok := e.handleChained(ctx, it)
			e.mu.Lock()
			delete(e.inflight, key)
			if ok {
				// The handed-on item is in hand before its reservation
				// ends, so no claim can take it in between.
				e.take(&next)
				key, it = next.Lease, next
				e.inflight[key] = it
				delete(e.reserved, it.ID)
			}
			e.mu.Unlock()
			if !ok {
				break
			}
		}
		select {
		case e.freed <- struct{}{}:
		default:
		}
	}()
}

// renew extends the leases of the items in hand, so a handler that runs
// longer than a lease (a large copy, a slow endpoint) keeps its item.
func (e *Engine) renew(ctx context.Context) {
	t := time.NewTicker(e.opts.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e.mu.Lock()
		held := make([]Item, 0, len(e.inflight))
		for _, it := range e.inflight {
			held = append(held, it)
		}
		e.mu.Unlock()
		if len(held) == 0 {
			continue
		}
		due := e.opts.Now().Add(e.opts.Lease)
		err := e.st.Update(ctx, func(tx store.Tx) error {
			for _, it := range held {
				rec, cur, err := e.stillHeld(tx, it)
				if errors.Is(err, errStale) {
					continue
				} else if err != nil {
					return err
				}
				cur.Due = due
				b, err := json.Marshal(cur)
				if err != nil {
					return err
				}
				rec.Body, rec.SortKey, rec.Updated = b, sortKey(due, cur.ID), e.opts.Now()
				if err := tx.Update(rec); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil && ctx.Err() == nil {
			e.log.Error("engine: lease renewal failed", "error", err)
		}
	}
}

// batch bounds how many items one claim takes.
const batch = 64

// RunOnce claims the due items and handles them one after another. It
// returns how many it handled and when the next item is due. Tests may
// drive the engine with it instead of Start.
func (e *Engine) RunOnce(ctx context.Context) (int, time.Time, error) {
	claimed, next, err := e.claim(ctx, batch, false)
	if err != nil {
		return 0, time.Time{}, err
	}
	for _, it := range claimed {
		if ctx.Err() != nil {
			break // the lease brings the rest back
		}
		e.handle(ctx, it)
	}
	return len(claimed), next, nil
}

// claim takes up to limit due items under fresh leases, skipping items
// another engine on the store is claiming at the same moment, and reports
// when the next item not yet due will be. With ready it also makes them
// the items waiting for a slot.
func (e *Engine) claim(ctx context.Context, limit int, ready bool) ([]Item, time.Time, error) {
	if e.opts.Exclusive {
		return e.claimInMemory(ctx, limit, ready)
	}
	claimed, next, err := e.claimShared(ctx, limit)
	if ready {
		e.mu.Lock()
		e.ready = claimed
		e.mu.Unlock()
	}
	return claimed, next, err
}

func (e *Engine) claimShared(ctx context.Context, limit int) ([]Item, time.Time, error) {
	now := e.opts.Now()
	// Sort keys are "<due ms>|<id>", and '}' sorts after '|'.
	upTo := fmt.Sprintf("%013d}", now.UnixMilli())
	var claimed []Item
	var next time.Time
	err := e.st.ClaimDue(ctx, store.ListQuery{Scope: queueScope, Kind: kindItem, Limit: limit}, upTo, func(tx store.Tx, recs []*store.Record) error {
		claimed, next = nil, time.Time{}
		// Read before the claimed items move to their lease's end.
		later, err := tx.List(store.ListQuery{Scope: queueScope, Kind: kindItem, After: upTo, Limit: 1})
		if err != nil {
			return err
		}
		if len(later) > 0 {
			var it Item
			if err := json.Unmarshal(later[0].Body, &it); err != nil {
				return err
			}
			next = it.Due
		}
		for _, r := range recs {
			var it Item
			if err := json.Unmarshal(r.Body, &it); err != nil {
				return err
			}
			e.take(&it)
			it.Due = now.Add(e.opts.Lease)
			b, err := json.Marshal(it)
			if err != nil {
				return err
			}
			r.Body, r.SortKey, r.Updated = b, sortKey(it.Due, it.ID), now
			if err := tx.Update(r); err != nil {
				return err
			}
			claimed = append(claimed, it)
		}
		return nil
	})
	return claimed, next, err
}

// claimInMemory takes up to limit due items that are not in hand, without
// writing: on an exclusive store the in-hand set is the lease. An item in
// hand stays due in the store, so it is skipped here; the set is read
// before the snapshot, so an item whose commit removed it from the set is
// already gone from the snapshot. An item due before this engine started
// may have been running when the previous process stopped, so it counts as
// a retry (Attempt 2 or more), which handlers use to apply effects once.
func (e *Engine) claimInMemory(ctx context.Context, limit int, ready bool) ([]Item, time.Time, error) {
	now := e.opts.Now()
	upTo := fmt.Sprintf("%013d}", now.UnixMilli())
	e.mu.Lock()
	held := make(map[string]bool, len(e.inflight)+len(e.ready))
	for _, it := range e.inflight {
		held[it.ID] = true
	}
	for _, it := range e.ready {
		held[it.ID] = true
	}
	for id := range e.reserved {
		held[id] = true
	}
	// An item reserved from now on may be in the snapshot yet missing
	// from held: such claims are dropped below.
	e.claiming, e.lateReserved = true, e.lateReserved[:0]
	e.mu.Unlock()
	var claimed []Item
	var next time.Time
	err := e.st.View(ctx, func(tx store.Tx) error {
		claimed, next = nil, time.Time{}
		after := ""
		for {
			n := limit + len(held) + 1
			recs, err := tx.List(store.ListQuery{Scope: queueScope, Kind: kindItem, After: after, Limit: n})
			if err != nil {
				return err
			}
			for _, r := range recs {
				after = r.SortKey
				if held[r.ID] {
					continue
				}
				var it Item
				if err := json.Unmarshal(r.Body, &it); err != nil {
					return err
				}
				if r.SortKey > upTo {
					next = it.Due
					return nil
				}
				if len(claimed) == limit {
					return nil // more is due: the dispatcher comes back at once
				}
				e.take(&it)
				if it.Attempt < 2 && it.Due.Before(e.started) {
					it.Attempt = 2
				}
				claimed = append(claimed, it)
			}
			if len(recs) < n {
				return nil
			}
		}
	})
	// Made ready in the same step, so a commit cannot reserve a claimed
	// item in between (chain.go checks the ready items).
	e.mu.Lock()
	e.claiming = false
	claimed = slices.DeleteFunc(claimed, func(it Item) bool { return slices.Contains(e.lateReserved, it.ID) })
	if ready {
		e.ready = claimed
	}
	e.mu.Unlock()
	return claimed, next, err
}

// take counts a claim of it as an attempt and names the claim. Each claim
// gets a lease name of its own: an item replaced while its handler runs
// (same ID, attempt counted afresh) must not look like the claim that
// handler holds.
func (e *Engine) take(it *Item) {
	it.Attempt++
	it.Lease = fmt.Sprintf("%s.%d", e.worker, e.claims.Add(1))
}

func (e *Engine) handle(ctx context.Context, it Item) {
	e.handleWith(ctx, it, nil)
}

// handleWith runs the item's handler and commits its outcome, and reports
// whether the commit applied; c, when set, wraps the commit's transaction
// to catch an item it hands on.
func (e *Engine) handleWith(ctx context.Context, it Item, c *chain) bool {
	h := e.handlers[it.Type]
	var commit func(store.Tx) error
	var err error
	if h == nil {
		err = fmt.Errorf("no handler for item type %q", it.Type)
	} else {
		commit, err = h(ctx, it)
	}
	if err != nil {
		e.log.Error("engine: item failed; it will be retried", "item", it.ID, "type", it.Type, "attempt", it.Attempt, "error", err)
		e.observe(it.Type, "retried")
		e.release(ctx, it, backoff(it.Attempt))
		return false
	}
	// The completion is no client's acknowledgement (store.Unsynced): the
	// next item need not wait for the disk.
	err = e.st.Update(store.Unsynced(ctx), func(tx store.Tx) error {
		if _, _, err := e.stillHeld(tx, it); err != nil {
			return err
		}
		if err := tx.Delete(queueScope, kindItem, it.ID); err != nil {
			return err
		}
		if commit == nil {
			return nil
		}
		if c != nil {
			c.begin()
			return commit(&chainTx{Tx: tx, c: c})
		}
		return commit(tx)
	})
	switch {
	case errors.Is(err, errStale):
		e.observe(it.Type, "stale")
	case err != nil && ctx.Err() == nil:
		e.log.Error("engine: commit failed; the item will be retried", "item", it.ID, "type", it.Type, "error", err)
		e.observe(it.Type, "retried")
		e.release(ctx, it, backoff(it.Attempt))
	case err == nil:
		e.observe(it.Type, "committed")
	}
	return err == nil
}

func (e *Engine) observe(typ, outcome string) {
	if e.opts.Observe != nil {
		e.opts.Observe(typ, outcome)
	}
}

// QueueDepth counts the queued items (due now or later).
func QueueDepth(ctx context.Context, st store.Store) (int, error) {
	n := 0
	err := st.View(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.Count(queueScope, kindItem, "")
		return err
	})
	return n, err
}

var errStale = errors.New("engine: item no longer held")

// stillHeld reads the queued item of it's ID and returns errStale unless it
// is still the item claimed: it was cancelled, replaced, or reclaimed by
// another claim meanwhile. A claim written to the store is told by its
// lease, one kept in memory by the item's nonce.
func (e *Engine) stillHeld(tx store.Tx, it Item) (*store.Record, *Item, error) {
	rec, err := tx.Get(queueScope, kindItem, it.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errStale
	} else if err != nil {
		return nil, nil, err
	}
	var cur Item
	if err := json.Unmarshal(rec.Body, &cur); err != nil {
		return nil, nil, err
	}
	if e.opts.Exclusive && cur.Nonce != it.Nonce || !e.opts.Exclusive && cur.Lease != it.Lease {
		return nil, nil, errStale
	}
	return rec, &cur, nil
}

func backoff(attempt int) time.Duration {
	d := time.Duration(attempt*attempt) * 100 * time.Millisecond
	if d > time.Minute {
		d = time.Minute
	}
	return d
}

// release hands an item back to the queue, due after delay.
func (e *Engine) release(ctx context.Context, it Item, delay time.Duration) {
	err := e.st.Update(ctx, func(tx store.Tx) error {
		_, cur, err := e.stillHeld(tx, it)
		if err != nil {
			return err
		}
		cur.Due, cur.Attempt = e.opts.Now().Add(delay), it.Attempt
		return Enqueue(tx, *cur)
	})
	if err != nil && !errors.Is(err, errStale) && ctx.Err() == nil {
		e.log.Error("engine: release failed", "item", it.ID, "error", err)
	}
}

func newNonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newWorkerID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "w-" + hex.EncodeToString(b[:])
}
