package fakeagent

import (
	"log/slog"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect"
	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// Option adjusts the Config that Start builds. Any func(*Config) is one.
type Option func(*Config)

// WithMode sets the inspection mode.
func WithMode(m detect.Mode) Option { return func(c *Config) { c.Mode = m } }

// WithEngine selects the detector: EngineNative (the default) or
// EngineCRS.
func WithEngine(name string) Option { return func(c *Config) { c.Engine = name } }

// WithCRS selects the CRS detector with a paranoia level (1 to 4) and an
// inbound anomaly threshold; 0 keeps a default.
func WithCRS(paranoia, threshold int) Option {
	return func(c *Config) { c.Engine, c.CRSParanoia, c.CRSThreshold = EngineCRS, paranoia, threshold }
}

// WithRules sets the custom rules.
func WithRules(rules []detect.Rule) Option { return func(c *Config) { c.Rules = rules } }

// WithRulesFile loads the custom rules from a file.
func WithRulesFile(path string) Option { return func(c *Config) { c.RulesFile = path } }

// WithDecider answers every PreRequest with decide instead of the
// inspection engine, so that a test can script any reply (see
// Config.Decider).
func WithDecider(decide func(*wire.RPCMsgIn) wire.RPCMsgOut) Option {
	return func(c *Config) { c.Decider = decide }
}

// WithTCP listens on TCP 127.0.0.1 with a free port instead of a Unix
// socket.
func WithTCP() Option {
	return func(c *Config) { c.Network, c.Address = "tcp", "127.0.0.1:0" }
}

// WithAddress listens on address, in any form ParseAddress accepts.
func WithAddress(address string) Option {
	return func(c *Config) { c.Network, c.Address = "", address }
}

// WithFaults injects faults; see Faults.
func WithFaults(f Faults) Option { return func(c *Config) { c.Faults = f } }

// WithSeed makes fault injection deterministic.
func WithSeed(seed uint64) Option { return func(c *Config) { c.Seed = seed } }

// WithClock sets the clock used for timestamps, update expiry, injected
// latency and the startup delay; see ManualClock.
func WithClock(clock Clock) Option { return func(c *Config) { c.Clock = clock } }

// WithMaxMessageSize bounds one request frame.
func WithMaxMessageSize(n int) Option { return func(c *Config) { c.MaxMessageSize = n } }

// WithUpdateExpiry sets how long a RequestID waits for its UpdateRequest.
func WithUpdateExpiry(d time.Duration) Option { return func(c *Config) { c.UpdateExpiry = d } }

// WithRecentRequests sets how many requests are recorded.
func WithRecentRequests(n int) Option { return func(c *Config) { c.RecentRequests = n } }

// WithIdleTimeout sets how long a request frame may take to arrive.
func WithIdleTimeout(d time.Duration) Option { return func(c *Config) { c.IdleTimeout = d } }

// WithMaxConnections bounds the open module connections.
func WithMaxConnections(n int) Option { return func(c *Config) { c.MaxConnections = n } }

// WithStartupDelay delays the "loaded" state.
func WithStartupDelay(d time.Duration) Option { return func(c *Config) { c.StartupDelay = d } }

// WithAdminAddress serves the admin API on a TCP address such as
// "127.0.0.1:0".
func WithAdminAddress(address string) Option { return func(c *Config) { c.AdminAddress = address } }

// WithDecision sets how attack signals become blocks (see DecisionMode).
func WithDecision(m DecisionMode) Option { return func(c *Config) { c.Decision = m } }

// WithThresholds sets the attack thresholds of DecisionThreshold and how
// long a flagged IP stays flagged (0: DefaultFlagDuration).
func WithThresholds(flagDuration time.Duration, thresholds ...Threshold) Option {
	return func(c *Config) { c.Thresholds, c.FlagDuration = thresholds, flagDuration }
}

// WithRateLimits adds rate limit rules (see RateLimit).
func WithRateLimits(rules ...RateLimit) Option {
	return func(c *Config) { c.RateLimits = append(c.RateLimits, rules...) }
}

// WithClientIPHeader takes the client IP from the header name when present
// (NoClientIPHeader: from RemoteAddr alone).
func WithClientIPHeader(name string) Option { return func(c *Config) { c.ClientIPHeader = name } }

// WithCustomRequestHeaders adds headers to every PreRequest reply's
// RequestHeaders (see Config.CustomRequestHeaders).
func WithCustomRequestHeaders(h ...[2]string) Option {
	return func(c *Config) { c.CustomRequestHeaders = append(c.CustomRequestHeaders, h...) }
}

// WithRecordRaw records, serves and logs request contents unredacted (see
// Config.RecordRaw).
func WithRecordRaw() Option { return func(c *Config) { c.RecordRaw = true } }

// WithLogger sends the server's logs to l.
func WithLogger(l *slog.Logger) Option { return func(c *Config) { c.Logger = l } }
