package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent"
	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect"
	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect/crs"
	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// envName is the SIGSCI_* environment variable of an option, as the real
// agent names them: upper case, dashes to underscores.
func envName(option string) string {
	return "SIGSCI_" + strings.ToUpper(strings.ReplaceAll(option, "-", "_"))
}

// options are the command line of the agent (and of the probe subcommand,
// which uses a subset).
type options struct {
	rpcAddress           addressValue
	sharedCacheDir       string
	accessKeyID          string
	secretAccessKey      string
	requireCredentials   bool
	agentMode            modeValue
	engine               engineValue
	crsParanoia          intValue
	crsThreshold         intValue
	startupProbeListener hostPortValue
	startupProbeFilepath string
	adminAddress         hostPortValue
	maxProcs             maxProcsValue
	debugLogWebInputs    bool
	debugLogAll          bool
	configPath           string
	clientIPHeader       string
	customHeaders        headersValue

	rulesFile      string
	latency        durationValue
	latencyJitter  durationValue
	errorRate      rateValue
	dropRate       rateValue
	hangRate       rateValue
	faultMethods   methodsValue
	seed           uint64
	updateExpiry   durationValue
	recentRequests intValue
	maxPending     intValue
	startupDelay   durationValue
	maxConnections intValue
	maxMessageSize intValue
	idleTimeout    durationValue
	socketMode     socketModeValue
	shutdownTime   durationValue
	logLevel       slog.Level
	recordRaw      bool
	decision       decisionValue
	thresholds     thresholdsValue
	flagDuration   durationValue

	version bool
}

// noEnv lists the flags that have no SIGSCI_* variable (nor a config
// file key).
var noEnv = map[string]bool{"version": true, "timeout": true}

// aliases maps an option kept for compatibility to the real agent's name
// for it: setting either sets both, and a flag of either wins over the
// variables and config file keys of both.
var aliases = map[string]string{"fake-update-expiry": "context-expiration"}

// canonical returns the name an option is known by for precedence.
func canonical(name string) string {
	if a, ok := aliases[name]; ok {
		return a
	}
	return name
}

// optionWarning is a config file option that was accepted but not used.
type optionWarning struct {
	file, option, reason string
}

func defaultOptions() *options {
	return &options{
		rpcAddress:     addressValue(fakeagent.DefaultAddress),
		sharedCacheDir: fakeagent.DefaultSharedCacheDir,
		agentMode:      modeValue(detect.ModeBlocking),
		engine:         engineValue(fakeagent.EngineNative),
		crsParanoia:    intValue{n: crs.DefaultParanoia, min: 1, max: crs.MaxParanoia},
		crsThreshold:   intValue{n: crs.DefaultThreshold, min: 1},
		maxProcs:       maxProcsValue{text: "100%"},
		clientIPHeader: fakeagent.DefaultClientIPHeader,
		decision:       decisionValue(fakeagent.DecisionImmediate),
		thresholds:     thresholdsValue(fakeagent.DefaultThresholds),
		flagDuration:   durationValue{d: fakeagent.DefaultFlagDuration, positive: true},
		updateExpiry:   durationValue{d: fakeagent.DefaultUpdateExpiry, positive: true},
		recentRequests: intValue{n: fakeagent.DefaultRecentRequests, min: 1},
		maxPending:     intValue{n: fakeagent.DefaultMaxPending, min: 1},
		maxConnections: intValue{n: fakeagent.DefaultMaxConnections, min: 0},
		maxMessageSize: intValue{n: wire.DefaultMaxMessageSize, min: 64},
		idleTimeout:    durationValue{d: fakeagent.DefaultIdleTimeout},
		socketMode:     socketModeValue(fakeagent.DefaultSocketMode),
		shutdownTime:   durationValue{d: fakeagent.DefaultShutdownTimeout, positive: true},
		logLevel:       slog.LevelInfo,
	}
}

