package engine

import (
	"context"

	"github.com/slipway-dev/slipway/internal/store"
)

// Handing on. A build or an execution is a chain of items, each enqueued,
// due at once, by the commit of the one before. Left to the dispatcher,
// every link costs a wake-up, a claim (a read of the queue) and a new
// goroutine, and with one chain running those hand-offs are most of a
// step's time. So on an exclusive store the handler's goroutine takes the
// first item its commit enqueued due now and runs it next, as a claim
// would have.
//
// The item must be in no claim's reach meanwhile: claims skip the IDs in
// hand, and this one is not in hand until the commit has returned. So it
// is reserved when its Enqueue runs, which is before the commit that makes
// it visible, and stays reserved until it is in hand. claimInMemory counts
// reserved IDs as held, and drops what it read of an ID reserved while it
// read: its snapshot may hold the item, its list of held IDs not. A
// transaction function may run more than once (a speculation, then the
// writer), so each run starts the choice afresh, and every reservation a
// run made is released once the commit is decided.

// chain is one commit's candidate for handing on.
type chain struct {
	e    *Engine
	from string   // the ID of the item being completed
	next *Item    // the candidate of the function's latest run
	ids  []string // IDs reserved by any run
}

// chainTx is the transaction a handler's commit runs in when its
// goroutine may hand on.
type chainTx struct {
	store.Tx
	c *chain
}

// begin starts a run of the commit function.
func (c *chain) begin() { c.next = nil }

// offer considers an item the commit enqueues: the first one due now
// whose ID no other claim holds. It reports whether it took it.
func (c *chain) offer(it Item) bool {
	if c.next != nil && c.next.ID != it.ID {
		return false
	}
	if it.Due.After(c.e.opts.Now()) || !c.reserve(it.ID) {
		c.next = nil // none, or replaced by one not to hand on
		return false
	}
	c.next = &it
	return true
}

// withdraw drops the candidate when the commit cancels it.
func (c *chain) withdraw(id string) {
	if c.next != nil && c.next.ID == id {
		c.next = nil
	}
}

// reserve marks id reserved for this chain unless another claim holds it.
// The completing item's own ID is held by this goroutine, so it may be
// reserved too.
func (c *chain) reserve(id string) bool {
	e := c.e
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, mine := range c.ids {
		if mine == id {
			return true
		}
	}
	if e.reserved[id] {
		return false
	}
	if id != c.from {
		for _, it := range e.inflight {
			if it.ID == id {
				return false
			}
		}
		for _, it := range e.ready {
			if it.ID == id {
				return false
			}
		}
	}
	e.reserved[id] = true
	if e.claiming {
		e.lateReserved = append(e.lateReserved, id)
	}
	c.ids = append(c.ids, id)
	return true
}

// handleChained handles it and returns the item to hand on, if any. That
// item stays reserved; the caller puts it in hand and ends the
// reservation in one step.
func (e *Engine) handleChained(ctx context.Context, it Item) (Item, bool) {
	if !e.opts.Exclusive {
		// A shared store's claims are leases written to it; an item
		// handed on without one could be claimed by another replica.
		e.handle(ctx, it)
		return Item{}, false
	}
	c := &chain{e: e, from: it.ID}
	ok := e.handleWith(ctx, it, c) && c.next != nil && ctx.Err() == nil
	released := false
	e.mu.Lock()
	for _, id := range c.ids {
		if ok && id == c.next.ID {
			continue
		}
		delete(e.reserved, id)
		released = true
	}
	e.mu.Unlock()
	if released {
		// A claim may have skipped a released item while it was reserved.
		e.Wake()
	}
	if !ok {
		return Item{}, false
	}
	return *c.next, true
}
