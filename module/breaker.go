package module

import (
	"sync"
	"time"
)

// breaker is a circuit breaker over agent calls. After threshold
// consecutive slow failures (timeouts) it opens: calls fail at once, so
// requests don't each wait for the timeout while the agent is hung or
// overloaded. Failures that cost no time (a refused connection, a dropped
// one) don't open it: they fail open fast anyway, and an open breaker
// would keep failing requests open after a restarted agent is back. Once the cooldown
// has passed, one call is let through as a probe; its success closes the
// breaker, its failure reopens it with a doubled cooldown.
type breaker struct {
	mu          sync.Mutex
	threshold   int
	base        time.Duration
	cooldown    time.Duration
	failures    int
	open        bool
	probing     bool
	retryAt     time.Time
	probeLimitK int // cooldown grows at most to base << probeLimitK
}

type breakerTransition int

const (
	breakerUnchanged breakerTransition = iota
	breakerOpened
	breakerClosed
)

func newBreaker(threshold int, cooldown time.Duration) *breaker {
	return &breaker{threshold: threshold, base: cooldown, cooldown: cooldown, probeLimitK: 5}
}

// allow reports whether a call may go to the agent now.
func (b *breaker) allow(now time.Time) bool {
	if b.threshold <= 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return true
	}
	if b.probing || now.Before(b.retryAt) {
		return false
	}
	b.probing = true
	return true
}

// record notes a call's outcome: alive means the agent answered (even with
// an error of its own), !alive that the call timed out.
func (b *breaker) record(alive bool, now time.Time) breakerTransition {
	if b.threshold <= 0 {
		return breakerUnchanged
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if alive {
		b.failures = 0
		b.probing = false
		if b.open {
			b.open = false
			b.cooldown = b.base
			return breakerClosed
		}
		return breakerUnchanged
	}
	b.failures++
	switch {
	case b.open && b.probing:
		// The probe failed: wait longer before the next one.
		b.probing = false
		b.cooldown = min(2*b.cooldown, b.base<<b.probeLimitK)
		b.retryAt = now.Add(b.cooldown)
	case !b.open && b.failures >= b.threshold:
		b.open = true
		b.retryAt = now.Add(b.cooldown)
		return breakerOpened
	}
	return breakerUnchanged
}

// fastFailure notes a call that failed at once. It neither counts toward
// opening nor proves the agent alive; a probe that fails so waits another
// cooldown.
func (b *breaker) fastFailure(now time.Time) {
	if b.threshold <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open && b.probing {
		b.probing = false
		b.retryAt = now.Add(b.cooldown)
	}
}

func (b *breaker) isOpen() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open
}
