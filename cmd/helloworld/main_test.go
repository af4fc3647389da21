package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer collects output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// app is a helloworld started in-process by run.
type app struct {
	url    string
	cancel context.CancelFunc
	done   chan int
	stderr *syncBuffer
}

// startApp runs helloworld with args on a free loopback port and waits for
// its "listening" line.
func startApp(t *testing.T, args ...string) *app {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	a := &app{cancel: cancel, done: make(chan int, 1), stderr: &syncBuffer{}}
	argv := append([]string{"helloworld"}, args...)
	go func() {
		code := run(ctx, argv, pw, a.stderr)
		pw.Close()
		a.done <- code
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err, "helloworld did not start: %s", a.stderr.String())
	go io.Copy(io.Discard, pr)
	_, rest, ok := strings.Cut(line, "listening on ")
	require.True(t, ok, line)
	a.url, _, _ = strings.Cut(rest, " ")
	t.Cleanup(func() { a.stop(t) })
	return a
}

// stop cancels run's context, as SIGTERM does, and returns its exit code.
func (a *app) stop(t *testing.T) int {
	a.cancel()
	code := <-a.done
	a.done <- code // stop is idempotent
	return code
}

func (a *app) get(t *testing.T, path string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.url+path, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestWithoutAnAgentEveryRouteAnswers(t *testing.T) {
	a := startApp(t, "127.0.0.1:0")
	code, body := a.get(t, "/", nil)
	assert.Equal(t, 200, code)
	assert.Equal(t, "Hello, world!\n", body)

	code, body = a.get(t, "/healthz", nil)
	assert.Equal(t, 200, code)
	assert.Equal(t, "ok\n", body)

	assert.Equal(t, 0, a.stop(t), "a cancelled context is a clean shutdown")
}

func TestEveryPathAndMethodAnswersTheHelloPage(t *testing.T) {
	dir := t.TempDir()
	for _, agent := range []struct{ name, addr string }{
		{"without an agent", ""},
		{"with an unreachable agent", filepath.Join(dir, "missing.sock")},
	} {
		args := []string{"127.0.0.1:0"}
		if agent.addr != "" {
			args = append(args, agent.addr)
		}
		a := startApp(t, args...)
		for _, tc := range []struct{ method, path string }{
			{"GET", "/wp-login.php?action=register"},
			{"GET", "/cgi-bin/test.cgi"},
			{"HEAD", "/a/b/c"},
			{"DELETE", "/"},
			{"PUT", "/headers"},
			{"OPTIONS", "/healthz/more"},
		} {
			t.Run(agent.name+", "+tc.method+" "+tc.path+" is the hello page", func(t *testing.T) {
				req, err := http.NewRequest(tc.method, a.url+tc.path, nil)
				require.NoError(t, err)
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				assert.Equal(t, 200, resp.StatusCode)
				if tc.method != "HEAD" {
					assert.Equal(t, "Hello, world!\n", string(b))
				}
			})
		}
	}
}

func TestTheEchoParametersShapeTheAnswer(t *testing.T) {
	a := startApp(t, "127.0.0.1:0")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cases := []struct {
		name     string
		method   string
		path     string
		body     string
		code     int
		want     string
		location string
	}{
		{"response_code sets the status", "GET", "/response?response_code=404", "", 404, "OK", ""},
		{"a 3xx response_code sets a Location", "GET", "/x?response_code=302", "", 302, "OK", "/"},
		{"size answers that many bytes", "GET", "/?size=5", "", 200, "aaaaa", ""},
		{"size 0 answers an empty body", "GET", "/?size=0", "", 200, "", ""},
		{"echo answers the request body", "POST", "/response?echo=1", "a=1&b=2", 200, "a=1&b=2", ""},
		{"response_time delays the answer", "GET", "/?response_time=20", "", 200, "OK", ""},
		{"every parameter at once", "POST", "/?echo=1&response_code=201&response_time=1", "x", 201, "x", ""},
		{"an unknown status is refused", "GET", "/?response_code=99", "", 400, "response_code \"99\": want an integer from 200 to 599\n", ""},
		{"a status above 599 is refused", "GET", "/?response_code=600", "", 400, "response_code \"600\": want an integer from 200 to 599\n", ""},
		{"a response_time that is not a number is refused", "GET", "/?response_time=soon", "", 400, "response_time \"soon\": want an integer from 0 to 10000\n", ""},
		{"a negative size is refused", "GET", "/?size=-1", "", 400, "size \"-1\": want an integer from 0 to 16777216\n", ""},
		{"other parameters leave the hello page", "GET", "/?q=1", "", 200, "Hello, world!\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, a.url+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			resp, err := noRedirect.Do(req)
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, tc.code, resp.StatusCode)
			assert.Equal(t, tc.want, string(b))
			assert.Equal(t, tc.location, resp.Header.Get("Location"))
		})
	}
}

