package faults

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The soak's settings.
const (
	soakExpiry         = 2 * time.Second // the agent's -fake-update-expiry
	soakOrphanInterval = 20 * time.Millisecond
	soakSampleInterval = 500 * time.Millisecond
	soakGoroutineSlack = 10
	soakFDSlack        = 5
	soakRSSSlack       = 20 << 20 // bytes, or half the baseline if more
	soakSettleTimeout  = soakExpiry + 30*time.Second
)

// soakLoad is the fault suite's load, paced to a steady rate the soak can
// hold for minutes.
func soakLoad(d time.Duration) loadConfig {
	cfg := faultLoad
	cfg.pace = 4 * time.Millisecond
	cfg.maxDuration = d
	cfg.maxRequests = int64(cfg.workers) * int64(d/cfg.pace+1)
	return cfg
}

// TestSoak runs a steady load for SOAK_DURATION (e.g. 15s, 3m) and checks
// that both processes come back to their baseline afterwards: resident
// memory, goroutines, open files, and the agent's pending RequestIDs
// (expiry works: no per-request state outlives its request).
func TestSoak(t *testing.T) {
	env := os.Getenv("SOAK_DURATION")
	if env == "" {
		t.Skip("set SOAK_DURATION (e.g. 15s or 3m) to run the soak")
	}
	d, err := time.ParseDuration(env)
	require.NoError(t, err, "SOAK_DURATION")
	require.Positive(t, d, "SOAK_DURATION")

	r := newRig(t, "unix", 100*time.Millisecond, "-fake-update-expiry", soakExpiry.String())
	agent := r.agent
	var agentIdle usage
	var pending float64
	ok := poll(soakSettleTimeout, pollInterval, func() bool {
		agentIdle, err = agent.usage()
		pending, _ = agent.metric(metricPending)
		return err == nil && pending == 0
	})
	require.True(t, ok, "the agent's pending updates never reached 0 after the warm-up (%v, %v)", pending, err)
	appIdle := r.idle
	expiredBefore, err := agent.metric(metricExpired)
	require.NoError(t, err)

	l := startLoad(r.app.url, soakLoad(d))
	t.Cleanup(func() { l.stop() })
	orphaned := sendOrphans(r.addr, soakOrphanInterval, int(d/soakOrphanInterval)+1)
	peak := watchPeaks(r.app, agent, d)
	t.Cleanup(func() { orphaned.stop(); peak.stop() })
	l.runFor(d)
	ss := l.stop()
	sent, withID, orphanErr := orphaned.stop()
	peaks := peak.stop()
	all := tallyOf(ss, 0, everything, r.timeout/2)
	r.checkAnswered(all)
	require.NoError(t, orphanErr, "sending orphan PreRequests")
	require.Positive(t, withID, "the agent gave the orphan PreRequests no RequestID")

	// Back at rest: every process near its baseline, nothing pending.
	var appNow, agentNow usage
	var errNow error
	settling := time.Now()
	ok = poll(soakSettleTimeout, 250*time.Millisecond, func() bool {
		if appNow, errNow = r.app.usage(); errNow != nil {
			return false
		}
		if agentNow, errNow = agent.usage(); errNow != nil {
			return false
		}
		if pending, errNow = agent.metric(metricPending); errNow != nil {
			return false
		}
		return pending == 0 && withinSoakLimits(appIdle, appNow) && withinSoakLimits(agentIdle, agentNow)
	})
	settled := time.Since(settling)
	expiredAfter, err := agent.metric(metricExpired)
	require.NoError(t, err)

	table := soakTable(d, all, sent, withID, expiredAfter-expiredBefore, settled, []soakRow{
		{"helloworld", appIdle, peaks.app, appNow},
		{"fakeagent", agentIdle, peaks.agent, agentNow},
	}, peaks.pending, pending)
	t.Log("\n" + table)
	summary.setSoak(table)

	assert.True(t, ok, "the processes did not come back to rest within %v (last error %v)", soakSettleTimeout, errNow)
	for _, p := range []struct {
		name            string
		idle, peak, now usage
	}{{"helloworld", appIdle, peaks.app, appNow}, {"fakeagent", agentIdle, peaks.agent, agentNow}} {
		assert.LessOrEqual(t, p.now.goroutines, p.idle.goroutines+soakGoroutineSlack, "%s goroutines", p.name)
		assert.LessOrEqual(t, p.now.fds, p.idle.fds+soakFDSlack, "%s open files", p.name)
		assert.LessOrEqual(t, p.now.rss, rssLimit(p.idle.rss), "%s resident memory", p.name)
	}
	assert.Zero(t, pending, "RequestIDs still pending in the agent")
	assert.Positive(t, peaks.pending, "no RequestID was ever seen pending: the soak proves nothing about expiry")
	assert.GreaterOrEqual(t, expiredAfter-expiredBefore, float64(withID), "every orphan RequestID expired")
}

