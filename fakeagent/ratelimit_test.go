package fakeagent

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRateLimits(t *testing.T) {
	want := []RateLimit{
		{ID: "login-burst", Description: "logins", Signal: "SITE.LOGIN", Threshold: 10, Interval: time.Minute,
			Duration: 5 * time.Minute, Action: RateLimitBlockAction, Code: 429, Block: RateLimitBlockSignal},
		{ID: "everything", Threshold: 1000, Interval: 10 * time.Minute, Duration: time.Hour,
			Action: RateLimitLog, Code: DefaultRateLimitCode, Block: RateLimitBlockAll},
	}
	t.Run("YAML", func(t *testing.T) {
		got, err := ParseRateLimits([]byte(`
rules:
  - id: ignored-here
rate_limits:
  - id: login-burst
    description: logins
    signal: SITE.LOGIN
    threshold: 10
    interval: 1m
    duration: 5m
    code: 429
  - id: everything
    threshold: 1000
    interval: 10m
    duration: 1h
    action: log
`), "rules.yaml")
		require.NoError(t, err)
		assert.Equal(t, want, got)
	})
	t.Run("JSON", func(t *testing.T) {
		got, err := ParseRateLimits([]byte(`{"rate_limits": [
	{"id": "login-burst", "description": "logins", "signal": "SITE.LOGIN", "threshold": 10, "interval": "1m", "duration": "5m", "code": 429},
	{"id": "everything", "threshold": 1000, "interval": "10m", "duration": "1h", "action": "log"}
]}`), "rules.json")
		require.NoError(t, err)
		assert.Equal(t, want, got)
	})
	for _, tc := range []struct{ name, text string }{
		{"a list of rules", "- id: a\n  action: allow\n"},
		{"a JSON list of rules", `[{"id": "a", "action": "allow"}]`},
		{"no rate_limits key", "rules: []\n"},
		{"an empty rate_limits key", "rate_limits:\n"},
		{"an empty file", ""},
	} {
		t.Run(tc.name+" has none", func(t *testing.T) {
			got, err := ParseRateLimits([]byte(tc.text), "rules.yaml")
			require.NoError(t, err)
			assert.Empty(t, got)
		})
	}
}

func TestParseRateLimitsErrors(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"not a list", "rate_limits: {id: a}\n", "rules.yaml:1: rate_limits: must be a list"},
		{"a rule that is not a mapping", "rate_limits:\n  - a\n", "rules.yaml:2: rate_limits[0]: must be a mapping"},
		{"an unknown field", "rate_limits:\n  - id: a\n    limit: 3\n", `rules.yaml:3: rate_limits[0].limit: unknown field (valid: id, description, signal, threshold, interval, duration, action, code, block)`},
		{"a field given twice", "rate_limits:\n  - id: a\n    id: b\n", "rules.yaml:3: rate_limits[0].id: given twice"},
		{"a bad duration", "rate_limits:\n  - id: a\n    threshold: 1\n    interval: a minute\n    duration: 1m\n", `rules.yaml:4: rate_limits[0].interval: "a minute": want a duration such as 1m`},
		{"a bad threshold", "rate_limits:\n  - id: a\n    threshold: many\n", `rules.yaml:3: rate_limits[0].threshold: "many": want an integer`},
		{"a nested value", "rate_limits:\n  - id: [a]\n", "rules.yaml:2: rate_limits[0].id: must be a value"},
		{"a code the agent does not allow", "rate_limits:\n  - id: a\n    threshold: 1\n    interval: 1m\n    duration: 1m\n    code: 303\n", `rules.yaml:2: rate_limits[0] ("a"): code: 303 is not a block code the agent allows (301, 302, 400-599)`},
		{"a code that is not one", "rate_limits:\n  - id: a\n    threshold: 1\n    interval: 1m\n    duration: 1m\n    code: 200\n", "code: 200 is not a block code"},
		{"a missing threshold", "rate_limits:\n  - id: a\n    interval: 1m\n    duration: 1m\n", "threshold: must be at least 1"},
		{"a missing id", "rate_limits:\n  - threshold: 1\n    interval: 1m\n    duration: 1m\n", "id: is required"},
		{"an unknown action", "rate_limits:\n  - id: a\n    threshold: 1\n    interval: 1m\n    duration: 1m\n    action: drop\n", `action: unknown action "drop" (valid: block, log)`},
		{"an unknown block value", "rate_limits:\n  - {id: a, signal: S, threshold: 1, interval: 1m, duration: 1m, block: some}\n", `block: unknown value "some" (valid: signal, all)`},
		{"a bad signal", "rate_limits:\n  - {id: a, signal: 'SITE LOGIN', threshold: 1, interval: 1m, duration: 1m}\n", `signal: "SITE LOGIN": want letters`},
		{"two with one id", "rate_limits:\n  - {id: a, threshold: 1, interval: 1m, duration: 1m}\n  - {id: a, threshold: 1, interval: 1m, duration: 1m}\n", `rules.yaml:3: rate_limits[1]: id "a" already used`},
		{"invalid YAML", "rate_limits: [\n", "rules.yaml: invalid YAML"},
		{"invalid JSON", `{"rate_limits": [}`, "rules.yaml: invalid JSON"},
		{"JSON errors have no lines", `{"rate_limits": [{"id": "a", "threshold": 0, "interval": "1m", "duration": "1m"}]}`, `rules.yaml: rate_limits[0] ("a"): threshold`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRateLimits([]byte(tc.text), "rules.yaml")
			assert.ErrorContains(t, err, tc.want)
		})
	}
	t.Run("every problem is reported", func(t *testing.T) {
		_, err := ParseRateLimits([]byte("rate_limits:\n  - id: a\n    limit: 1\n  - id: b\n    threshold: x\n"), "r.yaml")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "r.yaml:3:")
		assert.Contains(t, err.Error(), "r.yaml:5:")
	})
}

func TestLoadRateLimits(t *testing.T) {
	_, err := LoadRateLimits(filepath.Join(t.TempDir(), "missing.yaml"))
	assert.ErrorContains(t, err, "loading rate limits")

	path := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(path, []byte("- id: a\n  action: allow\n"), 0o600))
	got, err := LoadRateLimits(path)
	require.NoError(t, err)
	assert.Empty(t, got)

	t.Run("a rules file that is a list still loads", func(t *testing.T) {
		s, err := New(Config{RulesFile: path})
		require.NoError(t, err)
		assert.Empty(t, s.policy.rateLimits)
	})
}

func TestARulesFileMappingAppliesItsRateLimits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`
rules:
  - id: allow-health
    conditions:
      - {field: path, op: prefix, value: /healthz}
    action: allow
rate_limits:
  - id: burst
    threshold: 3
    interval: 1m
    duration: 5m
    block: all
    code: 429
`), 0o600))
	s := Start(t, WithRulesFile(path), WithClock(NewManualClock(time.Unix(1_700_000_000, 0))))
	cl := dial(t, s)
	var codes []int32
	for range 5 {
		codes = append(codes, pre(t, cl, benign()).WAFResponse)
	}
	assert.Equal(t, []int32{200, 200, 200, 429, 429}, codes, "the client is limited once over the threshold")
}
