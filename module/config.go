package module

import (
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"
)

// version is this module's version (Version), reported to the agent in
// ModuleVersion.
const version = "0.1.0"

// Defaults of our own options; upstream's are the variables in defaults.go.
const (
	DefaultBreakerThreshold = 5
	DefaultBreakerCooldown  = 200 * time.Millisecond
	defaultModuleName       = "ngwaf-helloworld-module-golang"
	maxBackgroundCalls      = 1024
)

// DefaultMaxConns is the default bound on open agent connections. A call
// holds a connection only while it waits for the agent, so this is how
// many agent calls may be in flight at once, not how many requests: more
// wait (within Timeout) for a connection to come free.
const DefaultMaxConns = 128

// InspectorInitFunc is called before a request is inspected; returning
// false skips inspection of that request.
type InspectorInitFunc func(*http.Request) bool

// InspectorFiniFunc is called after an inspected request is served.
type InspectorFiniFunc func(*http.Request)

// ModuleConfigOption configures a Module; see NewModule.
type ModuleConfigOption func(*ModuleConfig) error

// ModuleConfig holds a Module's settings. Build it with options passed to
// NewModule; read it back with Module.ModuleConfig.
type ModuleConfig struct {
	network, address          string
	timeout                   time.Duration
	anomalySize               int64
	anomalyDuration           time.Duration
	maxContentLength          int64
	allowUnknownContentLength bool
	expectedContentTypes      map[string]bool
	extendContentTypes        bool
	inspector                 Inspector
	inspInit                  InspectorInitFunc
	inspFini                  InspectorFiniFunc
	headerExtractor           func(*http.Request) [][2]string
	customHeaderExtractor     HeaderExtractorFunc // upstream's older form, see moduleconfig.go
	debug                     bool
	moduleIdentifier          string
	serverIdentifier          string
	serverFlavor              string
	maxConns                  int
	connPerCall               bool
	breakerThreshold          int
	breakerCooldown           time.Duration
	logger                    *slog.Logger
}

