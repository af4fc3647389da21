package fakeagent

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProbe(t *testing.T) {
	t.Run("succeeds against a running agent", func(t *testing.T) {
		for _, opts := range [][]Option{nil, {WithTCP()}} {
			s := Start(t, opts...)
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			defer cancel()
			out, err := Probe(ctx, s.Network()+":"+s.Addr(), "v1")
			require.NoError(t, err)
			assert.Equal(t, int32(200), out.WAFResponse)
			mods := s.Stats().Modules
			require.Len(t, mods, 1)
			assert.Equal(t, probeModuleVersion+" v1", mods[0].ModuleVersion)
		}
	})
	t.Run("fails without an agent", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		_, err := Probe(ctx, shortSocketPath(t), "v1")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "no such file")
	})
	t.Run("fails on an agent that does not answer in time", func(t *testing.T) {
		s := Start(t, WithFaults(Faults{HangRate: 1}))
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := Probe(ctx, s.Addr(), "v1")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "ModuleInit: no reply in time")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("fails on an agent that answers with an error", func(t *testing.T) {
		s := Start(t, WithFaults(Faults{ErrorRate: 1}))
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		_, err := Probe(ctx, s.Addr(), "v1")
		require.Error(t, err)
		assert.Contains(t, err.Error(), InjectedError)
	})
	t.Run("rejects a bad address", func(t *testing.T) {
		_, err := Probe(context.Background(), "nowhere", "v1")
		require.Error(t, err)
	})
}
