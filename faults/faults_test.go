package faults

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Phase lengths under load. Short: each case's load lasts a few seconds.
const (
	healthyPhase = 300 * time.Millisecond
	faultPhase   = 1500 * time.Millisecond
	outagePhase  = 500 * time.Millisecond
	healedPhase  = 300 * time.Millisecond
)

// networks are the two transports, with names that read in a sentence.
var networks = []struct{ name, network string }{
	{"over a Unix socket", "unix"},
	{"over TCP", "tcp"},
}

// Case 1: the agent is SIGKILLed under load and restarted at the same
// address; inspection resumes and the app keeps nothing from the outage.
func TestAgentKilledMidLoadAndRestarted(t *testing.T) {
	for _, n := range networks {
		t.Run(n.name, func(t *testing.T) {
			r := newRig(t, n.network, 100*time.Millisecond)
			outageAndBack(t, r, r.killAgent, "1 agent SIGKILLed, restarted "+n.name, "outage", "restart")
		})
	}
}

// Case 1b: right after a restart every pooled connection is dead; the
// first requests must still be inspected, not fail open on them.
func TestNoAttackPassesRightAfterARestart(t *testing.T) {
	const attacks = 20
	for _, n := range networks {
		t.Run(n.name, func(t *testing.T) {
			r := newRig(t, n.network, 100*time.Millisecond)
			before := r.stats()
			require.Equal(t, appMaxConns, before.RPC.OpenConns, "the warm-up's 16 clients filled the pool")

			r.killAgent()
			r.startAgent()
			var codes []int
			var took []time.Duration
			for range attacks {
				start := time.Now()
				resp, err := probeClient.Get(r.app.url + attackQuery)
				require.NoError(t, err)
				resp.Body.Close()
				took = append(took, time.Since(start))
				codes = append(codes, resp.StatusCode)
			}
			slices.Sort(took)
			after := r.stats()
			blocked := 0
			for _, c := range codes {
				if c == http.StatusNotAcceptable {
					blocked++
				}
			}
			assert.Equal(t, attacks, blocked, "sequential attacks after the restart: %v", codes)
			assert.Equal(t, before.FailOpen, after.FailOpen, "fail-opens after the restart")
			summary.add(t, caseRow{
				name: "1b agent SIGKILLed with a full pool, restarted " + n.name + ", then sequential attacks",
				load: tally{sent: attacks, blocked: blocked, failed: attacks - blocked, attacks: attacks, attacksBlocked: blocked,
					p50: took[attacks/2], p90: took[attacks*9/10], p99: took[attacks-1], max: took[attacks-1]},
				notes: fmt.Sprintf("%d of %d attacks blocked, %d failed open; %d retried on a fresh connection, %d dead pooled connections discarded unused",
					blocked, attacks, after.FailOpen-before.FailOpen, after.RPC.Retries-before.RPC.Retries,
					appMaxConns-int(after.RPC.Retries-before.RPC.Retries)),
			})
		})
	}
}

// outageAndBack runs the load, takes the agent away with stop, runs on
// without it, starts a healthy agent at the same address and checks that
// nothing failed, that nothing was blocked while no agent ran, that
// inspection resumed and that the app is back at rest.
func outageAndBack(t *testing.T, r *rig, stop func(), name, outageWord, backWord string) {
	t.Helper()
	l := r.startLoad()
	l.runFor(healthyPhase)

	stop()
	stoppedAt := l.elapsed()
	l.runFor(outagePhase)
	blockedBefore := r.stats().Blocked
	// The window ends before the restart: the agent accepts a little
	// before its ready line reaches the test.
	restartingAt := l.elapsed()
	agent := r.startAgent()
	resumedIn := r.waitInspecting(agent, blockedBefore)
	l.runFor(healedPhase)
	samples := l.stop()

	all := tallyOf(samples, 0, everything, r.timeout/2)
	outage := tallyOf(samples, stoppedAt, restartingAt, r.timeout/2)
	r.checkAnswered(all)
	assert.Zero(t, outage.attacksBlocked, "attacks blocked while no agent ran")
	rest := r.checkAtRest()
	summary.add(t, caseRow{
		name: name,
		load: all,
		notes: fmt.Sprintf("%s: %d req, p99 %v; inspecting again %v after %s; %s",
			outageWord, outage.sent, round(outage.p99), resumedIn.Round(time.Millisecond), backWord, rest),
	})
}

