package module

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/rpc"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

var errPoolClosed = errors.New("module: inspector closed")

// maxIdleTime is how long an unused connection is kept. The agent may
// close connections it has not heard from; a call that finds one closed is
// retried on a fresh connection anyway, so this only spares that retry.
const maxIdleTime = time.Minute

// pool holds connections to the agent the way database/sql does: a
// connection is checked out for one call and put back; the calling
// goroutine writes the request and reads the reply itself, with no
// goroutine of the pool's own in between. At most max connections are
// open; a call that finds all of them busy waits for one until its
// deadline. Idle connections are reused most recent first.
type pool struct {
	network, address string
	max              int
	perCall          bool

	mu      sync.Mutex
	idle    []*agentConn // most recently used last
	open    int          // idle, checked out and being dialed
	waiters []chan *agentConn
	closed  bool
	// epoch counts the times a connection was found dead. A dead
	// connection most likely means the agent restarted, which kills every
	// connection made before: idle connections of an older epoch are
	// closed, not reused.
	epoch uint64

	dials, retries atomic.Uint64
	losses         atomic.Uint64 // connections given up because a call on them failed
}

// agentConn is one connection to the agent, used by one call at a time.
type agentConn struct {
	nc       net.Conn
	codec    *wire.ClientCodec
	req      rpc.Request  // reused by every call
	resp     rpc.Response // reused by every call
	seq      uint64
	epoch    uint64    // the pool's epoch when it was dialed or last proved alive
	lastUsed time.Time // when it was put back
}

func newPool(network, address string, maxConns int, perCall bool) *pool {
	return &pool{network: network, address: address, max: maxConns, perCall: perCall}
}

// call runs one RPC, connecting included, before deadline. A call that fails
// because a reused connection turned out dead is retried once, on a fresh
// connection: never on another pooled one, which is most likely just as
// dead.
func (p *pool) call(deadline time.Time, method string, args, reply any) error {
	fresh := false
	for {
		c, reused, err := p.get(deadline, fresh)
		if err != nil {
			return err
		}
		err = c.do(deadline, method, args, reply)
		p.put(c, err)
		if err == nil || !connFatal(err) || !reused || fresh || time.Now().After(deadline) {
			return err
		}
		p.retries.Add(1)
		fresh = true
	}
}

// connFatal reports whether err means the connection can't be used any
// more: anything but the agent's own error reply.
func connFatal(err error) bool {
	var remote rpc.ServerError
	return err != nil && !errors.As(err, &remote)
}

// connDead reports whether err shows the agent's end of the connection
// gone (closed, reset), as after a restart, rather than slow or confused.
func connDead(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, net.ErrClosed)
}

// get checks out a connection: an idle one unless fresh is set, else a new
// one while fewer than max are open, else the first one put back (which has
// just answered, so is alive) before deadline.
func (p *pool) get(deadline time.Time, fresh bool) (c *agentConn, reused bool, err error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, false, errPoolClosed
		}
		if !fresh {
			if c := p.takeIdleLocked(time.Now()); c != nil {
				p.mu.Unlock()
				return c, true, nil
			}
		}
		if p.perCall || p.open < p.max {
			p.open++
			epoch := p.epoch
			p.mu.Unlock()
			c, err := p.dial(deadline, epoch)
			if err != nil {
				p.release()
			}
			return c, false, err
		}
		ch := make(chan *agentConn, 1)
		p.waiters = append(p.waiters, ch)
		p.mu.Unlock()

		c, err := p.wait(ch, deadline)
		if c != nil || err != nil {
			return c, c != nil, err
		}
		// A slot came free: try again.
	}
}

