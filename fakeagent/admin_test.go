package fakeagent

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// httpGet fetches url without keeping connections alive, and returns the
// status and body.
func httpGet(t testing.TB, url string) (int, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: callTimeout}
	resp, err := client.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestStartupProbe(t *testing.T) {
	clock := NewManualClock(time.Now())
	probeFile := filepath.Join(t.TempDir(), "startup")
	s := Start(t, WithClock(clock), WithStartupDelay(30*time.Second), Option(func(c *Config) {
		c.StartupProbeListener = "127.0.0.1:0"
		c.StartupProbeFilepath = probeFile
	}))
	url := "http://" + s.StartupProbeAddr() + "/startup"
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	require.NoError(t, clock.WaitForSleepers(ctx, 1), "the startup delay is running")

	status, _ := httpGet(t, url)
	assert.Equal(t, http.StatusServiceUnavailable, status, "before the rules are loaded")
	assert.False(t, s.Loaded())
	assert.NoFileExists(t, probeFile)
	moduleInit(t, dial(t, s)) // calls are served meanwhile

	clock.Advance(30 * time.Second)
	<-s.Ready()
	status, body := httpGet(t, url)
	assert.Equal(t, http.StatusOK, status, "once loaded")
	assert.Equal(t, "ok\n", body)
	assert.True(t, s.Loaded())
	assert.FileExists(t, probeFile)

	shutdown(t, s)
	assert.NoFileExists(t, probeFile, "removed at shutdown")
}

func TestAdminAPI(t *testing.T) {
	s := Start(t, WithAdminAddress("127.0.0.1:0"))
	base := "http://" + s.AdminAddr()
	<-s.Ready()
	cl := dial(t, s)
	moduleInit(t, cl)
	pre(t, cl, benign())
	pre(t, cl, sqli())
	noHost := benign()
	noHost.HeadersIn = noHost.HeadersIn[1:]
	pre(t, cl, noHost)

	t.Run("metrics are in the Prometheus text format", func(t *testing.T) {
		status, body := httpGet(t, base+"/metrics")
		require.Equal(t, http.StatusOK, status)
		for _, want := range []string{
			`fakeagent_rpc_calls_total{method="ModuleInit"} 1`,
			`fakeagent_rpc_calls_total{method="PreRequest"} 3`,
			`fakeagent_rpc_calls_total{method="UpdateRequest"} 0`,
			`fakeagent_decisions_total{waf_response="200"} 2`,
			`fakeagent_decisions_total{waf_response="406"} 1`,
			`fakeagent_signals_total{signal="SQLI"} 1`,
			`fakeagent_rpc_duration_seconds_bucket{method="PreRequest",le="0.0001"}`,
			`fakeagent_rpc_duration_seconds_count{method="PreRequest"} 3`,
			`fakeagent_open_connections 1`,
			`fakeagent_connections_total 1`,
			`fakeagent_deviations_total{kind="missing_host"} 1`,
			`fakeagent_deviations_total{kind="unknown_request_id"} 0`,
			`fakeagent_pending_updates 1`,
			`fakeagent_expired_updates_total 0`,
			`fakeagent_frame_errors_total{kind="malformed"} 0`,
			`fakeagent_rules_loaded 1`,
			`fakeagent_info{mode="blocking",version="dev"} 1`,
			`go_goroutines`,
		} {
			assert.Contains(t, body, want)
		}
	})
	t.Run("requests are the recorded requests as JSON", func(t *testing.T) {
		status, body := httpGet(t, base+"/requests")
		require.Equal(t, http.StatusOK, status)
		var recs []map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &recs))
		require.Len(t, recs, 3)
		assert.Equal(t, benignURI, recs[0]["in"].(map[string]any)["URI"])
		assert.Equal(t, []any{}, recs[0]["deviations"])
		assert.Equal(t, "pending", recs[1]["outcome"])
		assert.Contains(t, recs[1]["signals"], "SQLI")
		assert.Equal(t, []any{"missing_host"}, recs[2]["deviations"])

		_, body = httpGet(t, base+"/requests?limit=1")
		require.NoError(t, json.Unmarshal([]byte(body), &recs))
		require.Len(t, recs, 1)
		assert.EqualValues(t, 3, recs[0]["seq"])

		status, _ = httpGet(t, base+"/requests?limit=-1")
		assert.Equal(t, http.StatusBadRequest, status)
	})
	t.Run("healthz answers ok", func(t *testing.T) {
		status, body := httpGet(t, base+"/healthz")
		assert.Equal(t, http.StatusOK, status)
		assert.Equal(t, "ok\n", body)
	})
}

func TestHealthzFailsOnceShuttingDown(t *testing.T) {
	s := Start(t)
	h := s.AdminHandler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	assert.Equal(t, http.StatusOK, rec.Code)

	shutdown(t, s)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
}

func TestABarePortAdminAddressBindsLoopbackOnly(t *testing.T) {
	s := Start(t, WithAdminAddress(":0"))
	assert.Regexp(t, `^127\.0\.0\.1:\d+$`, s.AdminAddr(), "request contents must not be exposed by default")
	code, _ := httpGet(t, "http://"+s.AdminAddr()+"/healthz")
	assert.Equal(t, http.StatusOK, code)
}
