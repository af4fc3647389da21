package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/conformance"
	"github.com/seed-a2a44e50/ngwaf-helloworld/module"
)

// socketPath returns a short socket path (t.TempDir paths are too long
// for a Unix socket) removed when the test ends.
func socketPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "conformance-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "sigsci.sock")
}

// freePort returns a loopback TCP address that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// protected serves app behind our module, dialling network:address, with
// wrap (if any) around the module.
func protected(t *testing.T, app http.Handler, network, address string, wrap func(http.Handler) http.Handler, opts ...module.ModuleConfigOption) string {
	t.Helper()
	m, err := module.NewModule(app, append([]module.ModuleConfigOption{module.Socket(network, address),
		module.Logger(slog.New(slog.DiscardHandler))}, opts...)...)
	require.NoError(t, err)
	var h http.Handler = m
	if wrap != nil {
		h = wrap(m)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		_ = m.Close()
	})
	return srv.URL
}

func run(t *testing.T, app, agent string) *conformance.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := conformance.Run(ctx, conformance.Config{App: app, AgentAddress: agent})
	require.NoError(t, err)
	var text strings.Builder
	require.NoError(t, rep.WriteText(&text))
	t.Log("\n" + text.String())
	return rep
}

func TestOurModulePassesEveryRequiredCheck(t *testing.T) {
	for _, tc := range []struct{ name, network, address string }{
		{"over a Unix socket", "unix", socketPath(t)},
		{"over TCP", "tcp", freePort(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := protected(t, conformance.EchoApp(), tc.network, tc.address, nil)
			rep := run(t, app, tc.network+":"+tc.address)
			assert.True(t, rep.Passed, "failed: %v", rep.Failed())
			assert.Empty(t, rep.Failed())
			mi, ok := rep.Check("module-init")
			require.True(t, ok)
			assert.Contains(t, mi.Detail, "ngwaf-helloworld-module-golang", "our module sends ModuleInit")
			reuse, _ := rep.Check("connection-reuse")
			assert.Contains(t, reuse.Detail, "pooled")
		})
	}
}

func TestAModuleWhoseBreakerSkipsTheAgentStillPasses(t *testing.T) {
	// The breaker opens at the first failure and probes after 300ms: the
	// fault phases must wait for a probe to reach the agent.
	addr := socketPath(t)
	app := protected(t, conformance.EchoApp(), "unix", addr, nil, module.CircuitBreaker(1, 300*time.Millisecond))
	rep := run(t, app, addr)
	assert.True(t, rep.Passed, "failed: %v", rep.Failed())
}

func TestABrokenModuleIsCaught(t *testing.T) {
	addr := socketPath(t)
	type spoofKey struct{}
	// Outside the module: remember the client's X-Sigsci-* headers. Inside
	// it: add them back, as a module that never strips them would leave
	// them.
	app := conformance.EchoApp()
	restore := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := r.Context().Value(spoofKey{}).(http.Header); ok {
			for k, v := range h {
				if r.Header.Get(k) == "" {
					r.Header[k] = v
				}
			}
		}
		app.ServeHTTP(w, r)
	})
	remember := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := http.Header{}
			for k, v := range r.Header {
				if strings.HasPrefix(k, "X-Sigsci-") {
					h[k] = v
				}
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), spoofKey{}, h)))
		})
	}
	rep := run(t, protected(t, restore, "unix", addr, remember), addr)
	assert.False(t, rep.Passed)
	assert.Equal(t, []string{"spoofed-headers"}, rep.Failed(), "only the broken behaviour fails")
	res, _ := rep.Check("spoofed-headers")
	assert.Contains(t, res.Detail, "X-Sigsci-Tags: SPOOFED-TAG")
	assert.Contains(t, res.Detail, "X-Sigsci-Requestid: spoofed-request-id")
	assert.NotContains(t, res.Detail, "X-Sigsci-Agentresponse", "the module still overwrites the agent's response")
}

func TestRunRefusesWhatItCannotTest(t *testing.T) {
	plain := httptest.NewServer(conformance.EchoApp())
	t.Cleanup(plain.Close)
	closed := freePort(t)
	cases := []struct {
		name string
		cfg  conformance.Config
		want string
	}{
		{"no application URL", conformance.Config{}, "no application URL"},
		{"an application URL that is not http", conformance.Config{App: "ftp://x"}, `application URL "ftp://x": want http://host:port`},
		{"a bad agent address", conformance.Config{App: plain.URL, AgentAddress: "nowhere"}, "agent address"},
		{"an application that never answers", conformance.Config{App: "http://" + closed, AgentAddress: socketPath(t), AppWait: 200 * time.Millisecond},
			"did not answer within 200ms"},
		{"an application without a module", conformance.Config{App: plain.URL, AgentAddress: socketPath(t), AppWait: 200 * time.Millisecond},
			"answers, but its module sent no PreRequest"},
	}
	for _, tc := range cases {
		t.Run(tc.name+" is an error", func(t *testing.T) {
			rep, err := conformance.Run(context.Background(), tc.cfg)
			require.Error(t, err)
			assert.Nil(t, rep)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	t.Run("an agent address in use is an error", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { _ = ln.Close() })
		_, err = conformance.Run(context.Background(), conformance.Config{App: plain.URL, AgentAddress: ln.Addr().String()})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "address already in use")
	})
}

func TestTheReportReadsAsATableAndAsJSON(t *testing.T) {
	rep := &conformance.Report{
		App: "http://127.0.0.1:8000", Agent: "unix:/tmp/s.sock", ModuleVersion: "m 1.0", ServerVersion: "s 2",
		Duration: 1500 * time.Millisecond,
		Checks: []conformance.Result{
			{ID: "allow", Title: "A benign request is allowed", Required: true, Status: conformance.StatusPass, Detail: "200"},
			{ID: "spoofed-headers", Title: "Spoofs are stripped", Required: true, Status: conformance.StatusFail, Detail: "the app saw\nX-Sigsci-Tags"},
			{ID: "module-init", Title: "ModuleInit", Status: conformance.StatusInfo, Detail: "not sent"},
		},
	}
	var text strings.Builder
	require.NoError(t, rep.WriteText(&text))
	assert.Equal(t, `conformance of http://127.0.0.1:8000 (module "m 1.0", server "s 2"), fake agent on unix:/tmp/s.sock

CHECK            LEVEL     RESULT  DETAIL
allow            required  PASS    200
spoofed-headers  required  FAIL    the app saw X-Sigsci-Tags
module-init      info      INFO    not sent

1 of 2 required checks passed, 1 informational, in 1.5s: FAIL: spoofed-headers
`, text.String())

	var buf bytes.Buffer
	require.NoError(t, rep.WriteJSON(&buf))
	var back conformance.Report
	require.NoError(t, json.Unmarshal(buf.Bytes(), &back))
	assert.Equal(t, rep.Checks, back.Checks)
	assert.Contains(t, buf.String(), `"required": true`)
	assert.Contains(t, buf.String(), `"status": "fail"`)
}