// wait waits for a connection handed over on ch, or for the news that a
// slot is free (nil), until deadline.
func (p *pool) wait(ch chan *agentConn, deadline time.Time) (*agentConn, error) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case c := <-ch:
		return c, nil
	case <-t.C:
	}
	p.mu.Lock()
	for i, w := range p.waiters {
		if w == ch {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			p.mu.Unlock()
			return nil, fmt.Errorf("waiting for an agent connection: %w", os.ErrDeadlineExceeded)
		}
	}
	p.mu.Unlock()
	// Something was handed over as the timer fired: pass it on.
	if c := <-ch; c != nil {
		p.put(c, nil)
	} else {
		p.mu.Lock()
		p.wakeLocked()
		p.mu.Unlock()
	}
	return nil, fmt.Errorf("waiting for an agent connection: %w", os.ErrDeadlineExceeded)
}

// takeIdleLocked returns the most recently used idle connection of the
// current epoch, closing the ones that are stale or idle for too long.
func (p *pool) takeIdleLocked(now time.Time) *agentConn {
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if c.epoch == p.epoch && now.Sub(c.lastUsed) < maxIdleTime {
			return c
		}
		p.releaseLocked()
		c.nc.Close()
	}
	return nil
}

func (p *pool) dial(deadline time.Time, epoch uint64) (*agentConn, error) {
	d := net.Dialer{Deadline: deadline}
	nc, err := d.Dial(p.network, p.address)
	p.dials.Add(1)
	if err != nil {
		return nil, err
	}
	return &agentConn{nc: nc, codec: wire.NewClientCodec(nc), epoch: epoch}, nil
}

// release gives up one open slot (a failed dial, a closed connection) and
// lets a waiter dial in its place.
func (p *pool) release() {
	p.mu.Lock()
	p.releaseLocked()
	p.mu.Unlock()
}

func (p *pool) releaseLocked() {
	p.open--
	p.wakeLocked()
}

// wakeLocked tells the first waiter that a slot is free.
func (p *pool) wakeLocked() {
	if len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		w <- nil
	}
}

// put returns c after a call that ended with err. A connection that failed
// is closed, never reused. The first one of an epoch found dead starts a
// new epoch, so idle connections dialed before it are not handed out again.
func (p *pool) put(c *agentConn, err error) {
	if p.perCall || connFatal(err) {
		c.nc.Close()
		p.mu.Lock()
		p.releaseLocked()
		if connFatal(err) {
			p.losses.Add(1)
			if connDead(err) && c.epoch == p.epoch {
				p.epoch++
			}
		}
		p.mu.Unlock()
		return
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		p.open--
		c.nc.Close()
		return
	}
	c.epoch = p.epoch // it just answered: alive in this epoch
	c.lastUsed = now
	if len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		w <- c
		return
	}
	p.idle = append(p.idle, c)
}

// close closes the idle connections and makes every later call fail;
// connections checked out are closed when they are put back.
func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.open -= len(idle)
	p.closed = true
	for _, w := range p.waiters {
		w <- nil
	}
	p.waiters = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.nc.Close()
	}
}

func (p *pool) stats() (dials, retries uint64, open int) {
	p.mu.Lock()
	open = p.open
	p.mu.Unlock()
	return p.dials.Load(), p.retries.Load(), open
}

// do writes one request and reads its reply, both before deadline. The
// agent's own error reply leaves the connection usable; anything else
// (a write or read error, a malformed frame, a reply to another call)
// means it is not.
func (c *agentConn) do(deadline time.Time, method string, args, reply any) error {
	if err := c.nc.SetDeadline(deadline); err != nil {
		return err
	}
	c.seq++
	c.req = rpc.Request{ServiceMethod: method, Seq: c.seq}
	if err := c.codec.WriteRequest(&c.req, args); err != nil {
		return fmt.Errorf("sending to the agent: %w", err)
	}
	resp := &c.resp
	if err := c.codec.ReadResponseHeader(resp); err != nil {
		return fmt.Errorf("reading the agent's reply: %w", err)
	}
	if resp.Seq != c.seq {
		return fmt.Errorf("%w: reply to call %d, want %d", wire.ErrMalformed, resp.Seq, c.seq)
	}
	if resp.Error != "" {
		if err := c.codec.ReadResponseBody(nil); err != nil {
			return err
		}
		return rpc.ServerError(resp.Error)
	}
	return c.codec.ReadResponseBody(reply)
}
