package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/conformance"
	"github.com/seed-a2a44e50/ngwaf-helloworld/module"
)

// moduleApp serves the suite's echo app behind our module, dialling a
// fresh socket path, and returns its URL and that path.
func moduleApp(t *testing.T) (string, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "conformance-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "sigsci.sock")
	m, err := module.NewModule(conformance.EchoApp(), module.Socket("unix", sock), module.Logger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	srv := httptest.NewServer(m)
	t.Cleanup(func() { srv.Close(); _ = m.Close() })
	return srv.URL, sock
}

func TestConformanceSubcommand(t *testing.T) {
	t.Run("a passing module exits 0 with the table", func(t *testing.T) {
		app, sock := moduleApp(t)
		var out, errOut strings.Builder
		code := run(context.Background(), []string{"fakeagent", "conformance", "-app", app, "-agent-address", sock}, getenv(nil), &out, &errOut)
		assert.Equal(t, exitOK, code, errOut.String())
		assert.Contains(t, out.String(), "CHECK ")
		assert.Contains(t, out.String(), "spoofed-headers")
		assert.Contains(t, out.String(), ": PASS\n")
	})
	t.Run("-json prints the report as JSON", func(t *testing.T) {
		app, sock := moduleApp(t)
		var out, errOut strings.Builder
		code := run(context.Background(), []string{"fakeagent", "conformance", "-json", "-app", app, "-agent-address", "unix:" + sock}, getenv(nil), &out, &errOut)
		assert.Equal(t, exitOK, code, errOut.String())
		var rep conformance.Report
		require.NoError(t, json.Unmarshal([]byte(out.String()), &rep), out.String())
		assert.True(t, rep.Passed)
		assert.NotEmpty(t, rep.Checks)
	})
	t.Run("an app without a module exits 1 and says why", func(t *testing.T) {
		plain := httptest.NewServer(conformance.EchoApp())
		t.Cleanup(plain.Close)
		_, sock := moduleApp(t)
		var out, errOut strings.Builder
		code := run(context.Background(), []string{"fakeagent", "conformance", "-app", plain.URL, "-agent-address", sock, "-app-wait", "200ms"}, getenv(nil), &out, &errOut)
		assert.Equal(t, exitFailure, code)
		assert.Contains(t, errOut.String(), "fakeagent conformance: conformance: the application at")
		assert.Empty(t, out.String())
	})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no -app", nil, "-app is required"},
		{"an unknown flag", []string{"-nope"}, "flag provided but not defined: -nope"},
		{"a bad duration", []string{"-app", "http://x", "-settle", "soon"}, `invalid value "soon" for flag -settle`},
		{"a stray argument", []string{"-app", "http://x", "extra"}, `unexpected arguments ["extra"]`},
	} {
		t.Run(tc.name+" is a usage error", func(t *testing.T) {
			var out, errOut strings.Builder
			code := run(context.Background(), append([]string{"fakeagent", "conformance"}, tc.args...), getenv(nil), &out, &errOut)
			assert.Equal(t, exitUsage, code)
			assert.Contains(t, errOut.String(), tc.want)
			assert.Equal(t, 1, strings.Count(errOut.String(), "\n"), errOut.String())
		})
	}
	t.Run("-h prints help to stdout", func(t *testing.T) {
		var out, errOut strings.Builder
		assert.Equal(t, exitOK, run(context.Background(), []string{"fakeagent", "conformance", "-h"}, getenv(nil), &out, &errOut))
		assert.Contains(t, out.String(), "fakeagent conformance -app http://HOST:PORT")
		assert.Contains(t, out.String(), "-agent-address address")
		assert.Empty(t, errOut.String())
	})
}
