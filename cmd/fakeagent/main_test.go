package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"net/rpc"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent"
	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout only guards against a hung test; no test waits for it.
const waitTimeout = 10 * time.Second

// output is a concurrency-safe writer that tests can wait on.
type output struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	close(o.changed)
	o.changed = make(chan struct{})
	return o.b.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// getenv serves a fixed environment.
func getenv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// result is what one in-process run printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

// runOnce runs the command to completion.
func runOnce(args []string, env map[string]string) result {
	stdout, stderr := newOutput(), newOutput()
	code := run(context.Background(), append([]string{"fakeagent"}, args...), getenv(env), stdout, stderr)
	return result{code, stdout.String(), stderr.String()}
}

// agent is a fake agent running in-process, as the binary would.
type agent struct {
	stdout, stderr *output
	cancel         context.CancelFunc
	exited         chan struct{}
	code           int
}

// startAgent runs the command in the background; the test's cleanup stops
// it.
func startAgent(t *testing.T, args []string, env map[string]string) *agent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a := &agent{stdout: newOutput(), stderr: newOutput(), cancel: cancel, exited: make(chan struct{})}
	go func() {
		defer close(a.exited)
		a.code = run(ctx, append([]string{"fakeagent"}, args...), getenv(env), a.stdout, a.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		<-a.exited
	})
	return a
}

// waitFor waits until w has printed want, failing if the agent exits
// first.
func (a *agent) waitFor(t *testing.T, w *output, want string) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		w.mu.Lock()
		found, changed := strings.Contains(w.b.String(), want), w.changed
		w.mu.Unlock()
		if found {
			return
		}
		select {
		case <-changed:
		case <-a.exited:
			if !strings.Contains(w.String(), want) {
				t.Fatalf("the agent exited (code %d) before printing %q\nstdout: %s\nstderr: %s", a.code, want, a.stdout, a.stderr)
			}
		case <-deadline:
			t.Fatalf("the agent did not print %q\nstdout: %s\nstderr: %s", want, a.stdout, a.stderr)
		}
	}
}

var readyLine = regexp.MustCompile(`^fakeagent: listening on (unix|tcp):(\S+) \(mode ([a-z-]+)\)\n$`)

// ready waits for the ready line and returns the network and address.
func (a *agent) ready(t *testing.T) (network, address, mode string) {
	t.Helper()
	a.waitFor(t, a.stdout, "\n")
	m := readyLine.FindStringSubmatch(a.stdout.String())
	require.NotNil(t, m, "ready line %q", a.stdout.String())
	return m[1], m[2], m[3]
}

// stop is SIGTERM: it cancels run's context and returns the exit code.
func (a *agent) stop(t *testing.T) int {
	t.Helper()
	a.cancel()
	select {
	case <-a.exited:
		return a.code
	case <-time.After(waitTimeout):
		t.Fatal("the agent did not exit")
		return -1
	}
}

// dirs gives a run its own socket path and cache directory.
type dirs struct{ sock, cache string }

func newDirs(t *testing.T) dirs {
	t.Helper()
	// Short: socket paths are limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "fa-cmd-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dirs{sock: filepath.Join(dir, "sigsci.sock"), cache: filepath.Join(dir, "cache")}
}

func (d dirs) args(more ...string) []string {
	return append([]string{"-rpc-address", d.sock, "-shared-cache-dir", d.cache}, more...)
}

// argsUnder is args without the flags that env sets, so that env applies.
func (d dirs) argsUnder(env map[string]string, more ...string) []string {
	var args []string
	if env["SIGSCI_RPC_ADDRESS"] == "" {
		args = append(args, "-rpc-address", d.sock)
	}
	if env["SIGSCI_SHARED_CACHE_DIR"] == "" {
		args = append(args, "-shared-cache-dir", d.cache)
	}
	return append(args, more...)
}

func TestVersion(t *testing.T) {
	r := runOnce([]string{"-version"}, nil)
	assert.Equal(t, 0, r.code)
	assert.Equal(t, fmt.Sprintf("fakeagent dev (%s)\n", runtime.Version()), r.stdout)
	assert.Empty(t, r.stderr)
}

