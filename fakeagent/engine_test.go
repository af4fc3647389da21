package fakeagent

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect"
)

// TestEngines runs both detectors behind the server: the same request
// over the socket is tagged and blocked by each, a benign one passes, and
// the recorder and rules see the same thing whichever engine answered.
func TestEngines(t *testing.T) {
	rules := []detect.Rule{{ID: "hdr", Action: detect.RuleAction{Type: detect.ActionAddResponseHeader, Header: "X-Engine", Value: "1"}}}
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"the native engine", []Option{WithEngine(EngineNative)}},
		{"the CRS engine", []Option{WithCRS(1, 5)}},
	} {
		t.Run(tc.name+" blocks SQL injection over the socket and lets a benign request through", func(t *testing.T) {
			s := Start(t, append(tc.opts, WithRules(rules))...)
			cl := dial(t, s)
			out := pre(t, cl, sqli())
			assert.Equal(t, int32(406), out.WAFResponse)
			assert.Contains(t, tagsOf(out.RequestHeaders), detect.SignalSQLI)
			assert.NotEmpty(t, out.RequestID)
			require.Len(t, out.RespActions, 1)
			assert.Equal(t, []string{"X-Engine", "1"}, out.RespActions[0].Args)
			assert.Contains(t, recordOf(t, s).Signals, detect.SignalSQLI)

			out = pre(t, cl, benign())
			assert.Equal(t, int32(200), out.WAFResponse)
			assert.Empty(t, tagsOf(out.RequestHeaders))
		})
	}
	t.Run("an unknown engine is a configuration error", func(t *testing.T) {
		_, err := New(Config{Engine: "modsec"})
		require.ErrorContains(t, err, `Engine "modsec"`)
	})
	t.Run("a paranoia level above 4 is a configuration error", func(t *testing.T) {
		_, err := New(Config{Engine: EngineCRS, CRSParanoia: 5})
		require.ErrorContains(t, err, "CRSParanoia 5")
	})
}
