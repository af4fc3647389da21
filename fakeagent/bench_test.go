package fakeagent

import (
	"net"
	"net/rpc"
	"testing"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// BenchmarkPreRequest measures a benign PreRequest round trip over the
// Unix socket: on one shared connection (parallel calls), and with a
// connection per call as upstream modules make.
func BenchmarkPreRequest(b *testing.B) {
	b.Run("shared connection", func(b *testing.B) {
		s := Start(b)
		cl := dial(b, s)
		moduleInit(b, cl)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			in := benign()
			for pb.Next() {
				var out wire.RPCMsgOut
				if err := cl.Call(wire.MethodPreRequest, in, &out); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("connection per call", func(b *testing.B) {
		s := Start(b)
		moduleInit(b, dial(b, s))
		b.ReportAllocs()
		in := benign()
		for b.Loop() {
			nc, err := net.Dial(s.Network(), s.Addr())
			if err != nil {
				b.Fatal(err)
			}
			cl := rpc.NewClientWithCodec(wire.NewClientCodec(nc))
			var out wire.RPCMsgOut
			if err := cl.Call(wire.MethodPreRequest, in, &out); err != nil {
				b.Fatal(err)
			}
			_ = cl.Close()
		}
	})
}
