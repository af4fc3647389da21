package fakeagent

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

const (
	testAccessKeyID     = "AKID-0123456789-should-not-leak"
	testSecretAccessKey = "SAK-9876543210-should-not-leak"
)

func TestCredentialsNeverLeak(t *testing.T) {
	var logs logBuffer
	cache := t.TempDir()
	s := Start(t, withLogs(&logs), WithAdminAddress("127.0.0.1:0"), Option(func(c *Config) {
		c.AccessKeyID = testAccessKeyID
		c.SecretAccessKey = testSecretAccessKey
		c.RequireCredentials = true
		c.DebugLogWebInputs = true
		c.SharedCacheDir = cache
	}))
	cl := dial(t, s)
	moduleInit(t, cl)
	// A module may still send the deprecated AccessKeyID field.
	in := sqli()
	in.AccessKeyID = testAccessKeyID
	out := pre(t, cl, in)
	var ack int
	require.NoError(t, invoke(t, cl, wire.MethodUpdateRequest, &wire.RPCMsgIn2{RequestID: out.RequestID, ResponseCode: 406}, &ack))
	in2 := benign()
	in2.AccessKeyID = testAccessKeyID
	require.NoError(t, invoke(t, cl, wire.MethodPostRequest, post(in2, 500), &ack))
	_, requests := httpGet(t, "http://"+s.AdminAddr()+"/requests")
	_, metrics := httpGet(t, "http://"+s.AdminAddr()+"/metrics")
	recs, err := json.Marshal(s.Requests())
	require.NoError(t, err)
	shutdown(t, s)

	rules, err := os.ReadFile(filepath.Join(cache, "rules.json"))
	require.NoError(t, err)
	state, err := os.ReadFile(filepath.Join(cache, "state.json"))
	require.NoError(t, err)
	require.Contains(t, logs.String(), `msg=PreRequest`, "web inputs were logged")
	require.Contains(t, logs.String(), `credentials=set`)

	for name, text := range map[string]string{
		"logs":       logs.String(),
		"/requests":  requests,
		"/metrics":   metrics,
		"records":    string(recs),
		"rules.json": string(rules),
		"state.json": string(state),
	} {
		assert.NotContains(t, text, testAccessKeyID, name)
		assert.NotContains(t, text, testSecretAccessKey, name)
	}
	assert.Equal(t, redacted, s.Requests()[0].In.AccessKeyID)
}

func TestSecretRedactsItself(t *testing.T) {
	cfg := Config{AccessKeyID: testAccessKeyID, SecretAccessKey: testSecretAccessKey}
	var logs logBuffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", cfg, "key", cfg.SecretAccessKey)
	b, err := json.Marshal(cfg.SecretAccessKey)
	require.NoError(t, err)
	for _, text := range []string{
		fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%q", cfg.SecretAccessKey),
		logs.String(), string(b),
	} {
		assert.NotContains(t, text, testAccessKeyID)
		assert.NotContains(t, text, testSecretAccessKey)
	}
	assert.Equal(t, testSecretAccessKey, string(cfg.SecretAccessKey), "the value is still there to use")
	assert.Empty(t, Secret("").String())
}
