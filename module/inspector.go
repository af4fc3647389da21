package module

import (
	"errors"
	"fmt"
	"log/slog"
	"net/rpc"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// The protocol's messages, under the names the upstream module uses so
// that code written against it compiles unchanged.
type (
	// RPCMsgIn describes a request (and later its response) to the agent.
	RPCMsgIn = wire.RPCMsgIn
	// RPCMsgOut is the agent's decision.
	RPCMsgOut = wire.RPCMsgOut
	// RPCMsgIn2 reports the outcome of a request the agent gave a RequestID.
	RPCMsgIn2 = wire.RPCMsgIn2
	// Action edits one response header.
	Action = wire.Action
)

// Inspector is what a Module asks about each request. The RPC inspector
// talks to an agent; CustomInspector plugs in any other implementation.
type Inspector interface {
	ModuleInit(*RPCMsgIn, *RPCMsgOut) error
	PreRequest(*RPCMsgIn, *RPCMsgOut) error
	PostRequest(*RPCMsgIn, *RPCMsgOut) error
	UpdateRequest(*RPCMsgIn2, *RPCMsgOut) error
}

// ErrAgentUnavailable is returned, without calling the agent, while the
// circuit breaker is open after repeated failures.
var ErrAgentUnavailable = errors.New("module: agent unavailable (circuit breaker open)")

// RPCInspectorConfig configures an RPCInspector.
type RPCInspectorConfig struct {
	Network, Address string        // "unix" + path or "tcp" + host:port
	Timeout          time.Duration // per call, connecting included
	MaxConns         int           // open connections at most; 0 means DefaultMaxConns
	ConnPerCall      bool          // dial and close a connection for every call
	BreakerThreshold int           // consecutive failures that open the breaker; 0 disables it
	BreakerCooldown  time.Duration // first wait before probing an open breaker
	Logger           *slog.Logger  // breaker transitions; default slog.Default()
}

// RPCInspector calls an agent over its msgpack-RPC protocol, through a pool
// of persistent connections guarded by a circuit breaker. Each call checks
// out a connection, writes the request and reads the reply on the calling
// goroutine, and puts the connection back.
type RPCInspector struct {
	// Upstream's fields, so that &RPCInspector{Network: ..., Address: ...,
	// Timeout: ...} works as it does there (rpcclient.go); NewRPCInspector
	// fills in the first three.
	Network           string                      // "unix" or "tcp"; DefaultRPCNetwork when empty
	Address           string                      // socket path or host:port; DefaultRPCAddress when empty
	Timeout           time.Duration               // per call; DefaultTimeout when not positive
	Debug             bool                        // accepted for compatibility; logging goes through slog
	InitRPCClientFunc func() (*rpc.Client, error) // when set, every call is made on the client it returns
	FiniRPCClientFunc func(*rpc.Client, error)    // when set, replaces closing that client after a call
	setupOnce         sync.Once

	timeout time.Duration
	pool    *pool
	breaker *breaker
	now     func() time.Time
	logger  *slog.Logger
	address string

	calls, failures, rejected atomic.Uint64
	latencyNanos, maxNanos    atomic.Int64
}

// NewRPCInspector returns an inspector for the agent at cfg's address. It
// does not connect until the first call.
func NewRPCInspector(cfg RPCInspectorConfig) *RPCInspector {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &RPCInspector{
		Network: cfg.Network,
		Address: cfg.Address,
		Timeout: cfg.Timeout,
		logger:  cfg.Logger,
		address: cfg.Network + ":" + cfg.Address,
		timeout: cfg.Timeout,
		pool:    newPool(cfg.Network, cfg.Address, cfg.MaxConns, cfg.ConnPerCall),
		breaker: newBreaker(cfg.BreakerThreshold, cfg.BreakerCooldown),
		now:     time.Now,
	}
}

// ModuleInit announces the module to the agent.
func (ri *RPCInspector) ModuleInit(in *RPCMsgIn, out *RPCMsgOut) error {
	return ri.callMsgOut(wire.MethodModuleInit, in, out)
}

// PreRequest asks the agent for a decision on a request.
func (ri *RPCInspector) PreRequest(in *RPCMsgIn, out *RPCMsgOut) error {
	return ri.callMsgOut(wire.MethodPreRequest, in, out)
}

// PostRequest reports an anomalous response the agent gave no RequestID.
// The agent's result carries nothing; out is left untouched.
func (ri *RPCInspector) PostRequest(in *RPCMsgIn, _ *RPCMsgOut) error {
	var n int
	return ri.call(wire.MethodPostRequest, in, &n)
}

// UpdateRequest reports the outcome of a request the agent gave a
// RequestID. The agent's result carries nothing; out is left untouched.
func (ri *RPCInspector) UpdateRequest(in *RPCMsgIn2, _ *RPCMsgOut) error {
	var n int
	return ri.call(wire.MethodUpdateRequest, in, &n)
}

// callMsgOut decodes the reply into out. The reply is read on this
// goroutine and never after the call returns; out is left empty on error.
func (ri *RPCInspector) callMsgOut(method string, in *RPCMsgIn, out *RPCMsgOut) error {
	*out = RPCMsgOut{}
	if err := ri.call(method, in, out); err != nil {
		*out = RPCMsgOut{}
		return err
	}
	return nil
}

func (ri *RPCInspector) call(method string, args, reply any) error {
	ri.setup()
	if ri.InitRPCClientFunc != nil {
		return ri.callClient(method, args, reply)
	}
	start := ri.now()
	if !ri.breaker.allow(start) {
		ri.rejected.Add(1)
		return ErrAgentUnavailable
	}
	err := ri.pool.call(time.Now().Add(ri.timeout), method, args, reply)
	elapsed := ri.now().Sub(start)

	ri.calls.Add(1)
	ri.latencyNanos.Add(int64(elapsed))
	for {
		m := ri.maxNanos.Load()
		if int64(elapsed) <= m || ri.maxNanos.CompareAndSwap(m, int64(elapsed)) {
			break
		}
	}
	var remote rpc.ServerError
	var transition breakerTransition
	switch {
	case err == nil, errors.As(err, &remote):
		transition = ri.breaker.record(true, ri.now())
	case errors.Is(err, os.ErrDeadlineExceeded):
		transition = ri.breaker.record(false, ri.now())
	default:
		ri.breaker.fastFailure(ri.now())
	}
	switch transition {
	case breakerOpened:
		ri.logger.Warn("agent unavailable: failing open without calling it until a probe succeeds",
			"agent", ri.address, "error", err)
	case breakerClosed:
		ri.logger.Info("agent reachable again: inspecting requests", "agent", ri.address)
	}
	if err != nil {
		ri.failures.Add(1)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("%s: agent did not answer within %v: %w", method, ri.timeout, err)
		}
		return fmt.Errorf("%s: %w", method, err)
	}
	return nil
}

