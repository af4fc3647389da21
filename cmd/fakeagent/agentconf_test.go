package main

import (
	"flag"
	"net"
	"net/rpc"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// writeConf writes an agent.conf and returns its path.
func writeConf(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.conf")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

// parseWith parses args and env as run does and returns the options.
func parseWith(t *testing.T, args []string, env map[string]string) (*options, []optionWarning, error) {
	t.Helper()
	o := defaultOptions()
	fs := flag.NewFlagSet("fakeagent", flag.ContinueOnError)
	o.agentFlags(fs)
	warnings, err := parse(fs, args, getenv(env))
	return o, warnings, err
}

// A real agent's agent.conf, with options the fake agent does not have.
const realAgentConf = `
accesskeyid = "AKID-from-file"
secretaccesskey = "SECRET-from-file"
rpc-address = "/var/run/sigsci.sock"
agent-mode = "not-blocking"
client-ip-header = "X-Real-IP"
custom-request-headers = "X-Env:prod"
context-expiration = "20s"
debug-log-web-inputs = 1
max-procs = "50%"
statsd-address = "127.0.0.1:8125"
upload-interval = "30s"
`

func TestConfigFile(t *testing.T) {
	conf := writeConf(t, realAgentConf)

	t.Run("sets the options it names", func(t *testing.T) {
		o, warnings, err := parseWith(t, []string{"-config", conf}, nil)
		require.NoError(t, err)
		assert.Equal(t, "AKID-from-file", o.accessKeyID)
		assert.Equal(t, "SECRET-from-file", o.secretAccessKey)
		assert.Equal(t, "/var/run/sigsci.sock", o.rpcAddress.String())
		assert.Equal(t, "not-blocking", o.agentMode.String())
		assert.Equal(t, "X-Real-IP", o.clientIPHeader)
		assert.Equal(t, "X-Env:prod", o.customHeaders.String())
		assert.Equal(t, 20*time.Second, o.updateExpiry.d)
		assert.True(t, o.debugLogWebInputs, "1 is true, as the real agent's files write it")
		assert.Equal(t, "50%", o.maxProcs.String())
		assert.Equal(t, []optionWarning{
			{conf, "statsd-address", "not an option of the fake agent; ignored"},
			{conf, "upload-interval", "not an option of the fake agent; ignored"},
		}, warnings, "the real agent's other options are accepted with a warning")
	})
	t.Run("is named by SIGSCI_CONFIG too", func(t *testing.T) {
		o, _, err := parseWith(t, nil, map[string]string{"SIGSCI_CONFIG": conf})
		require.NoError(t, err)
		assert.Equal(t, "not-blocking", o.agentMode.String())
	})

	precedence := []struct {
		name string
		args []string
		env  map[string]string
		conf string
		want string // agent-mode
	}{
		{"the default without any", nil, nil, "", "blocking"},
		{"the config file over the default", nil, nil, `agent-mode = "off"`, "off"},
		{"the environment over the config file", nil, map[string]string{"SIGSCI_AGENT_MODE": "not-blocking"}, `agent-mode = "off"`, "not-blocking"},
		{"a flag over the environment and the config file", []string{"-agent-mode", "blocking"}, map[string]string{"SIGSCI_AGENT_MODE": "not-blocking"}, `agent-mode = "off"`, "blocking"},
		{"an empty variable does not hide the config file", nil, map[string]string{"SIGSCI_AGENT_MODE": ""}, `agent-mode = "off"`, "off"},
	}
	for _, tc := range precedence {
		t.Run("precedence: "+tc.name, func(t *testing.T) {
			args := tc.args
			if tc.conf != "" {
				args = append([]string{"-config", writeConf(t, tc.conf)}, args...)
			}
			o, _, err := parseWith(t, args, tc.env)
			require.NoError(t, err)
			assert.Equal(t, tc.want, o.agentMode.String())
		})
	}

	aliases := []struct {
		name string
		args []string
		env  map[string]string
		conf string
		want time.Duration
	}{
		{"fake-update-expiry sets context-expiration", []string{"-fake-update-expiry", "3s"}, nil, "", 3 * time.Second},
		{"a flag of the alias wins over the real name's variable", []string{"-fake-update-expiry", "3s"}, map[string]string{"SIGSCI_CONTEXT_EXPIRATION": "4s"}, "", 3 * time.Second},
		{"a flag of the real name wins over the alias's variable", []string{"-context-expiration", "3s"}, map[string]string{"SIGSCI_FAKE_UPDATE_EXPIRY": "4s"}, "", 3 * time.Second},
		{"the real name's variable wins over the alias's", nil, map[string]string{"SIGSCI_CONTEXT_EXPIRATION": "4s", "SIGSCI_FAKE_UPDATE_EXPIRY": "5s"}, "", 4 * time.Second},
		{"a variable of the alias wins over the config file", nil, map[string]string{"SIGSCI_FAKE_UPDATE_EXPIRY": "5s"}, `context-expiration = "6s"`, 5 * time.Second},
		{"the alias in the config file", nil, nil, `fake-update-expiry = "7s"`, 7 * time.Second},
	}
	for _, tc := range aliases {
		t.Run("alias: "+tc.name, func(t *testing.T) {
			args := tc.args
			if tc.conf != "" {
				args = append([]string{"-config", writeConf(t, tc.conf)}, args...)
			}
			o, _, err := parseWith(t, args, tc.env)
			require.NoError(t, err)
			assert.Equal(t, tc.want, o.updateExpiry.d)
		})
	}
	t.Run("alias: both in one config file, the first is used", func(t *testing.T) {
		path := writeConf(t, "context-expiration = \"6s\"\nfake-update-expiry = \"7s\"\n")
		o, warnings, err := parseWith(t, []string{"-config", path}, nil)
		require.NoError(t, err)
		assert.Equal(t, 6*time.Second, o.updateExpiry.d)
		assert.Equal(t, []optionWarning{{path, "fake-update-expiry", "given twice (or with its alias); the first is used"}}, warnings)
	})

	t.Run("values of every TOML kind", func(t *testing.T) {
		path := writeConf(t, "fake-latency = \"2ms\"\nfake-error-rate = 0.25\nfake-seed = 42\nrequire-credentials = true\n"+
			"custom-request-headers = [\"X-A:1\", \"X-B:2\"]\n")
		o, _, err := parseWith(t, []string{"-config", path}, nil)
		require.NoError(t, err)
		assert.Equal(t, 2*time.Millisecond, o.latency.d)
		assert.Equal(t, 0.25, o.errorRate.v)
		assert.EqualValues(t, 42, o.seed)
		assert.True(t, o.requireCredentials)
		assert.Equal(t, "X-A:1,X-B:2", o.customHeaders.String())
	})
	t.Run("a config key inside the file is ignored with a warning", func(t *testing.T) {
		path := writeConf(t, `config = "/etc/other.conf"`)
		_, warnings, err := parseWith(t, []string{"-config", path}, nil)
		require.NoError(t, err)
		assert.Equal(t, []optionWarning{{path, "config", "a config file cannot name another"}}, warnings)
	})
}

func TestConfigFileErrors(t *testing.T) {
	cases := []struct{ name, conf, want string }{
		{"an unknown fake- option", `fake-latencyy = "1ms"`, `unknown option "fake-latencyy" (options starting with fake- are the fake agent's own`},
		{"an invalid value", `fake-latency = "soon"`, `invalid value "soon" for fake-latency in config file`},
		{"invalid TOML", "agent-mode = blocking\n", ":1: "},
		{"a table", "[sigsci]\nagent-mode = \"off\"\n", `sigsci: want key = "value" lines, not a table`},
		{"a list of lists", `custom-request-headers = [["a"]]`, "not a list of lists"},
		{"a date", `rpc-address = 2025-01-02T03:04:05Z`, "not a TOML date"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConf(t, tc.conf)
			_, _, err := parseWith(t, []string{"-config", path}, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), path)
		})
	}
	t.Run("exit with a usage error, on one line", func(t *testing.T) {
		d := newDirs(t)
		r := runOnce(d.args("-config", writeConf(t, `fake-nope = 1`)), nil)
		assert.Equal(t, 2, r.code)
		assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
		assert.Contains(t, r.stderr, `unknown option "fake-nope"`)
	})
	t.Run("secrets in the file are not printed when another value is bad", func(t *testing.T) {
		d := newDirs(t)
		r := runOnce(d.args("-config", writeConf(t, "secretaccesskey = \"SECRET-in-conf\"\nfake-latency = \"x\"\n")), nil)
		assert.Equal(t, 2, r.code)
		assert.NotContains(t, r.stderr, "SECRET-in-conf")
	})
}

