package loadcompare

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func u64(n uint64) *uint64 { return &n }

// syntheticResults has bare, uds and tcp at 1 and 32 connections over
// three rounds, and PreRequest round trips, with round numbers chosen so
// that every figure is easy to check by hand.
func syntheticResults() *Results {
	var runs []Measurement
	for round := 1; round <= 3; round++ {
		f := float64(round - 2) // -1, 0, +1: rounds differ, medians are round 2
		runs = append(runs,
			Measurement{Round: round, Variant: "bare", Conns: 1, Requests: 1000, OK: 1000, RPS: 10000 + 100*f, P50Us: 90, P90Us: 120, P99Us: 200, MaxUs: 900, AppCPUUs: 50},
			Measurement{Round: round, Variant: "uds", Conns: 1, Requests: 800, OK: 800, RPS: 8000 + 100*f, P50Us: 130 + f, P90Us: 170, P99Us: 300, MaxUs: 1500, AppCPUUs: 70, AgentCPUUs: 30, AgentCalls: u64(800), AgentConns: u64(0)},
			Measurement{Round: round, Variant: "tcp", Conns: 1, Requests: 700, OK: 700, RPS: 7000, P50Us: 150, P90Us: 190, P99Us: 350, MaxUs: 1700, AppCPUUs: 75, AgentCPUUs: 35, TimeWaitNew: 1, AgentCalls: u64(700), AgentConns: u64(0)},
			Measurement{Round: round, Variant: "bare", Conns: 32, Requests: 5000, OK: 5000, RPS: 20000, P50Us: 1500, P90Us: 2000, P99Us: 4000, MaxUs: 9000, AppCPUUs: 40},
			Measurement{Round: round, Variant: "uds", Conns: 32, Requests: 3000, OK: 2990, Non200: 10, RPS: 10000 + 1000*f, P50Us: 3000, P90Us: 4000, P99Us: 8000, MaxUs: 20000, AppCPUUs: 60, AgentCPUUs: 40, AgentCalls: u64(3000), AgentConns: u64(1)},
			Measurement{Round: round, Variant: "tcp", Conns: 32, Requests: 2800, OK: 2800, RPS: 9000, P50Us: 3300, P90Us: 4400, P99Us: 9000, MaxUs: 25000, AppCPUUs: 62, AgentCPUUs: 42, TimeWaitAgent: 2, TimeWaitNew: 34, TimeWaitAgentBefore: 10, TimeWaitAgentAfter: 10 + round, AgentCalls: u64(2799), AgentConns: u64(0)},
		)
	}
	res := &Results{
		Meta: Meta{Date: "2026-11-27T10:00:00Z", CommandLine: "go run ./cmd/loadcompare", CPUModel: "Test CPU", Cores: 2,
			GoVersion: "go version go1.27.3 linux/amd64", Client: ClientRaw, Request: RequestGet, Duration: "5s", Warmup: "500ms",
			Rounds: 3, Conns: []int{1, 32}, Variants: []string{"bare", "uds", "tcp"}},
		Runs:  runs,
		Floor: []RPCResult{{Label: "uds raw ping-pong", Transport: "unix", Calls: 50000, MeanUs: 38, P50Us: 36}},
		RPC: []RPCResult{
			{Label: "uds pooled", Transport: "unix", Calls: 10000, MeanUs: 39.5, P50Us: 37, P99Us: 80},
			{Label: "tcp pooled", Transport: "tcp", Calls: 9000, MeanUs: 45, P50Us: 43, P99Us: 90, TimeWaitAgent: 0},
		},
	}
	res.Summary = Summarize(res.Runs, res.Meta.Variants, res.Meta.Conns)
	res.Targets = Targets(res.Summary, res.RPC, res.Floor)
	return res
}

