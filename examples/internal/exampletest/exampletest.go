// Package exampletest holds the tests every framework example must pass
// against fakeagent.Start(t): the requests, as a table each example extends
// with its framework's own cases, and the check that Run serves until
// cancelled.
package exampletest

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a2a44e50/ngwaf-helloworld/examples/internal/exampleserver"
	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent"
)

// SQLi is a SQL injection the fake agent blocks.
const SQLi = "1' OR '1'='1"

// Case is one request to an example and the answer it must get. An empty
// WantBody is not checked; a 406 must be the module's own answer.
type Case struct {
	Name, Method, Path, ContentType, Body string
	WantCode                              int
	WantBody                              string
}

// Cases are the requests every example answers alike; greeting is the body
// of its GET /.
func Cases(greeting string) []Case {
	return []Case{
		{"a plain GET is allowed", "GET", "/", "", "", 200, greeting},
		{"a route parameter is allowed", "GET", "/hello/gopher", "", "", 200, "Hello, gopher!\n"},
		{"SQL injection in the query is blocked", "GET", "/?q=" + url.QueryEscape(SQLi), "", "", 406, ""},
		{"a benign form reaches the handler whole", "POST", "/echo", "application/x-www-form-urlencoded", "name=gopher&lang=go", 200, "name=gopher&lang=go"},
		{"SQL injection in a form body is blocked", "POST", "/echo", "application/x-www-form-urlencoded", "q=" + url.QueryEscape(SQLi), 406, ""},
		{"XSS in a JSON body is blocked", "POST", "/echo", "application/json", `{"comment":"<script>alert(1)</script>"}`, 406, ""},
	}
}

// AllowsAndBlocks serves the app newApp builds against a fake agent, sends
// it every case and checks the answers, then checks that /healthz is
// answered without the agent seeing it.
func AllowsAndBlocks(t *testing.T, newApp exampleserver.NewApp, cases []Case) {
	t.Helper()
	agent := fakeagent.Start(t)
	app, closeApp, err := newApp(agent.Network(), agent.Addr(), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { closeApp() })
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)

	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			req, err := http.NewRequest(c.Method, srv.URL+c.Path, strings.NewReader(c.Body))
			require.NoError(t, err)
			if c.ContentType != "" {
				req.Header.Set("Content-Type", c.ContentType)
			}
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			assert.Equal(t, c.WantCode, resp.StatusCode, string(body))
			if c.WantBody != "" {
				assert.Equal(t, c.WantBody, string(body))
			}
			if c.WantCode == 406 {
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

// ServesUntilCancelled runs exampleserver.Run with newApp on a free port
// against a fake agent, checks that it blocks SQL injection once it says it
// is listening, and that it returns nil when its context is cancelled.
func ServesUntilCancelled(t *testing.T, name string, newApp exampleserver.NewApp) {
	t.Helper()
	agent := fakeagent.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- exampleserver.Run(ctx, name, newApp, []string{"-listen", "127.0.0.1:0", "-agent", agent.Addr()}, w, io.Discard)
		w.Close()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	require.True(t, ok, "first line %q", line)

	resp, err := http.Get(base + "/?q=" + url.QueryEscape(SQLi))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 406, resp.StatusCode)

	cancel()
	go io.Copy(io.Discard, stdout)
	require.NoError(t, <-done)
}
