package bench

import (
	"runtime"
	"testing"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module"
)

// BenchmarkPreRequest measures one PreRequest round trip through the
// module's RPCInspector: the fake agent in this process or in another one,
// over a Unix socket or TCP, on pooled connections or a connection per
// call (upstream's way), called sequentially or from about 32 goroutines
// at once. The request is typicalMsgIn (10 headers, 3 query parameters,
// 1 KB JSON), which the agent inspects in full and allows.
//
// With $BENCH_AGENT_ADDR set (unix:/path or tcp:host:port), agent=external
// calls that agent too: a real one, or a fake agent under a profiler.
//
// The agent is started one level up from the measured benchmarks, so that
// it runs once for all of them and only when -bench selects some.
func BenchmarkPreRequest(b *testing.B) {
	for _, where := range agentPlaces() {
		b.Run("agent="+where, func(b *testing.B) {
			for _, network := range []string{"unix", "tcp"} {
				b.Run("net="+network, func(b *testing.B) {
					a := startAgent(b, where, network)
					for _, perCall := range []bool{false, true} {
						for _, parallel := range []bool{false, true} {
							name := "conn=" + pick(perCall, "percall", "pooled") + "/calls=" + pick(parallel, "parallel32", "seq")
							b.Run(name, func(b *testing.B) { benchPreRequest(b, a, perCall, parallel) })
						}
					}
				})
			}
		})
	}
}

func benchPreRequest(b *testing.B, a agent, perCall, parallel bool) {
	ri := module.NewRPCInspector(module.RPCInspectorConfig{
		Network: a.network, Address: a.address,
		// Long enough that no call fails open, even on a busy machine.
		Timeout:     5 * time.Second,
		ConnPerCall: perCall,
	})
	defer ri.Close()
	in := typicalMsgIn()
	call := func() error {
		var out module.RPCMsgOut
		if err := ri.PreRequest(in, &out); err != nil {
			return err
		}
		if out.WAFResponse != 200 {
			b.Errorf("PreRequest answered %d, want 200", out.WAFResponse)
		}
		return nil
	}
	if err := call(); err != nil { // connect before timing
		b.Fatalf("PreRequest to %s: %v", a, err)
	}
	b.ReportAllocs()
	if !parallel {
		for b.Loop() {
			if err := call(); err != nil {
				b.Fatalf("PreRequest to %s: %v", a, err)
			}
		}
		return
	}
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := call(); err != nil {
				b.Errorf("PreRequest to %s: %v", a, err)
				return
			}
		}
	})
}

func pick(cond bool, yes, no string) string {
	if cond {
		return yes
	}
	return no
}
