package fakeagent

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestManualClock(t *testing.T) {
	start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()

	t.Run("sleepers wake when the clock passes their deadline", func(t *testing.T) {
		c := NewManualClock(start)
		woke := make(chan error, 1)
		go func() { woke <- c.Sleep(ctx, time.Second) }()
		require.NoError(t, c.WaitForSleepers(ctx, 1))
		c.Advance(999 * time.Millisecond)
		select {
		case <-woke:
			t.Fatal("woke early")
		default:
		}
		c.Advance(time.Millisecond)
		require.NoError(t, <-woke)
		assert.Equal(t, start.Add(time.Second), c.Now())
		assert.Equal(t, []time.Duration{time.Second}, c.Sleeps())
	})
	t.Run("a cancelled sleep returns the context's error", func(t *testing.T) {
		c := NewManualClock(start)
		sctx, scancel := context.WithCancel(ctx)
		woke := make(chan error, 1)
		go func() { woke <- c.Sleep(sctx, time.Hour) }()
		require.NoError(t, c.WaitForSleepers(ctx, 1))
		scancel()
		assert.ErrorIs(t, <-woke, context.Canceled)
	})
	t.Run("a zero sleep returns at once", func(t *testing.T) {
		var c ManualClock
		require.NoError(t, c.Sleep(ctx, 0))
		require.NoError(t, c.WaitForSleepers(ctx, 0))
		assert.True(t, c.Now().IsZero())
	})
}

func TestRealClockSleepHonoursTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, realClock{}.Sleep(ctx, time.Hour), context.Canceled)
	assert.NoError(t, realClock{}.Sleep(context.Background(), 0))
}
