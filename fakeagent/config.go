package fakeagent

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect"
	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect/crs"
	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// Defaults, chosen to match the real agent where it has an equivalent.
const (
	// DefaultAddress is the real agent's rpc-address in its container image.
	DefaultAddress = "/sigsci/tmp/sigsci.sock"
	// DefaultSharedCacheDir is the real agent's shared-cache-dir.
	DefaultSharedCacheDir = "/sigsci/tmp/cache"
	// DefaultSocketMode lets only the agent's user and group connect: a
	// module must run as the same user (our pod, compose file and images
	// all use 65532) or share the group (a pod's fsGroup). Widen it with
	// SocketMode (-fake-socket-mode 0666) when neither is possible.
	DefaultSocketMode os.FileMode = 0o660
	// DefaultUpdateExpiry is how long the real agent waits for
	// UpdateRequest after giving a RequestID.
	DefaultUpdateExpiry = 10 * time.Second
	// DefaultRecentRequests is how many requests are kept for Requests.
	DefaultRecentRequests = 1000
	// DefaultMaxPending bounds the requests waiting for UpdateRequest.
	DefaultMaxPending = 10000
	// DefaultMaxConnections bounds concurrently open module connections.
	DefaultMaxConnections = 1024
	// DefaultIdleTimeout closes a connection on which no complete request
	// arrived for this long (an idle pooled connection, or a slowloris).
	DefaultIdleTimeout = 5 * time.Minute
	// DefaultShutdownTimeout bounds the graceful shutdown Serve performs
	// when its context is cancelled.
	DefaultShutdownTimeout = 10 * time.Second
)

