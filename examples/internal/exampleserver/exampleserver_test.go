package exampleserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunFailsWithoutServing(t *testing.T) {
	errApp := errors.New("no module")
	cases := []struct {
		name       string
		args       []string
		appErr     error
		wantErr    error
		wantSubstr string
	}{
		{"an unknown flag is refused", []string{"-nope"}, nil, nil, "flag provided but not defined"},
		{"a module that cannot be set up is reported", []string{"-listen", "127.0.0.1:0"}, errApp, errApp, ""},
		{"an address that cannot be listened on is reported", []string{"-listen", "256.0.0.1:0"}, nil, nil, "listening on 256.0.0.1:0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var gotNetwork, gotAddress string
			closed := false
			newApp := func(network, address string, _ *slog.Logger) (http.Handler, func() error, error) {
				gotNetwork, gotAddress = network, address
				if c.appErr != nil {
					return nil, nil, c.appErr
				}
				return http.NotFoundHandler(), func() error { closed = true; return nil }, nil
			}
			err := Run(context.Background(), "test", newApp, append(c.args, "-agent", "/tmp/x.sock"), io.Discard, io.Discard)
			require.Error(t, err)
			if c.wantErr != nil {
				assert.ErrorIs(t, err, c.wantErr)
			}
			assert.Contains(t, err.Error(), c.wantSubstr)
			if gotNetwork != "" {
				assert.Equal(t, "unix", gotNetwork, "an -agent with a / is a Unix socket")
				assert.Equal(t, "/tmp/x.sock", gotAddress)
				assert.Equal(t, c.appErr == nil, closed, "the module is closed once it was set up")
			}
		})
	}
}

func TestRunTakesAnAgentWithoutSlashForTCP(t *testing.T) {
	var gotNetwork string
	newApp := func(network, _ string, _ *slog.Logger) (http.Handler, func() error, error) {
		gotNetwork = network
		return nil, nil, errors.New("stop here")
	}
	require.Error(t, Run(context.Background(), "test", newApp, []string{"-agent", "127.0.0.1:737"}, io.Discard, io.Discard))
	assert.Equal(t, "tcp", gotNetwork)
}