// agentFlags defines the agent's flags on fs.
func (o *options) agentFlags(fs *flag.FlagSet) {
	// The real agent's options.
	fs.Var(&o.rpcAddress, "rpc-address", "`address` to serve RPC on: /path/to.sock, unix:/path, host:port or tcp:host:port")
	fs.StringVar(&o.sharedCacheDir, "shared-cache-dir", o.sharedCacheDir, "`directory` for rules.json (at start) and state.json (at shutdown); empty: none")
	fs.StringVar(&o.accessKeyID, "accesskeyid", "", "agent access key ID (never logged; the fake agent does not use it)")
	fs.StringVar(&o.secretAccessKey, "secretaccesskey", "", "agent secret access key (never logged; the fake agent does not use it)")
	fs.Var(&o.startupProbeListener, "startup-probe-listener", "`address` (host:port, e.g. :2024) serving GET /startup: 503 until the rules are loaded, then 200; empty: off")
	fs.StringVar(&o.startupProbeFilepath, "startup-probe-filepath", "", "`file` created once the rules are loaded, removed at shutdown; empty: off")
	fs.Var(&o.maxProcs, "max-procs", "`CPUs` to use: a number, or a percentage of the machine's CPUs (sets GOMAXPROCS)")
	fs.BoolVar(&o.debugLogWebInputs, "debug-log-web-inputs", false, "log every RPC call with its request line and decision")
	fs.BoolVar(&o.debugLogAll, "debug-log-all-the-things", false, "log everything: debug-log-web-inputs and debug level")
	fs.StringVar(&o.configPath, "config", "", "agent.conf `file` of key = \"value\" lines (the real agent's format); flags and variables win over it; empty: none")
	fs.Var(&o.updateExpiry, "context-expiration", "`duration` a request's context (its RequestID) waits for its UpdateRequest")
	fs.StringVar(&o.clientIPHeader, "client-ip-header", o.clientIPHeader, "request `header` holding the client IP for rules, thresholds and rate limits (its first entry), when present; empty: RemoteAddr only")
	fs.Var(&o.customHeaders, "custom-request-headers", "`Name:value` pairs, comma-separated, added to the request headers of every reply for the application")
	// Options of this project's agent double.
	fs.BoolVar(&o.requireCredentials, "require-credentials", false, "refuse to start without accesskeyid and secretaccesskey, as the real agent does")
	fs.Var(&o.agentMode, "agent-mode", "`mode`: blocking, not-blocking (tag only) or off (no inspection)")
	fs.Var(&o.adminAddress, "admin-address", "`address` (host:port; a bare :port binds localhost only) serving /metrics, /requests, /healthz, /startup; empty: off")
	// Test-double-only options.
	fs.Var(&o.engine, "fake-engine", "inspection `engine`: native (built in, fast) or crs (OWASP Core Rule Set v4 on Coraza)")
	fs.Var(&o.crsParanoia, "fake-crs-paranoia", "CRS paranoia `level`, 1 to 4 (with -fake-engine crs)")
	fs.Var(&o.crsThreshold, "fake-crs-threshold", "CRS inbound anomaly `score` at which a request is blocked (with -fake-engine crs)")
	fs.StringVar(&o.rulesFile, "fake-rules-file", "", "custom rules `file` (YAML or JSON); empty: built-in inspection only")
	fs.Var(&o.latency, "fake-latency", "`duration` of latency added to every call")
	fs.Var(&o.latencyJitter, "fake-latency-jitter", "random extra latency, uniform in [0, `duration`)")
	fs.Var(&o.errorRate, "fake-error-rate", "`fraction` (0 to 1) of calls answered with an RPC error")
	fs.Var(&o.dropRate, "fake-drop-rate", "`fraction` (0 to 1) of calls whose connection is closed without a reply")
	fs.Var(&o.hangRate, "fake-hang-rate", "`fraction` (0 to 1) of calls never answered (until the module gives up)")
	fs.Var(&o.faultMethods, "fake-fault-methods", "comma-separated `methods` the faults apply to (e.g. PreRequest); empty: all")
	fs.Uint64Var(&o.seed, "fake-seed", 0, "`seed` for the fault injection's random numbers; 0: random")
	fs.Var(&o.updateExpiry, "fake-update-expiry", "`duration`: alias of context-expiration")
	fs.Var(&o.decision, "fake-decision", "`mode` of blocking attacks: immediate (every attack, at once) or threshold (once the client IP is flagged by the attack thresholds)")
	fs.Var(&o.thresholds, "fake-thresholds", "attack `thresholds` of -fake-decision threshold, as interval:limit pairs")
	fs.Var(&o.flagDuration, "fake-flag-duration", "`duration` an IP stays flagged under -fake-decision threshold")
	fs.Var(&o.recentRequests, "fake-recent-requests", "`number` of requests to keep for /requests")
	fs.Var(&o.maxPending, "fake-max-pending", "`number` of RequestIDs that may wait for UpdateRequest; the oldest is dropped beyond")
	fs.Var(&o.startupDelay, "fake-startup-delay", "`duration` before the rules count as loaded (to demonstrate the startup probe)")
	fs.Var(&o.maxConnections, "fake-max-connections", "`number` of module connections that may be open; 0: no limit")
	fs.Var(&o.maxMessageSize, "fake-max-message-size", "largest request frame, in `bytes`")
	fs.Var(&o.idleTimeout, "fake-idle-timeout", "close a connection on which no complete request arrived for this `duration`; 0: never")
	fs.Var(&o.socketMode, "fake-socket-mode", "`permissions` of the Unix socket, in octal")
	fs.Var(&o.shutdownTime, "fake-shutdown-timeout", "`duration` shutdown waits for calls in flight")
	fs.TextVar(&o.logLevel, "fake-log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	fs.BoolVar(&o.recordRaw, "fake-record-raw", false, "record, serve on /requests and log request contents unredacted (by default what the real agent redacts is redacted)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
}

// parse parses args, then fills the options not given as flags from the
// SIGSCI_* environment, then those still unset from the config file, if
// the config option names one: a flag wins over its variable, which wins
// over the config file (an empty variable counts as unset). Unknown
// config file keys are accepted with a warning, returned, so that a real
// agent's file works, unless they start with fake-.
func parse(fs *flag.FlagSet, args []string, getenv func(string) string) ([]optionWarning, error) {
	fs.SetOutput(io.Discard) // errors are reported by the caller, on one line
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (every option is a flag: -name value)", fs.Arg(0))
	}
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[canonical(f.Name)] = true })
	var err error
	fromEnv := make(map[string]bool)
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[canonical(f.Name)] || fromEnv[canonical(f.Name)] || noEnv[f.Name] {
			return
		}
		env := envName(f.Name)
		v := getenv(env)
		if v == "" {
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = fmt.Errorf("invalid value %q for %s (environment, option -%s): %v", v, env, f.Name, e)
		}
		fromEnv[canonical(f.Name)] = true
	})
	if err != nil {
		return nil, err
	}
	return parseConfigFile(fs, func(name string) bool { return set[name] || fromEnv[name] })
}

