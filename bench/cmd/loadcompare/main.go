// Command loadcompare runs the load comparison of helloworld bare and with
// the module (Unix socket and TCP, pooled and a connection per call)
// against the fake agent, as separate processes on this machine, and
// writes report.md, results.json and chart.png/chart.svg.
//
//	go run ./cmd/loadcompare [flags]
//
// Run it from the bench module (it builds ../cmd/helloworld and
// ../cmd/fakeagent). Every load run is bounded in time and in requests and
// only targets 127.0.0.1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/bench/loadcompare"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 1 && args[1] == loadcompare.EchoFlag {
		// This program re-executed as the far end of the ping-pong floor.
		if err := loadcompare.RunEchoMain(args[2:], stdout); err != nil {
			fmt.Fprintln(stderr, "loadcompare:", err)
			return 1
		}
		return 0
	}
	if len(args) > 1 && args[1] == loadcompare.ZeroAgentFlag {
		// This program re-executed as the zero-cost agent.
		if err := loadcompare.RunZeroAgentMain(args[2:], stdout); err != nil {
			fmt.Fprintln(stderr, "loadcompare:", err)
			return 1
		}
		return 0
	}
	fs := flag.NewFlagSet("loadcompare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		out      = fs.String("out", "", "output `directory` (default results/<YYYY-MM-DD> in the current directory)")
		variants = fs.String("variants", "bare,uds,tcp,uds-cpc,tcp-cpc,uds-zero,uds-crs,uds-dash", "comma-separated `variants` to compare")
		conns    = fs.String("conns", "1,32", "comma-separated connection `counts`")
		rounds   = fs.Int("rounds", 3, "`rounds` of interleaved measurements")
		duration = fs.Duration("duration", 5*time.Second, "measured `time` per variant, connection count and round")
		warmup   = fs.Duration("warmup", 500*time.Millisecond, "unmeasured load before each measurement")
		maxReq   = fs.Uint64("max-requests", 5_000_000, "bound on the requests of one measurement")
		client   = fs.String("client", loadcompare.ClientRaw, "load generator client: raw (minimal HTTP/1.1 on persistent connections) or nethttp (net/http with keep-alive)")
		request  = fs.String("request", loadcompare.RequestGet, "request to send: get (GET /) or post (POST / with a 1 KB JSON body)")
		timeout  = fs.Duration("agent-timeout", 0, "helloworld -timeout (0: its default)")
		maxConns = fs.Int("max-conns", 0, "helloworld -max-conns (0: its default)")
		rpcTime  = fs.Duration("rpc-duration", 2*time.Second, "time of each process-to-process PreRequest round trip measurement (0: skip)")
		quiet    = fs.Float64("quiet", 15, "quiet gate: repeat a measurement during which other processes used more than this `percent` of a core, after waiting for quiet (0: off)")
		retries  = fs.Int("quiet-retries", 5, "quiet gate: `times` a noisy measurement is repeated at most")
		budget   = fs.Duration("quiet-budget", 15*time.Minute, "quiet gate: total `time` spent waiting for quiet at most")
		hwBin    = fs.String("helloworld-bin", "", "use this helloworld `binary` instead of building ../cmd/helloworld (to compare a prototype)")
		faBin    = fs.String("fakeagent-bin", "", "use this fakeagent `binary` instead of building ../cmd/fakeagent (to compare a prototype)")
	)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loadcompare: unexpected arguments %q\n", fs.Args())
		return 2
	}
	vs, err := loadcompare.ParseVariants(*variants)
	if err != nil {
		fmt.Fprintln(stderr, "loadcompare: -variants:", err)
		return 2
	}
	cs, err := parseInts(*conns)
	if err != nil {
		fmt.Fprintln(stderr, "loadcompare: -conns:", err)
		return 2
	}
	if *out == "" {
		*out = filepath.Join("results", time.Now().Format("2006-01-02"))
	}
	cfg := loadcompare.Config{
		OutDir:         *out,
		Variants:       vs,
		Conns:          cs,
		Rounds:         *rounds,
		Duration:       *duration,
		Warmup:         *warmup,
		MaxRequests:    *maxReq,
		Client:         *client,
		Request:        *request,
		AgentTimeout:   *timeout,
		MaxConns:       *maxConns,
		RPCDuration:    *rpcTime,
		QuietThreshold: *quiet,
		QuietRetries:   *retries,
		QuietBudget:    *budget,
		HelloworldBin:  *hwBin,
		FakeAgentBin:   *faBin,
		CommandLine:    commandLine(args[1:]),
	}
	if cfg.ZeroAgentArgv, err = loadcompare.ZeroAgentArgv(); err != nil {
		fmt.Fprintln(stderr, "loadcompare:", err)
		return 1
	}
	if cfg.EchoArgv, err = loadcompare.EchoArgv(); err != nil {
		fmt.Fprintln(stderr, "loadcompare:", err)
		return 1
	}
	res, err := loadcompare.Run(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "loadcompare:", err)
		return 1
	}
	if err := loadcompare.WriteFiles(cfg.OutDir, res); err != nil {
		fmt.Fprintln(stderr, "loadcompare: writing results:", err)
		return 1
	}
	if err := loadcompare.WriteReport(stdout, res); err != nil {
		fmt.Fprintln(stderr, "loadcompare:", err)
		return 1
	}
	fmt.Fprintf(stderr, "wrote %s\n", filepath.Join(cfg.OutDir, "{report.md,results.json,chart.png,chart.svg}"))
	return 0
}

func parseInts(s string) ([]int, error) {
	var ns []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q: want positive integers", f)
		}
		ns = append(ns, n)
	}
	if len(ns) == 0 {
		return nil, fmt.Errorf("%q: no connection counts", s)
	}
	return ns, nil
}

// commandLine reconstructs the invocation for the report: the binary of
// `go run` lives in a temporary directory, so it is named as the command
// that builds it.
func commandLine(args []string) string {
	parts := []string{"go run ./cmd/loadcompare"}
	for _, a := range args {
		if strings.ContainsAny(a, " \t'\"$") {
			a = strconv.Quote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