func TestHelloCountsThePostedBody(t *testing.T) {
	a := startApp(t, "127.0.0.1:0")
	resp, err := http.Post(a.url+"/", "application/json", strings.NewReader(`{"a":1}`))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "Hello, world! (POST, 7 body bytes)\n", string(b))
}

func TestHeadersShowsOnlyWhatTheModuleSet(t *testing.T) {
	dir := t.TempDir()
	// The agent is down: the module fails open, and the spoofed header is
	// still removed.
	a := startApp(t, "127.0.0.1:0", filepath.Join(dir, "missing.sock"))
	code, body := a.get(t, "/headers", http.Header{"X-Sigsci-Tags": {"forged"}})
	require.Equal(t, 200, code)
	var got map[string]string
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	assert.Empty(t, got)

	code, body = a.get(t, "/", nil)
	assert.Equal(t, 200, code, "an unreachable agent fails open")
	assert.Equal(t, "Hello, world!\n", body)
}

func TestBadCommandLinesExitWithUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"an unknown flag", []string{"-nope"}, "flag provided but not defined: -nope"},
		{"a negative timeout", []string{"-timeout", "-1s"}, "-timeout -1s: must be positive"},
		{"a bad duration", []string{"-drain-timeout", "soon"}, "invalid value \"soon\" for flag -drain-timeout: want a duration such as 100ms, 2s or 1m30s"},
		{"a bad log level", []string{"-log-level", "loud"}, "-log-level \"loud\""},
		{"zero connections", []string{"-max-conns", "0"}, "-max-conns 0"},
		{"a listen address without a port", []string{"localhost"}, "listen address \"localhost\""},
		{"a port out of range", []string{"localhost:70000"}, "port \"70000\""},
		{"an agent address that is neither", []string{"localhost:8000", "agent"}, "agent address \"agent\""},
		{"an empty unix path", []string{"localhost:8000", "unix:"}, "empty socket path"},
		{"three arguments", []string{"a:1", "b:2", "c:3"}, "too many arguments"},
	}
	for _, tc := range cases {
		t.Run(tc.name+" is refused in one line", func(t *testing.T) {
			var stdout, stderr syncBuffer
			code := run(context.Background(), append([]string{"helloworld"}, tc.args...), &stdout, &stderr)
			assert.Equal(t, exitUsage, code)
			assert.Contains(t, stderr.String(), tc.want)
			assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), "one line, no usage: %q", stderr.String())
			assert.True(t, strings.HasPrefix(stderr.String(), "helloworld: "), stderr.String())
			assert.Empty(t, stdout.String())
		})
	}
}

func TestAgentAddressForms(t *testing.T) {
	cases := []struct{ in, network, address string }{
		{"/sigsci/tmp/sigsci.sock", "unix", "/sigsci/tmp/sigsci.sock"},
		{"unix:/tmp/a.sock", "unix", "/tmp/a.sock"},
		{"./rel/a.sock", "unix", "./rel/a.sock"},
		{"localhost:9999", "tcp", "localhost:9999"},
		{"tcp:127.0.0.1:9999", "tcp", "127.0.0.1:9999"},
		{"[::1]:9999", "tcp", "[::1]:9999"},
	}
	for _, tc := range cases {
		t.Run(tc.in+" is "+tc.network, func(t *testing.T) {
			network, address, err := ParseAgentAddress(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.network, network)
			assert.Equal(t, tc.address, address)
		})
	}
}