// Case 2: the agent accepts calls and never answers; requests are
// answered within the timeout, the breaker opens so that most don't wait,
// and closes once a healthy agent is back.
func TestAgentHangs(t *testing.T) {
	for _, c := range []struct {
		name, network string
		raw           bool
	}{
		{"the fake agent with -fake-hang-rate 1 on a Unix socket", "unix", false},
		{"a listener that accepts and never answers, over TCP", "tcp", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, c.network, 100*time.Millisecond)
			l := r.startLoad()
			l.runFor(healthyPhase)

			before := r.stats()
			r.replaceAgent(func() {
				if c.raw {
					r.startRaw(hangs)
				} else {
					r.startAgent("-fake-hang-rate", "1")
				}
			})
			from := l.elapsed()
			openedIn := r.waitBreakerOpen(before.RPC.BreakerRejected)
			l.runFor(faultPhase)
			to := l.elapsed()
			during := r.stats()

			if c.raw {
				r.killAgent()
			} else {
				// Shutdown releases the hanging calls: a clean exit.
				r.stopAgent()
			}
			agent := r.startAgent()
			resumedIn := r.waitInspecting(agent, during.Blocked)
			l.runFor(healedPhase)
			samples := l.stop()

			all := tallyOf(samples, 0, everything, r.timeout/2)
			hang := tallyOf(samples, from, to, r.timeout/2)
			r.checkAnswered(all)
			assert.Zero(t, hang.attacksBlocked, "attacks blocked by a hung agent")
			assert.GreaterOrEqual(t, hang.max, r.timeout/2, "no request met the hang (the breaker's probes wait for the timeout)")
			// The breaker spares most requests the wait: only the calls in
			// flight when it opened, and its probes, pay the timeout.
			assert.GreaterOrEqual(t, hang.fast, hang.sent*8/10,
				"requests answered within %v while the agent hung: %d of %d", r.timeout/2, hang.fast, hang.sent)
			assert.Less(t, hang.p50, r.timeout/2, "median latency while the agent hung")
			assert.False(t, r.stats().RPC.BreakerOpen, "the breaker is closed again once the agent is healthy")
			rest := r.checkAtRest()
			summary.add(t, caseRow{
				name: "2 agent hangs: " + c.name,
				load: all,
				notes: fmt.Sprintf("hung %v: %d req, %s under %v, p50 %v p90 %v p99 %v max %v; breaker open after %v, rejected %d calls; inspecting again %v after a healthy restart; %s",
					(to - from).Round(time.Millisecond), hang.sent, percent(hang.fast, hang.sent), r.timeout/2,
					round(hang.p50), round(hang.p90), round(hang.p99), round(hang.max),
					openedIn.Round(time.Millisecond), during.RPC.BreakerRejected-before.RPC.BreakerRejected,
					resumedIn.Round(time.Millisecond), rest),
			})
		})
	}
}

// Case 3: the agent answers with bytes the module can't use, or with an
// error, or drops the connection; requests fail open, broken connections
// are discarded, and the pool recovers once a healthy agent is back.
func TestAgentAnswersNonsense(t *testing.T) {
	for _, c := range []struct {
		name       string
		how        misbehaviour // of a raw agent, unless agentFlags are set
		agentFlags []string     // of a fake agent
	}{
		{name: "garbage bytes", how: answersGarbage},
		{name: "a frame truncated in a str32 header", how: answersTruncated},
		{name: "a well-formed 406 under the wrong sequence number", how: answersWrongSeq},
		{name: "an RPC error string (-fake-error-rate 1)", agentFlags: []string{"-fake-error-rate", "1"}},
		{name: "nothing, closing the connection (-fake-drop-rate 1)", agentFlags: []string{"-fake-drop-rate", "1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, "unix", 100*time.Millisecond)
			l := r.startLoad()
			l.runFor(healthyPhase)

			var (
				raw    *rawAgent
				faulty *fakeAgent
			)
			before := r.stats()
			r.replaceAgent(func() {
				if c.agentFlags == nil {
					raw = r.startRaw(c.how)
				} else {
					faulty = r.startAgent(c.agentFlags...)
				}
			})
			from := l.elapsed()
			l.runFor(faultPhase)
			to := l.elapsed()
			var faultyMetrics map[string]float64
			if faulty != nil {
				var err error
				faultyMetrics, err = faulty.metrics()
				require.NoError(t, err)
			}
			during := r.stats()

			r.killAgent()
			agent := r.startAgent()
			resumedIn := r.waitInspecting(agent, during.Blocked)
			l.runFor(healedPhase)
			samples := l.stop()

			all := tallyOf(samples, 0, everything, r.timeout/2)
			bad := tallyOf(samples, from, to, r.timeout/2)
			r.checkAnswered(all)
			assert.Zero(t, bad.attacksBlocked, "attacks blocked on a nonsense answer")
			assert.Greater(t, during.FailOpen, before.FailOpen, "requests failed open")
			var seen string
			if raw != nil {
				accepted, calls, closed := raw.accepted.Load(), raw.calls.Load(), raw.peerClosed.Load()
				require.Positive(t, calls, "the module never called the raw agent")
				switch c.how {
				case answersTruncated:
					// The raw agent closes after each answer; that the
					// module came back on new connections shows the broken
					// ones were not kept.
					assert.GreaterOrEqual(t, accepted, int64(2), "connections the module opened")
				default:
					assert.Positive(t, closed, "connections the module closed after a bad answer")
				}
				seen = fmt.Sprintf("raw agent: %d conns, %d calls, %d closed by the module", accepted, calls, closed)
			} else {
				calls, conns := faultyMetrics[metricPreRequests], faultyMetrics[metricConnections]
				require.Positive(t, calls, "the module never called the faulty agent")
				if c.agentFlags[0] == "-fake-error-rate" {
					// An error reply is the agent's answer, not a broken
					// connection: the pool keeps its connections.
					assert.LessOrEqual(t, conns, float64(2*appMaxConns), "connections opened to an agent that answers errors")
				} else {
					assert.GreaterOrEqual(t, conns, float64(2), "connections the module opened after drops")
				}
				seen = fmt.Sprintf("faulty agent: %.0f PreRequests on %.0f conns, module retries +%d",
					calls, conns, during.RPC.Retries-before.RPC.Retries)
			}
			rest := r.checkAtRest()
			summary.add(t, caseRow{
				name: "3 agent answers " + c.name,
				load: all,
				notes: fmt.Sprintf("faulty %v: %d req, %s under %v, attacks blocked %d, failed open +%d, breaker rejected +%d; %s; inspecting again %v after a healthy restart; %s",
					(to - from).Round(time.Millisecond), bad.sent, percent(bad.fast, bad.sent), r.timeout/2, bad.attacksBlocked,
					during.FailOpen-before.FailOpen, during.RPC.BreakerRejected-before.RPC.BreakerRejected,
					seen, resumedIn.Round(time.Millisecond), rest),
			})
		})
	}
}

