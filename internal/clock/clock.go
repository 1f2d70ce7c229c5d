// Package clock is the one source of domain time in a Slipway process:
// real time, shifted forward by an offset that --clock-control lets tests
// and scripts advance, so that schedules, deadlines and ages can be
// exercised in seconds. Time never moves backwards. Signatures and network
// deadlines keep using real time.
package clock

import (
	"errors"
	"sync"
	"time"
)

// Clock tells the time.
type Clock struct {
	mu           sync.Mutex
	offset       time.Duration
	controllable bool
	// OnAdvance, when set, hears the new offset after every change (to
	// persist it and wake whatever waits for due work).
	OnAdvance func(offset time.Duration)
}

// ErrFixed is returned when a clock that is not controllable is moved.
var ErrFixed = errors.New("the clock is not controllable: start Slipway with --clock-control")

// ErrBackwards is returned for a move into the past.
var ErrBackwards = errors.New("the clock only moves forward")

// New returns a clock at real time plus offset; controllable clocks may be
// moved forward.
func New(controllable bool, offset time.Duration) *Clock {
	return &Clock{controllable: controllable, offset: max(0, offset)}
}

// Now returns the current domain time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	off := c.offset
	c.mu.Unlock()
	return time.Now().Add(off)
}

// Offset returns how far the clock runs ahead of real time.
func (c *Clock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

// Controllable reports whether the clock may be moved.
func (c *Clock) Controllable() bool { return c.controllable }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) error {
	if !c.controllable {
		return ErrFixed
	}
	if d < 0 {
		return ErrBackwards
	}
	c.mu.Lock()
	c.offset += d
	off := c.offset
	c.mu.Unlock()
	if c.OnAdvance != nil {
		c.OnAdvance(off)
	}
	return nil
}

// Follow raises the offset to at least offset, without telling OnAdvance:
// it is how a replica follows a move made through another.
func (c *Clock) Follow(offset time.Duration) {
	if !c.controllable {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = max(c.offset, offset)
}

// Set moves the clock forward to t.
func (c *Clock) Set(t time.Time) error {
	d := time.Until(t) - c.Offset()
	if d < 0 {
		return ErrBackwards
	}
	return c.Advance(d)
}
