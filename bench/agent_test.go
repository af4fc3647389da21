package bench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/bench/loadcompare"
	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent"
	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect"
)

// buildDir holds the fake agent binary the benchmarks start as a separate
// process; TestMain removes it.
var buildDir string

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == loadcompare.EchoFlag {
		// The test binary re-executed as BenchmarkPingPong's echo server.
		if err := loadcompare.RunEchoMain(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	flag.Parse()
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binaries  *loadcompare.Binaries
	buildErr  error
)

// fakeAgentBinary builds cmd/fakeagent (and helloworld) once per test
// binary, on first use, so that tests which need no process build nothing.
func fakeAgentBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		goCmd := loadcompare.GoCommand()
		root, err := loadcompare.FindRoot(ctx, goCmd)
		if err != nil {
			buildErr = err
			return
		}
		if buildDir, err = os.MkdirTemp("", "bench-bin-"); err != nil {
			buildErr = err
			return
		}
		binaries, buildErr = loadcompare.Build(ctx, goCmd, root, buildDir)
	})
	if buildErr != nil {
		tb.Fatalf("building the fake agent: %v", buildErr)
	}
	return binaries.FakeAgent
}

// agent is a running fake agent in blocking mode, in this process or in
// another one.
type agent struct {
	network, address string
}

// Where the fake agent runs.
const (
	inProcess = "inproc"   // fakeagent.Start in the benchmark's process
	process   = "proc"     // cmd/fakeagent as a separate process: the realistic case
	external  = "external" // an agent already running at $BENCH_AGENT_ADDR
)

// externalAgentEnv names an agent (a real one, or a fake agent under a
// profiler) for BenchmarkPreRequest/agent=external: "unix:/path" or
// "tcp:host:port". The agent must allow typicalMsgIn.
const externalAgentEnv = "BENCH_AGENT_ADDR"

// agentPlaces are where BenchmarkPreRequest runs the agent.
func agentPlaces() []string {
	if os.Getenv(externalAgentEnv) != "" {
		return []string{inProcess, process, external}
	}
	return []string{inProcess, process}
}

// startAgent starts a fake agent in blocking mode listening on network
// ("unix" or "tcp"), stopped when tb ends.
func startAgent(tb testing.TB, where, network string) agent {
	tb.Helper()
	if where == external {
		n, a, ok := strings.Cut(os.Getenv(externalAgentEnv), ":")
		if !ok || (n != "unix" && n != "tcp") {
			tb.Fatalf("$%s=%q: want unix:/path or tcp:host:port", externalAgentEnv, os.Getenv(externalAgentEnv))
		}
		if n != network {
			tb.Skipf("the external agent listens on %s", n)
		}
		return agent{network: n, address: a}
	}
	if where == inProcess {
		opts := []fakeagent.Option{fakeagent.WithMode(detect.ModeBlocking)}
		if network == "tcp" {
			opts = append(opts, fakeagent.WithTCP())
		}
		s := fakeagent.Start(tb, opts...)
		return agent{network: s.Network(), address: s.Addr()}
	}
	bin := fakeAgentBinary(tb)
	dir, err := os.MkdirTemp("", "bench-agent-") // short: Unix socket paths are limited
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	rpcAddr := "127.0.0.1:0"
	if network == "unix" {
		rpcAddr = filepath.Join(dir, "sigsci.sock")
	}
	p, err := loadcompare.StartProcess(context.Background(), "fakeagent", dir, "fakeagent: listening on ", time.Minute, bin,
		"-rpc-address", rpcAddr, "-shared-cache-dir", filepath.Join(dir, "cache"), "-agent-mode", "blocking")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := p.Stop(); err != nil {
			tb.Errorf("fake agent: %v", err)
		}
	})
	// "fakeagent: listening on unix:/path (mode blocking)"
	where, _, _ = strings.Cut(strings.TrimPrefix(p.ReadyLine, "fakeagent: listening on "), " ")
	n, a, ok := strings.Cut(where, ":")
	if !ok {
		tb.Fatalf("fake agent ready line %q: no address", p.ReadyLine)
	}
	return agent{network: n, address: a}
}

func (a agent) String() string { return fmt.Sprintf("%s:%s", a.network, a.address) }
