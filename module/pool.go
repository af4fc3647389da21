package module

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/rpc"
	"sync"
	"sync/atomic"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

var errPoolClosed = errors.New("module: inspector closed")

// pool keeps persistent agent connections and spreads calls over them. An
// idle connection is preferred; a new one is dialed while fewer than max
// exist; beyond that, calls share the least busy connection (net/rpc
// matches replies to calls by sequence number).
type pool struct {
	network, address string
	max              int
	perCall          bool
	dialer           net.Dialer

	mu      sync.Mutex
	conns   []*poolConn
	dialing int
	closed  bool

	dials, retries atomic.Uint64
	losses         atomic.Uint64 // connections given up for a failure
}

// poolConn is one agent connection. inflight and broken are guarded by
// pool.mu.
type poolConn struct {
	client   *rpc.Client
	nc       net.Conn
	sending  chan struct{} // a one-slot semaphore held while writing a call
	inflight int
	broken   bool
}

func newPool(network, address string, maxConns int, perCall bool) *pool {
	return &pool{network: network, address: address, max: maxConns, perCall: perCall}
}

// call runs one RPC within ctx. A call that fails because a reused
// connection turned out dead (the agent closed it, restarted, or sent
// garbage) is retried once on a fresh connection within the same deadline.
func (p *pool) call(ctx context.Context, method string, args, reply any) error {
	for attempt := 0; ; attempt++ {
		c, reused, err := p.get(ctx)
		if err != nil {
			return err
		}
		err = c.do(ctx, method, args, reply)
		p.put(c, err)
		if err == nil || !connFatal(err) || !reused || attempt > 0 || ctx.Err() != nil {
			return err
		}
		p.retries.Add(1)
	}
}

// connFatal reports whether err means the connection can't be trusted
// any more: anything but the agent's own error reply.
func connFatal(err error) bool {
	var remote rpc.ServerError
	return err != nil && !errors.As(err, &remote)
}

func (p *pool) get(ctx context.Context) (c *poolConn, reused bool, err error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, false, errPoolClosed
	}
	if !p.perCall {
		var best *poolConn
		for _, pc := range p.conns {
			if best == nil || pc.inflight < best.inflight {
				best = pc
			}
		}
		full := len(p.conns)+p.dialing >= p.max
		if best != nil && (best.inflight == 0 || full) {
			best.inflight++
			p.mu.Unlock()
			return best, true, nil
		}
		if full {
			// Every slot is being dialed: wait for none, fail open.
			p.mu.Unlock()
			return nil, false, errors.New("module: all agent connections are being dialed")
		}
	}
	p.dialing++
	p.mu.Unlock()

	nc, err := p.dialer.DialContext(ctx, p.network, p.address)
	p.dials.Add(1)

	p.mu.Lock()
	defer p.mu.Unlock()
	p.dialing--
	if err != nil {
		return nil, false, err
	}
	c = &poolConn{
		client:   rpc.NewClientWithCodec(wire.NewClientCodec(nc)),
		nc:       nc,
		sending:  make(chan struct{}, 1),
		inflight: 1,
	}
	if p.closed {
		c.client.Close()
		return nil, false, errPoolClosed
	}
	if !p.perCall {
		p.conns = append(p.conns, c)
	}
	return c, false, nil
}

// put returns a connection after a call. A connection that failed is taken
// out of the pool at once and closed when its last call is done, so calls
// still waiting on it keep their own deadlines.
func (p *pool) put(c *poolConn, err error) {
	p.mu.Lock()
	c.inflight--
	if (connFatal(err) || p.perCall) && !c.broken {
		c.broken = true
		p.remove(c)
		if connFatal(err) {
			p.losses.Add(1)
		}
	}
	closeNow := c.broken && c.inflight == 0
	p.mu.Unlock()
	if closeNow {
		c.client.Close()
	}
}

func (p *pool) remove(c *poolConn) {
	for i, pc := range p.conns {
		if pc == c {
			p.conns = append(p.conns[:i], p.conns[i+1:]...)
			return
		}
	}
}

func (p *pool) close() {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.closed = true
	for _, c := range conns {
		c.broken = true
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.client.Close()
	}
}

func (p *pool) stats() (dials, retries uint64, open int) {
	p.mu.Lock()
	open = len(p.conns)
	p.mu.Unlock()
	return p.dials.Load(), p.retries.Load(), open
}

// do sends one call and waits for its reply or ctx. Sending waits for the
// connection's send slot, not for net/rpc's lock, so a caller queued behind
// a write to an agent that stopped reading still leaves at its own
// deadline; and each write is bounded by its own call's deadline.
func (c *poolConn) do(ctx context.Context, method string, args, reply any) error {
	select {
	case c.sending <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("waiting to send on a busy agent connection: %w", ctx.Err())
	}
	if dl, ok := ctx.Deadline(); ok {
		if err := c.nc.SetWriteDeadline(dl); err != nil {
			<-c.sending
			return err
		}
	}
	call := c.client.Go(method, args, reply, make(chan *rpc.Call, 1))
	<-c.sending
	select {
	case <-call.Done:
		if connFatal(call.Error) {
			// A failed write may have left half a frame on the wire:
			// nothing more can be sent here. Closing fails the calls
			// queued behind it at once (they retry on a fresh connection).
			c.client.Close()
		}
		return call.Error
	case <-ctx.Done():
		return ctx.Err()
	}
}
