package faults

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/rpc"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tinylib/msgp/msgp"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// misbehaviour is how a raw agent answers the calls it reads.
type misbehaviour int

const (
	// hangs reads every call and never answers.
	hangs misbehaviour = iota
	// answersGarbage answers each call with bytes that are no msgpack
	// (0xc1 is the one byte msgpack never uses).
	answersGarbage
	// answersTruncated answers with a response cut inside the length of a
	// str32 error string, then closes the connection.
	answersTruncated
	// answersWrongSeq answers each call with a well-formed 406 block that
	// carries another call's sequence number (seq+1000).
	answersWrongSeq
	// neverReads accepts connections and never reads from them: once the
	// socket buffer is full, the module's writes block.
	neverReads
)

func (m misbehaviour) String() string {
	switch m {
	case hangs:
		return "accepts, never answers"
	case answersGarbage:
		return "answers 0xc1 garbage"
	case answersTruncated:
		return "answers a truncated str32 header, then closes"
	case answersWrongSeq:
		return "answers a 406 with seq+1000"
	case neverReads:
		return "accepts, never reads"
	}
	return "?"
}

// rawAgent is an in-test listener that speaks just enough of the protocol
// to read calls, then misbehaves.
type rawAgent struct {
	ln  net.Listener
	how misbehaviour

	accepted   atomic.Int64 // connections accepted
	calls      atomic.Int64 // calls read
	peerClosed atomic.Int64 // connections the module closed (EOF read)

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// startRawAgent listens on addr (retrying while a TCP port just released
// is still taken) and serves every connection with how.
func startRawAgent(t *testing.T, addr agentAddr, how misbehaviour) *rawAgent {
	t.Helper()
	if addr.network == "unix" {
		// A killed agent leaves its socket file behind.
		if err := os.Remove(addr.address); err != nil && !errors.Is(err, fs.ErrNotExist) {
			require.NoError(t, err, "removing the stale socket")
		}
	}
	ln, err := retryAddrInUse(func() (net.Listener, error) { return net.Listen(addr.network, addr.address) })
	require.NoError(t, err, "raw agent listening on %s", addr)
	r := &rawAgent{ln: ln, how: how, conns: make(map[net.Conn]struct{})}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(r.close)
	return r
}

func (r *rawAgent) accept() {
	defer r.wg.Done()
	for {
		nc, err := r.ln.Accept()
		if err != nil {
			return // closed
		}
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			nc.Close()
			return
		}
		r.conns[nc] = struct{}{}
		r.accepted.Add(1)
		if r.how == neverReads {
			r.mu.Unlock() // held open, unread, until close
			continue
		}
		r.wg.Add(1)
		r.mu.Unlock()
		go r.serve(nc)
	}
}

func (r *rawAgent) serve(nc net.Conn) {
	defer r.wg.Done()
	defer func() {
		r.mu.Lock()
		delete(r.conns, nc)
		r.mu.Unlock()
		nc.Close()
	}()
	// The real codec frames the calls; the answers are written by hand.
	codec := wire.NewServerCodec(nc)
	for {
		var req rpc.Request
		if err := codec.ReadRequestHeader(&req); err != nil {
			if errors.Is(err, io.EOF) {
				r.peerClosed.Add(1)
			}
			return
		}
		if err := codec.ReadRequestBody(nil); err != nil {
			return
		}
		r.calls.Add(1)
		var err error
		switch r.how {
		case hangs:
		case answersGarbage:
			_, err = nc.Write(bytes.Repeat([]byte{0xc1}, 16))
		case answersTruncated:
			_, _ = nc.Write(truncatedResponse(req.Seq))
			return
		case answersWrongSeq:
			err = codec.WriteResponse(&rpc.Response{ServiceMethod: req.ServiceMethod, Seq: req.Seq + 1000},
				&wire.RPCMsgOut{WAFResponse: 406, RequestHeaders: [][2]string{{"X-Sigsci-Tags", "SQLI"}}})
		}
		if err != nil {
			return
		}
	}
}

// truncatedResponse is the start of [1, seq, <str32 error>, nil]: the
// str32 marker and two of its four length bytes.
func truncatedResponse(seq uint64) []byte {
	b := msgp.AppendArrayHeader(nil, 4)
	b = msgp.AppendInt(b, 1)
	b = msgp.AppendUint64(b, seq)
	return append(b, 0xdb, 0x00, 0x00)
}

// close stops listening (removing a Unix socket file), closes every
// connection and waits for the goroutines serving them.
func (r *rawAgent) close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.ln.Close()
	for nc := range r.conns {
		nc.Close()
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(stopTimeout):
		panic("raw agent: connections still served after close")
	}
}
