package loadcompare

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Upstream's figures as quoted in issue 5 (measured with upstream's module,
// a connection per call, against a minimal agent, wrk on loopback, on a
// 2-core machine). They are quoted, not re-measured.
var upstream = struct {
	RatioUDS32, RatioTCP32       float64
	AddedP50UDS, AddedP50TCP     float64 // µs at 1 connection
	PreRequestUDS, PreRequestTCP float64 // µs per call
	TimeWaitTCP                  int
	RawPingPongUs                float64
}{0.17, 0.14, 310, 370, 207, 281, 14000, 40}

// WriteFiles writes report.md, results.json, chart.png and chart.svg into
// dir.
func WriteFiles(dir string, res *Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding results: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "report.md"))
	if err != nil {
		return err
	}
	if err := WriteReport(f, res); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return WriteCharts(dir, res)
}

// fmtUs formats microseconds: no decimals from 100 µs, one below, and
// milliseconds from 10 ms.
func fmtUs(us float64) string {
	switch {
	case math.IsNaN(us):
		return "n/a"
	case math.Abs(us) >= 10_000:
		return fmt.Sprintf("%.1f ms", us/1000)
	case math.Abs(us) >= 100:
		return fmt.Sprintf("%.0f µs", us)
	default:
		return fmt.Sprintf("%.1f µs", us)
	}
}

func fmtSignedUs(us float64) string {
	if us >= 0 {
		return "+" + fmtUs(us)
	}
	return "−" + fmtUs(-us)
}

