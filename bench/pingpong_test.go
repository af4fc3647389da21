package bench

import (
	"context"
	"io"
	"net"
	"os"
	"testing"

	"github.com/seed-a2a44e50/ngwaf-helloworld/bench/loadcompare"
)

// BenchmarkPingPong is the floor under BenchmarkPreRequest/agent=proc: a
// raw round trip (loadcompare.PingSize bytes out, PongSize back) on one
// persistent connection to a minimal Go echo server in another process
// (this test binary, re-executed), nothing encoded or parsed. What a
// pooled PreRequest costs above this is the protocol's and the agent's.
func BenchmarkPingPong(b *testing.B) {
	argv, err := loadcompare.EchoArgv()
	if err != nil {
		b.Fatal(err)
	}
	for _, network := range []string{"unix", "tcp"} {
		b.Run("net="+network, func(b *testing.B) {
			dir, err := os.MkdirTemp("", "bench-echo-")
			if err != nil {
				b.Fatal(err)
			}
			defer os.RemoveAll(dir)
			p, addr, err := loadcompare.EchoProcess(context.Background(), argv, network, dir)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Stop()
			conn, err := net.Dial(network, addr)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			ping, pong := make([]byte, loadcompare.PingSize), make([]byte, loadcompare.PongSize)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := conn.Write(ping); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(conn, pong); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
