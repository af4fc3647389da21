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
// so the serving loop stops taking calls, waits for the ones in flight,
// writes their replies and closes the connection.
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

// Close closes the connection once.
func (c *conn) Close() error {
	c.closeOnce.Do(func() {
		c.stopReading()
		c.closeErr = c.Conn.Close()
	})
	return c.closeErr
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
// waits for its calls in flight. It reads a frame, dispatches on the
// method name, decides, and writes the reply, all on this goroutine: a
// goroutine per call was the largest part of the agent's cost
// (bench/README.md). Calls pipelined on one connection are answered in
// order. Only while faults delay or hang calls does each call run on a
// goroutine of its own, so that one held call does not hold up the rest.
func (s *Server) serveConn(c *conn) {
	defer s.connWG.Done()
	defer func() {
		_ = c.Close()
		s.untrack(c)
		s.rec.connClosed()
	}()
	h := &handler{s: s, c: c}
	codec := wire.NewServerCodec(c, wire.MaxMessageSize(s.cfg.MaxMessageSize))
	concurrent := s.cfg.Faults.blocksCalls()
	var calls sync.WaitGroup
	var req rpc.Request
	for {
		c.startFrame()
		req = rpc.Request{}
		if err := codec.ReadRequestHeader(&req); err != nil {
			s.readEnded(c, err)
			break
		}
		call, err := h.read(codec, &req)
		if err != nil {
			// A malformed argument: answer it, then stop, since the
			// stream's framing can no longer be trusted.
			h.reply(codec, req.Seq, req.ServiceMethod, nil, err)
			s.readEnded(c, err)
			break
		}
		if concurrent {
			calls.Go(func() { h.serve(codec, call) })
			continue
		}
		h.serve(codec, call)
	}
	calls.Wait()
	_ = codec.Close()
}

// rpcCall is one decoded call, ready to run: run returns the result to
// encode and the call's error.
type rpcCall struct {
	seq    uint64
	method string
	run    func() (any, error)
}

// read decodes the argument of the call whose header is req. An unknown
// method is not an error of the stream: its argument is skipped and the
// call answers an error, as net/rpc's server does.
func (h *handler) read(codec *wire.ServerCodec, req *rpc.Request) (rpcCall, error) {
	call := rpcCall{seq: req.Seq, method: req.ServiceMethod}
	switch shortMethodOf(req.ServiceMethod) {
	case methodModuleInit:
		in := new(wire.RPCMsgIn)
		call.run = func() (any, error) {
			out := new(wire.RPCMsgOut)
			return out, h.ModuleInit(in, out)
		}
		return call, codec.ReadRequestBody(in)
	case methodPreRequest:
		in := new(wire.RPCMsgIn)
		call.run = func() (any, error) {
			out := new(wire.RPCMsgOut)
			return out, h.PreRequest(in, out)
		}
		return call, codec.ReadRequestBody(in)
	case methodPostRequest:
		in := new(wire.RPCMsgIn)
		call.run = func() (any, error) {
			var n int
			err := h.PostRequest(in, &n)
			return n, err
		}
		return call, codec.ReadRequestBody(in)
	case methodUpdateRequest:
		in := new(wire.RPCMsgIn2)
		call.run = func() (any, error) {
			var n int
			err := h.UpdateRequest(in, &n)
			return n, err
		}
		return call, codec.ReadRequestBody(in)
	}
	h.s.rec.countDeviation(DeviationUnknownMethod)
	h.s.log.Warn("unknown RPC method; answering with an error", "conn", h.c.id, "rpc_method", req.ServiceMethod)
	call.run = func() (any, error) {
		return nil, errors.New("rpc: can't find method " + req.ServiceMethod)
	}
	return call, codec.ReadRequestBody(nil)
}

// serve runs call and writes its reply.
func (h *handler) serve(codec *wire.ServerCodec, call rpcCall) {
	result, err := call.run()
	h.reply(codec, call.seq, call.method, result, err)
}

// reply writes the answer to one call: its result, or its error as the
// RPC error. A failed write means the module is gone; the read loop ends
// on its own.
func (h *handler) reply(codec *wire.ServerCodec, seq uint64, method string, result any, err error) {
	resp := rpc.Response{ServiceMethod: method, Seq: seq}
	if err != nil {
		resp.Error = err.Error()
		result = nil
	}
	if werr := codec.WriteResponse(&resp, result); werr != nil {
		h.s.log.Debug("writing a reply", "conn", h.c.id, "rpc_method", method, "error", werr)
	}
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
