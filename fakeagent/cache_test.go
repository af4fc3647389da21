package fakeagent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect"
)

func TestSharedCacheDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache", "nested")
	s := Start(t, WithMode(detect.ModeNotBlocking), Option(func(c *Config) { c.SharedCacheDir = dir }))

	var rules struct {
		Fingerprint string         `json:"fingerprint"`
		Settings    map[string]any `json:"settings"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "rules.json"))
	require.NoError(t, err, "written at start")
	require.NoError(t, json.Unmarshal(b, &rules))
	assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, rules.Fingerprint)
	assert.Equal(t, "not-blocking", rules.Settings["mode"])
	assert.NoFileExists(t, filepath.Join(dir, "state.json"))

	cl := dial(t, s)
	moduleInit(t, cl)
	pre(t, cl, sqli())
	shutdown(t, s)

	var state struct {
		Fingerprint string `json:"fingerprint"`
		Stats       Stats  `json:"stats"`
	}
	b, err = os.ReadFile(filepath.Join(dir, "state.json"))
	require.NoError(t, err, "written at shutdown")
	require.NoError(t, json.Unmarshal(b, &state))
	assert.Equal(t, rules.Fingerprint, state.Fingerprint)
	assert.EqualValues(t, 1, state.Stats.Calls[methodPreRequest])
	assert.EqualValues(t, 1, state.Stats.Pending)
}

func TestFingerprintFollowsTheSettings(t *testing.T) {
	a, err := fingerprint(configSettings{Mode: detect.ModeBlocking}, nil)
	require.NoError(t, err)
	b, err := fingerprint(configSettings{Mode: detect.ModeBlocking}, nil)
	require.NoError(t, err)
	c, err := fingerprint(configSettings{Mode: detect.ModeOff}, nil)
	require.NoError(t, err)
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, c)
}
