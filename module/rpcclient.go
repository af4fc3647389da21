package module

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/rpc"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// This file holds upstream's way of building and driving an RPCInspector:
// a struct literal with exported fields, one net/rpc client per call
// (GetRPCClient, CloseRPCClient) and the InitRPCClientFunc and
// FiniRPCClientFunc hooks that replace it.

// NewMsgpClientCodec returns a net/rpc client codec speaking the agent's
// msgpack-RPC framing over conn, as the module's own connections do.
func NewMsgpClientCodec(conn io.ReadWriteCloser) rpc.ClientCodec {
	return wire.NewClientCodec(conn)
}

// setup completes an RPCInspector built as a struct literal: the first
// call (or Stats, or Close) gives it what NewRPCInspector would have for
// its Network, Address and Timeout fields, including the connection pool
// and the circuit breaker with the module's defaults.
func (ri *RPCInspector) setup() {
	ri.setupOnce.Do(func() {
		if ri.pool != nil { // built by NewRPCInspector
			return
		}
		network, address := ri.target()
		n := NewRPCInspector(RPCInspectorConfig{
			Network:          network,
			Address:          address,
			Timeout:          ri.Timeout,
			BreakerThreshold: DefaultBreakerThreshold,
			BreakerCooldown:  DefaultBreakerCooldown,
		})
		ri.timeout, ri.pool, ri.breaker = n.timeout, n.pool, n.breaker
		ri.now, ri.logger, ri.address = n.now, n.logger, n.address
	})
}

// target is the agent's network and address from the exported fields, with
// upstream's defaults for empty ones.
func (ri *RPCInspector) target() (network, address string) {
	network, address = ri.Network, ri.Address
	if network == "" {
		network = DefaultRPCNetwork
	}
	if address == "" {
		address = DefaultRPCAddress
	}
	return network, address
}

// GetRPCClient returns the client for one call: InitRPCClientFunc's when
// it is set, or else a new client on a new connection to the agent whose
// deadline is the inspector's timeout from now. Calls made through the
// inspector's methods use the pool instead unless InitRPCClientFunc is set.
func (ri *RPCInspector) GetRPCClient() (*rpc.Client, error) {
	if ri.InitRPCClientFunc != nil {
		return ri.InitRPCClientFunc()
	}
	ri.setup()
	network, address := ri.target()
	conn, err := net.DialTimeout(network, address, ri.timeout)
	if err != nil {
		return nil, fmt.Errorf("connecting to the agent at %s:%s: %w", network, address, err)
	}
	if err := conn.SetDeadline(time.Now().Add(ri.timeout)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("setting a deadline on the agent connection: %w", err)
	}
	return rpc.NewClientWithCodec(wire.NewClientCodec(conn)), nil
}

// CloseRPCClient ends a client GetRPCClient returned, given the call's
// error: FiniRPCClientFunc decides when it is set (to keep the client for
// the next call, say); otherwise the client and its connection are closed.
func (ri *RPCInspector) CloseRPCClient(client *rpc.Client, err error) {
	if ri.FiniRPCClientFunc != nil {
		ri.FiniRPCClientFunc(client, err)
		return
	}
	if client != nil {
		client.Close()
	}
}

// callClient makes one call on GetRPCClient's client, within the
// inspector's timeout even when that client's connection has no deadline.
// These calls bypass the pool and the circuit breaker and are not counted
// in Stats.
func (ri *RPCInspector) callClient(method string, args, reply any) error {
	client, err := ri.GetRPCClient()
	if err == nil && client == nil {
		err = errors.New("InitRPCClientFunc returned no client")
	}
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	call := client.Go(method, args, reply, make(chan *rpc.Call, 1))
	timer := time.NewTimer(ri.timeout)
	defer timer.Stop()
	select {
	case <-call.Done:
		err = call.Error
	case <-timer.C:
		err = fmt.Errorf("agent did not answer within %v: %w", ri.timeout, context.DeadlineExceeded)
	}
	ri.CloseRPCClient(client, err)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	return nil
}