// connLosses counts connections given up because a call on them failed:
// a change means the agent may have restarted.
func (ri *RPCInspector) connLosses() uint64 { return ri.pool.losses.Load() }

// Close closes every pooled connection. Calls made afterwards fail.
func (ri *RPCInspector) Close() error {
	ri.setup()
	ri.pool.close()
	return nil
}

// RPCStats are an RPCInspector's counters.
type RPCStats struct {
	Calls           uint64        // agent calls attempted (breaker rejections excluded)
	Failures        uint64        // calls that ended in an error of any kind
	BreakerRejected uint64        // calls failed fast while the breaker was open
	BreakerOpen     bool          // whether the breaker is open now
	Dials           uint64        // connection attempts (failed dials included)
	Retries         uint64        // calls retried on a fresh connection after a stale one
	OpenConns       int           // open connections now, idle or in use
	LatencyTotal    time.Duration // summed call latency
	LatencyMax      time.Duration // slowest call
}

// Stats returns the inspector's counters.
func (ri *RPCInspector) Stats() RPCStats {
	ri.setup()
	dials, retries, open := ri.pool.stats()
	return RPCStats{
		Calls:           ri.calls.Load(),
		Failures:        ri.failures.Load(),
		BreakerRejected: ri.rejected.Load(),
		BreakerOpen:     ri.breaker.isOpen(),
		Dials:           dials,
		Retries:         retries,
		OpenConns:       open,
		LatencyTotal:    time.Duration(ri.latencyNanos.Load()),
		LatencyMax:      time.Duration(ri.maxNanos.Load()),
	}
}
