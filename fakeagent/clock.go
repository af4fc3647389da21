package fakeagent

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Clock is where a Server takes the time from (record timestamps, update
// expiry) and how it waits (injected latency, the startup delay). Tests
// inject a ManualClock so that nothing depends on wall time.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Sleep waits for d, or until ctx is done, in which case it returns
	// ctx.Err().
	Sleep(ctx context.Context, d time.Duration) error
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ManualClock is a Clock that moves only when Advance is called. Sleepers
// wake when the clock has been advanced past the end of their sleep. It is
// safe for concurrent use; its zero value reads the zero time.
type ManualClock struct {
	mu       sync.Mutex
	now      time.Time
	sleepers []*manualSleeper
	slept    []time.Duration
	changed  chan struct{} // closed and replaced whenever sleepers come or go
}

type manualSleeper struct {
	until time.Time
	wake  chan struct{}
}

// NewManualClock returns a ManualClock reading now.
func NewManualClock(now time.Time) *ManualClock {
	return &ManualClock{now: now, changed: make(chan struct{})}
}

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and wakes every sleeper whose sleep
// has ended.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.sleepers[:0]
	for _, s := range c.sleepers {
		if s.until.After(c.now) {
			kept = append(kept, s)
			continue
		}
		close(s.wake)
	}
	clear(c.sleepers[len(kept):])
	if len(kept) != len(c.sleepers) {
		c.sleepers = kept
		c.notifyLocked()
	}
}

// Sleep blocks until the clock has been advanced by d, or ctx is done.
// Every requested duration is remembered for Sleeps.
func (c *ManualClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.slept = append(c.slept, d)
	if d <= 0 {
		c.mu.Unlock()
		return nil
	}
	s := &manualSleeper{until: c.now.Add(d), wake: make(chan struct{})}
	c.sleepers = append(c.sleepers, s)
	c.notifyLocked()
	c.mu.Unlock()

	select {
	case <-s.wake:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		if i := slices.Index(c.sleepers, s); i >= 0 {
			c.sleepers = slices.Delete(c.sleepers, i, i+1)
			c.notifyLocked()
		}
		c.mu.Unlock()
		return ctx.Err()
	}
}

// Sleeps returns every duration passed to Sleep so far, in call order.
func (c *ManualClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.slept)
}

// WaitForSleepers blocks until at least n goroutines are sleeping on the
// clock, or ctx is done. Tests use it to advance the clock only once the
// code under test is waiting on it.
func (c *ManualClock) WaitForSleepers(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		if c.changed == nil {
			c.changed = make(chan struct{})
		}
		count, changed := len(c.sleepers), c.changed
		c.mu.Unlock()
		if count >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *ManualClock) notifyLocked() {
	if c.changed != nil {
		close(c.changed)
	}
	c.changed = make(chan struct{})
}