func TestHelpListsEveryOptionWithItsVariable(t *testing.T) {
	r := runOnce([]string{"-h"}, nil)
	require.Equal(t, 0, r.code)
	for _, name := range []string{
		"rpc-address", "shared-cache-dir", "accesskeyid", "secretaccesskey", "startup-probe-listener",
		"startup-probe-filepath", "max-procs", "debug-log-web-inputs", "require-credentials", "agent-mode",
		"admin-address", "fake-rules-file", "fake-latency", "fake-latency-jitter", "fake-error-rate",
		"fake-drop-rate", "fake-hang-rate", "fake-fault-methods", "fake-seed", "fake-update-expiry",
		"fake-recent-requests", "fake-max-pending", "fake-startup-delay", "fake-max-connections",
		"fake-max-message-size", "fake-idle-timeout", "fake-socket-mode", "fake-shutdown-timeout",
		"fake-log-level", "fake-record-raw", "config", "context-expiration", "client-ip-header",
		"custom-request-headers", "debug-log-all-the-things", "fake-decision", "fake-thresholds", "fake-flag-duration",
	} {
		assert.Regexp(t, `\n  -`+name+`[ \n]`, r.stdout)
		assert.Contains(t, r.stdout, "[$"+envName(name)+"]")
	}
	assert.NotContains(t, r.stdout, "SIGSCI_VERSION")
}

func TestInvalidOptionsExitWithUsageError(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want []string // all in the message
	}{
		{"a bad duration flag", []string{"-fake-latency", "soon"}, nil, []string{`"soon"`, "flag -fake-latency"}},
		{"a bad duration variable", nil, map[string]string{"SIGSCI_FAKE_LATENCY": "soon"}, []string{`"soon"`, "SIGSCI_FAKE_LATENCY (environment"}},
		{"a negative duration", []string{"-fake-latency-jitter", "-1s"}, nil, []string{"-fake-latency-jitter", "negative"}},
		{"a zero update expiry", []string{"-fake-update-expiry", "0s"}, nil, []string{"-fake-update-expiry", "more than 0"}},
		{"a rate above 1", []string{"-fake-error-rate", "1.5"}, nil, []string{"-fake-error-rate", "0 to 1"}},
		{"a negative rate variable", nil, map[string]string{"SIGSCI_FAKE_DROP_RATE": "-0.1"}, []string{"SIGSCI_FAKE_DROP_RATE", "0 to 1"}},
		{"a rate that is not a number", []string{"-fake-hang-rate", "NaN"}, nil, []string{"-fake-hang-rate"}},
		{"rates adding up to more than 1", []string{"-fake-error-rate", "0.6", "-fake-drop-rate", "0.5"}, nil, []string{"fake-error-rate + fake-drop-rate + fake-hang-rate"}},
		{"an unknown mode flag", []string{"-agent-mode", "loud"}, nil, []string{"-agent-mode", `"loud"`}},
		{"an unknown mode variable", nil, map[string]string{"SIGSCI_AGENT_MODE": "loud"}, []string{"SIGSCI_AGENT_MODE", "option -agent-mode"}},
		{"an RPC address without a port", []string{"-rpc-address", "localhost"}, nil, []string{"-rpc-address"}},
		{"a bad RPC address variable", nil, map[string]string{"SIGSCI_RPC_ADDRESS": "tcp:nohost"}, []string{"SIGSCI_RPC_ADDRESS"}},
		{"an admin address that is a path", []string{"-admin-address", "/tmp/admin.sock"}, nil, []string{"-admin-address", "host:port"}},
		{"a bad startup probe listener variable", nil, map[string]string{"SIGSCI_STARTUP_PROBE_LISTENER": "2024"}, []string{"SIGSCI_STARTUP_PROBE_LISTENER"}},
		{"an unknown flag", []string{"-no-such-option", "1"}, nil, []string{"-no-such-option"}},
		{"a bad boolean flag", []string{"-require-credentials=maybe"}, nil, []string{"-require-credentials"}},
		{"a bad boolean variable", nil, map[string]string{"SIGSCI_DEBUG_LOG_WEB_INPUTS": "maybe"}, []string{"SIGSCI_DEBUG_LOG_WEB_INPUTS"}},
		{"too few recent requests", []string{"-fake-recent-requests", "0"}, nil, []string{"-fake-recent-requests", "at least 1"}},
		{"a negative connection limit variable", nil, map[string]string{"SIGSCI_FAKE_MAX_CONNECTIONS": "-1"}, []string{"SIGSCI_FAKE_MAX_CONNECTIONS"}},
		{"a tiny message size", []string{"-fake-max-message-size", "10"}, nil, []string{"-fake-max-message-size", "at least 64"}},
		{"zero CPUs", []string{"-max-procs", "0"}, nil, []string{"-max-procs"}},
		{"a bad CPU percentage variable", nil, map[string]string{"SIGSCI_MAX_PROCS": "lots%"}, []string{"SIGSCI_MAX_PROCS"}},
		{"a socket mode that is not octal", []string{"-fake-socket-mode", "999"}, nil, []string{"-fake-socket-mode", "octal"}},
		{"an unknown log level", []string{"-fake-log-level", "loud"}, nil, []string{"-fake-log-level"}},
		{"an unknown fault method", []string{"-fake-fault-methods", "PreRequest,Foo"}, nil, []string{"-fake-fault-methods", `"Foo"`}},
		{"a negative seed", []string{"-fake-seed", "-1"}, nil, []string{"-fake-seed"}},
		{"a positional argument", []string{"/tmp/sigsci.sock"}, nil, []string{"unexpected argument"}},
		{"a missing rules file", []string{"-fake-rules-file", "/nonexistent/rules.yaml"}, nil, []string{"fake-rules-file", "/nonexistent/rules.yaml"}},
		{"an unknown decision mode", []string{"-fake-decision", "later"}, nil, []string{"-fake-decision", `"later"`}},
		{"thresholds without a limit", []string{"-fake-thresholds", "1m"}, nil, []string{"-fake-thresholds", "interval:limit"}},
		{"a zero threshold variable", nil, map[string]string{"SIGSCI_FAKE_THRESHOLDS": "1m:0"}, []string{"SIGSCI_FAKE_THRESHOLDS"}},
		{"a custom request header without a value", []string{"-custom-request-headers", "X-Env"}, nil, []string{"-custom-request-headers", "Name:value"}},
		{"a client IP header that is no header name", []string{"-client-ip-header", "X Real IP"}, nil, []string{"ClientIPHeader"}},
		{"a zero context expiration", []string{"-context-expiration", "0s"}, nil, []string{"-context-expiration", "more than 0"}},
		{"a missing config file", []string{"-config", "/nonexistent/agent.conf"}, nil, []string{"config file /nonexistent/agent.conf"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDirs(t)
			r := runOnce(d.argsUnder(tc.env, tc.args...), tc.env)
			assert.Equal(t, 2, r.code)
			assert.Empty(t, r.stdout)
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
			assert.True(t, strings.HasPrefix(r.stderr, "fakeagent: "), r.stderr)
			for _, w := range tc.want {
				assert.Contains(t, r.stderr, w)
			}
			assert.NoFileExists(t, d.sock, "nothing started")
		})
	}
}

