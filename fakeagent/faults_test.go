package fakeagent

import (
	"context"
	"errors"
	"net"
	"net/rpc"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

func TestFaultPlanIsDeterministicForASeed(t *testing.T) {
	f := Faults{LatencyJitter: time.Millisecond, ErrorRate: 0.2, DropRate: 0.1, HangRate: 0.1}
	draw := func(seed uint64) (delays []time.Duration, faults []fault) {
		fz := newFaulter(f, seed)
		for range 1000 {
			d, k := fz.plan(methodPreRequest)
			delays, faults = append(delays, d), append(faults, k)
		}
		return delays, faults
	}
	d1, f1 := draw(42)
	d2, f2 := draw(42)
	assert.Equal(t, d1, d2)
	assert.Equal(t, f1, f2)

	counts := make(map[fault]int)
	for _, k := range f1 {
		counts[k]++
	}
	// Loose bounds: the fractions are honoured, not just the determinism.
	assert.InDelta(t, 200, counts[faultError], 50)
	assert.InDelta(t, 100, counts[faultDrop], 40)
	assert.InDelta(t, 100, counts[faultHang], 40)
	for _, d := range d1 {
		require.True(t, d >= 0 && d < time.Millisecond, "jitter %v out of range", d)
	}
}

func TestFaultsAreOffByDefault(t *testing.T) {
	fz := newFaulter(Faults{}, 0)
	for range 100 {
		d, k := fz.plan(methodPreRequest)
		require.Zero(t, d)
		require.Equal(t, faultNone, k)
	}
}

func TestErrorRateOneAnswersWithAnRPCError(t *testing.T) {
	s := Start(t, WithFaults(Faults{ErrorRate: 1}))
	cl := dial(t, s)
	err := invoke(t, cl, wire.MethodPreRequest, benign(), new(wire.RPCMsgOut))
	require.Error(t, err)
	assert.Equal(t, rpc.ServerError(InjectedError), err)

	rec := recordOf(t, s)
	assert.Equal(t, "error", rec.Fault)
	assert.Equal(t, OutcomeNone, rec.Outcome)
	assert.EqualValues(t, 1, s.Stats().Faults["error"])
	// The connection stays usable.
	require.Error(t, invoke(t, cl, wire.MethodModuleInit, benign(), new(wire.RPCMsgOut)))
}

func TestFaultsCanBeLimitedToMethods(t *testing.T) {
	s := Start(t, WithFaults(Faults{ErrorRate: 1, Methods: []string{"RPC.UpdateRequest"}}))
	cl := dial(t, s)
	moduleInit(t, cl)
	out := pre(t, cl, sqli())
	err := invoke(t, cl, wire.MethodUpdateRequest, &wire.RPCMsgIn2{RequestID: out.RequestID, ResponseCode: 406}, new(int))
	assert.Equal(t, rpc.ServerError(InjectedError), err)
	assert.Equal(t, OutcomePending, recordOf(t, s).Outcome)
}

func TestDropRateOneClosesWithoutAReply(t *testing.T) {
	var logs logBuffer
	s := Start(t, WithFaults(Faults{DropRate: 1}), withLogs(&logs))
	cl := dial(t, s)
	err := invoke(t, cl, wire.MethodPreRequest, benign(), new(wire.RPCMsgOut))
	require.Error(t, err)
	var serverErr rpc.ServerError
	assert.False(t, errors.As(err, &serverErr), "no reply at all, got %v", err)

	assert.Equal(t, "drop", recordOf(t, s).Fault)
	assert.NotContains(t, logs.String(), "level=ERROR", "a dropped connection is not a frame error")
}

func TestHangRateOne(t *testing.T) {
	t.Run("the client times out and shutdown is prompt", func(t *testing.T) {
		s := Start(t, WithFaults(Faults{HangRate: 1}))
		nc := dialRaw(t, s)
		require.NoError(t, nc.SetDeadline(time.Now().Add(50*time.Millisecond)))
		cl := rpc.NewClientWithCodec(wire.NewClientCodec(nc))
		defer cl.Close()
		err := invoke(t, cl, wire.MethodPreRequest, benign(), new(wire.RPCMsgOut))
		var ne net.Error
		require.ErrorAs(t, err, &ne)
		assert.True(t, ne.Timeout())

		// A second client is still hanging when the server shuts down.
		hanging := dial(t, s)
		call := hanging.Go(wire.MethodPreRequest, benign(), new(wire.RPCMsgOut), make(chan *rpc.Call, 1))
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		require.NoError(t, s.Shutdown(ctx), "hanging calls are released at once, not waited for")
		<-call.Done
		assert.Error(t, call.Error)
	})
	t.Run("a hanging call ends when the module closes the connection", func(t *testing.T) {
		s := Start(t, WithFaults(Faults{HangRate: 1, Methods: []string{"PreRequest"}}))
		cl := dial(t, s)
		call := cl.Go(wire.MethodPreRequest, benign(), new(wire.RPCMsgOut), make(chan *rpc.Call, 1))
		require.NoError(t, cl.Close())
		<-call.Done
		// Shutdown (at cleanup) finds nothing to wait for; goleak checks
		// that the handler goroutine is gone.
	})
}

func TestLatencyIsInjectedOnTheClock(t *testing.T) {
	clock := NewManualClock(time.Now())
	s := Start(t, WithClock(clock), WithSeed(7),
		WithFaults(Faults{Latency: 30 * time.Millisecond, LatencyJitter: 20 * time.Millisecond, Methods: []string{"PreRequest"}}))
	cl := dial(t, s)
	moduleInit(t, cl)
	require.Empty(t, clock.Sleeps(), "ModuleInit is not delayed")

	call := cl.Go(wire.MethodPreRequest, sqli(), new(wire.RPCMsgOut), make(chan *rpc.Call, 1))
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	require.NoError(t, clock.WaitForSleepers(ctx, 1))
	sleeps := clock.Sleeps()
	require.Len(t, sleeps, 1)
	assert.GreaterOrEqual(t, sleeps[0], 30*time.Millisecond)
	assert.Less(t, sleeps[0], 50*time.Millisecond)
	select {
	case <-call.Done:
		t.Fatal("answered before the latency elapsed")
	default:
	}

	clock.Advance(sleeps[0])
	<-call.Done
	require.NoError(t, call.Error)
	assert.Equal(t, int32(406), call.Reply.(*wire.RPCMsgOut).WAFResponse)
	assert.EqualValues(t, 1, s.Stats().Faults["latency"])
}