// Case 4: a slow agent; slower than the timeout, requests fail open;
// slower but within it, they are inspected.
func TestAgentSlow(t *testing.T) {
	t.Run("200ms latency with a 50ms timeout fails open", func(t *testing.T) {
		r := newRig(t, "unix", 50*time.Millisecond)
		l := r.startLoad()
		l.runFor(healthyPhase)

		before := r.stats()
		r.replaceAgent(func() { r.startAgent("-fake-latency", "200ms") })
		from := l.elapsed()
		l.runFor(faultPhase)
		to := l.elapsed()
		during := r.stats()

		r.killAgent()
		agent := r.startAgent()
		resumedIn := r.waitInspecting(agent, during.Blocked)
		l.runFor(healedPhase)
		samples := l.stop()

		all := tallyOf(samples, 0, everything, r.timeout/2)
		slow := tallyOf(samples, from, to, r.timeout/2)
		r.checkAnswered(all)
		assert.Zero(t, slow.attacksBlocked, "attacks blocked although the agent answers after the timeout")
		assert.Equal(t, slow.sent, slow.ok, "every request answered 200 while the agent was too slow")
		assert.Greater(t, during.RPC.BreakerRejected, before.RPC.BreakerRejected, "timeouts open the breaker")
		rest := r.checkAtRest()
		summary.add(t, caseRow{
			name: "4 agent slower than the timeout (200ms vs 50ms)",
			load: all,
			notes: fmt.Sprintf("slow %v: %d req all 200, %s under %v, p99 %v, max %v; breaker rejected %d; inspecting again %v after a healthy restart; %s",
				(to - from).Round(time.Millisecond), slow.sent, percent(slow.fast, slow.sent), r.timeout/2,
				round(slow.p99), round(slow.max), during.RPC.BreakerRejected-before.RPC.BreakerRejected,
				resumedIn.Round(time.Millisecond), rest),
		})
	})

	t.Run("5ms latency with a 200ms timeout is inspected", func(t *testing.T) {
		r := newRig(t, "unix", 200*time.Millisecond)
		l := r.startLoad()
		l.runFor(healthyPhase)

		blockedBefore := r.stats().Blocked
		var agent *fakeAgent
		r.replaceAgent(func() { agent = r.startAgent("-fake-latency", "5ms") })
		r.waitInspecting(agent, blockedBefore)
		from := l.elapsed()
		l.runFor(faultPhase)
		to := l.elapsed()
		samples := l.stop()

		all := tallyOf(samples, 0, everything, r.timeout/2)
		slow := tallyOf(samples, from, to, r.timeout/2)
		r.checkAnswered(all)
		require.Positive(t, slow.attacks)
		assert.GreaterOrEqual(t, slow.attacksBlocked, slow.attacks*8/10,
			"attacks blocked by an agent answering within the timeout: %d of %d", slow.attacksBlocked, slow.attacks)
		assert.GreaterOrEqual(t, slow.p50, 5*time.Millisecond, "the agent's latency shows in the median")
		rest := r.checkAtRest()
		summary.add(t, caseRow{
			name: "4 agent slow within the timeout (5ms vs 200ms)",
			load: all,
			notes: fmt.Sprintf("slow %v: %d req, attacks blocked %d of %d (%s), p50 %v; %s",
				(to - from).Round(time.Millisecond), slow.sent, slow.attacksBlocked, slow.attacks,
				percent(slow.attacksBlocked, slow.attacks), round(slow.p50), rest),
		})
	})
}

