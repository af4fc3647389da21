package detect_test

import (
	"testing"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect"
)

// BenchmarkDecide is the cost of one decision by each engine: a typical
// API call (10 headers, 3 query parameters, a 1 KB JSON body) and the same
// request carrying attacks. The README's Detection section quotes it:
//
//	go test -run '^$' -bench '^BenchmarkDecide$' -benchmem ./fakeagent/detect
func BenchmarkDecide(b *testing.B) {
	crsDet, err := crsOnce()
	if err != nil {
		b.Fatal(err)
	}
	engines := []struct {
		name string
		e    *detect.Engine
	}{
		{"native", detect.NewEngine(detect.ModeBlocking, nil)},
		{"crs", detect.NewEngineWith(detect.ModeBlocking, nil, crsDet)},
	}
	requests := []struct {
		name  string
		req   *detect.Request
		block bool
	}{
		{"typical", detect.TypicalRequest(), false},
		{"attack", detect.AttackRequest(), true},
	}
	for _, en := range engines {
		for _, r := range requests {
			b.Run("engine="+en.name+"/request="+r.name, func(b *testing.B) {
				if d := en.e.Decide(r.req); (d.WAFResponse == 406) != r.block {
					b.Fatalf("%s: %s request decided %d with %v", en.name, r.name, d.WAFResponse, d.Signals)
				}
				b.ReportAllocs()
				for b.Loop() {
					en.e.Decide(r.req)
				}
			})
		}
	}
}