func TestFlagWinsOverEnvironment(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(*testing.T, *options)
	}{
		{
			name: "defaults",
			check: func(t *testing.T, o *options) {
				assert.Equal(t, "/sigsci/tmp/sigsci.sock", o.rpcAddress.String())
				assert.Equal(t, "blocking", o.agentMode.String())
			},
		},
		{
			name: "the environment alone",
			env:  map[string]string{"SIGSCI_AGENT_MODE": "off", "SIGSCI_FAKE_LATENCY": "5ms", "SIGSCI_DEBUG_LOG_WEB_INPUTS": "true", "SIGSCI_RPC_ADDRESS": "127.0.0.1:9999"},
			check: func(t *testing.T, o *options) {
				assert.Equal(t, "off", o.agentMode.String())
				assert.Equal(t, 5*time.Millisecond, o.latency.d)
				assert.True(t, o.debugLogWebInputs)
				assert.Equal(t, "127.0.0.1:9999", o.rpcAddress.String())
			},
		},
		{
			name: "flags over the environment",
			args: []string{"-agent-mode", "not-blocking", "-fake-latency", "7ms", "-debug-log-web-inputs=false", "-rpc-address", "unix:/tmp/x.sock"},
			env:  map[string]string{"SIGSCI_AGENT_MODE": "off", "SIGSCI_FAKE_LATENCY": "5ms", "SIGSCI_DEBUG_LOG_WEB_INPUTS": "true", "SIGSCI_RPC_ADDRESS": "127.0.0.1:9999"},
			check: func(t *testing.T, o *options) {
				assert.Equal(t, "not-blocking", o.agentMode.String())
				assert.Equal(t, 7*time.Millisecond, o.latency.d)
				assert.False(t, o.debugLogWebInputs)
				assert.Equal(t, "unix:/tmp/x.sock", o.rpcAddress.String())
			},
		},
		{
			name:  "a flag wins over a bad variable, which is not even read",
			args:  []string{"-fake-error-rate", "0.5"},
			env:   map[string]string{"SIGSCI_FAKE_ERROR_RATE": "lots"},
			check: func(t *testing.T, o *options) { assert.Equal(t, 0.5, o.errorRate.v) },
		},
		{
			name:  "an empty variable counts as unset",
			env:   map[string]string{"SIGSCI_AGENT_MODE": ""},
			check: func(t *testing.T, o *options) { assert.Equal(t, "blocking", o.agentMode.String()) },
		},
		{
			name:  "version has no variable",
			env:   map[string]string{"SIGSCI_VERSION": "true"},
			check: func(t *testing.T, o *options) { assert.False(t, o.version) },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := defaultOptions()
			fs := flag.NewFlagSet("fakeagent", flag.ContinueOnError)
			o.agentFlags(fs)
			warnings, err := parse(fs, tc.args, getenv(tc.env))
			require.NoError(t, err)
			assert.Empty(t, warnings)
			tc.check(t, o)
		})
	}

	t.Run("end to end", func(t *testing.T) {
		d := newDirs(t)
		a := startAgent(t, d.args("-agent-mode", "not-blocking"), map[string]string{"SIGSCI_AGENT_MODE": "off"})
		_, _, mode := a.ready(t)
		assert.Equal(t, "not-blocking", mode)
	})
}

