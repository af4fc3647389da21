// Package module protects an http.Handler with a Next-Gen WAF (Signal
// Sciences) agent: every request is described to the agent over its
// msgpack-RPC protocol before the handler runs, and the agent's decision is
// applied (allow, block, redirect, request and response headers).
//
// The API mirrors the upstream sigsci-module-golang (NewModule with the same
// option names, the Inspector interface), so switching is an import change.
// Inside, it keeps a pool of persistent agent connections, fails open at
// once while the agent is down (circuit breaker), strips client-sent
// X-Sigsci-* headers, logs with log/slog and counts what it does (Stats).
//
// Whatever the agent does — down, slow, hung, restarting, answering garbage
// — a request is served as if allowed after at most Timeout, with its body
// intact.
package module

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// Response header action codes carried in Action.Code.
const (
	AddHdr   = wire.AddHdr
	SetHdr   = wire.SetHdr
	SetNEHdr = wire.SetNEHdr
	DelHdr   = wire.DelHdr
)

// Module is an http.Handler that asks the agent about each request before
// handing it to the wrapped handler.
type Module struct {
	handler   http.Handler
	config    *ModuleConfig
	inspector Inspector
	rpc       *RPCInspector // nil with a custom inspector
	logger    *slog.Logger
	now       func() time.Time

	// ModuleInit again after an agent connection was lost: a restarted
	// agent has forgotten the module.
	initLosses atomic.Uint64 // the RPC inspector's connLosses at the last ModuleInit
	reinit     atomic.Bool   // a ModuleInit is under way or being retried

	bgMu     sync.Mutex
	bg       sync.WaitGroup
	bgActive int
	closed   bool
	stop     chan struct{}

	stats moduleCounters
}

type moduleCounters struct {
	inspected, allowed, blocked, redirected, failOpen, errors, skipped atomic.Uint64
	postRequests, updateRequests, backgroundDropped, invalidResponses  atomic.Uint64
	bodyTimeouts                                                       atomic.Uint64
}

// NewModule wraps h. Unless CustomInspector is given, requests are
// inspected by the agent at Socket's address. ModuleInit is sent at once;
// when the agent can't be reached it is retried in the background, and
// requests fail open meanwhile.
func NewModule(h http.Handler, opts ...ModuleConfigOption) (*Module, error) {
	if h == nil {
		return nil, errors.New("module: handler is nil")
	}
	cfg, err := newModuleConfig(opts)
	if err != nil {
		return nil, err
	}
	m := &Module{
		handler: h,
		config:  cfg,
		logger:  cfg.logger,
		now:     time.Now,
		stop:    make(chan struct{}),
	}
	if cfg.inspector != nil {
		m.inspector = cfg.inspector
	} else {
		m.rpc = NewRPCInspector(RPCInspectorConfig{
			Network:          cfg.network,
			Address:          cfg.address,
			Timeout:          cfg.timeout,
			MaxConns:         cfg.maxConns,
			ConnPerCall:      cfg.connPerCall,
			BreakerThreshold: cfg.breakerThreshold,
			BreakerCooldown:  cfg.breakerCooldown,
			Logger:           cfg.logger,
		})
		m.inspector = m.rpc
	}
	if err := m.moduleInit(); err != nil {
		m.logger.Warn("agent ModuleInit failed; retrying in the background, failing open meanwhile",
			"agent", cfg.network+":"+cfg.address, "error", err)
		m.reinit.Store(true)
		m.bg.Add(1)
		go m.retryModuleInit()
	}
	return m, nil
}

func (m *Module) moduleInit() error {
	var losses uint64
	if m.rpc != nil {
		losses = m.rpc.connLosses()
	}
	now := m.now()
	in := &RPCMsgIn{
		ModuleVersion: m.config.moduleIdentifier,
		ServerVersion: m.config.serverIdentifier,
		ServerFlavor:  m.config.serverFlavor,
		Timestamp:     now.Unix(),
		NowMillis:     now.UnixMilli(),
	}
	var out RPCMsgOut
	if err := m.inspector.ModuleInit(in, &out); err != nil {
		return err
	}
	m.initLosses.Store(losses)
	return nil
}

// reannounce sends ModuleInit again, in the background, once the agent
// answers after a connection to it was lost.
func (m *Module) reannounce() {
	if m.rpc == nil || m.rpc.connLosses() == m.initLosses.Load() || !m.reinit.CompareAndSwap(false, true) {
		return
	}
	m.background(func() error {
		defer m.reinit.Store(false)
		return m.moduleInit()
	})
}

