package clock

import (
	"errors"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	t.Parallel()
	fixed := New(false, 0)
	if err := fixed.Advance(time.Hour); !errors.Is(err, ErrFixed) {
		t.Fatalf("a fixed clock moved: %v", err)
	}
	var heard time.Duration
	c := New(true, time.Minute)
	c.OnAdvance = func(off time.Duration) { heard = off }
	before := c.Now()
	if err := c.Advance(36 * time.Hour); err != nil {
		t.Fatal(err)
	}
	if d := c.Now().Sub(before); d < 36*time.Hour || d > 36*time.Hour+time.Second || heard != 36*time.Hour+time.Minute {
		t.Fatalf("advanced by %v, heard %v", d, heard)
	}
	if err := c.Advance(-time.Second); !errors.Is(err, ErrBackwards) {
		t.Fatalf("moved backwards: %v", err)
	}
	if err := c.Set(time.Now()); !errors.Is(err, ErrBackwards) {
		t.Fatalf("set into the past: %v", err)
	}
	target := time.Now().Add(90 * 24 * time.Hour)
	if err := c.Set(target); err != nil {
		t.Fatal(err)
	}
	if d := c.Now().Sub(target); d < 0 || d > time.Second {
		t.Fatalf("set to %v, now %v", target, c.Now())
	}
}
