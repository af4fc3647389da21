package fakeagent

import (
	"errors"
	"io"
	"net"
	"net/rpc"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tinylib/msgp/msgp"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// requestFrame encodes one msgpack-RPC request by hand, so that tests can
// also send what no well-behaved client would.
func requestFrame(seq uint64, method string, arg func([]byte) []byte) []byte {
	b := msgp.AppendArrayHeader(nil, 4)
	b = msgp.AppendInt(b, 0)
	b = msgp.AppendUint64(b, seq)
	b = msgp.AppendString(b, method)
	b = msgp.AppendArrayHeader(b, 1)
	return arg(b)
}

func marshalArg(m msgp.Marshaler) func([]byte) []byte {
	return func(b []byte) []byte {
		b, err := m.MarshalMsg(b)
		if err != nil {
			panic(err)
		}
		return b
	}
}

// readUntilClosed reads from nc until the server closes it, and returns
// what it read.
func readUntilClosed(t testing.TB, nc net.Conn) []byte {
	t.Helper()
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(callTimeout)))
	b, err := io.ReadAll(nc)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server did not close the connection within %v", callTimeout)
	}
	return b
}

// closeWrite half-closes nc, so that the server sees the end of the stream.
func closeWrite(t testing.TB, nc net.Conn) {
	t.Helper()
	require.NoError(t, nc.(interface{ CloseWrite() error }).CloseWrite())
}

func TestBadFramesCloseOnlyTheirConnection(t *testing.T) {
	cases := []struct {
		name  string
		send  []byte
		half  bool   // half-close after sending
		reply string // an RPC error reply expected before the close
		kind  string
		log   string
	}{
		{
			name: "an envelope that is not an array",
			send: msgp.AppendString(nil, "hello"),
			kind: frameMalformed,
			log:  "malformed request",
		},
		{
			name: "an envelope of the wrong length",
			send: msgp.AppendInt(msgp.AppendArrayHeader(nil, 1), 0),
			kind: frameMalformed,
			log:  "malformed request",
		},
		{
			name: "a response where a request belongs",
			send: msgp.AppendNil(msgp.AppendNil(msgp.AppendUint64(msgp.AppendInt(msgp.AppendArrayHeader(nil, 4), 1), 1))),
			kind: frameMalformed,
			log:  "malformed request",
		},
		{
			name:  "an argument that is not a message",
			send:  requestFrame(7, wire.MethodPreRequest, func(b []byte) []byte { return msgp.AppendString(b, "not a map") }),
			reply: "malformed",
			kind:  frameMalformed,
			log:   "malformed request",
		},
		{
			name: "a frame cut short",
			send: requestFrame(1, wire.MethodPreRequest, marshalArg(benign()))[:40],
			half: true,
			kind: frameTruncated,
			log:  "truncated request frame",
		},
		{
			name: "a frame over the size limit",
			send: requestFrame(1, wire.MethodPreRequest, marshalArg(func() *wire.RPCMsgIn {
				in := benign()
				in.PostBody = strings.Repeat("x", 2048)
				return in
			}())),
			kind: frameTooLarge,
			log:  "request frame too large",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuffer
			s := Start(t, withLogs(&logs), WithMaxMessageSize(1024))
			good := dial(t, s)
			moduleInit(t, good)
			bad := dialRaw(t, s)

			_, err := bad.Write(tc.send)
			require.NoError(t, err)
			if tc.half {
				closeWrite(t, bad)
			}
			got := readUntilClosed(t, bad)

			if tc.reply == "" {
				assert.Empty(t, got, "no reply before the close")
			} else {
				assert.Contains(t, string(got), tc.reply)
			}
			assert.Contains(t, logs.String(), "level=ERROR")
			assert.Contains(t, logs.String(), tc.log)
			assert.EqualValues(t, 1, s.Stats().FrameErrors[tc.kind])
			// The other connection is still served.
			assert.Equal(t, int32(406), pre(t, good, sqli()).WAFResponse)
		})
	}
}

func TestAnOversizedCallFailsForItsClientOnly(t *testing.T) {
	s := Start(t, WithMaxMessageSize(1024))
	cl, other := dial(t, s), dial(t, s)
	moduleInit(t, other)
	in := benign()
	in.PostBody = strings.Repeat("x", 4096)
	require.Error(t, invoke(t, cl, wire.MethodPreRequest, in, new(wire.RPCMsgOut)))
	assert.Equal(t, int32(200), pre(t, other, benign()).WAFResponse)
}

func TestUnknownMethodIsAnsweredWithAnError(t *testing.T) {
	s := Start(t)
	cl := dial(t, s)
	err := invoke(t, cl, "RPC.Bogus", benign(), new(wire.RPCMsgOut))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "can't find method")
	moduleInit(t, cl) // the connection is still usable
	assert.EqualValues(t, 1, s.Stats().Deviations[DeviationUnknownMethod])
}

func TestIdleTimeout(t *testing.T) {
	cases := []struct {
		name string
		send []byte
	}{
		{"an idle connection is closed", nil},
		{"a frame that never completes is closed", requestFrame(1, wire.MethodPreRequest, marshalArg(benign()))[:10]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuffer
			s := Start(t, withLogs(&logs), WithIdleTimeout(50*time.Millisecond))
			nc := dialRaw(t, s)
			if tc.send != nil {
				_, err := nc.Write(tc.send)
				require.NoError(t, err)
			}
			readUntilClosed(t, nc)
			assert.EqualValues(t, 1, s.Stats().FrameErrors[frameIdleTimeout])
			assert.Contains(t, logs.String(), "idle timeout")
		})
	}
}

