package faults

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// appMaxConns bounds the module's pooled agent connections in every run,
// so that the slack allowed when comparing goroutines and file
// descriptors can account for them.
const appMaxConns = 4

// probeClient reads the debug and admin endpoints. Without keep-alives,
// measuring a process leaves no connection open in it.
var probeClient = &http.Client{
	Timeout:   5 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

// app is a running helloworld with its module in front of an agent.
type app struct {
	*process
	url   string // http://host:port
	debug string // host:port of -debug-address
}

// startApp starts helloworld on a free loopback port, inspecting through
// the agent at agent with the given call timeout.
func startApp(t *testing.T, agent agentAddr, timeout time.Duration) *app {
	t.Helper()
	p, err := startProcess(t, "helloworld",
		"-timeout", timeout.String(),
		"-max-conns", strconv.Itoa(appMaxConns),
		"-debug-address", "127.0.0.1:0",
		"127.0.0.1:0", agent.String())
	require.NoError(t, err)
	url, err := listenAddress(p.ready)
	require.NoError(t, err)
	debug, err := p.logs.waitValue("debug_address", readyTimeout)
	require.NoError(t, err)
	return &app{process: p, url: url, debug: debug}
}

// moduleStats is the part of the module's Stats the suite looks at, as
// /debug/module serves them.
type moduleStats struct {
	Inspected, Allowed, Blocked, FailOpen, Errors uint64
	UpdateRequests, PostRequests                  uint64
	RPC                                           struct {
		Calls, Failures, BreakerRejected uint64
		BreakerOpen                      bool
		Dials, Retries                   uint64
		OpenConns                        int
		LatencyMax                       time.Duration // the slowest agent call, as the module timed it
	}
}

// stats fetches the module's counters.
func (a *app) stats() (moduleStats, error) {
	var s moduleStats
	resp, err := probeClient.Get("http://" + a.debug + "/debug/module")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("/debug/module: %s", resp.Status)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

func (a *app) mustStats(t *testing.T) moduleStats {
	t.Helper()
	s, err := a.stats()
	require.NoError(t, err, "reading helloworld's /debug/module")
	return s
}

// goroutines returns the total of the app's goroutine profile.
func (a *app) goroutines() (int, error) {
	resp, err := probeClient.Get("http://" + a.debug + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("reading the goroutine profile: %w", err)
	}
	total, ok := strings.CutPrefix(strings.TrimSpace(line), "goroutine profile: total ")
	if !ok {
		return 0, fmt.Errorf("goroutine profile starts with %q", line)
	}
	return strconv.Atoi(total)
}

// usage measures the app's goroutines, open files and resident memory.
func (a *app) usage() (usage, error) {
	g, err := a.goroutines()
	if err != nil {
		return usage{}, err
	}
	return processUsage(a.pid(), g)
}