// retryModuleInit announces the module once the agent is reachable, backing
// off from 100ms to 5s, until Close.
func (m *Module) retryModuleInit() {
	defer m.bg.Done()
	defer m.reinit.Store(false)
	wait := 100 * time.Millisecond
	for {
		t := time.NewTimer(wait)
		select {
		case <-m.stop:
			t.Stop()
			return
		case <-t.C:
		}
		if err := m.moduleInit(); err == nil {
			m.logger.Info("agent ModuleInit succeeded", "agent", m.config.network+":"+m.config.address)
			return
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// ModuleConfig returns the module's configuration.
func (m *Module) ModuleConfig() *ModuleConfig { return m.config }

// Inspector returns the inspector the module asks.
func (m *Module) Inspector() Inspector { return m.inspector }

// Version returns the module version sent to the agent.
func (m *Module) Version() string { return m.config.moduleIdentifier }

// ServerVersion returns the server version sent to the agent.
func (m *Module) ServerVersion() string { return m.config.serverIdentifier }

// ServeHTTP inspects r, then serves it, blocks it or redirects it.
func (m *Module) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m.config.inspInit != nil && !m.config.inspInit(r) {
		m.stats.skipped.Add(1)
		stripSigsciHeaders(r.Header)
		m.handler.ServeHTTP(w, r)
		return
	}
	if m.config.inspFini != nil {
		defer m.config.inspFini(r)
	}
	start := m.now()
	m.stats.inspected.Add(1)

	in := m.newMsgIn(r, start, m.readBody(r))
	stripSigsciHeaders(r.Header)

	var out RPCMsgOut
	if err := m.inspector.PreRequest(in, &out); err != nil {
		m.stats.errors.Add(1)
		m.failOpen(w, r, "agent call failed", slog.String("error", err.Error()))
		return
	}
	m.reannounce()
	code := int(out.WAFResponse)
	in.WAFResponse = out.WAFResponse
	if code != http.StatusOK && (code < 300 || code > 599) {
		m.stats.invalidResponses.Add(1)
		m.failOpen(w, r, "agent answered an invalid WAFResponse", slog.Int("waf_response", code))
		return
	}

	r.Header["X-Sigsci-Agentresponse"] = []string{statusString(code)}
	if out.RequestID != "" {
		r.Header.Set("X-Sigsci-Requestid", out.RequestID)
	}
	redirect := ""
	for _, kv := range out.RequestHeaders {
		if hasSigsciPrefix(kv[0]) {
			r.Header.Set(kv[0], kv[1])
		} else {
			r.Header.Add(kv[0], kv[1])
		}
		if http.CanonicalHeaderKey(kv[0]) == "X-Sigsci-Redirect" {
			redirect = kv[1]
		}
	}

	rw := &responseWriter{w: w, actions: out.RespActions}
	switch {
	case code == http.StatusOK:
		m.stats.allowed.Add(1)
		m.handler.ServeHTTP(rw, r)
	case code < 400 && redirect != "":
		m.stats.redirected.Add(1)
		http.Redirect(rw, r, redirect, code)
	default:
		m.stats.blocked.Add(1)
		http.Error(rw, fmt.Sprintf("%d %s", code, http.StatusText(code)), code)
	}
	rw.finish()
	elapsed := m.now().Sub(start)

	level := slog.LevelDebug
	if m.config.debug || code != http.StatusOK {
		level = slog.LevelInfo
	}
	if m.logger.Enabled(r.Context(), level) { // spare the hot path the attrs
		m.logger.LogAttrs(r.Context(), level, "inspected request",
			slog.String("method", r.Method), slog.String("uri", in.URI), slog.Int("waf_response", code),
			slog.String("tags", r.Header.Get("X-Sigsci-Tags")), slog.Int("status", rw.status), slog.Duration("duration", elapsed))
	}

	m.report(in, out.RequestID, rw, w.Header(), elapsed)
}

// statusString is strconv.Itoa for a WAFResponse, without allocating for
// the usual ones.
func statusString(code int) string {
	switch code {
	case http.StatusOK:
		return "200"
	case http.StatusNotAcceptable:
		return "406"
	}
	return strconv.Itoa(code)
}

// failOpen serves r as if the agent had allowed it.
func (m *Module) failOpen(w http.ResponseWriter, r *http.Request, msg string, attr slog.Attr) {
	m.stats.failOpen.Add(1)
	if m.logger.Enabled(r.Context(), slog.LevelDebug) {
		m.logger.LogAttrs(r.Context(), slog.LevelDebug, "failing open: "+msg,
			slog.String("method", r.Method), slog.String("uri", r.URL.RequestURI()), attr)
	}
	m.handler.ServeHTTP(w, r)
}

// report sends UpdateRequest (the agent gave a RequestID) or, for an
// anomalous response, PostRequest, in the background.
func (m *Module) report(in *RPCMsgIn, requestID string, rw *responseWriter, h http.Header, elapsed time.Duration) {
	status := rw.status
	if requestID == "" && status < 300 && rw.size < m.config.anomalySize && elapsed < m.config.anomalyDuration {
		return
	}
	headersOut := responseHeaders(h)
	millis := elapsed.Milliseconds()
	if requestID != "" {
		m.background(func() error {
			m.stats.updateRequests.Add(1)
			return m.inspector.UpdateRequest(&RPCMsgIn2{
				RequestID:      requestID,
				ResponseCode:   int32(status),
				ResponseMillis: millis,
				ResponseSize:   rw.size,
				HeadersOut:     headersOut,
			}, &RPCMsgOut{})
		})
		return
	}
	in.ResponseCode = int32(status)
	in.ResponseMillis = millis
	in.ResponseSize = rw.size
	in.HeadersOut = headersOut
	m.background(func() error {
		m.stats.postRequests.Add(1)
		return m.inspector.PostRequest(in, &RPCMsgOut{})
	})
}

// background runs an after-the-response call, bounded in number; Close
// waits for the ones running.
func (m *Module) background(call func() error) {
	m.bgMu.Lock()
	if m.closed || m.bgActive >= maxBackgroundCalls {
		m.bgMu.Unlock()
		m.stats.backgroundDropped.Add(1)
		return
	}
	m.bgActive++
	m.bg.Add(1)
	m.bgMu.Unlock()
	go func() {
		defer func() {
			m.bgMu.Lock()
			m.bgActive--
			m.bgMu.Unlock()
			m.bg.Done()
		}()
		if err := call(); err != nil {
			m.stats.errors.Add(1)
			m.logger.Debug("background agent call failed", "error", err)
		}
	}()
}

// Close waits for background agent calls to finish, then releases the
// agent connections. Requests served after Close fail open.
func (m *Module) Close() error {
	m.bgMu.Lock()
	if m.closed {
		m.bgMu.Unlock()
		return nil
	}
	m.closed = true
	close(m.stop)
	m.bgMu.Unlock()
	m.bg.Wait()
	if m.rpc != nil {
		return m.rpc.Close()
	}
	return nil
}

// Stats are a Module's counters since it was created.
type Stats struct {
	Inspected         uint64 // requests sent to the agent (or attempted)
	Skipped           uint64 // requests the InspectorInitFunc excluded
	Allowed           uint64 // the agent said 200
	Blocked           uint64 // the agent said 300-599 and the module answered for it
	Redirected        uint64 // the agent asked for a redirect
	FailOpen          uint64 // served without a decision: agent error, timeout, breaker, invalid answer
	InvalidResponses  uint64 // WAFResponse values outside 200 and 300-599
	Errors            uint64 // failed agent calls, PreRequest and background
	PostRequests      uint64 // PostRequest calls started
	UpdateRequests    uint64 // UpdateRequest calls started
	BackgroundDropped uint64 // background calls not made (Close, or too many pending)
	BodyTimeouts      uint64 // streamed bodies not sent to the agent because they did not end within Timeout
	RPC               RPCStats
}

// Stats returns the module's counters. RPC is zero with a custom inspector.
func (m *Module) Stats() Stats {
	s := Stats{
		Inspected:         m.stats.inspected.Load(),
		Skipped:           m.stats.skipped.Load(),
		Allowed:           m.stats.allowed.Load(),
		Blocked:           m.stats.blocked.Load(),
		Redirected:        m.stats.redirected.Load(),
		FailOpen:          m.stats.failOpen.Load(),
		InvalidResponses:  m.stats.invalidResponses.Load(),
		Errors:            m.stats.errors.Load(),
		PostRequests:      m.stats.postRequests.Load(),
		UpdateRequests:    m.stats.updateRequests.Load(),
		BackgroundDropped: m.stats.backgroundDropped.Load(),
		BodyTimeouts:      m.stats.bodyTimeouts.Load(),
	}
	if m.rpc != nil {
		s.RPC = m.rpc.Stats()
	}
	return s
}
