package loadcompare

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// CounterValue returns the value of the sample of metric name whose labels
// include every label in want, from a Prometheus text-format exposition.
// It reads only what the load comparison needs: plain samples, label
// values without escaped quotes or commas.
func CounterValue(exposition io.Reader, name string, want map[string]string) (float64, error) {
	sc := bufio.NewScanner(exposition)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		metric, labels, value, ok := parseSample(line)
		if !ok || metric != name || !hasLabels(labels, want) {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return 0, fmt.Errorf("metric %s: value %q: %w", name, value, err)
		}
		return v, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reading metrics: %w", err)
	}
	return 0, fmt.Errorf("metric %s%v not found", name, want)
}

// parseSample splits `name{a="x",b="y"} 12 [timestamp]`.
func parseSample(line string) (name string, labels map[string]string, value string, ok bool) {
	rest := line
	if i := strings.IndexAny(rest, "{ "); i < 0 {
		return "", nil, "", false
	} else {
		name, rest = rest[:i], rest[i:]
	}
	labels = map[string]string{}
	if strings.HasPrefix(rest, "{") {
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return "", nil, "", false
		}
		for pair := range strings.SplitSeq(rest[1:end], ",") {
			k, v, found := strings.Cut(strings.TrimSpace(pair), "=")
			if !found {
				continue
			}
			labels[k] = strings.Trim(v, `"`)
		}
		rest = rest[end+1:]
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return "", nil, "", false
	}
	return name, labels, f[0], true
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// AgentCounters are the fake agent's counters the load comparison reads.
type AgentCounters struct {
	PreRequests uint64 // fakeagent_rpc_calls_total{method="PreRequest"}
	Connections uint64 // fakeagent_connections_total: module connections accepted
}

// ScrapeAgent reads the fake agent's admin /metrics at adminAddr.
func ScrapeAgent(ctx context.Context, adminAddr string) (AgentCounters, error) {
	var c AgentCounters
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+adminAddr+"/metrics", nil)
	if err != nil {
		return c, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return c, fmt.Errorf("scraping the agent's metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return c, fmt.Errorf("scraping the agent's metrics: %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return c, fmt.Errorf("scraping the agent's metrics: %w", err)
	}
	calls, err := CounterValue(bytes.NewReader(body), "fakeagent_rpc_calls_total", map[string]string{"method": "PreRequest"})
	if err != nil {
		return c, fmt.Errorf("scraping the agent's metrics: %w", err)
	}
	conns, err := CounterValue(bytes.NewReader(body), "fakeagent_connections_total", nil)
	if err != nil {
		return c, fmt.Errorf("scraping the agent's metrics: %w", err)
	}
	return AgentCounters{PreRequests: uint64(calls), Connections: uint64(conns)}, nil
}
