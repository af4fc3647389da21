package module

import (
	"errors"
	"net"
	"net/http"
	"net/rpc"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// testAgent is a scripted agent built on the wire package's server codec.
// Its decide function answers PreRequest; every call is recorded on a
// channel so tests can wait for background calls without sleeping.
type testAgent struct {
	t       testing.TB
	network string
	addr    string

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
	decide func(*RPCMsgIn) (RPCMsgOut, error)
	raw    func(net.Conn) // when set, handles connections instead of net/rpc

	accepted atomic.Int64
	preCalls atomic.Int64
	inits    chan *RPCMsgIn
	pres     chan *RPCMsgIn
	posts    chan *RPCMsgIn
	updates  chan *RPCMsgIn2
	release  chan struct{} // closed at cleanup, ends hangs
}

func allow(*RPCMsgIn) (RPCMsgOut, error) { return RPCMsgOut{WAFResponse: 200}, nil }

// startAgent starts an agent on a fresh Unix socket, or on TCP loopback
// when network is "tcp".
func startAgent(t testing.TB, network string) *testAgent {
	t.Helper()
	a := &testAgent{
		t:       t,
		network: network,
		conns:   map[net.Conn]bool{},
		decide:  allow,
		inits:   make(chan *RPCMsgIn, 1024),
		pres:    make(chan *RPCMsgIn, 4096),
		posts:   make(chan *RPCMsgIn, 1024),
		updates: make(chan *RPCMsgIn2, 1024),
		release: make(chan struct{}),
	}
	if network == "unix" {
		// t.TempDir paths can exceed the 108-byte socket path limit.
		dir, err := os.MkdirTemp("", "agt")
		require.NoError(t, err)
		t.Cleanup(func() { os.RemoveAll(dir) })
		a.addr = filepath.Join(dir, "s.sock")
	} else {
		a.addr = "127.0.0.1:0"
	}
	a.listen()
	t.Cleanup(a.close)
	return a
}

func (a *testAgent) listen() {
	a.t.Helper()
	ln, err := net.Listen(a.network, a.addr)
	require.NoError(a.t, err)
	a.addr = ln.Addr().String()
	srv := rpc.NewServer()
	require.NoError(a.t, srv.RegisterName("RPC", &agentRPC{a}))
	a.mu.Lock()
	a.ln = ln
	a.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			a.accepted.Add(1)
			a.mu.Lock()
			a.conns[c] = true
			raw := a.raw
			a.mu.Unlock()
			if raw != nil {
				go raw(c)
			} else {
				go srv.ServeCodec(wire.NewServerCodec(c))
			}
		}
	}()
}

// stop closes the listener and every connection, like an agent that dies.
func (a *testAgent) stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ln != nil {
		a.ln.Close()
		a.ln = nil
	}
	a.dropConns()
}

// dropConns closes the agent's side of every open connection.
func (a *testAgent) dropConns() {
	for c := range a.conns {
		c.Close()
		delete(a.conns, c)
	}
}

func (a *testAgent) close() {
	select {
	case <-a.release:
	default:
		close(a.release)
	}
	a.stop()
}

func (a *testAgent) setDecide(f func(*RPCMsgIn) (RPCMsgOut, error)) {
	a.mu.Lock()
	a.decide = f
	a.mu.Unlock()
}

// setRaw makes new connections be handled by f, and drops the existing
// ones so that the next call must dial.
func (a *testAgent) setRaw(f func(net.Conn)) {
	a.mu.Lock()
	a.raw = f
	a.dropConns()
	a.mu.Unlock()
}

// hang makes PreRequest never answer until cleanup.
func (a *testAgent) hang(*RPCMsgIn) (RPCMsgOut, error) {
	<-a.release
	return RPCMsgOut{}, errors.New("released")
}

// module returns a module for this agent around h.
func (a *testAgent) module(t testing.TB, h http.Handler, opts ...ModuleConfigOption) *Module {
	t.Helper()
	// A long timeout unless a test sets its own: a loaded CI machine must
	// not turn a slow call into a fail-open the test did not ask for.
	all := append([]ModuleConfigOption{Socket(a.network, a.addr), Logger(discardLogger()), Timeout(10 * time.Second)}, opts...)
	m, err := NewModule(h, all...)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

type agentRPC struct{ a *testAgent }

func (r *agentRPC) ModuleInit(in *RPCMsgIn, out *RPCMsgOut) error {
	send(r.a, r.a.inits, in)
	out.WAFResponse = 200
	return nil
}

func (r *agentRPC) PreRequest(in *RPCMsgIn, out *RPCMsgOut) error {
	r.a.preCalls.Add(1)
	send(r.a, r.a.pres, in)
	r.a.mu.Lock()
	decide := r.a.decide
	r.a.mu.Unlock()
	res, err := decide(in)
	*out = res
	return err
}

func (r *agentRPC) PostRequest(in *RPCMsgIn, out *int) error {
	send(r.a, r.a.posts, in)
	return nil
}

func (r *agentRPC) UpdateRequest(in *RPCMsgIn2, out *int) error {
	send(r.a, r.a.updates, in)
	return nil
}

// send records a call, giving up once the agent is closed so no handler
// outlives the test.
func send[T any](a *testAgent, ch chan T, v T) {
	select {
	case ch <- v:
	case <-a.release:
	}
}
