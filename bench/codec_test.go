package bench

import (
	"bytes"
	"net/rpc"
	"testing"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// pipe is one direction pair of in-memory streams: what one codec writes,
// the other reads.
type pipe struct {
	r, w *bytes.Buffer
}

func (p pipe) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p pipe) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p pipe) Close() error                { return nil }

// codecPair returns a client and a server codec connected in memory.
func codecPair() (*wire.ClientCodec, *wire.ServerCodec) {
	c2s, s2c := new(bytes.Buffer), new(bytes.Buffer)
	return wire.NewClientCodec(pipe{r: s2c, w: c2s}), wire.NewServerCodec(pipe{r: c2s, w: s2c})
}

// typicalMsgOut is an allow decision with the tags and request ID of a
// request that has anomaly signals, the largest reply a benign request
// gets.
func typicalMsgOut() *wire.RPCMsgOut {
	return &wire.RPCMsgOut{
		WAFResponse:    200,
		RequestID:      "5f0c3f1e-8f1a-4d7b-9c4e-2b1a0d9e8f7c",
		RequestHeaders: [][2]string{{"X-Sigsci-Tags", "NOUA"}},
	}
}

// BenchmarkCodec measures the msgpack cost of one call: marshalling and
// unmarshalling typicalMsgIn (10 headers, 1 KB body) with the generated
// code, and the whole request and response paths through wire's net/rpc
// codecs (envelope included), decoding into a fresh value each time as
// net/rpc does.
func BenchmarkCodec(b *testing.B) {
	in := typicalMsgIn()
	out := typicalMsgOut()

	b.Run("msgp=RPCMsgIn/op=marshal", func(b *testing.B) {
		buf := make([]byte, 0, in.Msgsize())
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, err = in.MarshalMsg(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("msgp=RPCMsgIn/op=unmarshal", func(b *testing.B) {
		enc, err := in.MarshalMsg(nil)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(enc)))
		b.ReportAllocs()
		for b.Loop() {
			var got wire.RPCMsgIn
			if _, err := got.UnmarshalMsg(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("codec=request/op=encode+decode", func(b *testing.B) {
		client, server := codecPair()
		var seq uint64
		b.ReportAllocs()
		for b.Loop() {
			seq++
			if err := client.WriteRequest(&rpc.Request{ServiceMethod: wire.MethodPreRequest, Seq: seq}, in); err != nil {
				b.Fatal(err)
			}
			var req rpc.Request
			if err := server.ReadRequestHeader(&req); err != nil {
				b.Fatal(err)
			}
			got := new(wire.RPCMsgIn)
			if err := server.ReadRequestBody(got); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("codec=response/op=encode+decode", func(b *testing.B) {
		client, server := codecPair()
		var seq uint64
		b.ReportAllocs()
		for b.Loop() {
			seq++
			if err := server.WriteResponse(&rpc.Response{ServiceMethod: wire.MethodPreRequest, Seq: seq}, out); err != nil {
				b.Fatal(err)
			}
			var resp rpc.Response
			if err := client.ReadResponseHeader(&resp); err != nil {
				b.Fatal(err)
			}
			got := new(wire.RPCMsgOut)
			if err := client.ReadResponseBody(got); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestCodecRoundTrip checks that the codec benchmarks move what they
// claim: the request and the response arrive intact.
func TestCodecRoundTrip(t *testing.T) {
	client, server := codecPair()
	in := typicalMsgIn()
	if err := client.WriteRequest(&rpc.Request{ServiceMethod: wire.MethodPreRequest, Seq: 7}, in); err != nil {
		t.Fatal(err)
	}
	var req rpc.Request
	if err := server.ReadRequestHeader(&req); err != nil {
		t.Fatal(err)
	}
	var got wire.RPCMsgIn
	if err := server.ReadRequestBody(&got); err != nil {
		t.Fatal(err)
	}
	if req.Seq != 7 || req.ServiceMethod != wire.MethodPreRequest || got.URI != in.URI || got.PostBody != in.PostBody || len(got.HeadersIn) != 10 {
		t.Errorf("request arrived as %+v / %+v", req, got)
	}
	if err := server.WriteResponse(&rpc.Response{Seq: 7}, typicalMsgOut()); err != nil {
		t.Fatal(err)
	}
	var resp rpc.Response
	if err := client.ReadResponseHeader(&resp); err != nil {
		t.Fatal(err)
	}
	var out wire.RPCMsgOut
	if err := client.ReadResponseBody(&out); err != nil {
		t.Fatal(err)
	}
	if resp.Seq != 7 || out.WAFResponse != 200 || out.RequestID == "" {
		t.Errorf("response arrived as %+v / %+v", resp, out)
	}
}