func TestSummarizeRelatesEachRoundToItsBareRun(t *testing.T) {
	res := syntheticResults()
	if len(res.Summary) != 6 {
		t.Fatalf("%d summaries, want 6", len(res.Summary))
	}
	uds1 := res.Summary[1]
	if uds1.Variant != "uds" || uds1.Conns != 1 {
		t.Fatalf("second summary is %s/%d, want uds/1", uds1.Variant, uds1.Conns)
	}
	if uds1.Ratio == nil || math.Abs(uds1.Ratio.Median-0.8) > 1e-9 {
		t.Errorf("ratio %+v, want a median of 0.8", uds1.Ratio)
	}
	// Per round: (8000-100)/(10000-100), 0.8, (8100)/(10100).
	if math.Abs(uds1.Ratio.Min-7900.0/9900) > 1e-9 || math.Abs(uds1.Ratio.Max-8100.0/10100) > 1e-9 {
		t.Errorf("ratio range %+v", uds1.Ratio)
	}
	if uds1.AddedP50Us == nil || uds1.AddedP50Us.Median != 40 || uds1.AddedP50Us.Min != 39 || uds1.AddedP50Us.Max != 41 {
		t.Errorf("added p50 %+v, want 40 (39-41)", uds1.AddedP50Us)
	}
	if bare := res.Summary[0]; bare.Ratio != nil || bare.AgentCalls != nil {
		t.Errorf("bare has a ratio or agent calls: %+v", bare)
	}
	uds32 := res.Summary[4]
	if uds32.Errors != 30 || *uds32.AgentCalls != 9000 || uds32.Requests != 9000 {
		t.Errorf("uds/32: errors %d, calls %d, requests %d", uds32.Errors, *uds32.AgentCalls, uds32.Requests)
	}
	if tcp32 := res.Summary[5]; tcp32.TimeWaitAgent != 6 || tcp32.TimeWaitNew != 102 || tcp32.TimeWaitGrowthMax != 3 || tcp32.TimeWaitAfterMax != 13 {
		t.Errorf("tcp/32 TIME_WAIT: %+v", tcp32)
	}
	if *uds32.AgentConns != 3 {
		t.Errorf("uds/32 agent connections opened %d, want 3", *uds32.AgentConns)
	}
}

func TestTargets(t *testing.T) {
	res := syntheticResults()
	want := map[string]bool{
		"throughput, UDS pooled, 32 connections":                        false, // 0.5x
		"throughput, TCP vs UDS pooled, 32 connections":                 true,  // 9000 vs 10000: 0.9x
		"added p50 latency, UDS pooled, 1 connection":                   true,  // +40 µs
		"fake agent, native engine: PreRequests per second of one core": false, // 40 µs per call
		"module overhead in the app, UDS pooled, 32 connections":        true,  // 60 - 40 = 20 µs
		"every request inspected, no errors":                            false, // uds/32 had 30 errors, tcp/32 missed calls
		"TIME_WAIT growth, TCP pooled":                                  false, // 6 on the agent port
	}
	if len(res.Targets) != len(want) {
		t.Fatalf("%d targets, want %d", len(res.Targets), len(want))
	}
	for _, tc := range res.Targets {
		met, ok := want[tc.Name]
		if !ok {
			t.Errorf("unexpected target %q", tc.Name)
			continue
		}
		if tc.Met == nil || *tc.Met != met {
			t.Errorf("%s: met %v, want %v (%s)", tc.Name, tc.Met, met, tc.Measured)
		}
	}
	none := Targets(nil, nil, nil)
	for _, tc := range none {
		if tc.Met != nil || tc.Measured != "not measured" {
			t.Errorf("without measurements, %s: %+v", tc.Name, tc)
		}
	}
}

func TestWriteReport(t *testing.T) {
	var b bytes.Buffer
	if err := WriteReport(&b, syntheticResults()); err != nil {
		t.Fatal(err)
	}
	report := b.String()
	for _, want := range []string{
		"`go run ./cmd/loadcompare`",
		"Test CPU, 2 cores",
		"| throughput, UDS pooled, 32 connections | >= 0.55x bare (goal 0.65x) | 0.50x bare",
		"**not met**",
		"| added p50 latency, UDS pooled, 1 connection | <= 100 µs (goal: <= 1.5x the raw ping-pong p50) | +40 µs",
		"## 32 connections",
		"| uds | 8000 (7900–8100) | 0.80x | +40.0 µs (+39.0 µs–+41.0 µs) |",
		"8397 / 8400 (**mismatch**)",
		"| uds raw ping-pong | 50000 |",
		"| throughput at 32 connections, UDS, × bare | 0.17x | 0.50x | n/a |",
		"| sockets left in TIME_WAIT, TCP | ~14000 | 13 (most seen after a round) | n/a |",
		"| 0 | 13 (growth +3) |",
		"## Noise across rounds",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(report)
	}
}

func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	res := syntheticResults()
	if err := WriteFiles(dir, res); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"report.md", "results.json", "chart.png", "chart.svg"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() < 100 {
			t.Errorf("%s is only %d bytes", name, fi.Size())
		}
	}
	png, _ := os.ReadFile(filepath.Join(dir, "chart.png"))
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Error("chart.png is not a PNG")
	}
	js, _ := os.ReadFile(filepath.Join(dir, "results.json"))
	var back Results
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Runs) != len(res.Runs) || back.Summary[1].Ratio.Median != res.Summary[1].Ratio.Median {
		t.Error("results.json does not hold the results")
	}
}
