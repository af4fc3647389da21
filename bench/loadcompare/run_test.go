package loadcompare

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == EchoFlag {
		// The test binary re-executed as the ping-pong echo server.
		if err := RunEchoMain(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if len(os.Args) > 1 && os.Args[1] == ZeroAgentFlag {
		// The test binary re-executed as the zero-cost agent.
		if err := RunZeroAgentMain(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRunSmoke runs a tiny load comparison end to end: it builds the
// commands, starts real processes and checks that every request was
// answered and inspected. It takes a few seconds (more on the first build).
func TestRunSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs processes")
	}
	echo, err := EchoArgv()
	if err != nil {
		t.Fatal(err)
	}
	zero, err := ZeroAgentArgv()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var log bytes.Buffer
	res, err := Run(ctx, Config{
		OutDir:        t.TempDir(),
		Variants:      []Variant{VariantBare, VariantUDS, VariantTCP, VariantZero},
		Conns:         []int{2},
		Rounds:        1,
		Duration:      300 * time.Millisecond,
		Warmup:        50 * time.Millisecond,
		RPCDuration:   100 * time.Millisecond,
		EchoArgv:      echo,
		ZeroAgentArgv: zero,
		CommandLine:   "go test",
	}, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if len(res.Runs) != 4 || len(res.Summary) != 4 {
		t.Fatalf("%d runs, %d summaries; want 4 of each\n%s", len(res.Runs), len(res.Summary), log.String())
	}
	for _, r := range res.Runs {
		if r.Requests == 0 || r.Errors() != 0 {
			t.Errorf("%s: %d requests, %d errors (%s)", r.Variant, r.Requests, r.Errors(), r.FirstError)
		}
		if r.Variant != "bare" && (r.AgentCalls == nil || *r.AgentCalls != r.Requests) {
			t.Errorf("%s: agent calls %v for %d requests: some were not inspected", r.Variant, r.AgentCalls, r.Requests)
		}
		if r.P50Us <= 0 || r.RPS <= 0 {
			t.Errorf("%s: p50 %v, %v req/s", r.Variant, r.P50Us, r.RPS)
		}
	}
	if len(res.RPC) != 3 || len(res.Floor) != 2 {
		t.Errorf("%d PreRequest and %d ping-pong measurements, want 3 and 2", len(res.RPC), len(res.Floor))
	}
	for _, r := range append(res.RPC, res.Floor...) {
		if r.Calls == 0 || r.Errors != 0 {
			t.Errorf("%s: %d calls, %d errors (%s)", r.Label, r.Calls, r.Errors, r.FirstError)
		}
	}
	if !strings.Contains(res.Meta.GoVersion, "go version") || res.Meta.Cores < 1 {
		t.Errorf("meta: %+v", res.Meta)
	}
	if err := WriteFiles(t.TempDir(), res); err != nil {
		t.Fatal(err)
	}
}

func TestWaitQuiet(t *testing.T) {
	t.Run("a threshold above the whole machine is met at once", func(t *testing.T) {
		r := &runner{cfg: Config{QuietThreshold: 1e6}, quietBudget: time.Minute}
		if !r.waitQuiet(context.Background()) {
			t.Error("waitQuiet gave up")
		}
		if r.quietBudget >= time.Minute {
			t.Error("the time spent was not taken from the budget")
		}
	})
	t.Run("without budget it does not wait", func(t *testing.T) {
		r := &runner{cfg: Config{QuietThreshold: 1}}
		start := time.Now()
		if r.waitQuiet(context.Background()) || time.Since(start) > time.Second {
			t.Error("waitQuiet waited without a budget")
		}
	})
}
