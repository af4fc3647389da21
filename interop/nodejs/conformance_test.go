package nodejs

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/conformance"
)

// nodeFails are the required checks sigsci-module-nodejs 2.2.1 fails:
//   - spoofed-headers: it hands the agent's reply to the app as
//     req.SigSciAgent and leaves the request headers alone, so the
//     client's X-Sigsci-* headers reach the app;
//   - resp-actions: it ignores RespActions;
//   - fail-open-drop: when the agent closes the connection without
//     answering, neither its error nor its timeout handler runs, and the
//     request is never answered (here: until the suite's 3 s timeout).
var nodeFails = []string{"spoofed-headers", "resp-actions", "fail-open-drop"}

// TestTheNodeModuleConformance runs the conformance suite against app.js,
// started before the suite's agent, over a Unix socket and TCP.
func TestTheNodeModuleConformance(t *testing.T) {
	dir, err := os.MkdirTemp("", "nodejs-conformance-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	tcpAddr := ln.Addr().String() // free a moment ago; the suite's agent takes it
	require.NoError(t, ln.Close())

	for _, tc := range []struct{ name, agent string }{
		{"over a Unix socket", filepath.Join(dir, "sigsci.sock")},
		{"over TCP", tcpAddr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := startApp(t, tc.agent)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			rep, err := conformance.Run(ctx, conformance.Config{App: app, AgentAddress: tc.agent,
				RequestTimeout: 3 * time.Second}) // fail-open-drop waits for it
			require.NoError(t, err)
			var text strings.Builder
			require.NoError(t, rep.WriteText(&text))
			t.Log("\n" + text.String())
			assert.Contains(t, rep.ModuleVersion, "sigsci-module-nodejs 2.2.1")
			assert.Equal(t, nodeFails, rep.Failed(), "the required checks the Node.js module fails")
			for _, id := range []string{"post-status", "post-size", "post-duration"} {
				res, _ := rep.Check(id)
				assert.Contains(t, res.Detail, "matched to its PreRequest", id)
			}
			mi, _ := rep.Check("module-init")
			assert.Contains(t, mi.Detail, "not sent", "the Node.js module never sends ModuleInit")
			reuse, _ := rep.Check("connection-reuse")
			assert.Contains(t, reuse.Detail, "a connection per call")
		})
	}
}