func TestConfigFileEndToEnd(t *testing.T) {
	d := newDirs(t)
	conf := writeConf(t, "agent-mode = \"not-blocking\"\nrpc-address = \""+d.sock+"\"\nstatsd-address = \"127.0.0.1:8125\"\n")
	a := startAgent(t, []string{"-config", conf, "-shared-cache-dir", d.cache}, nil)
	network, address, mode := a.ready(t)
	assert.Equal(t, "unix", network)
	assert.Equal(t, d.sock, address)
	assert.Equal(t, "not-blocking", mode)
	assert.Contains(t, a.stderr.String(), `level=WARN msg="config file option ignored" file=`+conf+` option=statsd-address`)
	assert.Equal(t, 0, a.stop(t))
}

func TestDebugLogAllTheThings(t *testing.T) {
	d := newDirs(t)
	a := startAgent(t, d.args("-debug-log-all-the-things"), nil)
	a.ready(t)
	probe := runOnce([]string{"probe", "-rpc-address", d.sock}, nil)
	require.Equal(t, 0, probe.code, probe.stderr)
	a.waitFor(t, a.stderr, "level=DEBUG")
	assert.Equal(t, 0, a.stop(t))
	assert.Contains(t, a.stderr.String(), "level=DEBUG", "the debug level")

	t.Run("logs web inputs", func(t *testing.T) {
		o, _, err := parseWith(t, []string{"-debug-log-all-the-things"}, nil)
		require.NoError(t, err)
		cfg, err := o.config()
		require.NoError(t, err)
		assert.True(t, cfg.DebugLogWebInputs)
	})
}

