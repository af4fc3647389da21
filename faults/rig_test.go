package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tolerances. They are wide on purpose: the suite runs beside other
// packages' -race tests on two cores, and they detect hangs and leaks,
// not slowness.
const (
	// latencyMargin is how far past the module's timeout a request may be
	// answered, as the test's (race-instrumented) clients time it.
	latencyMargin = time.Second
	// callMargin is how far past its timeout an agent call may end, as the
	// module itself times it (Stats RPC.LatencyMax), inside the app.
	callMargin = 250 * time.Millisecond
	// goroutineSlack and fdSlack are how many goroutines and open files
	// the app may hold above its idle baseline once the load is over: the
	// pool may hold a different number of agent connections (each one a
	// descriptor) than when the baseline was taken.
	goroutineSlack = appMaxConns + 6
	fdSlack        = appMaxConns + 1
	// resumeTimeout bounds the wait for inspection to resume once a
	// healthy agent is back: the breaker's cooldown doubles up to 6.4s.
	resumeTimeout = 20 * time.Second
	// settleTimeout bounds the wait for the app to be back at rest.
	settleTimeout = 15 * time.Second
)

// rig is one case's setup: helloworld in front of whatever plays the
// agent at a fixed address (a fake agent process, a raw in-test listener,
// or nothing), and the app's usage at rest after a warm-up.
type rig struct {
	t       *testing.T
	addr    agentAddr
	timeout time.Duration
	app     *app
	agent   *fakeAgent // nil unless a fake agent is at addr
	raw     *rawAgent  // nil unless a raw agent is at addr
	idle    usage      // the app at rest, after the warm-up
}

// newRig starts a healthy fake agent (with agentFlags) on a fresh Unix
// socket or loopback TCP port, helloworld in front of it with the given
// module timeout, and warms them up until requests are being blocked.
func newRig(t *testing.T, network string, timeout time.Duration, agentFlags ...string) *rig {
	t.Helper()
	// Not t.TempDir(): a socket path must stay under about 104 bytes.
	dir, err := os.MkdirTemp("", "flt")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	addr := agentAddr{network: "unix", address: filepath.Join(dir, "a.sock")}
	if network == "tcp" {
		addr = agentAddr{network: "tcp", address: "127.0.0.1:0"}
	}
	agent, err := startFakeAgent(t, addr, agentFlags...)
	require.NoError(t, err)
	r := &rig{t: t, addr: agent.addr, timeout: timeout, agent: agent}
	r.app = startApp(t, r.addr, timeout)
	r.warmUp()
	return r
}

// warmUp sends load until the agent has blocked some attacks, then takes
// the app's usage at rest as the baseline.
func (r *rig) warmUp() {
	t := r.t
	t.Helper()
	l := startLoad(r.app.url, faultLoad)
	ok := poll(resumeTimeout, pollInterval, func() bool {
		s, err := r.app.stats()
		return err == nil && s.Blocked >= 5 && l.sent.Load() >= 300
	})
	warm := tallyOf(l.stop(), 0, everything, r.timeout/2)
	require.True(t, ok, "the warm-up never got attacks blocked: %v", warm)
	require.Zero(t, warm.failed, "the warm-up, with a healthy agent, had failures: %v", warm)

	// The baseline: once the goroutine count holds still.
	prev := -1
	ok = poll(5*time.Second, pollInterval, func() bool {
		u, err := r.app.usage()
		if err != nil {
			return false
		}
		steady := u.goroutines == prev
		prev, r.idle = u.goroutines, u
		return steady
	})
	require.True(t, ok, "the app's goroutine count never settled after the warm-up")
}

// startLoad starts the fault suite's load on the app.
func (r *rig) startLoad() *load {
	l := startLoad(r.app.url, faultLoad)
	r.t.Cleanup(func() { l.stop() })
	return l
}

// stats reads the module's counters, failing the test if it can't.
func (r *rig) stats() moduleStats { return r.app.mustStats(r.t) }

// killAgent SIGKILLs the fake agent, or closes the raw one.
func (r *rig) killAgent() {
	r.t.Helper()
	switch {
	case r.agent != nil:
		require.NoError(r.t, r.agent.kill())
		r.agent = nil
	case r.raw != nil:
		r.raw.close()
		r.raw = nil
	}
}

// replaceAgent puts another agent at the rig's address in place of the
// healthy fake agent, with start. On a Unix socket the old socket file is
// unlinked and the new agent bound before the old one is killed, so that
// the app meets the new agent at once, breaker closed; a TCP port can
// only be reopened once closed, and connections are refused in between.
func (r *rig) replaceAgent(start func()) {
	r.t.Helper()
	require.NotNil(r.t, r.agent, "no fake agent to replace")
	old := r.agent
	if r.addr.network == "unix" {
		require.NoError(r.t, os.Remove(r.addr.address))
		r.agent = nil
		start()
		require.NoError(r.t, old.kill())
		return
	}
	r.killAgent()
	start()
}