// checkFakeVariables rejects SIGSCI_FAKE_* variables that name no option:
// the fake- options are the double's own, so one it does not know is a
// typo rather than a real agent's option. (Other SIGSCI_* variables may be
// the real agent's, and are left alone.)
func checkFakeVariables(fs *flag.FlagSet, environ []string) error {
	known := make(map[string]bool)
	fs.VisitAll(func(f *flag.Flag) { known[envName(f.Name)] = true })
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "SIGSCI_FAKE_") && v != "" && !known[k] {
			return fmt.Errorf("unknown variable %s (variables SIGSCI_FAKE_* set the fake agent's own options; -h lists them)", k)
		}
	}
	return nil
}

// parseConfigFile applies the config file named by the config option, if
// any, to the options not set otherwise, and returns the options it
// ignored.
func parseConfigFile(fs *flag.FlagSet, isSet func(string) bool) ([]optionWarning, error) {
	cf := fs.Lookup("config")
	if cf == nil || cf.Value.String() == "" {
		return nil, nil
	}
	path := cf.Value.String()
	entries, err := loadAgentConf(path)
	if err != nil {
		return nil, err
	}
	var warnings []optionWarning
	warn := func(option, reason string) { warnings = append(warnings, optionWarning{path, option, reason}) }
	fromFile := make(map[string]bool)
	for _, e := range entries {
		f := fs.Lookup(e.key)
		switch {
		case e.key == "config":
			warn(e.key, "a config file cannot name another")
		case (f == nil || noEnv[e.key]) && strings.HasPrefix(e.key, "fake-"):
			return nil, fmt.Errorf("config file %s: unknown option %q (options starting with fake- are the fake agent's own; -h lists them)", path, e.key)
		case f == nil || noEnv[e.key]:
			warn(e.key, "not an option of the fake agent; ignored")
		case isSet(canonical(e.key)):
			// A flag or variable wins.
		case fromFile[canonical(e.key)]:
			warn(e.key, "given twice (or with its alias); the first is used")
		default:
			if err := fs.Set(e.key, e.value); err != nil {
				return nil, fmt.Errorf("invalid value %q for %s in config file %s: %v", e.value, e.key, path, err)
			}
			fromFile[canonical(e.key)] = true
		}
	}
	return warnings, nil
}

