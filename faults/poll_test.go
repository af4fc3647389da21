package faults

import "time"

// pollInterval is how often a condition is checked while waiting for it.
const pollInterval = 50 * time.Millisecond

// poll checks cond every interval until it holds, giving up after timeout
// (and after at most timeout/interval+1 checks); it reports whether cond
// held. Tests wait for states this way, never with a bare sleep.
func poll(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	attempts := int(timeout / interval)
	for i := 0; ; i++ {
		if cond() {
			return true
		}
		if i >= attempts || time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
}
