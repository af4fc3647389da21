package bench

import (
	"net"
	"net/rpc"
	"testing"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// BenchmarkDirectCall is a what-if for the module's pool: the same
// PreRequest as BenchmarkPreRequest/conn=pooled/calls=seq, encoded by the
// same wire.ClientCodec on one persistent connection, but written and read
// by the calling goroutine itself, without net/rpc's Client (whose reader
// goroutine hands every reply to the caller through a channel). The gap
// between the two is what that hand-off costs; the gap to BenchmarkPingPong
// is the agent's and the protocol's.
func BenchmarkDirectCall(b *testing.B) {
	for _, where := range agentPlaces() {
		for _, network := range []string{"unix", "tcp"} {
			b.Run("agent="+where+"/net="+network, func(b *testing.B) {
				a := startAgent(b, where, network)
				nc, err := net.Dial(a.network, a.address)
				if err != nil {
					b.Fatal(err)
				}
				codec := wire.NewClientCodec(nc)
				defer codec.Close()
				in := typicalMsgIn()
				var seq uint64
				call := func() {
					seq++
					if err := nc.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
						b.Fatal(err)
					}
					if err := codec.WriteRequest(&rpc.Request{ServiceMethod: wire.MethodPreRequest, Seq: seq}, in); err != nil {
						b.Fatal(err)
					}
					var resp rpc.Response
					if err := codec.ReadResponseHeader(&resp); err != nil {
						b.Fatal(err)
					}
					out := new(wire.RPCMsgOut)
					if err := codec.ReadResponseBody(out); err != nil {
						b.Fatal(err)
					}
					if resp.Seq != seq || resp.Error != "" || out.WAFResponse != 200 {
						b.Fatalf("reply %+v %+v, want seq %d and 200", resp, out, seq)
					}
				}
				call()
				b.ReportAllocs()
				for b.Loop() {
					call()
				}
			})
		}
	}
}
