package loadcompare

import (
	"strings"
	"testing"
)

const exposition = `# HELP fakeagent_rpc_calls_total RPC calls received, by method.
# TYPE fakeagent_rpc_calls_total counter
fakeagent_rpc_calls_total{method="ModuleInit"} 2
fakeagent_rpc_calls_total{method="PostRequest"} 0
fakeagent_rpc_calls_total{method="PreRequest"} 123456
fakeagent_rpc_calls_total{method="UpdateRequest"} 7
fakeagent_rpc_duration_seconds_bucket{method="PreRequest",le="2.5e-05"} 100000
fakeagent_open_connections 4
`

func TestCounterValue(t *testing.T) {
	tests := []struct {
		name   string
		metric string
		labels map[string]string
		want   float64
	}{
		{"a counter by its label", "fakeagent_rpc_calls_total", map[string]string{"method": "PreRequest"}, 123456},
		{"a sample with two labels", "fakeagent_rpc_duration_seconds_bucket", map[string]string{"method": "PreRequest", "le": "2.5e-05"}, 100000},
		{"a sample without labels", "fakeagent_open_connections", nil, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CounterValue(strings.NewReader(exposition), tt.metric, tt.labels)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := CounterValue(strings.NewReader(exposition), "fakeagent_rpc_calls_total", map[string]string{"method": "Nope"}); err == nil {
		t.Error("a missing series gave no error")
	}
}
