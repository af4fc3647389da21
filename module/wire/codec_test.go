package wire

import (
	"bytes"
	"errors"
	"github.com/seed-a2a44e50/ngwaf-helloworld/module/internal/check"
	"io"
	"net"
	"net/rpc"
	"strings"
	"testing"
)

var assert, require = check.Assert, check.Require

// The helpers below spell msgpack out byte by byte from the specification,
// so the golden frames do not depend on the encoder under test.

func fixarr(n int, elems ...[]byte) []byte {
	return append([]byte{0x90 | byte(n)}, bytes.Join(elems, nil)...)
}

func fixmap(n int, kvs ...[]byte) []byte {
	return append([]byte{0x80 | byte(n)}, bytes.Join(kvs, nil)...)
}

func fixstr(s string) []byte { return append([]byte{0xa0 | byte(len(s))}, s...) }

func fixint(n int) []byte { return []byte{byte(n)} }

var mnil = []byte{0xc0}

// rwBuffer is an in-memory connection: reads come from in, writes go to out.
type rwBuffer struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (b *rwBuffer) Read(p []byte) (int, error)  { return b.in.Read(p) }
func (b *rwBuffer) Write(p []byte) (int, error) { return b.out.Write(p) }
func (b *rwBuffer) Close() error                { return nil }

func newRW(in []byte) *rwBuffer { return &rwBuffer{in: bytes.NewReader(in)} }

func TestServerCodecDecodesAHandBuiltPreRequest(t *testing.T) {
	frame := fixarr(4,
		fixint(0),
		fixint(7),
		fixstr("RPC.PreRequest"),
		fixarr(1, fixmap(6,
			fixstr("Method"), fixstr("GET"),
			fixstr("URI"), fixstr("/?q=1"),
			// A key this version does not know must be skipped.
			fixstr("FutureField"), fixarr(2, fixint(1), fixmap(1, fixstr("x"), mnil)),
			// Integers may arrive in any width the encoder chose.
			fixstr("Timestamp"), []byte{0xce, 0x65, 0x00, 0x00, 0x01}, // uint32
			fixstr("ResponseCode"), []byte{0xff}, // negative fixint -1
			fixstr("HeadersIn"), fixarr(2,
				fixarr(2, fixstr("Host"), fixstr("example.com")),
				fixarr(2, fixstr("Accept"), fixstr("*/*")),
			),
		)),
	)
	codec := NewServerCodec(newRW(frame))

	var req rpc.Request
	require.NoError(t, codec.ReadRequestHeader(&req))
	assert.Equal(t, uint64(7), req.Seq)
	assert.Equal(t, MethodPreRequest, req.ServiceMethod)

	var in RPCMsgIn
	require.NoError(t, codec.ReadRequestBody(&in))
	assert.Equal(t, RPCMsgIn{
		Method:       "GET",
		URI:          "/?q=1",
		Timestamp:    0x65000001,
		ResponseCode: -1,
		HeadersIn:    [][2]string{{"Host", "example.com"}, {"Accept", "*/*"}},
	}, in)

	require.ErrorIs(t, codec.ReadRequestHeader(&req), io.EOF, "a clean end between frames is io.EOF")
}

func TestServerCodecEncodesAResponseAsSpecified(t *testing.T) {
	rw := newRW(nil)
	codec := NewServerCodec(rw)
	out := &RPCMsgOut{
		WAFResponse:    406,
		RequestID:      "r1",
		RequestHeaders: [][2]string{{"X-Sigsci-Tags", "SQLI"}},
	}
	require.NoError(t, codec.WriteResponse(&rpc.Response{Seq: 9}, out))

	want := fixarr(4,
		fixint(1),
		fixint(9),
		mnil,
		// RespActions is omitted when empty.
		fixmap(3,
			fixstr("WAFResponse"), []byte{0xd1, 0x01, 0x96}, // int16 406
			fixstr("RequestID"), fixstr("r1"),
			fixstr("RequestHeaders"), fixarr(1, fixarr(2, fixstr("X-Sigsci-Tags"), fixstr("SQLI"))),
		),
	)
	assert.Equal(t, want, rw.out.Bytes())
}

func TestServerCodecEncodesAnErrorReplyWithANilResult(t *testing.T) {
	rw := newRW(nil)
	codec := NewServerCodec(rw)
	require.NoError(t, codec.WriteResponse(&rpc.Response{Seq: 3, Error: "boom"}, struct{}{}))
	assert.Equal(t, fixarr(4, fixint(1), fixint(3), fixstr("boom"), mnil), rw.out.Bytes())
}