func TestOptionsBecomeTheConfig(t *testing.T) {
	o := defaultOptions()
	fs := flag.NewFlagSet("fakeagent", flag.ContinueOnError)
	o.agentFlags(fs)
	_, err := parse(fs, []string{
		"-rpc-address", "tcp:127.0.0.1:0", "-fake-max-connections", "0", "-fake-idle-timeout", "0",
		"-fake-latency", "3ms", "-fake-fault-methods", "PreRequest, UpdateRequest", "-fake-socket-mode", "0660",
		"-fake-record-raw", "-fake-decision", "threshold", "-fake-thresholds", "30s:5, 2m:20", "-fake-flag-duration", "1h",
		"-client-ip-header", "X-Real-IP", "-custom-request-headers", "X-Env: staging, X-Team:waf", "-context-expiration", "3s",
	}, getenv(nil))
	require.NoError(t, err)
	cfg, err := o.config()
	require.NoError(t, err)
	assert.True(t, cfg.RecordRaw)
	assert.Equal(t, fakeagent.DecisionThreshold, cfg.Decision)
	assert.Equal(t, []fakeagent.Threshold{{Interval: 30 * time.Second, Limit: 5}, {Interval: 2 * time.Minute, Limit: 20}}, cfg.Thresholds)
	assert.Equal(t, time.Hour, cfg.FlagDuration)
	assert.Equal(t, "X-Real-IP", cfg.ClientIPHeader)
	assert.Equal(t, [][2]string{{"X-Env", "staging"}, {"X-Team", "waf"}}, cfg.CustomRequestHeaders)
	assert.Equal(t, 3*time.Second, cfg.UpdateExpiry)

	t.Run("defaults as the real agent's", func(t *testing.T) {
		o := defaultOptions()
		fs := flag.NewFlagSet("fakeagent", flag.ContinueOnError)
		o.agentFlags(fs)
		_, err := parse(fs, nil, getenv(nil))
		require.NoError(t, err)
		cfg, err := o.config()
		require.NoError(t, err)
		assert.Equal(t, fakeagent.DecisionImmediate, cfg.Decision)
		assert.Equal(t, fakeagent.DefaultThresholds, cfg.Thresholds)
		assert.Equal(t, 24*time.Hour, cfg.FlagDuration)
		assert.Equal(t, "X-Forwarded-For", cfg.ClientIPHeader)
		assert.Equal(t, 10*time.Second, cfg.UpdateExpiry)
		assert.Empty(t, cfg.CustomRequestHeaders)
	})
	t.Run("an empty client-ip-header means RemoteAddr only", func(t *testing.T) {
		o := defaultOptions()
		fs := flag.NewFlagSet("fakeagent", flag.ContinueOnError)
		o.agentFlags(fs)
		_, err := parse(fs, []string{"-client-ip-header", ""}, getenv(nil))
		require.NoError(t, err)
		cfg, err := o.config()
		require.NoError(t, err)
		assert.Equal(t, fakeagent.NoClientIPHeader, cfg.ClientIPHeader)
	})
	assert.Equal(t, "tcp", cfg.Network)
	assert.Equal(t, "127.0.0.1:0", cfg.Address)
	assert.Negative(t, cfg.MaxConnections, "0 means no limit")
	assert.Negative(t, cfg.IdleTimeout, "0 means never")
	assert.Equal(t, 3*time.Millisecond, cfg.Faults.Latency)
	assert.Equal(t, []string{"PreRequest", "UpdateRequest"}, cfg.Faults.Methods)
	assert.Equal(t, os.FileMode(0o660), cfg.SocketMode)
	assert.Equal(t, "/sigsci/tmp/cache", cfg.SharedCacheDir)
}