func newModuleConfig(opts []ModuleConfigOption) (*ModuleConfig, error) {
	c := &ModuleConfig{
		network:                   DefaultRPCNetwork,
		address:                   DefaultRPCAddress,
		timeout:                   DefaultTimeout,
		anomalySize:               DefaultAnomalySize,
		anomalyDuration:           DefaultAnomalyDuration,
		maxContentLength:          DefaultMaxContentLength,
		allowUnknownContentLength: DefaultAllowUnknownContentLength,
		inspector:                 DefaultInspector,
		debug:                     DefaultDebug,
		moduleIdentifier:          DefaultModuleIdentifier,
		serverIdentifier:          DefaultServerIdentifier,
		serverFlavor:              DefaultServerFlavor,
		maxConns:                  DefaultMaxConns,
		breakerThreshold:          DefaultBreakerThreshold,
		breakerCooldown:           DefaultBreakerCooldown,
	}
	var errs []error
	for _, opt := range opts {
		if opt == nil { // upstream's AltResponseCodes is a nil option
			continue
		}
		if err := opt(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("module: invalid configuration: %w", err)
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c, nil
}

// Socket sets the agent's RPC address: network "unix" with a socket path,
// or "tcp" with host:port. The default is unix:/var/run/sigsci.sock.
func Socket(network, address string) ModuleConfigOption {
	return func(c *ModuleConfig) error {
		switch network {
		case "unix", "tcp", "tcp4", "tcp6":
		default:
			return fmt.Errorf("socket network %q: want unix or tcp", network)
		}
		if address == "" {
			return errors.New("socket address is empty")
		}
		c.network, c.address = network, address
		return nil
	}
}

// Timeout bounds every agent call, connecting included (default 100ms).
// When it passes, the request is served as if the agent had allowed it.
func Timeout(t time.Duration) ModuleConfigOption {
	return func(c *ModuleConfig) error {
		if t <= 0 {
			return fmt.Errorf("timeout %v: must be positive", t)
		}
		c.timeout = t
		return nil
	}
}

// AnomalySize sets the response size from which a request that the agent
// gave no RequestID is reported with PostRequest (default 512 KiB).
func AnomalySize(size int64) ModuleConfigOption {
	return func(c *ModuleConfig) error {
		if size <= 0 {
			return fmt.Errorf("anomaly size %d: must be positive", size)
		}
		c.anomalySize = size
		return nil
	}
}

// AnomalyDuration sets the response time from which a request that the
// agent gave no RequestID is reported with PostRequest (default 1s).
func AnomalyDuration(dur time.Duration) ModuleConfigOption {
	return func(c *ModuleConfig) error {
		if dur <= 0 {
			return fmt.Errorf("anomaly duration %v: must be positive", dur)
		}
		c.anomalyDuration = dur
		return nil
	}
}

// MaxContentLength sets the largest request body sent to the agent
// (default 100000 bytes). Larger bodies reach the handler uninspected.
func MaxContentLength(size int64) ModuleConfigOption {
	return func(c *ModuleConfig) error {
		if size < 0 {
			return fmt.Errorf("max content length %d: must not be negative", size)
		}
		c.maxContentLength = size
		return nil
	}
}

// AllowUnknownContentLength lets bodies of unknown length (chunked) be
// inspected when they turn out to fit within MaxContentLength.
func AllowUnknownContentLength(allow bool) ModuleConfigOption {
	return func(c *ModuleConfig) error {
		c.allowUnknownContentLength = allow
		return nil
	}
}

// ExpectedContentType adds a media type (e.g. "application/x-yaml") whose
// bodies are inspected besides the built-in form, multipart, JSON,
// JavaScript, XML, gRPC and GraphQL types.
func ExpectedContentType(s string) ModuleConfigOption {
	return func(c *ModuleConfig) error {
		mt, _, err := mime.ParseMediaType(s)
		if err != nil {
			return fmt.Errorf("expected content type %q: %w", s, err)
		}
		if c.expectedContentTypes == nil {
			c.expectedContentTypes = make(map[string]bool)
		}
		c.expectedContentTypes[mt] = true
		return nil
	}
}

// ExtendContentTypes, when true, inspects bodies of every content type.
func ExtendContentTypes(v bool) ModuleConfigOption {
	return func(c *ModuleConfig) error {
		c.extendContentTypes = v
		return nil
	}
}

// CustomInspector replaces the RPC inspector. init (optional) may veto
// inspection of a request; fini (optional) runs after it is served.
func CustomInspector(insp Inspector, init InspectorInitFunc, fini InspectorFiniFunc) ModuleConfigOption {
	return func(c *ModuleConfig) error {
		if insp == nil {
			return errors.New("custom inspector is nil")
		}
		c.inspector, c.inspInit, c.inspFini = insp, init, fini
		return nil
	}
}

// RawHeaderExtractor supplies the request headers sent to the agent, for
// servers that keep the original order and case. Host is still sent first.
func RawHeaderExtractor(fn func(r *http.Request) [][2]string) ModuleConfigOption {
	return func(c *ModuleConfig) error {
		c.headerExtractor, c.customHeaderExtractor = fn, nil
		return nil
	}
}

// Debug logs every inspection decision.
func Debug(enable bool) ModuleConfigOption {
	return func(c *ModuleConfig) error {
		c.debug = enable
		return nil
	}
}

// ModuleIdentifier sets the module name and version reported to the agent.
func ModuleIdentifier(name, version string) ModuleConfigOption {
	return func(c *ModuleConfig) error {
		if name == "" {
			return errors.New("module identifier name is empty")
		}
		c.moduleIdentifier = strings.TrimSpace(name + " " + version)
		return nil
	}
}

// ServerIdentifier sets the server version reported to the agent (default
// the Go runtime version).
func ServerIdentifier(id string) ModuleConfigOption {
	return func(c *ModuleConfig) error {
		c.serverIdentifier = id
		return nil
	}
}

// ServerFlavor sets the free-form server flavor reported to the agent.
func ServerFlavor(serverModule string) ModuleConfigOption {
	return func(c *ModuleConfig) error {
		c.serverFlavor = serverModule
		return nil
	}
}

// MaxConns bounds the open agent connections (default DefaultMaxConns):
// the agent calls in flight at once. A call beyond it waits, within its
// timeout, for a connection to be put back.
func MaxConns(n int) ModuleConfigOption {
	return func(c *ModuleConfig) error {
		if n < 1 {
			return fmt.Errorf("max conns %d: must be at least 1", n)
		}
		c.maxConns = n
		return nil
	}
}

// ConnectionPerCall restores the upstream behaviour of dialing a new agent
// connection for every call and closing it afterwards, for agents that do
// not accept several calls on one connection.
func ConnectionPerCall(enable bool) ModuleConfigOption {
	return func(c *ModuleConfig) error {
		c.connPerCall = enable
		return nil
	}
}

// CircuitBreaker sets after how many consecutive agent calls that timed out
// the module stops calling the agent and fails open at once, and how long it
// waits before letting one call probe the agent again (doubling, up to 32×,
// while the agent stays unresponsive). Calls that fail at once (connection
// refused, dropped) don't count: they cost requests no time, and a
// restarted agent is inspected again from its first answer. A threshold
// of 0 disables the breaker.
func CircuitBreaker(threshold int, cooldown time.Duration) ModuleConfigOption {
	return func(c *ModuleConfig) error {
		if threshold < 0 || (threshold > 0 && cooldown <= 0) {
			return fmt.Errorf("circuit breaker (%d, %v): want threshold >= 0 and a positive cooldown", threshold, cooldown)
		}
		c.breakerThreshold, c.breakerCooldown = threshold, cooldown
		return nil
	}
}

// Logger sets the structured logger (default slog.Default()).
func Logger(l *slog.Logger) ModuleConfigOption {
	return func(c *ModuleConfig) error {
		c.logger = l
		return nil
	}
}

// RPCNetwork is the agent's network ("unix" or "tcp").
func (c *ModuleConfig) RPCNetwork() string { return c.network }

// RPCAddress is the agent's address.
func (c *ModuleConfig) RPCAddress() string { return c.address }

// Timeout is the bound on each agent call.
func (c *ModuleConfig) Timeout() time.Duration { return c.timeout }

// Debug reports whether every decision is logged.
func (c *ModuleConfig) Debug() bool { return c.debug }

// MaxContentLength is the largest body sent to the agent.
func (c *ModuleConfig) MaxContentLength() int64 { return c.maxContentLength }

// ModuleIdentifier is the module name and version sent to the agent.
func (c *ModuleConfig) ModuleIdentifier() string { return c.moduleIdentifier }

// inspectableTypes reports whether a body sent with these Content-Type
// header values goes to the agent. Applications and frameworks read bodies
// whatever the header says (a form parser takes "text/plain,
// application/x-www-form-urlencoded" as a form), so anything that is not
// plainly one uninspected type is inspected: no header, several headers, a
// comma-separated list, a value that does not parse.
func (c *ModuleConfig) inspectableTypes(values []string) bool {
	if c.extendContentTypes || len(values) != 1 || strings.Contains(values[0], ",") {
		return true
	}
	mt, _, err := mime.ParseMediaType(values[0])
	if err != nil || !strings.Contains(mt, "/") {
		return true
	}
	return inspectedMediaType(mt) || c.expectedContentTypes[mt]
}

// inspectedMediaType reports whether bodies of the media type mt (lower
// case, without parameters) are inspected by default: forms, multipart,
// anything JSON or JavaScript (as upstream), XML, gRPC and GraphQL.
func inspectedMediaType(mt string) bool {
	switch {
	case mt == "application/x-www-form-urlencoded",
		strings.HasPrefix(mt, "multipart/"),
		strings.Contains(mt, "json"), strings.Contains(mt, "javascript"),
		strings.HasSuffix(mt, "/xml"), strings.HasSuffix(mt, "+xml"),
		mt == "application/grpc", strings.HasPrefix(mt, "application/grpc+"), strings.HasPrefix(mt, "application/grpc-web"),
		strings.Contains(mt, "graphql"):
		return true
	}
	return false
}