// Case 5: the agent's socket file is deleted under a running agent, or
// its TCP port closed, and the agent comes back at the same address.
func TestAgentAddressGoesAwayAndComesBack(t *testing.T) {
	t.Run("socket file deleted while the agent runs, then the agent restarted", func(t *testing.T) {
		r := newRig(t, "unix", 100*time.Millisecond)
		l := r.startLoad()
		l.runFor(healthyPhase)

		require.NoError(t, os.Remove(r.addr.address))
		removedAt := l.elapsed()
		blockedAtRemoval := r.stats().Blocked
		l.runFor(outagePhase)
		// Connections made before the unlink still reach the agent.
		blockedUnlinked := r.stats().Blocked - blockedAtRemoval
		r.stopAgent()
		stoppedAt := l.elapsed()
		l.runFor(outagePhase)

		blockedBefore := r.stats().Blocked
		restartingAt := l.elapsed()
		agent := r.startAgent()
		require.FileExists(t, r.addr.address)
		resumedIn := r.waitInspecting(agent, blockedBefore)
		l.runFor(healedPhase)
		samples := l.stop()

		all := tallyOf(samples, 0, everything, r.timeout/2)
		gone := tallyOf(samples, stoppedAt, restartingAt, r.timeout/2)
		r.checkAnswered(all)
		assert.Zero(t, gone.attacksBlocked, "attacks blocked while no agent ran")
		rest := r.checkAtRest()
		summary.add(t, caseRow{
			name: "5 socket file deleted, agent restarted",
			load: all,
			notes: fmt.Sprintf("%d blocked on pooled conns in the %v after the unlink; no agent: %d req, p99 %v; inspecting again %v after restart; %s",
				blockedUnlinked, (stoppedAt - removedAt).Round(time.Millisecond), gone.sent, round(gone.p99),
				resumedIn.Round(time.Millisecond), rest),
		})
	})

	t.Run("TCP port closed and reopened", func(t *testing.T) {
		r := newRig(t, "tcp", 100*time.Millisecond)
		outageAndBack(t, r, r.stopAgent, "5 TCP port closed and reopened", "port closed", "reopening")
	})
}

// Case 6: the agent process is frozen (SIGSTOP) under load, then thawed
// (SIGCONT). Its connections stay open and unread: with small requests
// every call ends at the timeout; with bodies the module sends the agent,
// the socket buffers fill and writes block, and calls queued behind a
// blocked write must still leave at their own deadline (they once waited
// for every write before theirs: over a second with a 100ms timeout).
func TestAgentFrozen(t *testing.T) {
	for _, c := range []struct {
		name   string
		bodies bool
	}{
		{"under GET load", false},
		{"under 64 clients POSTing 90KB forms", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, "unix", 100*time.Millisecond)
			cfg := faultLoad
			if c.bodies {
				cfg.workers = 64
				cfg.formBody = "comment=" + strings.Repeat("a", 90_000) // under the module's 100000-byte limit
			}
			l := startLoad(r.app.url, cfg)
			t.Cleanup(func() { l.stop() })
			l.runFor(healthyPhase)

			before := r.stats()
			r.agent.signal(t, syscall.SIGSTOP)
			from := l.elapsed()
			l.runFor(faultPhase)
			to := l.elapsed()
			during := r.stats()
			r.agent.signal(t, syscall.SIGCONT)
			resumedIn := r.waitInspecting(r.agent, during.Blocked)
			l.runFor(healedPhase)
			samples := l.stop()

			all := tallyOf(samples, 0, everything, r.timeout/2)
			frozen := tallyOf(samples, from, to, r.timeout/2)
			r.checkAnswered(all) // includes the module's own timing of its calls
			rest := r.checkAtRest()
			summary.add(t, caseRow{
				name: "6 agent frozen (SIGSTOP/SIGCONT) " + c.name,
				load: all,
				notes: fmt.Sprintf("frozen %v: %d req, %s under %v, p99 %v, max %v; module's slowest agent call %v; breaker rejected +%d; inspecting again %v after SIGCONT; %s",
					(to - from).Round(time.Millisecond), frozen.sent, percent(frozen.fast, frozen.sent), r.timeout/2,
					round(frozen.p99), round(frozen.max), round(during.RPC.LatencyMax),
					during.RPC.BreakerRejected-before.RPC.BreakerRejected, resumedIn.Round(time.Millisecond), rest),
			})
		})
	}
}