func TestRequireCredentials(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"without credentials", []string{"-require-credentials"}, nil},
		{"with only the access key ID", nil, map[string]string{"SIGSCI_REQUIRE_CREDENTIALS": "true", "SIGSCI_ACCESSKEYID": "id"}},
		{"with only the secret", []string{"-require-credentials", "-secretaccesskey", "s3cr3t-value"}, nil},
	}
	for _, tc := range cases {
		t.Run("refuses to start "+tc.name, func(t *testing.T) {
			d := newDirs(t)
			r := runOnce(d.args(tc.args...), tc.env)
			assert.Equal(t, 2, r.code)
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
			assert.Contains(t, r.stderr, "require-credentials")
			assert.Contains(t, r.stderr, "SIGSCI_SECRETACCESSKEY")
			assert.NotContains(t, r.stderr, "s3cr3t-value")
			assert.NoFileExists(t, d.sock)
		})
	}
	t.Run("starts with both credentials", func(t *testing.T) {
		d := newDirs(t)
		a := startAgent(t, d.args(), map[string]string{
			"SIGSCI_REQUIRE_CREDENTIALS": "true", "SIGSCI_ACCESSKEYID": "id", "SIGSCI_SECRETACCESSKEY": "secret",
		})
		a.ready(t)
		assert.Equal(t, 0, a.stop(t))
	})
}

func TestShutdownOnSIGTERM(t *testing.T) {
	d := newDirs(t)
	probeFile := filepath.Join(filepath.Dir(d.sock), "startup")
	a := startAgent(t, d.args("-startup-probe-filepath", probeFile), nil)
	network, address, mode := a.ready(t)
	assert.Equal(t, "unix", network)
	assert.Equal(t, d.sock, address)
	assert.Equal(t, "blocking", mode)
	require.FileExists(t, d.sock)
	require.FileExists(t, probeFile)
	require.FileExists(t, filepath.Join(d.cache, "rules.json"))

	assert.Equal(t, 0, a.stop(t))
	assert.NoFileExists(t, d.sock, "socket removed")
	assert.NoFileExists(t, probeFile, "probe file removed")
	assert.FileExists(t, filepath.Join(d.cache, "state.json"))
	assert.Equal(t, 1, strings.Count(a.stdout.String(), "\n"), "stdout is the ready line only")
	assert.Contains(t, a.stderr.String(), `msg=stopped`)
}

func TestShutdownDuringTheStartupDelay(t *testing.T) {
	d := newDirs(t)
	a := startAgent(t, d.args("-fake-startup-delay", "1h"), nil)
	a.waitFor(t, a.stderr, "delaying startup")
	assert.Empty(t, a.stdout.String(), "not ready yet")
	assert.Equal(t, 0, a.stop(t))
	assert.Empty(t, a.stdout.String())
	assert.NoFileExists(t, d.sock)
}

func TestListenFailureExitsWithFailure(t *testing.T) {
	d := newDirs(t)
	require.NoError(t, os.WriteFile(d.sock, []byte("not a socket"), 0o600))
	r := runOnce(d.args(), nil)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "is a regular file, not a socket")
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
	assert.FileExists(t, d.sock, "left alone")
}

func TestMaxProcs(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	d := newDirs(t)
	a := startAgent(t, d.args("-max-procs", "1"), nil)
	a.ready(t)
	assert.Contains(t, a.stderr.String(), "gomaxprocs=1")
	assert.Equal(t, 0, a.stop(t))
	assert.Equal(t, before, runtime.GOMAXPROCS(0), "restored when run returns")
}