func TestProbe(t *testing.T) {
	a := startApp(t, "127.0.0.1:0")
	addr := strings.TrimPrefix(a.url, "http://")
	var out, errOut syncBuffer
	assert.Equal(t, exitOK, run(context.Background(), []string{"helloworld", "probe", addr}, &out, &errOut), errOut.String())
	assert.Contains(t, out.String(), "ok")

	a.stop(t)
	errOut = syncBuffer{}
	assert.Equal(t, exitError, run(context.Background(), []string{"helloworld", "probe", addr}, io.Discard, &errOut))
	assert.Contains(t, errOut.String(), "helloworld probe:")

	assert.Equal(t, exitUsage, run(context.Background(), []string{"helloworld", "probe", "nonsense"}, io.Discard, io.Discard))
	errOut = syncBuffer{}
	assert.Equal(t, exitUsage, run(context.Background(), []string{"helloworld", "probe", "a:1", "b:2"}, io.Discard, &errOut))
	assert.Contains(t, errOut.String(), "too many arguments")
	errOut = syncBuffer{}
	assert.Equal(t, exitUsage, run(context.Background(), []string{"helloworld", "probe", "-nope"}, io.Discard, &errOut))
	assert.Equal(t, "helloworld probe: flag provided but not defined: -nope (helloworld probe -h for help)\n", errOut.String())
}

func TestVersionAndHelp(t *testing.T) {
	var out syncBuffer
	assert.Equal(t, exitOK, run(context.Background(), []string{"helloworld", "-version"}, &out, io.Discard))
	assert.Equal(t, "helloworld dev\n", out.String())
	for _, args := range [][]string{{"-h"}, {"-help"}, {"probe", "-h"}} {
		t.Run(strings.Join(args, " ")+" prints help to stdout", func(t *testing.T) {
			var out, errOut syncBuffer
			assert.Equal(t, exitOK, run(context.Background(), append([]string{"helloworld"}, args...), &out, &errOut))
			assert.Contains(t, out.String(), "usage: helloworld")
			assert.Empty(t, errOut.String())
		})
	}
	var help syncBuffer
	run(context.Background(), []string{"helloworld", "-h"}, &help, io.Discard)
	assert.Contains(t, help.String(), "-timeout duration", "the flag's argument is named")
}

func TestAListenFailureIsAnError(t *testing.T) {
	a := startApp(t, "127.0.0.1:0")
	var errOut syncBuffer
	code := run(context.Background(), []string{"helloworld", strings.TrimPrefix(a.url, "http://")}, io.Discard, &errOut)
	assert.Equal(t, exitError, code)
	assert.Contains(t, errOut.String(), "address already in use")
}

func TestTheDebugListenerShowsModuleCountersAndGoroutines(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, "-debug-address", "127.0.0.1:0", "127.0.0.1:0", filepath.Join(dir, "missing.sock"))
	// The debug listener's address is logged; find it there.
	var debugAddr string
	for _, line := range strings.Split(a.stderr.String(), "\n") {
		if _, rest, ok := strings.Cut(line, "debug_address="); ok {
			debugAddr = strings.Fields(rest)[0]
		}
	}
	require.NotEmpty(t, debugAddr, a.stderr.String())
	a.get(t, "/", nil)

	resp, err := http.Get("http://" + debugAddr + "/debug/module")
	require.NoError(t, err)
	var stats struct{ Inspected, FailOpen uint64 }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&stats))
	resp.Body.Close()
	assert.Equal(t, uint64(1), stats.Inspected)
	assert.Equal(t, uint64(1), stats.FailOpen, "the agent is missing")

	resp, err = http.Get("http://" + debugAddr + "/debug/pprof/goroutine?debug=1")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(b), "goroutine profile: total")
}
