package main

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

// TestHelloworldPassesTheConformanceSuite runs `fakeagent conformance`'s
// suite against helloworld itself, started before the agent exists, as a
// user would run it.
func TestHelloworldPassesTheConformanceSuite(t *testing.T) {
	dir, err := os.MkdirTemp("", "helloworld-conformance-")
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
			a := startApp(t, "127.0.0.1:0", tc.agent)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			rep, err := conformance.Run(ctx, conformance.Config{App: a.url, AgentAddress: tc.agent})
			require.NoError(t, err)
			var text strings.Builder
			require.NoError(t, rep.WriteText(&text))
			t.Log("\n" + text.String())
			assert.True(t, rep.Passed, "failed: %v", rep.Failed())
			assert.Contains(t, rep.ModuleVersion, "ngwaf-helloworld-module-golang")
		})
	}
}