func TestProbeSubcommand(t *testing.T) {
	d := newDirs(t)
	a := startAgent(t, d.args(), nil)
	a.ready(t)
	tcp := startAgent(t, []string{"-rpc-address", "127.0.0.1:0", "-shared-cache-dir", ""}, nil)
	_, tcpAddr, _ := tcp.ready(t)
	hanging := startAgent(t, []string{"-rpc-address", "127.0.0.1:0", "-shared-cache-dir", "", "-fake-hang-rate", "1"}, nil)
	_, hangingAddr, _ := hanging.ready(t)

	cases := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string
	}{
		{"succeeds on the socket given by flag", []string{"-rpc-address", d.sock}, nil, 0, "answered ModuleInit"},
		{"succeeds on the socket given by variable", nil, map[string]string{"SIGSCI_RPC_ADDRESS": "unix:" + d.sock}, 0, "answered ModuleInit"},
		{"succeeds over TCP", []string{"-rpc-address", "tcp:" + tcpAddr}, nil, 0, "answered ModuleInit"},
		{"ignores the agent's other variables", nil, map[string]string{"SIGSCI_RPC_ADDRESS": d.sock, "SIGSCI_FAKE_LATENCY": "bogus"}, 0, "answered ModuleInit"},
		{"fails without an agent", []string{"-rpc-address", d.sock + ".missing"}, nil, 1, d.sock + ".missing"},
		{"fails on an agent that does not answer in time", []string{"-rpc-address", hangingAddr, "-timeout", "50ms"}, nil, 1, "no reply in time"},
		{"rejects a bad flag", []string{"-rpc-address", d.sock, "-bogus"}, nil, 2, "-bogus"},
		{"rejects a bad timeout", []string{"-timeout", "0s"}, nil, 2, "-timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runOnce(append([]string{"probe"}, tc.args...), tc.env)
			assert.Equal(t, tc.code, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
			out := r.stdout
			if tc.code != 0 {
				out = r.stderr
				assert.Empty(t, r.stdout)
			}
			assert.Equal(t, 1, strings.Count(out, "\n"), "one line: %q", out)
			assert.Contains(t, out, tc.want)
		})
	}
}

func TestSecretsAreNeverPrinted(t *testing.T) {
	const keyID, secret = "AKID-7f3a9c-never-print", "SECRET-b81e44-never-print"
	d := newDirs(t)
	a := startAgent(t, d.args("-secretaccesskey", secret, "-debug-log-web-inputs", "-fake-log-level", "debug", "-require-credentials"),
		map[string]string{"SIGSCI_ACCESSKEYID": keyID})
	a.ready(t)

	nc, err := net.DialTimeout("unix", d.sock, waitTimeout)
	require.NoError(t, err)
	cl := rpc.NewClientWithCodec(wire.NewClientCodec(nc))
	now := time.Now()
	in := &wire.RPCMsgIn{
		AccessKeyID: keyID, ModuleVersion: "test 1", Timestamp: now.Unix(), NowMillis: now.UnixMilli(),
		RemoteAddr: "192.0.2.1", Method: "GET", URI: "/?q=1'%20OR%20'1'='1", ServerName: "example.com",
		HeadersIn: [][2]string{{"Host", "example.com"}}, ResponseCode: -1, ResponseSize: -1,
	}
	var out wire.RPCMsgOut
	require.NoError(t, cl.Call(wire.MethodModuleInit, in, &out))
	require.NoError(t, cl.Call(wire.MethodPreRequest, in, &out))
	var ack int
	require.NoError(t, cl.Call(wire.MethodUpdateRequest, &wire.RPCMsgIn2{RequestID: out.RequestID, ResponseCode: 406}, &ack))
	require.NoError(t, cl.Close())
	assert.Equal(t, 0, a.stop(t))

	logs := a.stdout.String() + a.stderr.String()
	require.Contains(t, logs, "msg=PreRequest", "web inputs were logged")
	assert.NotContains(t, logs, keyID)
	assert.NotContains(t, logs, secret)
	for _, f := range []string{"rules.json", "state.json"} {
		b, err := os.ReadFile(filepath.Join(d.cache, f))
		require.NoError(t, err)
		assert.NotContains(t, string(b), keyID, f)
		assert.NotContains(t, string(b), secret, f)
	}

	t.Run("nor in option errors", func(t *testing.T) {
		r := runOnce(d.args("-secretaccesskey", secret, "-fake-latency", "x"), map[string]string{"SIGSCI_ACCESSKEYID": keyID})
		require.Equal(t, 2, r.code)
		assert.NotContains(t, r.stderr, keyID)
		assert.NotContains(t, r.stderr, secret)
	})
}