// config turns the options into the library's configuration, after the
// checks that involve several options.
func (o *options) config() (fakeagent.Config, error) {
	if o.requireCredentials && (o.accessKeyID == "" || o.secretAccessKey == "") {
		return fakeagent.Config{}, errors.New("require-credentials is set but accesskeyid and secretaccesskey " +
			"(SIGSCI_ACCESSKEYID, SIGSCI_SECRETACCESSKEY) are not both set; the real agent refuses to start too")
	}
	if sum := o.errorRate.v + o.dropRate.v + o.hangRate.v; sum > 1+1e-9 {
		return fakeagent.Config{}, fmt.Errorf("fake-error-rate + fake-drop-rate + fake-hang-rate = %v, more than 1", sum)
	}
	if o.rulesFile != "" {
		// Checked here to report it as a bad option; New loads it again.
		if _, err := detect.LoadRules(o.rulesFile); err != nil {
			return fakeagent.Config{}, fmt.Errorf("fake-rules-file %s: %v", o.rulesFile, err)
		}
	}
	network, address, _ := fakeagent.ParseAddress(string(o.rpcAddress)) // validated by Set
	cfg := fakeagent.Config{
		Network:              network,
		Address:              address,
		SocketMode:           os.FileMode(o.socketMode),
		Mode:                 detect.Mode(o.agentMode),
		Engine:               string(o.engine),
		CRSParanoia:          o.crsParanoia.n,
		CRSThreshold:         o.crsThreshold.n,
		RulesFile:            o.rulesFile,
		SharedCacheDir:       o.sharedCacheDir,
		AccessKeyID:          fakeagent.Secret(o.accessKeyID),
		SecretAccessKey:      fakeagent.Secret(o.secretAccessKey),
		RequireCredentials:   o.requireCredentials,
		StartupProbeListener: string(o.startupProbeListener),
		StartupProbeFilepath: o.startupProbeFilepath,
		StartupDelay:         o.startupDelay.d,
		AdminAddress:         string(o.adminAddress),
		DebugLogWebInputs:    o.debugLogWebInputs || o.debugLogAll,
		RecordRaw:            o.recordRaw,
		Decision:             fakeagent.DecisionMode(o.decision),
		Thresholds:           []fakeagent.Threshold(o.thresholds),
		FlagDuration:         o.flagDuration.d,
		ClientIPHeader:       o.clientIPHeader,
		CustomRequestHeaders: [][2]string(o.customHeaders),
		Faults: fakeagent.Faults{
			Latency:       o.latency.d,
			LatencyJitter: o.latencyJitter.d,
			ErrorRate:     o.errorRate.v,
			DropRate:      o.dropRate.v,
			HangRate:      o.hangRate.v,
			Methods:       o.faultMethods,
		},
		Seed:            o.seed,
		UpdateExpiry:    o.updateExpiry.d,
		RecentRequests:  o.recentRequests.n,
		MaxPending:      o.maxPending.n,
		MaxConnections:  o.maxConnections.n,
		MaxMessageSize:  o.maxMessageSize.n,
		IdleTimeout:     o.idleTimeout.d,
		ShutdownTimeout: o.shutdownTime.d,
	}
	if cfg.ClientIPHeader == "" {
		cfg.ClientIPHeader = fakeagent.NoClientIPHeader
	}
	// The library's "no limit" is negative; the flags' is 0.
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = -1
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = -1
	}
	return cfg, nil
}