func TestClientCodecEncodesAnUpdateRequestAsSpecified(t *testing.T) {
	rw := newRW(nil)
	codec := NewClientCodec(rw)
	in := &RPCMsgIn2{RequestID: "r1", ResponseCode: 200, ResponseMillis: 3, ResponseSize: 12}
	require.NoError(t, codec.WriteRequest(&rpc.Request{Seq: 5, ServiceMethod: MethodUpdateRequest}, in))

	want := fixarr(4,
		fixint(0),
		fixint(5),
		[]byte{0xb1}, []byte("RPC.UpdateRequest"), // fixstr of 17 bytes
		fixarr(1, fixmap(5,
			fixstr("RequestID"), fixstr("r1"),
			fixstr("ResponseCode"), []byte{0xd1, 0x00, 200}, // signed fields use signed encodings: int16 200
			fixstr("ResponseMillis"), fixint(3),
			fixstr("ResponseSize"), fixint(12),
			fixstr("HeadersOut"), fixarr(0),
		)),
	)
	assert.Equal(t, want, rw.out.Bytes())
}

func TestClientCodecDecodesAHandBuiltResponse(t *testing.T) {
	frame := fixarr(4,
		fixint(1),
		[]byte{0xcd, 0x01, 0x00}, // seq 256 as uint16
		mnil,
		fixmap(5,
			fixstr("WAFResponse"), []byte{0xd2, 0, 0, 0x01, 0x96}, // int32 406
			fixstr("RequestID"), fixstr("abc"),
			fixstr("Unknown"), fixmap(1, fixstr("a"), fixarr(1, mnil)),
			fixstr("RequestHeaders"), fixarr(1, fixarr(2, fixstr("X-Sigsci-Tags"), fixstr("SQLI,XSS"))),
			fixstr("RespActions"), fixarr(2,
				fixarr(2, fixint(1), fixarr(2, fixstr("X-A"), fixstr("b"))),
				fixarr(2, fixint(4), fixarr(1, fixstr("Server"))),
			),
		),
	)
	codec := NewClientCodec(newRW(frame))
	var resp rpc.Response
	require.NoError(t, codec.ReadResponseHeader(&resp))
	assert.Equal(t, uint64(256), resp.Seq)
	assert.Empty(t, resp.Error)

	var out RPCMsgOut
	require.NoError(t, codec.ReadResponseBody(&out))
	assert.Equal(t, RPCMsgOut{
		WAFResponse:    406,
		RequestID:      "abc",
		RequestHeaders: [][2]string{{"X-Sigsci-Tags", "SQLI,XSS"}},
		RespActions: []Action{
			{Code: AddHdr, Args: []string{"X-A", "b"}},
			{Code: DelHdr, Args: []string{"Server"}},
		},
	}, out)
}

func TestClientCodecReportsTheAgentsErrorString(t *testing.T) {
	codec := NewClientCodec(newRW(fixarr(4, fixint(1), fixint(2), fixstr("no such method"), mnil)))
	var resp rpc.Response
	require.NoError(t, codec.ReadResponseHeader(&resp))
	assert.Equal(t, "no such method", resp.Error)
	require.NoError(t, codec.ReadResponseBody(nil))
}

func TestClientCodecDecodesAnIntegerResult(t *testing.T) {
	codec := NewClientCodec(newRW(fixarr(4, fixint(1), fixint(2), mnil, fixint(0))))
	var resp rpc.Response
	require.NoError(t, codec.ReadResponseHeader(&resp))
	n := 42
	require.NoError(t, codec.ReadResponseBody(&n))
	assert.Equal(t, 0, n)
}

func TestCodecsRejectBadFrames(t *testing.T) {
	cases := []struct {
		name  string
		frame []byte
		want  error
	}{
		{"a frame cut short is a truncated frame", fixarr(4, fixint(1), fixint(2))[:3], io.ErrUnexpectedEOF},
		{"a string longer than the stream is a truncated frame", []byte{0xdb, 0xff, 0xff, 0xff, 0xff, 'a'}, io.ErrUnexpectedEOF},
		{"a frame declared larger than the limit is too large", append([]byte{0xdb, 0x7f, 0xff, 0xff, 0xff}, make([]byte, 200)...), ErrTooLarge},
		{"an array claiming billions of elements is too large", append([]byte{0xdd, 0xff, 0xff, 0xff, 0xff}, make([]byte, 200)...), ErrTooLarge},
		{"a byte that starts no msgpack object is malformed", []byte{0xc1}, nil},
		{"an envelope that is not an array is malformed", fixmap(0), ErrMalformed},
		{"an envelope of three elements is malformed", fixarr(3, fixint(1), fixint(2), mnil), ErrMalformed},
		{"a request where a response belongs is malformed", fixarr(4, fixint(0), fixint(2), mnil, mnil), ErrMalformed},
		{"a non-string error is malformed", fixarr(4, fixint(1), fixint(2), fixint(5), mnil), ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			codec := NewClientCodec(newRW(tc.frame), MaxMessageSize(100))
			var resp rpc.Response
			err := codec.ReadResponseHeader(&resp)
			require.Error(t, err)
			if tc.want != nil {
				assert.ErrorIs(t, err, tc.want)
			}
		})
	}
}