// stopAgent shuts the fake agent down with SIGTERM; it must exit 0.
func (r *rig) stopAgent() {
	r.t.Helper()
	require.NotNil(r.t, r.agent)
	require.Equal(r.t, 0, r.agent.terminate(r.t), "the fake agent's exit code after SIGTERM")
	r.agent = nil
}

// startAgent starts a fake agent at the rig's address, with extra flags.
func (r *rig) startAgent(extra ...string) *fakeAgent {
	r.t.Helper()
	require.True(r.t, r.agent == nil && r.raw == nil, "an agent is still at %s", r.addr)
	a, err := retryAddrInUse(func() (*fakeAgent, error) { return startFakeAgent(r.t, r.addr, extra...) })
	require.NoError(r.t, err)
	r.agent = a
	return a
}

// startRaw puts a raw misbehaving agent at the rig's address.
func (r *rig) startRaw(how misbehaviour) *rawAgent {
	r.t.Helper()
	require.True(r.t, r.agent == nil && r.raw == nil, "an agent is still at %s", r.addr)
	r.raw = startRawAgent(r.t, r.addr, how)
	return r.raw
}

// waitBreakerOpen waits until the module's breaker has rejected calls
// beyond rejectedBefore, and returns how long that took.
func (r *rig) waitBreakerOpen(rejectedBefore uint64) time.Duration {
	r.t.Helper()
	start := time.Now()
	var s moduleStats
	ok := poll(resumeTimeout, pollInterval, func() bool {
		var err error
		s, err = r.app.stats()
		return err == nil && s.RPC.BreakerRejected > rejectedBefore
	})
	require.True(r.t, ok, "the breaker never opened (rejected %d, before %d)", s.RPC.BreakerRejected, rejectedBefore)
	return time.Since(start)
}

// waitInspecting waits until agent a has answered PreRequests and blocked
// attacks, the module has blocked more than blockedBefore requests and
// its breaker is closed; it returns how long that took.
func (r *rig) waitInspecting(a *fakeAgent, blockedBefore uint64) time.Duration {
	r.t.Helper()
	start := time.Now()
	var (
		s   moduleStats
		m   map[string]float64
		err error
	)
	ok := poll(resumeTimeout, pollInterval, func() bool {
		if m, err = a.metrics(); err != nil {
			return false
		}
		if s, err = r.app.stats(); err != nil {
			return false
		}
		return m[metricPreRequests] > 0 && m[metricBlocked] > 0 && s.Blocked > blockedBefore && !s.RPC.BreakerOpen
	})
	require.True(r.t, ok, "inspection did not resume within %v: agent PreRequests %v, agent blocks %v, module blocked %d (before %d), breaker open %v, last error %v",
		resumeTimeout, m[metricPreRequests], m[metricBlocked], s.Blocked, blockedBefore, s.RPC.BreakerOpen, err)
	return time.Since(start)
}

// checkAtRest waits for the app's goroutines and open files to come back
// near the baseline now that the load is over, asserts they did, and
// describes the comparison.
func (r *rig) checkAtRest() string {
	r.t.Helper()
	var now usage
	var err error
	ok := poll(settleTimeout, pollInterval, func() bool {
		now, err = r.app.usage()
		return err == nil && now.goroutines <= r.idle.goroutines+goroutineSlack && now.fds <= r.idle.fds+fdSlack
	})
	assert.True(r.t, ok, "the app did not come back to rest within %v: goroutines %d (idle %d, slack %d), fds %d (idle %d, slack %d), error %v",
		settleTimeout, now.goroutines, r.idle.goroutines, goroutineSlack, now.fds, r.idle.fds, fdSlack, err)
	return fmt.Sprintf("app at rest: goroutines %d→%d, fds %d→%d", r.idle.goroutines, now.goroutines, r.idle.fds, now.fds)
}

// checkAnswered asserts what every case requires of the whole load: each
// request answered 200 or (attacks only) 406, none after the timeout plus
// the margin, and no agent call, background ones included, past its
// timeout as the module timed it.
func (r *rig) checkAnswered(all tally) {
	r.t.Helper()
	assert.Zero(r.t, all.failed, "requests not answered 200/406 by the app: %s", all.failureSummary())
	assert.Zero(r.t, all.benignBlocked, "benign requests blocked")
	assert.LessOrEqual(r.t, all.max, r.timeout+latencyMargin, "slowest request vs the module timeout %v", r.timeout)
	assert.LessOrEqual(r.t, r.stats().RPC.LatencyMax, r.timeout+callMargin,
		"the slowest agent call, as the module timed it, vs its timeout %v", r.timeout)
}