// addressValue is an agent address, checked with fakeagent.ParseAddress.
type addressValue string

func (a *addressValue) String() string { return string(*a) }
func (a *addressValue) Set(s string) error {
	if _, _, err := fakeagent.ParseAddress(s); err != nil {
		return err
	}
	*a = addressValue(s)
	return nil
}

// hostPortValue is an optional TCP listen address.
type hostPortValue string

func (h *hostPortValue) String() string { return string(*h) }
func (h *hostPortValue) Set(s string) error {
	if s != "" {
		network, _, err := fakeagent.ParseAddress(s)
		if err != nil || network != "tcp" || strings.HasPrefix(s, "tcp:") {
			return fmt.Errorf("want host:port, such as :2024 or 127.0.0.1:9090")
		}
	}
	*h = hostPortValue(s)
	return nil
}

// modeValue is an inspection mode.
type modeValue detect.Mode

func (m *modeValue) String() string { return string(*m) }
func (m *modeValue) Set(s string) error {
	mode, err := detect.ParseMode(s)
	if err != nil {
		return err
	}
	*m = modeValue(mode)
	return nil
}

// engineValue is an inspection engine name.
type engineValue string

func (e *engineValue) String() string { return string(*e) }
func (e *engineValue) Set(s string) error {
	switch s {
	case fakeagent.EngineNative, fakeagent.EngineCRS:
		*e = engineValue(s)
		return nil
	}
	return fmt.Errorf("unknown engine %q: want %q or %q", s, fakeagent.EngineNative, fakeagent.EngineCRS)
}

// durationValue is a non-negative (or, if positive, a positive) duration.
type durationValue struct {
	d        time.Duration
	positive bool
}

func (d *durationValue) String() string { return d.d.String() }
func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return errors.New("want a duration such as 250ms, 10s or 5m")
	case v < 0:
		return errors.New("must not be negative")
	case v == 0 && d.positive:
		return errors.New("must be more than 0")
	}
	d.d = v
	return nil
}

// rateValue is a fraction from 0 to 1.
type rateValue struct{ v float64 }

func (r *rateValue) String() string { return strconv.FormatFloat(r.v, 'g', -1, 64) }
func (r *rateValue) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v >= 0 && v <= 1) {
		return errors.New("want a number from 0 to 1")
	}
	r.v = v
	return nil
}

// intValue is an integer of at least min (and at most max, when max is
// set).
type intValue struct{ n, min, max int }

func (i *intValue) String() string { return strconv.Itoa(i.n) }
func (i *intValue) Set(s string) error {
	v, err := strconv.Atoi(s)
	if i.max > 0 && (err != nil || v < i.min || v > i.max) {
		return fmt.Errorf("want an integer from %d to %d", i.min, i.max)
	}
	if err != nil || v < i.min {
		return fmt.Errorf("want an integer of at least %d", i.min)
	}
	i.n = v
	return nil
}