// rssLimit is how much resident memory a process may keep after the load,
// against its baseline.
func rssLimit(idle int64) int64 { return max(idle+soakRSSSlack, idle*3/2) }

func withinSoakLimits(idle, now usage) bool {
	return now.goroutines <= idle.goroutines+soakGoroutineSlack &&
		now.fds <= idle.fds+soakFDSlack &&
		now.rss <= rssLimit(idle.rss)
}

// peakWatch samples both processes during the load and keeps the peaks.
type peakWatch struct {
	stopC    chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	peaks    peaks // set before done is closed
}

type peaks struct {
	app, agent usage
	pending    float64
	misses     int // samples that failed under load
}

// watchPeaks samples every soakSampleInterval, for at most d and a bit.
func watchPeaks(a *app, agent *fakeAgent, d time.Duration) *peakWatch {
	w := &peakWatch{stopC: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		p := &w.peaks
		tick := time.NewTicker(soakSampleInterval)
		defer tick.Stop()
		for range int(d/soakSampleInterval) + 2 {
			select {
			case <-w.stopC:
				return
			case <-tick.C:
			}
			au, err1 := a.usage()
			gu, err2 := agent.usage()
			pending, err3 := agent.metric(metricPending)
			if err1 != nil || err2 != nil || err3 != nil {
				p.misses++
				continue
			}
			p.app, p.agent = maxUsage(p.app, au), maxUsage(p.agent, gu)
			p.pending = max(p.pending, pending)
		}
	}()
	return w
}

// stop ends the sampling and returns the peaks seen.
func (w *peakWatch) stop() peaks {
	w.stopOnce.Do(func() { close(w.stopC) })
	<-w.done
	return w.peaks
}

func maxUsage(a, b usage) usage {
	return usage{goroutines: max(a.goroutines, b.goroutines), fds: max(a.fds, b.fds), rss: max(a.rss, b.rss)}
}

// soakRow is one process's usage at rest before, at the peak, and after.
type soakRow struct {
	name             string
	idle, peak, rest usage
}

// soakTable renders the soak's numbers as Markdown.
func soakTable(d time.Duration, load tally, orphans, withID int, expired float64, settled time.Duration, rows []soakRow, peakPending, pending float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Load for %v: %d requests, %d answered 200, %d blocked 406, %d failed; p50 %v, p99 %v, max %v.\n",
		d, load.sent, load.ok, load.blocked, load.failed, round(load.p50), round(load.p99), round(load.max))
	fmt.Fprintf(&b, "Orphan PreRequests sent straight to the agent (never updated): %d, %d with a RequestID; RequestIDs expired during the soak: %.0f (update expiry %v).\n",
		orphans, withID, expired, soakExpiry)
	fmt.Fprintf(&b, "Back at rest %v after the load stopped (\"after\" column); \"peak\" is the highest of the samples taken every %v under load.\n\n",
		settled.Round(10*time.Millisecond), soakSampleInterval)
	b.WriteString("| process | measure | baseline | peak | after | limit |\n|---|---|--:|--:|--:|--:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | RSS | %s | %s | %s | %s |\n", r.name, mib(r.idle.rss), mib(r.peak.rss), mib(r.rest.rss), mib(rssLimit(r.idle.rss)))
		fmt.Fprintf(&b, "| %s | goroutines | %d | %d | %d | %d |\n", r.name, r.idle.goroutines, r.peak.goroutines, r.rest.goroutines, r.idle.goroutines+soakGoroutineSlack)
		fmt.Fprintf(&b, "| %s | open FDs | %d | %d | %d | %d |\n", r.name, r.idle.fds, r.peak.fds, r.rest.fds, r.idle.fds+soakFDSlack)
	}
	fmt.Fprintf(&b, "| fakeagent | pending updates | 0 | %.0f | %.0f | 0 |\n", peakPending, pending)
	return b.String()
}