func fmtRange(s Stat, f func(float64) string) string {
	if f(s.Min) == f(s.Max) {
		return f(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", f(s.Median), f(s.Min), f(s.Max))
}

func fmtRPS(v float64) string   { return fmt.Sprintf("%.0f", v) }
func fmtRatio(v float64) string { return fmt.Sprintf("%.2fx", v) }

// WriteReport renders res as Markdown.
func WriteReport(w io.Writer, res *Results) error {
	var b strings.Builder
	m := res.Meta
	fmt.Fprintf(&b, "# Load comparison: what inspection costs\n\n")
	fmt.Fprintf(&b, "- **Date:** %s (took %s)\n", m.Date, m.Elapsed)
	fmt.Fprintf(&b, "- **Command:** `%s`\n", m.CommandLine)
	fmt.Fprintf(&b, "- **Machine:** %s, %d cores, Linux %s; load average before %s, after %s\n", m.CPUModel, m.Cores, m.Kernel, m.LoadBefore, m.LoadAfter)
	fmt.Fprintf(&b, "- **Go:** helloworld and fakeagent built by `%s` (CGO off); load generator %s\n", m.GoVersion, m.RunnerGoVersion)
	if len(m.Binaries) > 0 {
		fmt.Fprintf(&b, "- **Prebuilt binaries (not the project's commands):** %s\n", strings.Join(m.Binaries, "; "))
	}
	req := "`GET /` with 3 headers"
	if m.Request == RequestPost {
		req = "`POST /` with a 1 KB JSON body"
	}
	fmt.Fprintf(&b, "- **Load:** closed loop on 127.0.0.1, %s client (one persistent HTTP/1.1 connection per worker), %s; %s measured per variant, connection count and round, after %s of warm-up; %d rounds, variants interleaved and their order rotated each round; connections %s\n",
		m.Client, req, m.Duration, m.Warmup, m.Rounds, joinInts(m.Conns))
	opts := "defaults"
	if m.AgentTimeout != "" || m.MaxConns > 0 {
		var o []string
		if m.AgentTimeout != "" {
			o = append(o, "-timeout "+m.AgentTimeout)
		}
		if m.MaxConns > 0 {
			o = append(o, fmt.Sprintf("-max-conns %d", m.MaxConns))
		}
		opts = strings.Join(o, " ")
	}
	fmt.Fprintf(&b, "- **Processes:** one helloworld per variant (module options: %s), one fake agent per module variant (so that each variant's sockets are its own) in blocking mode with full inspection; the load generator, helloworld and the agent share the machine's cores\n", opts)

	if m.QuietGate != "" {
		fmt.Fprintf(&b, "- **Quiet gate:** %s\n", m.QuietGate)
	}
	b.WriteString("\n")
	b.WriteString("Variants: ")
	var vd []string
	for _, name := range m.Variants {
		for _, v := range AllVariants {
			if v.Name == name {
				vd = append(vd, fmt.Sprintf("`%s` %s", v.Name, v.Description))
			}
		}
	}
	b.WriteString(strings.Join(vd, "; ") + ".\n\n")

	b.WriteString("## Targets (issue 13)\n\n")
	b.WriteString("| target | goal | measured | met |\n|---|---|---|---|\n")
	for _, t := range res.Targets {
		met := "not measured"
		if t.Met != nil {
			met = map[bool]string{true: "**met**", false: "**not met**"}[*t.Met]
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", t.Name, t.Goal, t.Measured, met)
	}
	b.WriteString("\n")

	for _, c := range m.Conns {
		fmt.Fprintf(&b, "## %d connection%s\n\n", c, plural(c))
		b.WriteString("Medians across rounds, (min–max) where rounds differ. \"× bare\" and \"added p50\" compare each round with the bare run of the same round.\n\n")
		b.WriteString("| variant | req/s | × bare | added p50 | p50 | p90 | p99 | max | errors | app CPU/req | agent CPU/req | load gen CPU/req | agent calls / requests | agent conns opened | TIME_WAIT on agent port |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, s := range res.Summary {
			if s.Conns != c {
				continue
			}
			ratio, added := "—", "—"
			if s.Ratio != nil {
				ratio = fmtRange(*s.Ratio, fmtRatio)
				added = fmtRange(*s.AddedP50Us, fmtSignedUs)
			}
			calls, conns, tw := "—", "—", "—"
			if s.AgentCalls != nil {
				calls = fmt.Sprintf("%d / %d", *s.AgentCalls, s.Requests)
				if *s.AgentCalls != s.Requests {
					calls += " (**mismatch**)"
				}
				conns = fmt.Sprint(*s.AgentConns)
			}
			if strings.HasPrefix(s.Variant, "tcp") {
				tw = fmt.Sprintf("%d (growth %+d)", s.TimeWaitAfterMax, s.TimeWaitGrowthMax)
			}
			agentCPU := "—"
			if s.Variant != VariantBare.Name {
				agentCPU = fmtUs(s.AgentCPUUs.Median)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %d | %s | %s | %s | %s | %s | %s |\n",
				s.Variant, fmtRange(s.RPS, fmtRPS), ratio, added, fmtUs(s.P50Us.Median), fmtUs(s.P90Us.Median),
				fmtUs(s.P99Us.Median), fmtUs(s.MaxUs), s.Errors, fmtUs(s.AppCPUUs.Median), agentCPU,
				fmtUs(s.LoadgenCPUUs.Median), calls, conns, tw)
		}
		b.WriteString("\n")
	}

	if len(res.RPC) > 0 {
		b.WriteString("## PreRequest round trip, process to process\n\n")
		b.WriteString("Sequential `RPCInspector.PreRequest` calls from the load comparison's process to the agent process (the load generator idle), the agent inspecting a `GET /` with 4 headers. The raw ping-pong rows are the floor: ")
		fmt.Fprintf(&b, "%d bytes out and %d back on one persistent connection between this process and a minimal Go echo server process, nothing parsed.\n\n", PingSize, PongSize)
		b.WriteString("| round trip | calls | errors | mean | p50 | p90 | p99 | max | agent conns opened | TIME_WAIT growth on agent port |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, r := range append(slices.Clone(res.Floor), res.RPC...) {
			conns, tw := "—", "—"
			if !strings.Contains(r.Label, "ping-pong") {
				conns = fmt.Sprint(r.AgentConns)
			}
			if r.Transport == "tcp" && conns != "—" {
				tw = fmt.Sprintf("%+d", r.TimeWaitAgentGrowth)
			}
			fmt.Fprintf(&b, "| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s |\n", r.Label, r.Calls, r.Errors,
				fmtUs(r.MeanUs), fmtUs(r.P50Us), fmtUs(r.P90Us), fmtUs(r.P99Us), fmtUs(r.MaxUs), conns, tw)
		}
		b.WriteString("\n")
	}

	writeUpstream(&b, res)
	writeNoise(&b, res)

	b.WriteString("## How to read this\n\n")
	b.WriteString("- **req/s** counts complete responses and failures over the time from the first request to the last response; **errors** are non-200 responses plus transport errors.\n")
	b.WriteString("- **Latency** is measured by the load generator from writing the request to reading the last byte of the response (HdrHistogram, 3 significant digits).\n")
	b.WriteString("- **CPU/req** is the process's user+system time (`/proc/<pid>/stat`, all threads) during the measurement divided by the requests; its resolution is one clock tick (10 ms) per measurement.\n")
	b.WriteString("- **agent conns opened** is the fake agent's `fakeagent_connections_total` delta: the module connections it accepted during the measurement (pooled: none once warm; a connection per call: one per request).\n")
	b.WriteString("- **TIME_WAIT on agent port** counts sockets in TIME_WAIT (`/proc/net/tcp{,6}`, state 06) with an end on the TCP agent's port: the most seen after a round, and in brackets the largest growth over one round. TIME_WAIT lasts 60 s and loopback reuses such ports (`tcp_tw_reuse`), so a connection-per-call run leaves about as many as the ports it cycled through in the last minute, not one per call. results.json also has the sockets new to TIME_WAIT on any port; the load generator adds at most one per worker when it closes its connections.\n")
	b.WriteString("- **agent calls / requests** is the fake agent's `fakeagent_rpc_calls_total{method=\"PreRequest\"}` delta against the requests sent: equal means every request was inspected (none failed open uninspected).\n")
	b.WriteString("- The load generator runs on the same 2 cores as helloworld and the agent, so every variant's throughput is shared with it; its own CPU per request is shown so that the share can be judged.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func writeUpstream(b *strings.Builder, res *Results) {
	find := func(v string, c int) *Summary {
		for i := range res.Summary {
			if res.Summary[i].Variant == v && res.Summary[i].Conns == c {
				return &res.Summary[i]
			}
		}
		return nil
	}
	ratio := func(v string) string {
		if s := find(v, 32); s != nil && s.Ratio != nil {
			return fmtRatio(s.Ratio.Median)
		}
		return "n/a"
	}
	added := func(v string) string {
		if s := find(v, 1); s != nil && s.AddedP50Us != nil {
			return fmtSignedUs(s.AddedP50Us.Median)
		}
		return "n/a"
	}
	rpc := func(transport string, perCall bool) string {
		for _, r := range res.RPC {
			if r.Transport == transport && r.ConnPerCall == perCall {
				return fmt.Sprintf("%s mean, %s p50", fmtUs(r.MeanUs), fmtUs(r.P50Us))
			}
		}
		return "n/a"
	}
	tw := func(v string) string {
		n, ok := 0, false
		for _, s := range res.Summary {
			if s.Variant == v {
				n = max(n, s.TimeWaitAfterMax)
				ok = true
			}
		}
		if !ok {
			return "n/a"
		}
		return fmt.Sprintf("%d (most seen after a round)", n)
	}
	b.WriteString("## Against upstream's figures\n\n")
	fmt.Fprintf(b, "Upstream's figures are quoted from issue 5, not re-measured: upstream's module (a connection per call) against a minimal agent, wrk on loopback, same kind of 2-core machine. A raw persistent ping-pong between two processes costs about %.0f µs there. Ours are this run's, against the fake agent with full inspection, with this run's load generator: the conditions differ, so compare orders of magnitude, and compare our `-cpc` variants with our pooled ones for a like-for-like view of pooling.\n\n", upstream.RawPingPongUs)
	b.WriteString("| measure | upstream (quoted) | ours, pooled | ours, a connection per call |\n|---|---:|---:|---:|\n")
	fmt.Fprintf(b, "| throughput at 32 connections, UDS, × bare | %.2fx | %s | %s |\n", upstream.RatioUDS32, ratio(VariantUDS.Name), ratio(VariantUDSCPC.Name))
	fmt.Fprintf(b, "| throughput at 32 connections, TCP, × bare | %.2fx | %s | %s |\n", upstream.RatioTCP32, ratio(VariantTCP.Name), ratio(VariantTCPCPC.Name))
	fmt.Fprintf(b, "| added p50 at 1 connection, UDS | ~%.0f µs | %s | %s |\n", upstream.AddedP50UDS, added(VariantUDS.Name), added(VariantUDSCPC.Name))
	fmt.Fprintf(b, "| added p50 at 1 connection, TCP | ~%.0f µs | %s | %s |\n", upstream.AddedP50TCP, added(VariantTCP.Name), added(VariantTCPCPC.Name))
	fmt.Fprintf(b, "| one PreRequest call, UDS | ~%.0f µs | %s | %s |\n", upstream.PreRequestUDS, rpc("unix", false), rpc("unix", true))
	fmt.Fprintf(b, "| one PreRequest call, TCP | ~%.0f µs | %s | %s |\n", upstream.PreRequestTCP, rpc("tcp", false), rpc("tcp", true))
	fmt.Fprintf(b, "| sockets left in TIME_WAIT, TCP | ~%d | %s | %s |\n\n", upstream.TimeWaitTCP, tw(VariantTCP.Name), tw(VariantTCPCPC.Name))
}

func writeNoise(b *strings.Builder, res *Results) {
	if res.Meta.Rounds < 2 {
		return
	}
	b.WriteString("## Noise across rounds\n\n")
	b.WriteString("Throughput (req/s) and p50 of every round; spread is (max − min) / median of the throughput; other CPU is the user, system and steal time the rest of the machine (processes outside this comparison, including other users' that this process cannot see, and other virtual machines) used during the measurements, in percent of one core, median (max): near 0 on a quiet machine. `r2` marks a measurement the quiet gate took on its third try; **noisy** one that stayed above the gate's threshold.\n\n")
	b.WriteString("| variant | conns |")
	for r := 1; r <= res.Meta.Rounds; r++ {
		fmt.Fprintf(b, " round %d |", r)
	}
	b.WriteString(" spread | other CPU |\n|---|---:|")
	for r := 1; r <= res.Meta.Rounds; r++ {
		b.WriteString("---:|")
	}
	b.WriteString("---:|---:|\n")
	for _, s := range res.Summary {
		fmt.Fprintf(b, "| %s | %d |", s.Variant, s.Conns)
		for r := 1; r <= res.Meta.Rounds; r++ {
			cell := "—"
			for _, run := range res.Runs {
				if run.Variant == s.Variant && run.Conns == s.Conns && run.Round == r {
					cell = fmt.Sprintf("%.0f (%s)", run.RPS, fmtUs(run.P50Us))
					if run.Retries > 0 {
						cell += fmt.Sprintf(" r%d", run.Retries)
					}
					if run.Noisy {
						cell += " **noisy**"
					}
				}
			}
			fmt.Fprintf(b, " %s |", cell)
		}
		spread := math.NaN()
		if s.RPS.Median > 0 {
			spread = (s.RPS.Max - s.RPS.Min) / s.RPS.Median
		}
		fmt.Fprintf(b, " %.1f%% | %.0f%% (%.0f%%) |\n", 100*spread, s.OtherCPU.Median, s.OtherCPU.Max)
	}
	b.WriteString("\n")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}
