package module

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkPreRequestRoundTrip measures one PreRequest call on a pooled
// connection to an in-process agent, over a Unix socket and over TCP.
func BenchmarkPreRequestRoundTrip(b *testing.B) {
	for _, network := range []string{"unix", "tcp"} {
		for _, parallel := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/parallel=%v", network, parallel), func(b *testing.B) {
				a := startAgent(b, network)
				ri := NewRPCInspector(RPCInspectorConfig{Network: a.network, Address: a.addr, Timeout: time.Second})
				defer ri.Close()
				in := &RPCMsgIn{Method: "GET", URI: "/", HeadersIn: [][2]string{{"Host", "example.com"}}}
				b.ReportAllocs()
				b.ResetTimer()
				if !parallel {
					for b.Loop() {
						var out RPCMsgOut
						if err := ri.PreRequest(in, &out); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						var out RPCMsgOut
						if err := ri.PreRequest(in, &out); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
