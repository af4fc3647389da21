package fakeagent

import (
	"errors"
	"io"
	"net"
	"net/rpc"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// conn is one module connection. It bounds how long a request frame may
// take to arrive (the idle timeout, against idle and slowloris
// connections), and lets Shutdown stop reading from it while the replies of
// calls in flight are still written.
type conn struct {
	net.Conn
	id   uint64
	idle time.Duration // <= 0: no deadline

	mu            sync.Mutex
	draining      bool      // stop reading: Shutdown is under way
	frameDeadline time.Time // when the frame being waited for must be complete

	done      chan struct{} // closed once nothing more will be read
	doneOnce  sync.Once
	closeOnce sync.Once
	closeErr  error
}

func newConn(nc net.Conn, id uint64, idle time.Duration) *conn {
	return &conn{Conn: nc, id: id, idle: idle, done: make(chan struct{})}
}

// startFrame starts the clock for the next request frame: it must be
// completely received within the idle timeout, however it trickles in.
func (c *conn) startFrame() {
	if c.idle <= 0 {
		return
	}
	c.mu.Lock()
	c.frameDeadline = time.Now().Add(c.idle)
	c.mu.Unlock()
}

// Read reads with the frame's deadline, and reports io.EOF once draining.
func (c *conn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if c.draining {
		c.mu.Unlock()
		return 0, io.EOF
	}
	if c.idle > 0 {
		dl := c.frameDeadline
		if dl.IsZero() {
			dl = time.Now().Add(c.idle)
		}
		// Setting the deadline under mu orders it against drain's.
		_ = c.Conn.SetReadDeadline(dl)
	}
	c.mu.Unlock()
	n, err := c.Conn.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && c.isDraining() {
		err = io.EOF
	}
	return n, err
}

// Write bounds each write by the idle timeout, so that a module that stops
// reading cannot hold a call forever.
func (c *conn) Write(p []byte) (int, error) {
	if c.idle > 0 {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(c.idle))
	}
	return c.Conn.Write(p)
}

// drain makes the connection stop reading: a blocked Read returns io.EOF,
// so net/rpc stops taking calls, waits for the ones in flight, writes their
// replies and closes the connection.
func (c *conn) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.draining = true
	_ = c.Conn.SetReadDeadline(time.Unix(1, 0))
}

func (c *conn) isDraining() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.draining
}

// stopReading records that nothing more will be read; calls hanging on
// the connection (fault injection) give up.
func (c *conn) stopReading() {
	c.doneOnce.Do(func() { close(c.done) })
}

// readingStopped reports whether stopReading was called.
func (c *conn) readingStopped() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Close closes the connection once.
func (c *conn) Close() error {
	c.closeOnce.Do(func() {
		c.stopReading()
		c.closeErr = c.Conn.Close()
	})
	return c.closeErr
}

// serverCodec wraps the wire codec to see how a connection's reading ends
// and to close the connection on a malformed argument: net/rpc itself only
// replies with an error and reads on, losing the stream's framing.
type serverCodec struct {
	*wire.ServerCodec
	s      *Server
	c      *conn
	failed error // set by ReadRequestBody; ends reading
}

func (sc *serverCodec) ReadRequestHeader(r *rpc.Request) error {
	if sc.failed != nil {
		sc.s.readEnded(sc.c, sc.failed)
		return sc.failed
	}
	sc.c.startFrame()
	if err := sc.ServerCodec.ReadRequestHeader(r); err != nil {
		sc.s.readEnded(sc.c, err)
		return err
	}
	if !isMethodName(shortMethodOf(r.ServiceMethod)) {
		sc.s.rec.countDeviation(DeviationUnknownMethod)
		sc.s.log.Warn("unknown RPC method; answering with an error", "conn", sc.c.id, "rpc_method", r.ServiceMethod)
	}
	return nil
}

func (sc *serverCodec) ReadRequestBody(body any) error {
	err := sc.ServerCodec.ReadRequestBody(body)
	if err != nil {
		sc.failed = err
	}
	return err
}

// shortMethodOf strips the service of a registered method name; any other
// service is not ours.
func shortMethodOf(serviceMethod string) string {
	const svc = "RPC."
	if len(serviceMethod) > len(svc) && serviceMethod[:len(svc)] == svc {
		return serviceMethod[len(svc):]
	}
	return ""
}

// serveConn serves one connection until it is closed or drained, then
// waits for its calls in flight.
func (s *Server) serveConn(c *conn) {
	defer s.connWG.Done()
	defer func() {
		_ = c.Close()
		s.untrack(c)
		s.rec.connClosed()
	}()
	// One rpc.Server per connection gives the methods their connection
	// (for fault injection and conformance); registering costs a few µs.
	rs := rpc.NewServer()
	if err := rs.RegisterName("RPC", &handler{s: s, c: c}); err != nil {
		s.log.Error("registering the RPC service", "error", err)
		return
	}
	codec := &serverCodec{
		ServerCodec: wire.NewServerCodec(c, wire.MaxMessageSize(s.cfg.MaxMessageSize)),
		s:           s,
		c:           c,
	}
	if s.cfg.Faults.blocksCalls() {
		// A delayed or hanging call must not hold up the calls behind it.
		rs.ServeCodec(codec)
		return
	}
	// Otherwise serve each call on this goroutine: ServeCodec starts a
	// goroutine per call, and that hand-off was the largest part of the
	// agent's cost per call (bench/README.md). Calls pipelined on one
	// connection are answered in order. ServeRequest also fails for an
	// unknown method, which is answered and must not end the connection;
	// reading has ended only when the codec says so.
	for {
		if err := rs.ServeRequest(codec); err != nil && c.readingStopped() {
			break
		}
	}
	_ = codec.Close()
}

// readEnded logs why reading from c stopped: quietly for ordinary closes,
// as an error for bad frames.
func (s *Server) readEnded(c *conn, err error) {
	c.stopReading()
	log := s.log.With("conn", c.id)
	if a := c.RemoteAddr(); a != nil && a.String() != "" && a.Network() == "tcp" {
		log = log.With("remote", a.String())
	}
	kind := ""
	switch {
	case c.isDraining():
		log.Debug("connection drained for shutdown")
		return
	case errors.Is(err, io.EOF):
		log.Debug("connection closed by module")
		return
	case errors.Is(err, net.ErrClosed):
		log.Debug("connection closed")
		return
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		log.Debug("connection reset by module", "error", err)
		return
	case errors.Is(err, os.ErrDeadlineExceeded):
		kind = frameIdleTimeout
		log.Warn("closing connection: no complete request within the idle timeout", "idle_timeout", c.idle)
	case errors.Is(err, wire.ErrTooLarge):
		kind = frameTooLarge
		log.Error("closing connection: request frame too large", "error", err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		kind = frameTruncated
		log.Error("closing connection: truncated request frame", "error", err)
	case errors.Is(err, wire.ErrMalformed):
		kind = frameMalformed
		log.Error("closing connection: malformed request", "error", err)
	default:
		kind = frameReadError
		log.Error("closing connection: reading request", "error", err)
	}
	s.rec.countFrameError(kind)
}

// logConnLimit logs a rejected connection at most once per second.
func (s *Server) logConnLimit() {
	now := time.Now().UnixNano()
	last := s.lastLimitLog.Load()
	if now-last < int64(time.Second) || !s.lastLimitLog.CompareAndSwap(last, now) {
		return
	}
	s.log.Warn("connection limit reached; closing new connections", "max_connections", s.cfg.MaxConnections)
}
