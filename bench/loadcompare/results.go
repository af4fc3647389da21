package loadcompare

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Results is everything a load comparison measured; results.json holds it.
type Results struct {
	Meta    Meta          `json:"meta"`
	RPC     []RPCResult   `json:"prerequest_round_trips"`
	Floor   []RPCResult   `json:"raw_ping_pong"` // the sockets' and runtime's floor
	Runs    []Measurement `json:"runs"`
	Summary []Summary     `json:"summary"`
	Targets []TargetCheck `json:"targets"`
}

// Meta describes the machine and the run.
type Meta struct {
	Date            string   `json:"date"`
	CommandLine     string   `json:"command_line"`
	CPUModel        string   `json:"cpu_model"`
	Cores           int      `json:"cores"`
	Kernel          string   `json:"kernel"`
	GoVersion       string   `json:"go_version"`        // toolchain that built helloworld and fakeagent
	RunnerGoVersion string   `json:"runner_go_version"` // runtime of the load generator
	LoadBefore      string   `json:"load_average_before"`
	LoadAfter       string   `json:"load_average_after"`
	Client          string   `json:"client"`
	Request         string   `json:"request"`
	Duration        string   `json:"duration"`
	Warmup          string   `json:"warmup"`
	Rounds          int      `json:"rounds"`
	Conns           []int    `json:"conns"`
	Variants        []string `json:"variants"`
	AgentTimeout    string   `json:"agent_timeout,omitempty"`
	QuietGate       string   `json:"quiet_gate,omitempty"`
	MaxConns        int      `json:"max_conns,omitempty"`
	Elapsed         string   `json:"elapsed"`
	Binaries        []string `json:"binaries,omitempty"` // prebuilt binaries used instead of the project's
}

// Measurement is one measurement: one variant at one connection count in one
// round. Latencies are in microseconds, CPU times in microseconds per
// request.
type Measurement struct {
	Round           int     `json:"round"`
	Order           int     `json:"order"` // position in the whole sequence of measurements
	Variant         string  `json:"variant"`
	Conns           int     `json:"conns"`
	Requests        uint64  `json:"requests"`
	OK              uint64  `json:"ok"`
	Non200          uint64  `json:"non_200"`
	TransportErrors uint64  `json:"transport_errors"`
	FirstError      string  `json:"first_error,omitempty"`
	ElapsedSeconds  float64 `json:"elapsed_seconds"`
	RPS             float64 `json:"requests_per_second"`
	MeanUs          float64 `json:"mean_us"`
	P50Us           float64 `json:"p50_us"`
	P90Us           float64 `json:"p90_us"`
	P99Us           float64 `json:"p99_us"`
	MaxUs           float64 `json:"max_us"`
	AppCPUUs        float64 `json:"app_cpu_us_per_request"`
	AgentCPUUs      float64 `json:"agent_cpu_us_per_request"`   // 0 for bare
	LoadgenCPUUs    float64 `json:"loadgen_cpu_us_per_request"` // the load generator's own
	// OtherCPUPercent is the CPU (user, system, steal) the rest of the
	// machine used during the measurement, in percent of one core: noise
	// from neighbours. IRQCPUPercent is the interrupt and softirq time,
	// which the kernel charges to no process (much of loopback networking).
	OtherCPUPercent float64 `json:"other_cpu_percent_of_a_core"`
	IRQCPUPercent   float64 `json:"irq_cpu_percent_of_a_core"`
	// Retries is how many noisier measurements the quiet gate discarded
	// before this one; Noisy says this one is above the gate's threshold
	// all the same.
	Retries int  `json:"retries"`
	Noisy   bool `json:"noisy"`
	// TIME_WAIT sockets: new ones (not there before, any port and on the
	// agent's TCP port), and how many were on the agent's port before and
	// after. With tcp_tw_reuse, a port reused within the run is not "new":
	// AgentConns counts the connections themselves.
	TimeWaitNew         int     `json:"time_wait_new"`
	TimeWaitAgent       int     `json:"time_wait_new_agent_port"`
	TimeWaitAgentBefore int     `json:"time_wait_agent_port_before"`
	TimeWaitAgentAfter  int     `json:"time_wait_agent_port_after"`
	AgentCalls          *uint64 `json:"agent_prerequest_calls,omitempty"`
	AgentConns          *uint64 `json:"agent_connections_opened,omitempty"` // fakeagent_connections_total delta
	// Dashboard is what the dashboard client received during the
	// measurement, for a variant with one.
	Dashboard *DashboardCounts `json:"dashboard,omitempty"`
}

// TimeWaitGrowth is how many more sockets were in TIME_WAIT on the agent's
// port after the run than before.
func (r Measurement) TimeWaitGrowth() int { return r.TimeWaitAgentAfter - r.TimeWaitAgentBefore }

