package bench

import (
	"testing"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect"
)

// BenchmarkDecide measures the fake agent's inspection engine in blocking
// mode on typicalDetectRequest (10 headers, a query with 3 parameters, a
// 1 KB JSON body) and on an attack request (SQL injection in the query, an
// attack tool's User-Agent, XSS in the body).
func BenchmarkDecide(b *testing.B) {
	for _, tc := range []struct {
		name string
		req  *detect.Request
	}{
		{"request=typical", typicalDetectRequest()},
		{"request=attack", attackDetectRequest()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := detect.NewEngine(detect.ModeBlocking, nil)
			b.ReportAllocs()
			for b.Loop() {
				e.Decide(tc.req)
			}
		})
	}
}

// TestDecideFixtures checks the premise of BenchmarkDecide: the typical
// request is allowed without signals, the attack one is blocked.
func TestDecideFixtures(t *testing.T) {
	e := detect.NewEngine(detect.ModeBlocking, nil)
	if d := e.Decide(typicalDetectRequest()); d.WAFResponse != 200 || len(d.Signals) != 0 {
		t.Errorf("typical request: %d %v, want 200 without signals", d.WAFResponse, d.Signals)
	}
	if d := e.Decide(attackDetectRequest()); d.WAFResponse != 406 || len(d.Signals) < 2 {
		t.Errorf("attack request: %d %v, want 406 with several signals", d.WAFResponse, d.Signals)
	}
}