// Config configures a Server. Zero fields take the defaults above; New
// validates the whole of it.
type Config struct {
	// Network is "unix" or "tcp". When empty it is derived from Address
	// with ParseAddress.
	Network string
	// Address is the socket path or host:port to listen on, in any form
	// ParseAddress accepts ("/path", "unix:/path", "host:port",
	// "tcp:host:port"). Default DefaultAddress.
	Address string
	// SocketMode is the permission of the Unix socket file. Default
	// DefaultSocketMode.
	SocketMode os.FileMode

	// Mode is the inspection mode. Default detect.ModeBlocking.
	Mode detect.Mode
	// Engine is the detector the inspection engine runs: EngineNative
	// (the default) or EngineCRS, the OWASP Core Rule Set on Coraza, with
	// CRSParanoia (1 to 4, default 1) and CRSThreshold (the inbound
	// anomaly score that blocks, default 5).
	Engine       string
	CRSParanoia  int
	CRSThreshold int
	// Rules are the custom rules; RulesFile loads them from a file
	// instead. Setting both is an error.
	Rules     []detect.Rule
	RulesFile string
	// Decider, when set, answers every PreRequest instead of the
	// inspection engine, so that a test can script any reply. Its
	// RequestID and RequestHeaders are used as given; X-SigSci-Tags (any
	// case) in its RequestHeaders are recorded as the request's signals.
	Decider func(*wire.RPCMsgIn) wire.RPCMsgOut

	// SharedCacheDir, when set, is created at Listen and receives
	// rules.json (rules and configuration fingerprint) and, at shutdown,
	// state.json.
	SharedCacheDir string

	// AccessKeyID and SecretAccessKey are the agent credentials. The fake
	// agent never uses them, and never logs them.
	AccessKeyID     Secret
	SecretAccessKey Secret
	// RequireCredentials makes New fail without both credentials, as the
	// real agent does.
	RequireCredentials bool

	// StartupProbeListener, when set, is a TCP address serving GET
	// /startup: 503 until the rules are loaded, 200 after.
	StartupProbeListener string
	// StartupProbeFilepath, when set, names a file created once the rules
	// are loaded and removed at shutdown.
	StartupProbeFilepath string
	// StartupDelay delays the "loaded" state, to demonstrate startup probes.
	StartupDelay time.Duration

	// AdminAddress, when set, is a TCP address that serves /metrics,
	// /requests, /healthz and /startup. A bare ":port" binds the loopback
	// interface only, since /requests shows request contents; name a host
	// (e.g. "0.0.0.0:9090") to expose it.
	AdminAddress string

	// DebugLogWebInputs logs every call with its request line and decision.
	DebugLogWebInputs bool
	// RecordRaw records, serves (Requests, /requests) and logs request
	// contents as the module sent them. By default what the real agent
	// redacts is redacted first: sensitive headers (Authorization, Cookie,
	// Set-Cookie, names containing token, auth, key, sess, pass or
	// secret), the query of Referer and Location, sensitive parameters,
	// card and social security numbers. Inspection always sees the raw
	// request.
	RecordRaw bool

	// Decision is how attack signals become blocks: DecisionImmediate (the
	// default) or DecisionThreshold.
	Decision DecisionMode
	// Thresholds are the attack thresholds of DecisionThreshold. Default
	// DefaultThresholds.
	Thresholds []Threshold
	// FlagDuration is how long DecisionThreshold keeps an IP flagged.
	// Default DefaultFlagDuration.
	FlagDuration time.Duration
	// RateLimits are rate limit rules, applied in either decision mode;
	// those under rate_limits in RulesFile are added to them.
	RateLimits []RateLimit
	// MaxTrackedIPs bounds the client IPs counted for thresholds and rate
	// limits. Default DefaultMaxTrackedIPs.
	MaxTrackedIPs int
	// ClientIPHeader names the request header the client IP for rules,
	// thresholds and rate limits is taken from when it holds a valid IP
	// (its first entry), as the real agent's client-ip-header; otherwise
	// RemoteAddr is. Default DefaultClientIPHeader; NoClientIPHeader ("-")
	// uses RemoteAddr alone.
	ClientIPHeader string
	// CustomRequestHeaders are added to the RequestHeaders of every
	// PreRequest reply the engine decides (not a Decider's), so that the
	// module hands them to the application.
	CustomRequestHeaders [][2]string

	// Faults injects latency, errors, dropped connections and hangs.
	Faults Faults
	// Seed seeds the fault injection's random numbers; 0 picks a random
	// seed.
	Seed uint64

	// UpdateExpiry is how long a RequestID waits for its UpdateRequest
	// (the real agent's context-expiration). Default DefaultUpdateExpiry.
	UpdateExpiry time.Duration
	// RecentRequests is how many requests Requests keeps. Default
	// DefaultRecentRequests.
	RecentRequests int
	// MaxPending bounds the requests waiting for UpdateRequest; the oldest
	// is evicted beyond it. Default DefaultMaxPending.
	MaxPending int
	// MaxConnections bounds open module connections; more are closed as
	// soon as accepted. Default DefaultMaxConnections; negative: no limit.
	MaxConnections int
	// MaxMessageSize bounds one request frame. Default
	// wire.DefaultMaxMessageSize.
	MaxMessageSize int
	// IdleTimeout closes a connection on which no complete request frame
	// arrived within it. Default DefaultIdleTimeout; negative: never.
	IdleTimeout time.Duration
	// ShutdownTimeout bounds the graceful shutdown Serve performs when its
	// context is done. Default DefaultShutdownTimeout.
	ShutdownTimeout time.Duration

	// Logger receives the server's logs. Default: discard.
	Logger *slog.Logger
	// Clock is the server's time source. Default: the wall clock.
	Clock Clock
	// Version is reported in logs, metrics and the cache files.
	Version string
}

// Secret is a credential. It prints, logs and marshals as "[redacted]" so
// that it cannot leak by accident; convert it to string to use it.
type Secret string

const redacted = "[redacted]"

// String returns "[redacted]", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer, so %#v redacts too.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }

// ParseAddress splits an agent address into a network ("unix" or "tcp")
// and an address for net.Listen/net.Dial. It accepts "/path/to/sock",
// "unix:/path/to/sock", "host:port" and "tcp:host:port"; like the
// helloworld app, an address containing "/" is a socket path.
func ParseAddress(s string) (network, address string, err error) {
	switch {
	case s == "":
		return "", "", errors.New("empty address")
	case strings.HasPrefix(s, "unix:"):
		if p := strings.TrimPrefix(s, "unix:"); p != "" {
			return "unix", p, nil
		}
		return "", "", fmt.Errorf("address %q: empty socket path", s)
	case strings.HasPrefix(s, "tcp:"):
		a := strings.TrimPrefix(s, "tcp:")
		if err := checkHostPort(a); err != nil {
			return "", "", fmt.Errorf("address %q: %w", s, err)
		}
		return "tcp", a, nil
	case strings.Contains(s, "/"):
		return "unix", s, nil
	}
	if err := checkHostPort(s); err != nil {
		return "", "", fmt.Errorf("address %q: %w (a socket path must contain a /)", s, err)
	}
	return "tcp", s, nil
}

// checkHostPort accepts host:port with a numeric port; the host may be
// empty (all interfaces).
func checkHostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("want host:port: %w", err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

// normalize fills defaults and validates c.
func (c *Config) normalize() error {
	if c.Address == "" {
		c.Address = DefaultAddress
	}
	switch c.Network {
	case "":
		network, address, err := ParseAddress(c.Address)
		if err != nil {
			return fmt.Errorf("fakeagent: config: Address: %w", err)
		}
		c.Network, c.Address = network, address
	case "unix":
	case "tcp":
		if err := checkHostPort(c.Address); err != nil {
			return fmt.Errorf("fakeagent: config: Address %q: %w", c.Address, err)
		}
	default:
		return fmt.Errorf("fakeagent: config: Network %q: want \"unix\" or \"tcp\"", c.Network)
	}
	if c.SocketMode == 0 {
		c.SocketMode = DefaultSocketMode
	}
	if c.SocketMode&^os.ModePerm != 0 {
		return fmt.Errorf("fakeagent: config: SocketMode %v: only permission bits are allowed", c.SocketMode)
	}
	mode, err := detect.ParseMode(string(c.Mode))
	if err != nil {
		return fmt.Errorf("fakeagent: config: Mode: %w", err)
	}
	c.Mode = mode
	if err := c.checkEngine(); err != nil {
		return err
	}
	if c.Rules != nil && c.RulesFile != "" {
		return errors.New("fakeagent: config: set Rules or RulesFile, not both")
	}
	if c.RequireCredentials && (c.AccessKeyID == "" || c.SecretAccessKey == "") {
		return errors.New("fakeagent: config: credentials are required but AccessKeyID and SecretAccessKey are not both set")
	}
	for _, a := range []struct{ name, addr string }{
		{"StartupProbeListener", c.StartupProbeListener},
		{"AdminAddress", c.AdminAddress},
	} {
		if a.addr == "" {
			continue
		}
		if err := checkHostPort(a.addr); err != nil {
			return fmt.Errorf("fakeagent: config: %s %q: %w", a.name, a.addr, err)
		}
	}
	decision, err := ParseDecisionMode(string(c.Decision))
	if err != nil {
		return fmt.Errorf("fakeagent: config: Decision: %w", err)
	}
	c.Decision = decision
	if c.Thresholds == nil {
		c.Thresholds = DefaultThresholds
	}
	for i, t := range c.Thresholds {
		if t.Interval <= 0 || t.Limit < 1 {
			return fmt.Errorf("fakeagent: config: Thresholds[%d] %v: want an interval above 0 and a limit of at least 1", i, t)
		}
	}
	c.Thresholds = slices.Clone(c.Thresholds)
	c.RateLimits = slices.Clone(c.RateLimits)
	if err := normalizeRateLimits(c.RateLimits); err != nil {
		return fmt.Errorf("fakeagent: config: RateLimits: %w", err)
	}
	for i, h := range c.CustomRequestHeaders {
		if !validHeaderName(h[0]) {
			return fmt.Errorf("fakeagent: config: CustomRequestHeaders[%d]: %q is not a header name", i, h[0])
		}
		if strings.ContainsAny(h[1], "\r\n\x00") {
			return fmt.Errorf("fakeagent: config: CustomRequestHeaders[%d] (%s): the value holds a line break or NUL", i, h[0])
		}
	}
	if c.ClientIPHeader == "" {
		c.ClientIPHeader = DefaultClientIPHeader
	} else if c.ClientIPHeader != NoClientIPHeader && !validHeaderName(c.ClientIPHeader) {
		return fmt.Errorf("fakeagent: config: ClientIPHeader %q is not a header name", c.ClientIPHeader)
	}
	if err := c.Faults.validate(); err != nil {
		return fmt.Errorf("fakeagent: config: Faults: %w", err)
	}
	nonNegative := []struct {
		name string
		d    time.Duration
	}{
		{"StartupDelay", c.StartupDelay},
		{"UpdateExpiry", c.UpdateExpiry},
		{"FlagDuration", c.FlagDuration},
		{"ShutdownTimeout", c.ShutdownTimeout},
	}
	for _, f := range nonNegative {
		if f.d < 0 {
			return fmt.Errorf("fakeagent: config: %s must not be negative (got %v)", f.name, f.d)
		}
	}
	for _, f := range []struct {
		name string
		n    int
	}{
		{"RecentRequests", c.RecentRequests},
		{"MaxPending", c.MaxPending},
		{"MaxMessageSize", c.MaxMessageSize},
		{"MaxTrackedIPs", c.MaxTrackedIPs},
	} {
		if f.n < 0 {
			return fmt.Errorf("fakeagent: config: %s must not be negative (got %d)", f.name, f.n)
		}
	}
	setDefault(&c.UpdateExpiry, DefaultUpdateExpiry)
	setDefault(&c.FlagDuration, DefaultFlagDuration)
	setDefault(&c.MaxTrackedIPs, DefaultMaxTrackedIPs)
	setDefault(&c.ShutdownTimeout, DefaultShutdownTimeout)
	setDefault(&c.IdleTimeout, DefaultIdleTimeout)
	setDefault(&c.RecentRequests, DefaultRecentRequests)
	setDefault(&c.MaxPending, DefaultMaxPending)
	setDefault(&c.MaxConnections, DefaultMaxConnections)
	setDefault(&c.MaxMessageSize, wire.DefaultMaxMessageSize)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	return nil
}

// validHeaderName reports whether name is an HTTP header name (an RFC
// 9110 token).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// The detectors Config.Engine selects.
const (
	EngineNative = "native" // the built-in pipeline of package detect
	EngineCRS    = "crs"    // the OWASP Core Rule Set v4 on Coraza (package detect/crs)
)

// checkEngine validates and defaults the engine selection.
func (c *Config) checkEngine() error {
	switch c.Engine {
	case "":
		c.Engine = EngineNative
	case EngineNative, EngineCRS:
	default:
		return fmt.Errorf("fakeagent: config: Engine %q: want %q or %q", c.Engine, EngineNative, EngineCRS)
	}
	if c.CRSParanoia < 0 || c.CRSParanoia > crs.MaxParanoia {
		return fmt.Errorf("fakeagent: config: CRSParanoia %d: want 1 to %d (0 for the default, %d)", c.CRSParanoia, crs.MaxParanoia, crs.DefaultParanoia)
	}
	if c.CRSThreshold < 0 {
		return fmt.Errorf("fakeagent: config: CRSThreshold %d: want at least 1 (0 for the default, %d)", c.CRSThreshold, crs.DefaultThreshold)
	}
	return nil
}

// detector builds the detector the configuration selects; nil is the
// native one. CRS is built here, once per server: it takes a second.
func (c *Config) detector() (detect.Detector, error) {
	if c.Engine != EngineCRS {
		return nil, nil
	}
	d, err := crs.New(crs.Config{Paranoia: c.CRSParanoia, Threshold: c.CRSThreshold})
	if err != nil {
		return nil, fmt.Errorf("fakeagent: config: Engine crs: %w", err)
	}
	return d, nil
}