// Errors is the number of requests without a 200.
func (r Measurement) Errors() uint64 { return r.Non200 + r.TransportErrors }

// Stat is a value's spread across rounds.
type Stat struct {
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
}

func statOf(vs []float64) Stat {
	if len(vs) == 0 {
		return Stat{Min: math.NaN(), Median: math.NaN(), Max: math.NaN()}
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stat{Min: s[0], Median: med, Max: s[len(s)-1]}
}

// Summary is one variant at one connection count, across rounds.
type Summary struct {
	Variant       string  `json:"variant"`
	Conns         int     `json:"conns"`
	Rounds        int     `json:"rounds"`
	RPS           Stat    `json:"requests_per_second"`
	Ratio         *Stat   `json:"throughput_ratio_to_bare,omitempty"` // per round, variant / bare
	P50Us         Stat    `json:"p50_us"`
	AddedP50Us    *Stat   `json:"added_p50_us,omitempty"` // per round, variant - bare
	P90Us         Stat    `json:"p90_us"`
	P99Us         Stat    `json:"p99_us"`
	MaxUs         float64 `json:"max_us"` // the largest of all rounds
	AppCPUUs      Stat    `json:"app_cpu_us_per_request"`
	AgentCPUUs    Stat    `json:"agent_cpu_us_per_request"`
	LoadgenCPUUs  Stat    `json:"loadgen_cpu_us_per_request"`
	OtherCPU      Stat    `json:"other_cpu_percent_of_a_core"`
	Requests      uint64  `json:"requests"`
	Errors        uint64  `json:"errors"`
	TimeWaitNew   int     `json:"time_wait_new"`
	TimeWaitAgent int     `json:"time_wait_new_agent_port"`
	// TimeWaitGrowthMax is the largest growth of TIME_WAIT sockets on the
	// agent's port over one round; TimeWaitAfterMax the most seen after one.
	TimeWaitGrowthMax int     `json:"time_wait_agent_port_growth_max"`
	TimeWaitAfterMax  int     `json:"time_wait_agent_port_after_max"`
	AgentCalls        *uint64 `json:"agent_prerequest_calls,omitempty"`
	AgentConns        *uint64 `json:"agent_connections_opened,omitempty"`
}

// Summarize groups runs by variant and connection count, in the order of
// variants and conns, and relates each round to the bare run of the same
// round and connection count.
func Summarize(runs []Measurement, variants []string, conns []int) []Summary {
	type key struct {
		variant      string
		conns, round int
	}
	byKey := map[key]Measurement{}
	for _, r := range runs {
		byKey[key{r.Variant, r.Conns, r.Round}] = r
	}
	var out []Summary
	for _, c := range conns {
		for _, v := range variants {
			s := Summary{Variant: v, Conns: c}
			var rps, ratio, p50, added, p90, p99, app, agent, lg, other []float64
			var calls, conns uint64
			hasCalls := false
			for _, r := range runs {
				if r.Variant != v || r.Conns != c {
					continue
				}
				s.Rounds++
				rps = append(rps, r.RPS)
				p50 = append(p50, r.P50Us)
				p90 = append(p90, r.P90Us)
				p99 = append(p99, r.P99Us)
				s.MaxUs = max(s.MaxUs, r.MaxUs)
				app = append(app, r.AppCPUUs)
				agent = append(agent, r.AgentCPUUs)
				lg = append(lg, r.LoadgenCPUUs)
				other = append(other, r.OtherCPUPercent)
				s.Requests += r.Requests
				s.Errors += r.Errors()
				s.TimeWaitNew += r.TimeWaitNew
				s.TimeWaitAgent += r.TimeWaitAgent
				s.TimeWaitGrowthMax = max(s.TimeWaitGrowthMax, r.TimeWaitGrowth())
				s.TimeWaitAfterMax = max(s.TimeWaitAfterMax, r.TimeWaitAgentAfter)
				if r.AgentCalls != nil {
					hasCalls = true
					calls += *r.AgentCalls
				}
				if r.AgentConns != nil {
					conns += *r.AgentConns
				}
				if bare, ok := byKey[key{VariantBare.Name, c, r.Round}]; ok && v != VariantBare.Name && bare.RPS > 0 {
					ratio = append(ratio, r.RPS/bare.RPS)
					added = append(added, r.P50Us-bare.P50Us)
				}
			}
			if s.Rounds == 0 {
				continue
			}
			s.RPS, s.P50Us, s.P90Us, s.P99Us = statOf(rps), statOf(p50), statOf(p90), statOf(p99)
			s.AppCPUUs, s.AgentCPUUs, s.LoadgenCPUUs, s.OtherCPU = statOf(app), statOf(agent), statOf(lg), statOf(other)
			if len(ratio) > 0 {
				r, a := statOf(ratio), statOf(added)
				s.Ratio, s.AddedP50Us = &r, &a
			}
			if hasCalls {
				s.AgentCalls, s.AgentConns = &calls, &conns
			}
			out = append(out, s)
		}
	}
	return out
}

// RPCResult is a PreRequest round trip measurement: sequential calls from
// the load comparison's process to the agent's, through the module's
// RPCInspector. Times are in microseconds.
type RPCResult struct {
	Label         string  `json:"label"`
	Transport     string  `json:"transport"`
	ConnPerCall   bool    `json:"conn_per_call"`
	Agent         string  `json:"agent,omitempty"` // AgentNative (""), AgentZero or AgentCRS
	Calls         uint64  `json:"calls"`
	Errors        uint64  `json:"errors"`
	FirstError    string  `json:"first_error,omitempty"`
	MeanUs        float64 `json:"mean_us"`
	P50Us         float64 `json:"p50_us"`
	P90Us         float64 `json:"p90_us"`
	P99Us         float64 `json:"p99_us"`
	MaxUs         float64 `json:"max_us"`
	TimeWaitAgent int     `json:"time_wait_new_agent_port"`
	// TimeWaitAgentGrowth is after minus before on the agent's TCP port.
	TimeWaitAgentGrowth int    `json:"time_wait_agent_port_growth"`
	AgentConns          uint64 `json:"agent_connections_opened"`
}

// rpcLabel names a PreRequest measurement, e.g. "uds pooled".
func rpcLabel(transport string, perCall bool) string {
	t := "uds"
	if transport == "tcp" {
		t = "tcp"
	}
	if perCall {
		return t + " conn-per-call"
	}
	return t + " pooled"
}

func micros(ns int64) float64 { return float64(ns) / 1e3 }

// percentiles fills p50, p90, p99, max and mean (µs) from h (ns).
func percentiles(h *hdrhistogram.Histogram) (mean, p50, p90, p99, maxUs float64) {
	if h.TotalCount() == 0 {
		return 0, 0, 0, 0, 0
	}
	return h.Mean() / 1e3, micros(h.ValueAtQuantile(50)), micros(h.ValueAtQuantile(90)),
		micros(h.ValueAtQuantile(99)), micros(h.Max())
}

func perRequestMicros(d time.Duration, n uint64) float64 {
	if n == 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(n)
}

// TargetCheck is one of issue 13's targets, checked.
type TargetCheck struct {
	Name     string `json:"name"`
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	Met      *bool  `json:"met"` // nil: not measured in this run
}

// Targets checks issue 13's targets against a run's results, for our
// module pooled with the fake agent (native engine) in blocking mode:
// throughput over UDS at 32 connections >= 0.55x bare, TCP within 10 % of
// UDS there, added p50 at 1 connection <= 100 µs, the agent's CPU per call
// within one core's 50,000 PreRequests/s (20 µs), the module's CPU per
// request over bare <= 20 µs at 32 connections, every request inspected
// with no error, and no TIME_WAIT growth over TCP. floor is the raw
// ping-pong, the goal for added latency (1.5x its p50).
func Targets(sum []Summary, rpc []RPCResult, floor []RPCResult) []TargetCheck {
	find := func(variant string, conns int) *Summary {
		for i := range sum {
			if sum[i].Variant == variant && sum[i].Conns == conns {
				return &sum[i]
			}
		}
		return nil
	}
	yes := func(b bool) *bool { return &b }
	var out []TargetCheck

	t := TargetCheck{Name: "throughput, UDS pooled, 32 connections", Goal: ">= 0.55x bare (goal 0.65x)", Measured: "not measured"}
	if s := find(VariantUDS.Name, 32); s != nil && s.Ratio != nil {
		t.Measured = fmt.Sprintf("%.2fx bare (rounds %.2f-%.2f; %.0f vs %.0f req/s)", s.Ratio.Median, s.Ratio.Min, s.Ratio.Max,
			s.RPS.Median, bareRPS(find, 32))
		t.Met = yes(s.Ratio.Median >= 0.55)
	}
	out = append(out, t)

	t = TargetCheck{Name: "throughput, TCP vs UDS pooled, 32 connections", Goal: "TCP within 10 % of UDS", Measured: "not measured"}
	if u, c := find(VariantUDS.Name, 32), find(VariantTCP.Name, 32); u != nil && c != nil && u.RPS.Median > 0 {
		r := c.RPS.Median / u.RPS.Median
		t.Measured = fmt.Sprintf("TCP %.0f req/s = %.2fx UDS's %.0f", c.RPS.Median, r, u.RPS.Median)
		t.Met = yes(r >= 0.9)
	}
	out = append(out, t)

	t = TargetCheck{Name: "added p50 latency, UDS pooled, 1 connection", Goal: "<= 100 µs (goal: <= 1.5x the raw ping-pong p50)", Measured: "not measured"}
	if s := find(VariantUDS.Name, 1); s != nil && s.AddedP50Us != nil {
		bareP50 := math.NaN()
		if b := find(VariantBare.Name, 1); b != nil {
			bareP50 = b.P50Us.Median
		}
		t.Measured = fmt.Sprintf("%+.0f µs (rounds %+.0f to %+.0f; p50 %.0f µs vs %.0f µs bare)", s.AddedP50Us.Median,
			s.AddedP50Us.Min, s.AddedP50Us.Max, s.P50Us.Median, bareP50)
		for _, f := range floor {
			if f.Transport == "unix" && f.Calls > 0 {
				t.Measured += fmt.Sprintf("; raw ping-pong p50 %.0f µs, so %.1fx it", f.P50Us, s.AddedP50Us.Median/f.P50Us)
			}
		}
		t.Met = yes(s.AddedP50Us.Median <= 100)
	}
	out = append(out, t)

	t = TargetCheck{Name: "fake agent, native engine: PreRequests per second of one core", Goal: ">= 50,000 (<= 20 µs of agent CPU per call)", Measured: "not measured"}
	if s := find(VariantUDS.Name, 32); s != nil && s.AgentCPUUs.Median > 0 {
		t.Measured = fmt.Sprintf("%.1f µs of agent CPU per call at 32 connections: %.0f calls/s per core", s.AgentCPUUs.Median, 1e6/s.AgentCPUUs.Median)
		t.Met = yes(s.AgentCPUUs.Median <= 20)
	}
	out = append(out, t)

	t = TargetCheck{Name: "module overhead in the app, UDS pooled, 32 connections", Goal: "app CPU per request (module - bare) <= 20 µs", Measured: "not measured"}
	if s, b := find(VariantUDS.Name, 32), find(VariantBare.Name, 32); s != nil && b != nil {
		d := s.AppCPUUs.Median - b.AppCPUUs.Median
		t.Measured = fmt.Sprintf("%+.1f µs (%.1f µs vs %.1f µs bare)", d, s.AppCPUUs.Median, b.AppCPUUs.Median)
		if z := find(VariantZero.Name, 32); z != nil {
			t.Measured += fmt.Sprintf("; against the zero-cost agent %+.1f µs", z.AppCPUUs.Median-b.AppCPUUs.Median)
		}
		t.Met = yes(d <= 20)
	}
	out = append(out, t)

	t = TargetCheck{Name: "every request inspected, no errors", Goal: "agent PreRequests = requests, 0 errors (module variants)", Measured: "not measured"}
	var bad []string
	measured := false
	for _, s := range sum {
		if s.Variant == VariantBare.Name || s.AgentCalls == nil {
			continue
		}
		measured = true
		if *s.AgentCalls != s.Requests || s.Errors != 0 {
			bad = append(bad, fmt.Sprintf("%s/%d: %d calls for %d requests, %d errors", s.Variant, s.Conns, *s.AgentCalls, s.Requests, s.Errors))
		}
	}
	if measured {
		t.Measured = "all variants"
		if len(bad) > 0 {
			t.Measured = joinComma(bad)
		}
		t.Met = yes(len(bad) == 0)
	}
	out = append(out, t)

	t = TargetCheck{Name: "TIME_WAIT growth, TCP pooled", Goal: "no growth on the agent port", Measured: "not measured"}
	growth := 0
	measured = false
	var where []string
	for _, s := range sum {
		if s.Variant == VariantTCP.Name && s.AgentConns != nil {
			measured = true
			growth = max(growth, s.TimeWaitGrowthMax, s.TimeWaitAgent)
			where = append(where, fmt.Sprintf("%d conns: growth %d, %d new, %d agent connections opened over %d requests",
				s.Conns, s.TimeWaitGrowthMax, s.TimeWaitAgent, *s.AgentConns, s.Requests))
		}
	}
	for _, r := range rpc {
		if r.Transport == "tcp" && !r.ConnPerCall && r.Agent == AgentNative && r.Calls > 0 {
			measured = true
			growth = max(growth, r.TimeWaitAgentGrowth, r.TimeWaitAgent)
			where = append(where, fmt.Sprintf("PreRequest round trips: growth %d, %d agent connections opened over %d calls",
				r.TimeWaitAgentGrowth, r.AgentConns, r.Calls))
		}
	}
	if measured {
		t.Measured = joinComma(where)
		t.Met = yes(growth == 0)
	}
	out = append(out, t)
	return out
}

func bareRPS(find func(string, int) *Summary, conns int) float64 {
	if s := find(VariantBare.Name, conns); s != nil {
		return s.RPS.Median
	}
	return math.NaN()
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}
