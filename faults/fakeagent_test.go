package faults

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// agentAddr is where the app finds its agent: a Unix socket path or a
// TCP host:port.
type agentAddr struct {
	network string // "unix" or "tcp"
	address string
}

// String is the form both commands take: unix:/path or tcp:host:port.
func (a agentAddr) String() string { return a.network + ":" + a.address }

// Series of the fake agent's /metrics the suite reads.
const (
	metricPreRequests = `fakeagent_rpc_calls_total{method="PreRequest"}`
	metricBlocked     = `fakeagent_decisions_total{waf_response="406"}`
	metricPending     = `fakeagent_pending_updates`
	metricExpired     = `fakeagent_expired_updates_total`
	metricConnections = `fakeagent_connections_total`
	metricGoroutines  = `go_goroutines`
)

// fakeAgent is a running fake agent process.
type fakeAgent struct {
	*process
	addr  agentAddr
	admin string // host:port of -admin-address
}

// startFakeAgent starts the fake agent on addr (a TCP port of 0 picks
// one) with its admin listener on a free loopback port. extra adds flags,
// such as fault injection.
func startFakeAgent(t *testing.T, addr agentAddr, extra ...string) (*fakeAgent, error) {
	t.Helper()
	args := append([]string{
		"-rpc-address", addr.String(),
		"-shared-cache-dir", "",
		"-admin-address", "127.0.0.1:0",
		"-fake-seed", "1",
	}, extra...)
	p, err := startProcess(t, "fakeagent", args...)
	if err != nil {
		return nil, err
	}
	listen, err := listenAddress(p.ready)
	if err != nil {
		_ = p.kill()
		return nil, err
	}
	network, address, ok := strings.Cut(listen, ":")
	if !ok {
		_ = p.kill()
		return nil, fmt.Errorf("fake agent listens on %q: want network:address", listen)
	}
	admin, err := p.logs.waitValue("admin_address", readyTimeout)
	if err != nil {
		_ = p.kill()
		return nil, err
	}
	return &fakeAgent{process: p, addr: agentAddr{network, address}, admin: admin}, nil
}

// metrics scrapes the agent's /metrics.
func (a *fakeAgent) metrics() (map[string]float64, error) {
	resp, err := probeClient.Get("http://" + a.admin + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	return parsePromText(bufio.NewScanner(resp.Body))
}

// metric returns one series of the agent's /metrics.
func (a *fakeAgent) metric(series string) (float64, error) {
	m, err := a.metrics()
	if err != nil {
		return 0, err
	}
	v, ok := m[series]
	if !ok {
		return 0, fmt.Errorf("/metrics has no %s", series)
	}
	return v, nil
}

// usage measures the agent's goroutines, open files and resident memory.
func (a *fakeAgent) usage() (usage, error) {
	g, err := a.metric(metricGoroutines)
	if err != nil {
		return usage{}, err
	}
	return processUsage(a.pid(), int(g))
}

// parsePromText reads samples of the Prometheus text format into a map
// keyed by the series as written (name plus labels), e.g.
// fakeagent_rpc_calls_total{method="PreRequest"}.
func parsePromText(sc *bufio.Scanner) (map[string]float64, error) {
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	m := make(map[string]float64)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		var series, rest string
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				return nil, fmt.Errorf("metrics line %q: unbalanced braces", line)
			}
			series, rest = line[:j+1], line[j+1:]
		} else {
			series, rest, _ = strings.Cut(line, " ")
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return nil, fmt.Errorf("metrics line %q: no value", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		m[series] = v
	}
	return m, sc.Err()
}

// isAddrInUse reports whether a failed start was the TCP port being
// taken, in this process or (from its output) in a child.
func isAddrInUse(err error) bool {
	return err != nil && (errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use"))
}

// retryAddrInUse runs start until it succeeds or fails otherwise than with
// the port being taken; a port just closed may be briefly held by a
// connection still closing, or by another test's outgoing connection.
func retryAddrInUse[T any](start func() (T, error)) (T, error) {
	var v T
	var err error
	for range 20 {
		if v, err = start(); !isAddrInUse(err) {
			return v, err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return v, err
}