func TestIdleTimeoutDoesNotCutABusyConnection(t *testing.T) {
	s := Start(t, WithIdleTimeout(time.Minute))
	cl := dial(t, s)
	for range 5 {
		moduleInit(t, cl)
	}
	assert.Zero(t, s.Stats().FrameErrors[frameIdleTimeout])
}

func TestConnectionLimit(t *testing.T) {
	var logs logBuffer
	s := Start(t, withLogs(&logs), WithMaxConnections(1))
	first := dial(t, s)
	moduleInit(t, first) // the first connection is surely accepted by now

	extra := dialRaw(t, s)
	assert.Empty(t, readUntilClosed(t, extra))
	assert.Contains(t, logs.String(), "connection limit reached")
	st := s.Stats()
	assert.EqualValues(t, 1, st.RejectedConnections)
	assert.Equal(t, 1, st.OpenConnections)
	moduleInit(t, first)
}

func TestConnDrainStopsReading(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	c := newConn(a, 1, time.Minute)
	defer c.Close()
	read := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		read <- err
	}()
	c.drain()
	assert.ErrorIs(t, <-read, io.EOF)
	_, err := c.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF)
}

func TestConnFrameDeadline(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	c := newConn(a, 1, 20*time.Millisecond)
	defer c.Close()
	c.startFrame()
	_, err := c.Read(make([]byte, 1))
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
}

// A module that keeps its connection may send a body of up to 100000 bytes
// (the upstream default MaxContentLength) and then small calls.
func TestLargeFrameThenSmallFramesOnOneConnection(t *testing.T) {
	s := Start(t)
	cl := dial(t, s)
	moduleInit(t, cl)
	big := benign()
	big.Method = "POST"
	big.HeadersIn = append(big.HeadersIn, [2]string{"Content-Type", "application/x-www-form-urlencoded"})
	big.PostBody = "a=" + strings.Repeat("b", 100000-2)
	assert.Equal(t, int32(200), pre(t, cl, big).WAFResponse)
	for range 3 {
		assert.Equal(t, int32(200), pre(t, cl, benign()).WAFResponse)
	}
	rec := s.Requests()[0]
	assert.Equal(t, 100000, rec.BodySize)
	assert.Len(t, rec.In.PostBody, recordBodyLimit)
}

func TestPipelinedCallsOnOneConnectionAreAnsweredInOrder(t *testing.T) {
	s := Start(t)
	nc := dialRaw(t, s)
	// Three calls, an unknown one among them, in a single write.
	var frames []byte
	frames = append(frames, requestFrame(7, "RPC.PreRequest", marshalArg(sqli()))...)
	frames = append(frames, requestFrame(8, "RPC.Bogus", marshalArg(benign()))...)
	frames = append(frames, requestFrame(9, "RPC.PreRequest", marshalArg(benign()))...)
	_, err := nc.Write(frames)
	require.NoError(t, err)

	require.NoError(t, nc.SetReadDeadline(time.Now().Add(callTimeout)))
	codec := wire.NewClientCodec(nc)
	want := []struct {
		seq  uint64
		err  string
		code int32
	}{{7, "", 406}, {8, "can't find method RPC.Bogus", 0}, {9, "", 200}}
	for _, w := range want {
		var resp rpc.Response
		require.NoError(t, codec.ReadResponseHeader(&resp))
		assert.Equal(t, w.seq, resp.Seq)
		var out wire.RPCMsgOut
		require.NoError(t, codec.ReadResponseBody(&out))
		if w.err != "" {
			assert.Contains(t, resp.Error, w.err)
			continue
		}
		assert.Empty(t, resp.Error)
		assert.Equal(t, w.code, out.WAFResponse, "call %d", w.seq)
	}
}

func TestAHungPipelinedCallDoesNotHoldUpTheNextOne(t *testing.T) {
	// Every PreRequest hangs; ModuleInit does not.
	s := Start(t, WithFaults(Faults{HangRate: 1, Methods: []string{methodPreRequest}}))
	nc := dialRaw(t, s)
	var frames []byte
	frames = append(frames, requestFrame(1, "RPC.PreRequest", marshalArg(benign()))...)
	frames = append(frames, requestFrame(2, "RPC.ModuleInit", marshalArg(&wire.RPCMsgIn{ModuleVersion: "test 1.0", Timestamp: 1, NowMillis: 1000}))...)
	_, err := nc.Write(frames)
	require.NoError(t, err)

	require.NoError(t, nc.SetReadDeadline(time.Now().Add(callTimeout)))
	codec := wire.NewClientCodec(nc)
	var resp rpc.Response
	require.NoError(t, codec.ReadResponseHeader(&resp))
	assert.Equal(t, uint64(2), resp.Seq, "the ModuleInit behind the hung call is answered")
	var out wire.RPCMsgOut
	require.NoError(t, codec.ReadResponseBody(&out))
	assert.Equal(t, int32(200), out.WAFResponse)
}