func TestUnknownVariables(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		environ []string
		want    string // "" for no error
	}{
		{"the real agent's are left alone", []string{"fakeagent"}, []string{"SIGSCI_STATSD_ADDRESS=127.0.0.1:8125", "PATH=/bin"}, ""},
		{"known fake ones are fine", []string{"fakeagent", "-agent-mode", "off"}, []string{"SIGSCI_FAKE_LATENCY=1ms", "SIGSCI_FAKE_UPDATE_EXPIRY=3s"}, ""},
		{"an empty unknown one counts as unset", []string{"fakeagent"}, []string{"SIGSCI_FAKE_NOPE="}, ""},
		{"an unknown fake one is an error", []string{"fakeagent"}, []string{"SIGSCI_FAKE_UPDATE_EXPIRE=3s"},
			"unknown variable SIGSCI_FAKE_UPDATE_EXPIRE (variables SIGSCI_FAKE_* set the fake agent's own options; -h lists them)"},
		{"subcommands have their own", []string{"fakeagent", "probe"}, []string{"SIGSCI_FAKE_NOPE=1"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkEnviron(tc.args, tc.environ)
			if tc.want == "" {
				assert.NoError(t, err)
			} else {
				assert.EqualError(t, err, tc.want)
			}
		})
	}
}

func TestDecisionOptionsEndToEnd(t *testing.T) {
	d := newDirs(t)
	a := startAgent(t, d.args("-fake-decision", "threshold", "-fake-thresholds", "1m:2", "-custom-request-headers", "X-Env:test"),
		map[string]string{"SIGSCI_CLIENT_IP_HEADER": "X-Real-IP"})
	a.ready(t)
	nc, err := net.DialTimeout("unix", d.sock, waitTimeout)
	require.NoError(t, err)
	cl := rpc.NewClientWithCodec(wire.NewClientCodec(nc))
	defer func() { _ = cl.Close() }()
	attack := func(client string) wire.RPCMsgOut {
		now := time.Now()
		in := &wire.RPCMsgIn{
			ModuleVersion: "test 1", Timestamp: now.Unix(), NowMillis: now.UnixMilli(),
			RemoteAddr: "10.0.0.2", Method: "GET", URI: "/?q=1'%20OR%20'1'='1", ServerName: "example.com",
			HeadersIn:    [][2]string{{"Host", "example.com"}, {"User-Agent", "test"}, {"X-Real-IP", client}},
			ResponseCode: -1, ResponseSize: -1,
		}
		var out wire.RPCMsgOut
		require.NoError(t, cl.Call(wire.MethodPreRequest, in, &out))
		return out
	}
	first := attack("203.0.113.7")
	assert.Equal(t, int32(200), first.WAFResponse, "below the threshold, tagged only")
	assert.Contains(t, first.RequestHeaders, [2]string{"X-Env", "test"})
	assert.Equal(t, int32(200), attack("203.0.113.7").WAFResponse, "the second flags the IP")
	third := attack("203.0.113.7")
	assert.Equal(t, int32(406), third.WAFResponse)
	assert.Equal(t, [2]string{"X-SigSci-Tags", "SITE-FLAGGED-IP,SQLI"}, third.RequestHeaders[0])
	assert.Equal(t, int32(200), attack("203.0.113.8").WAFResponse, "another client behind the same proxy")
	assert.Equal(t, 0, a.stop(t))
}