// socketModeValue is a permission in octal, such as 0660.
type socketModeValue os.FileMode

func (m *socketModeValue) String() string { return fmt.Sprintf("%#o", os.FileMode(*m).Perm()) }
func (m *socketModeValue) Set(s string) error {
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v == 0 || v > 0o777 {
		return errors.New("want octal permissions from 0001 to 0777, such as 0660")
	}
	*m = socketModeValue(v)
	return nil
}

// methodsValue is a comma-separated list of RPC method names.
type methodsValue []string

func (m *methodsValue) String() string { return strings.Join(*m, ",") }
func (m *methodsValue) Set(s string) error {
	var methods []string
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		switch strings.TrimPrefix(name, "RPC.") {
		case "ModuleInit", "PreRequest", "PostRequest", "UpdateRequest":
		default:
			return fmt.Errorf("unknown method %q: want ModuleInit, PreRequest, PostRequest or UpdateRequest", name)
		}
		methods = append(methods, name)
	}
	*m = methods
	return nil
}

// maxProcsValue is a CPU count or a percentage of the machine's CPUs, as
// the real agent's max-procs takes.
type maxProcsValue struct {
	text string
	n    int  // resolved CPU count
	set  bool // given explicitly: only then is GOMAXPROCS changed
}

func (m *maxProcsValue) String() string { return m.text }
func (m *maxProcsValue) Set(s string) error {
	bad := errors.New("want a number of CPUs (at least 1) or a percentage such as 50%")
	var n int
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		p, err := strconv.ParseFloat(pct, 64)
		if err != nil || !(p > 0) || math.IsInf(p, 0) {
			return bad
		}
		n = max(1, int(float64(runtime.NumCPU())*p/100))
	} else {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			return bad
		}
		n = v
	}
	m.text, m.n, m.set = s, n, true
	return nil
}

// decisionValue is a fakeagent.DecisionMode.
type decisionValue fakeagent.DecisionMode

func (d *decisionValue) String() string { return string(*d) }
func (d *decisionValue) Set(s string) error {
	m, err := fakeagent.ParseDecisionMode(s)
	if err != nil {
		return err
	}
	*d = decisionValue(m)
	return nil
}

// thresholdsValue is a list of interval:limit pairs, such as
// 1m:50,10m:350,1h:1800.
type thresholdsValue []fakeagent.Threshold

func (t *thresholdsValue) String() string {
	parts := make([]string, len(*t))
	for i, th := range *t {
		parts[i] = fmt.Sprintf("%v:%d", th.Interval, th.Limit)
	}
	return strings.Join(parts, ",")
}

func (t *thresholdsValue) Set(s string) error {
	var out []fakeagent.Threshold
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		iv, lim, ok := strings.Cut(part, ":")
		d, err := time.ParseDuration(iv)
		n, nerr := strconv.Atoi(lim)
		if !ok || err != nil || d <= 0 || nerr != nil || n < 1 {
			return fmt.Errorf("%q: want interval:limit pairs such as 1m:50,10m:350,1h:1800", part)
		}
		out = append(out, fakeagent.Threshold{Interval: d, Limit: n})
	}
	if len(out) == 0 {
		return errors.New("want at least one interval:limit pair, such as 1m:50")
	}
	*t = out
	return nil
}

// headersValue is a list of Name:value pairs, comma-separated.
type headersValue [][2]string

func (h *headersValue) String() string {
	parts := make([]string, len(*h))
	for i, kv := range *h {
		parts[i] = kv[0] + ":" + kv[1]
	}
	return strings.Join(parts, ",")
}

func (h *headersValue) Set(s string) error {
	var out [][2]string
	for part := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		name, value, ok := strings.Cut(part, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") {
			return fmt.Errorf("%q: want Name:value pairs, comma-separated, such as X-Env:staging,X-Team:waf", part)
		}
		out = append(out, [2]string{name, strings.TrimSpace(value)})
	}
	*h = out
	return nil
}
