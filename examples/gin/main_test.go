package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent"
)

const sqli = "1' OR '1'='1"

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

func TestTheAgentAllowsAndBlocks(t *testing.T) {
	agent := fakeagent.Start(t)
	app, closeApp, err := newApp(agent.Network(), agent.Addr(), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { closeApp() })
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)

	cases := []struct {
		name, method, path, contentType, body string
		wantCode                              int
		wantBody                              string
	}{
		{"a plain GET is allowed", "GET", "/", "", "", 200, "Hello from gin!\n"},
		{"a route parameter is allowed", "GET", "/hello/gopher", "", "", 200, "Hello, gopher!\n"},
		{"SQL injection in the query is blocked", "GET", "/?q=" + url.QueryEscape(sqli), "", "", 406, ""},
		{"a benign form reaches the handler whole", "POST", "/echo", "application/x-www-form-urlencoded", "name=gopher&lang=go", 200, "name=gopher&lang=go"},
		{"SQL injection in a form body is blocked", "POST", "/echo", "application/x-www-form-urlencoded", "q=" + url.QueryEscape(sqli), 406, ""},
		{"a status without a body reaches the client", "DELETE", "/item", "", "", 204, ""},
		{"XSS in a JSON body is blocked", "POST", "/echo", "application/json", `{"comment":"<script>alert(1)</script>"}`, 406, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
			require.NoError(t, err)
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			assert.Equal(t, c.wantCode, resp.StatusCode, string(body))
			if c.wantBody != "" {
				assert.Equal(t, c.wantBody, string(body))
			}
			if c.wantCode == 406 {
				assert.Equal(t, "406 Not Acceptable\n", string(body), "the module answered, not the handler")
			}
		})
	}

	t.Run("health checks are not inspected", func(t *testing.T) {
		before := len(agent.Requests())
		resp, err := srv.Client().Get(srv.URL + "/healthz")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode)
		assert.Len(t, agent.Requests(), before, "the agent saw /healthz")
	})
}

func TestRunServesUntilCancelled(t *testing.T) {
	agent := fakeagent.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	stdout, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-agent", agent.Addr()}, w, io.Discard)
		w.Close()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	require.True(t, ok, "first line %q", line)

	resp, err := http.Get(base + "/?q=" + url.QueryEscape(sqli))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 406, resp.StatusCode)

	cancel()
	go io.Copy(io.Discard, stdout)
	require.NoError(t, <-done)
}