func TestServerCodecRejectsARequestWithTwoArguments(t *testing.T) {
	frame := fixarr(4, fixint(0), fixint(1), fixstr("RPC.X"), fixarr(2, mnil, mnil))
	codec := NewServerCodec(newRW(frame))
	var req rpc.Request
	require.NoError(t, codec.ReadRequestHeader(&req))
	var in RPCMsgIn
	assert.ErrorIs(t, codec.ReadRequestBody(&in), ErrMalformed)
}

func TestTooLargeErrorNamesTheLimit(t *testing.T) {
	codec := NewServerCodec(newRW(append([]byte{0xdb, 0, 0, 1, 0}, make([]byte, 300)...)), MaxMessageSize(100))
	var req rpc.Request
	err := codec.ReadRequestHeader(&req)
	require.ErrorIs(t, err, ErrTooLarge)
	assert.Contains(t, err.Error(), "100 bytes")
}

// echo is a minimal agent used to check that both codecs work together
// through net/rpc's client and server.
type echo struct{}

func (echo) PreRequest(in *RPCMsgIn, out *RPCMsgOut) error {
	if strings.Contains(in.URI, "fail") {
		return errors.New("refused")
	}
	out.WAFResponse = 200
	out.RequestHeaders = [][2]string{{"X-Echo", in.URI}}
	return nil
}

func (echo) UpdateRequest(in *RPCMsgIn2, out *int) error { *out = 1; return nil }

func TestNetRPCRoundTripThroughBothCodecs(t *testing.T) {
	srv := rpc.NewServer()
	require.NoError(t, srv.RegisterName("RPC", echo{}))
	a, b := net.Pipe()
	go srv.ServeCodec(NewServerCodec(a))
	client := rpc.NewClientWithCodec(NewClientCodec(b))
	defer client.Close()

	var out RPCMsgOut
	require.NoError(t, client.Call(MethodPreRequest, &RPCMsgIn{URI: "/hello"}, &out))
	assert.Equal(t, RPCMsgOut{WAFResponse: 200, RequestHeaders: [][2]string{{"X-Echo", "/hello"}}}, out)

	err := client.Call(MethodPreRequest, &RPCMsgIn{URI: "/fail"}, &out)
	assert.Equal(t, rpc.ServerError("refused"), err)

	var n int
	require.NoError(t, client.Call(MethodUpdateRequest, &RPCMsgIn2{RequestID: "x"}, &n))
	assert.Equal(t, 1, n)

	err = client.Call("RPC.Nope", &RPCMsgIn{}, &out)
	assert.ErrorContains(t, err, "can't find method")
}

func TestSmallFramesAfterALargeOneOnTheSameConnection(t *testing.T) {
	big := fixarr(4, fixint(0), fixint(2), fixstr("RPC.PreRequest"),
		fixarr(1, fixmap(1, fixstr("PostBody"), append([]byte{0xdb, 0, 1, 0x86, 0xa0}, bytes.Repeat([]byte{'x'}, 100000)...))))
	small := func(seq int) []byte {
		return fixarr(4, fixint(0), fixint(seq), fixstr("RPC.PreRequest"), fixarr(1, fixmap(1, fixstr("URI"), fixstr("/"))))
	}
	stream := bytes.Join([][]byte{small(1), big, small(3), small(4)}, nil)
	codec := NewServerCodec(newRW(stream))
	for i, wantLen := range []int{0, 100000, 0, 0} {
		var req rpc.Request
		require.NoError(t, codec.ReadRequestHeader(&req), "frame %d", i)
		assert.Equal(t, uint64(i+1), req.Seq)
		var in RPCMsgIn
		require.NoError(t, codec.ReadRequestBody(&in), "frame %d", i)
		assert.Len(t, in.PostBody, wantLen)
	}
}
