// Package fakeagent is a test double for the Next-Gen WAF (Signal Sciences)
// agent. It serves the agent's side of the module⇄agent msgpack-RPC
// protocol (RPC.ModuleInit, RPC.PreRequest, RPC.PostRequest,
// RPC.UpdateRequest) on a Unix socket or TCP, to our module or to any
// upstream one, many calls per connection or one connection per call.
//
// PreRequests are decided by the detect engine (or by a Decider a test
// supplies); a request with signals gets a RequestID and is tracked until
// its UpdateRequest or its expiry. Every request is recorded with its
// lifecycle and the protocol deviations the module made (see Record,
// Deviation); counters are available as Stats and as Prometheus metrics.
// Faults (latency, errors, dropped connections, hangs) can be injected.
//
// In tests, use it the way net/http/httptest is used:
//
//	agent := fakeagent.Start(t, fakeagent.WithMode(detect.ModeNotBlocking))
//	// point the module at agent.Addr(), send requests, then:
//	recs := agent.Requests()
//
// A program uses New, Listen (optional), Serve and Shutdown; see
// cmd/fakeagent.
package fakeagent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect"
)

// ErrServerClosed is returned by Listen and Serve once the server has been
// shut down.
var ErrServerClosed = errors.New("fakeagent: server closed")

// Server is a fake agent. Create it with New (or Start in tests); it is
// safe for concurrent use.
type Server struct {
	cfg            Config
	log            *slog.Logger
	clock          Clock
	rules          []detect.Rule
	engine         *detect.Engine
	faults         *faulter
	metrics        *metrics
	metricsHandler http.Handler
	rec            *recorder
	policy         *policy
	settings       configSettings
	fingerprint    string
	created        time.Time

	// stopCtx is done as soon as shutdown starts: the accept loop, the
	// background loops and hanging calls end.
	stopCtx context.Context
	stop    context.CancelFunc
	// callCtx is done when shutdown stops waiting for calls in flight:
	// injected latency is cut short.
	callCtx     context.Context
	cancelCalls context.CancelFunc

	mu       sync.Mutex
	listened bool
	serving  bool
	closing  bool
	ln       net.Listener
	sockInfo os.FileInfo // the socket file we created, for removal
	adminLn  net.Listener
	probeLn  net.Listener
	adminSrv *http.Server
	probeSrv *http.Server
	conns    map[*conn]struct{}

	nextConnID       atomic.Uint64
	lastLimitLog     atomic.Int64
	probeFileWritten atomic.Bool
	connWG           sync.WaitGroup // one per open connection
	bgWG             sync.WaitGroup // accept loop, background loops, HTTP servers

	loaded atomic.Bool
	ready  chan struct{}

	shutdownOnce sync.Once
	shutdownDone chan struct{}
	shutdownErr  error
}

// New validates cfg, loads the rules and returns a server that is not yet
// listening.
func New(cfg Config) (*Server, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	rules := cfg.Rules
	if cfg.RulesFile != "" {
		var err error
		if rules, err = detect.LoadRules(cfg.RulesFile); err != nil {
			return nil, fmt.Errorf("fakeagent: loading rules from %s: %w", cfg.RulesFile, err)
		}
		limits, err := LoadRateLimits(cfg.RulesFile)
		if err != nil {
			return nil, fmt.Errorf("fakeagent: loading rate limits from %s: %w", cfg.RulesFile, err)
		}
		cfg.RateLimits = append(cfg.RateLimits, limits...)
		if err := normalizeRateLimits(cfg.RateLimits); err != nil {
			return nil, fmt.Errorf("fakeagent: config: RateLimits: %w", err)
		}
	}
	for i, r := range rules {
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("fakeagent: config: rule %d (%q): %w", i, r.ID, err)
		}
	}
	if rules == nil {
		rules = []detect.Rule{}
	}
	settings := configSettings{
		Mode:         cfg.Mode,
		RulesFile:    cfg.RulesFile,
		Decider:      cfg.Decider != nil,
		UpdateExpiry: cfg.UpdateExpiry,
		Faults:       cfg.Faults,
		Engine:       cfg.Engine,

		Decision:             cfg.Decision,
		RateLimits:           cfg.RateLimits,
		ClientIPHeader:       cfg.ClientIPHeader,
		CustomRequestHeaders: cfg.CustomRequestHeaders,
	}
	if cfg.Decision == DecisionThreshold {
		settings.Thresholds, settings.FlagDuration = cfg.Thresholds, cfg.FlagDuration
	}
	if cfg.Engine == EngineCRS {
		settings.CRSParanoia, settings.CRSThreshold = cfg.CRSParanoia, cfg.CRSThreshold
	}
	fp, err := fingerprint(settings, rules)
	if err != nil {
		return nil, err
	}
	det, err := cfg.detector()
	if err != nil {
		return nil, err
	}
	m := newMetrics(cfg.Version, string(cfg.Mode))
	s := &Server{
		cfg:            cfg,
		log:            cfg.Logger,
		clock:          cfg.Clock,
		rules:          rules,
		engine:         detect.NewEngineWith(cfg.Mode, rules, det),
		faults:         newFaulter(cfg.Faults, cfg.Seed),
		metrics:        m,
		metricsHandler: m.handler(cfg.Logger),
		rec:            newRecorder(cfg.Clock, cfg.UpdateExpiry, cfg.RecentRequests, cfg.MaxPending, m),
		policy:         newPolicy(&cfg),
		settings:       settings,
		fingerprint:    fp,
		created:        cfg.Clock.Now(),
		conns:          make(map[*conn]struct{}),
		ready:          make(chan struct{}),
		shutdownDone:   make(chan struct{}),
	}
	s.stopCtx, s.stop = context.WithCancel(context.Background())
	s.callCtx, s.cancelCalls = context.WithCancel(context.Background())
	return s, nil
}

// Listen binds the RPC socket and the admin and startup probe listeners,
// so that address errors surface before Serve, then creates the shared
// cache directory and writes its rules.json. Serve calls it if needed.
func (s *Server) Listen() (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return ErrServerClosed
	}
	if s.listened {
		return errors.New("fakeagent: already listening")
	}
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()

	var ln net.Listener
	var sockInfo os.FileInfo
	switch s.cfg.Network {
	case "unix":
		uln, fi, err := listenUnix(s.cfg.Address, s.cfg.SocketMode, s.log)
		if err != nil {
			return err
		}
		ln, sockInfo = uln, fi
		undo = append(undo, func() { _ = uln.Close(); _ = removeSocket(s.cfg.Address, fi) })
	default:
		tln, err := net.Listen("tcp", s.cfg.Address)
		if err != nil {
			return fmt.Errorf("fakeagent: %w", err)
		}
		ln = tln
		undo = append(undo, func() { _ = tln.Close() })
	}

	var adminLn, probeLn net.Listener
	if a := s.cfg.AdminAddress; a != "" {
		if strings.HasPrefix(a, ":") {
			a = "127.0.0.1" + a
		}
		if adminLn, err = net.Listen("tcp", a); err != nil {
			return fmt.Errorf("fakeagent: admin listener: %w", err)
		}
		undo = append(undo, func() { _ = adminLn.Close() })
	}
	if a := s.cfg.StartupProbeListener; a != "" {
		if probeLn, err = net.Listen("tcp", a); err != nil {
			return fmt.Errorf("fakeagent: startup probe listener: %w", err)
		}
		undo = append(undo, func() { _ = probeLn.Close() })
	}

	if dir := s.cfg.SharedCacheDir; dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("fakeagent: creating the shared cache directory: %w", err)
		}
		snap := rulesSnapshot{
			Written:     s.clock.Now(),
			Version:     s.cfg.Version,
			Fingerprint: s.fingerprint,
			Settings:    s.settings,
			Rules:       s.rules,
		}
		if err := writeJSONAtomic(dir, rulesFileName, snap); err != nil {
			return err
		}
	}

	s.ln, s.sockInfo, s.adminLn, s.probeLn = ln, sockInfo, adminLn, probeLn
	s.listened = true
	attrs := []any{"network", s.cfg.Network, "address", ln.Addr().String(), "mode", s.cfg.Mode,
		"version", s.cfg.Version, "credentials", s.credentialsState()}
	if adminLn != nil {
		attrs = append(attrs, "admin_address", adminLn.Addr().String())
	}
	if probeLn != nil {
		attrs = append(attrs, "startup_probe_address", probeLn.Addr().String())
	}
	s.log.Info("listening", attrs...)
	return nil
}

func (s *Server) credentialsState() string {
	if s.cfg.AccessKeyID != "" && s.cfg.SecretAccessKey != "" {
		return "set"
	}
	return "unset"
}

// Serve accepts and serves module connections until ctx is done or the
// server is shut down. When ctx is done it shuts down gracefully within
// Config.ShutdownTimeout and returns the result; after a Shutdown or Close
// from elsewhere it returns nil once that has finished. The rules count as
// loaded (Ready) once Serve has run for Config.StartupDelay.
func (s *Server) Serve(ctx context.Context) error {
	acceptErr, err := s.start()
	if err != nil {
		return err
	}
	return s.wait(ctx, acceptErr)
}

// wait is Serve once started.
func (s *Server) wait(ctx context.Context, acceptErr <-chan error) error {
	shutdownCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	}
	select {
	case <-ctx.Done():
		sctx, cancel := shutdownCtx()
		defer cancel()
		return s.Shutdown(sctx)
	case <-s.stopCtx.Done():
		<-s.shutdownDone
		return nil
	case err := <-acceptErr:
		s.log.Error("accepting connections failed; shutting down", "error", err)
		sctx, cancel := shutdownCtx()
		defer cancel()
		return errors.Join(fmt.Errorf("fakeagent: accepting connections: %w", err), s.Shutdown(sctx))
	}
}

// start listens if needed and starts the accept loop, the background loops
// and the HTTP servers. Without a startup delay the rules are loaded when
// it returns.
func (s *Server) start() (<-chan error, error) {
	s.mu.Lock()
	listened := s.listened
	s.mu.Unlock()
	if !listened {
		if err := s.Listen(); err != nil {
			return nil, err
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, ErrServerClosed
	}
	if s.serving {
		return nil, errors.New("fakeagent: already serving")
	}
	s.serving = true
	acceptErr := make(chan error, 1)
	s.bgWG.Add(2)
	go s.acceptLoop(s.ln, acceptErr)
	go s.expireLoop()
	if s.adminLn != nil {
		s.adminSrv = s.newHTTPServer(s.AdminHandler())
		s.bgWG.Add(1)
		go s.serveHTTP(s.adminSrv, s.adminLn, "admin")
	}
	if s.probeLn != nil {
		s.probeSrv = s.newHTTPServer(s.StartupHandler())
		s.bgWG.Add(1)
		go s.serveHTTP(s.probeSrv, s.probeLn, "startup probe")
	}
	if d := s.cfg.StartupDelay; d > 0 {
		s.log.Info("delaying startup", "startup_delay", d)
		s.bgWG.Add(1)
		go func() {
			defer s.bgWG.Done()
			if s.clock.Sleep(s.stopCtx, d) == nil {
				s.mu.Lock()
				defer s.mu.Unlock()
				s.markLoadedLocked()
			}
		}()
	} else {
		s.markLoadedLocked()
	}
	return acceptErr, nil
}

func (s *Server) acceptLoop(ln net.Listener, errc chan<- error) {
	defer s.bgWG.Done()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.stopCtx.Err() != nil {
				return
			}
			if !isTemporaryAcceptError(err) {
				errc <- err
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed; retrying", "error", err, "retry_in", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.stopCtx.Done():
				t.Stop()
				return
			}
			continue
		}
		delay = 0
		s.track(nc)
	}
}

func isTemporaryAcceptError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED, syscall.ENOBUFS, syscall.ENOMEM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// track starts serving an accepted connection, unless the server is
// closing or at its connection limit.
func (s *Server) track(nc net.Conn) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		_ = nc.Close()
		return
	}
	if !s.rec.connOpened(s.cfg.MaxConnections) {
		s.mu.Unlock()
		s.logConnLimit()
		_ = nc.Close()
		return
	}
	c := newConn(nc, s.nextConnID.Add(1), s.cfg.IdleTimeout)
	s.conns[c] = struct{}{}
	s.connWG.Add(1)
	s.mu.Unlock()
	s.log.Debug("connection opened", "conn", c.id)
	go s.serveConn(c)
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// markLoadedLocked enters the "loaded" state: the startup probe file
// appears and the startup probe answers 200. Holding s.mu orders it
// against shutdown, which removes the file.
func (s *Server) markLoadedLocked() {
	if s.closing {
		return
	}
	if p := s.cfg.StartupProbeFilepath; p != "" {
		if err := os.WriteFile(p, []byte("loaded\n"), 0o644); err != nil {
			s.log.Error("writing the startup probe file", "path", p, "error", err)
		} else {
			s.probeFileWritten.Store(true)
		}
	}
	s.loaded.Store(true)
	s.metrics.loaded.Set(1)
	close(s.ready)
	s.log.Info("rules loaded", "custom_rules", len(s.rules), "mode", s.cfg.Mode, "fingerprint", s.fingerprint)
}

// expireLoop expires pending requests on a ticker; they also expire
// lazily whenever the records are touched, which is what makes expiry
// exact with an injected clock.
func (s *Server) expireLoop() {
	defer s.bgWG.Done()
	t := time.NewTicker(min(max(s.cfg.UpdateExpiry/10, 10*time.Millisecond), time.Second))
	defer t.Stop()
	for {
		select {
		case <-s.stopCtx.Done():
			return
		case <-t.C:
			s.rec.sweep()
		}
	}
}

func (s *Server) newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
}

func (s *Server) serveHTTP(srv *http.Server, ln net.Listener, name string) {
	defer s.bgWG.Done()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Error("serving "+name+" HTTP", "error", err)
	}
}

// Shutdown shuts the server down gracefully: it stops accepting, stops
// reading new calls, lets the calls in flight finish and answers them,
// closes the connections, removes the socket and the startup probe file,
// and writes state.json to the shared cache directory. Hanging calls
// (fault injection) are released at once. If ctx ends first, the remaining
// connections are closed and ctx's error is returned. Calling it again
// waits for the first call to finish.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.terminate(ctx, false)
}

// Close shuts the server down at once: like Shutdown, but calls in flight
// are cut off.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return s.terminate(ctx, true)
}

func (s *Server) terminate(ctx context.Context, immediate bool) error {
	first := false
	s.shutdownOnce.Do(func() { first = true })
	if first {
		s.shutdownErr = s.shutdown(ctx, immediate)
		close(s.shutdownDone)
		return s.shutdownErr
	}
	if immediate { // Close during a graceful Shutdown: cut it short
		s.closeConns()
		<-s.shutdownDone
		return s.shutdownErr
	}
	select {
	case <-s.shutdownDone:
		return s.shutdownErr
	case <-ctx.Done():
		select {
		case <-s.shutdownDone:
			return s.shutdownErr
		default:
			return ctx.Err()
		}
	}
}

// closeConns cuts off every connection and the calls in flight on it; it
// returns how many connections were open.
func (s *Server) closeConns() int {
	s.cancelCalls()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		_ = c.Close()
	}
	return len(s.conns)
}

func (s *Server) shutdown(ctx context.Context, immediate bool) error {
	s.mu.Lock()
	s.closing = true
	s.stop()
	if s.ln != nil {
		_ = s.ln.Close()
	}
	for c := range s.conns {
		c.drain()
	}
	adminSrv, adminLn, probeSrv, probeLn := s.adminSrv, s.adminLn, s.probeSrv, s.probeLn
	s.mu.Unlock()

	s.log.Info("shutting down")
	var errs []error
	for _, h := range []struct {
		srv *http.Server
		ln  net.Listener
	}{{adminSrv, adminLn}, {probeSrv, probeLn}} {
		switch {
		case h.srv != nil:
			if err := h.srv.Shutdown(ctx); err != nil {
				_ = h.srv.Close()
			}
		case h.ln != nil: // listening, never served
			_ = h.ln.Close()
		}
	}

	forced := false
	if !waitGroup(ctx, &s.connWG) {
		forced = true
		n := s.closeConns()
		if !immediate {
			s.log.Warn("shutdown deadline reached; closed connections with calls in flight", "connections", n)
		}
		s.connWG.Wait()
	}
	s.cancelCalls()
	s.bgWG.Wait()

	if s.sockInfo != nil {
		if err := removeSocket(s.cfg.Address, s.sockInfo); err != nil {
			s.log.Error("removing the socket", "path", s.cfg.Address, "error", err)
			errs = append(errs, fmt.Errorf("fakeagent: removing the socket: %w", err))
		}
	}
	if s.probeFileWritten.Load() {
		if err := os.Remove(s.cfg.StartupProbeFilepath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Error("removing the startup probe file", "path", s.cfg.StartupProbeFilepath, "error", err)
		}
	}
	stats := s.Stats()
	if dir := s.cfg.SharedCacheDir; dir != "" && s.listened {
		snap := stateSnapshot{
			Written:     s.clock.Now(),
			Version:     s.cfg.Version,
			Fingerprint: s.fingerprint,
			Started:     s.created,
			Stats:       stats,
		}
		if err := writeJSONAtomic(dir, stateFileName, snap); err != nil {
			s.log.Error("writing the state snapshot", "error", err)
			errs = append(errs, err)
		}
	}
	s.log.Info("stopped", "connections", stats.Connections, "pre_requests", stats.Calls[methodPreRequest],
		"deviations", stats.deviationSummary())
	if forced && !immediate {
		errs = append(errs, fmt.Errorf("fakeagent: shutdown: %w", ctx.Err()))
	}
	return errors.Join(errs...)
}

// waitGroup waits for wg, or until ctx is done; it reports whether wg
// finished.
func waitGroup(ctx context.Context, wg *sync.WaitGroup) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// Network returns "unix" or "tcp".
func (s *Server) Network() string { return s.cfg.Network }

// Addr returns the socket path, or the TCP host:port being listened on
// (with the actual port once listening on port 0).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.Network == "tcp" && s.ln != nil {
		return s.ln.Addr().String()
	}
	return s.cfg.Address
}

// AdminAddr returns the admin listener's address, or "" without one.
func (s *Server) AdminAddr() string { return s.listenerAddr(func() net.Listener { return s.adminLn }) }

// StartupProbeAddr returns the startup probe listener's address, or ""
// without one.
func (s *Server) StartupProbeAddr() string {
	return s.listenerAddr(func() net.Listener { return s.probeLn })
}

func (s *Server) listenerAddr(get func() net.Listener) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ln := get(); ln != nil {
		return ln.Addr().String()
	}
	return ""
}

// Ready returns a channel closed once the rules are loaded (see
// Config.StartupDelay).
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Loaded reports whether the rules are loaded.
func (s *Server) Loaded() bool { return s.loaded.Load() }

// Requests returns copies of the recorded requests, oldest first: the last
// Config.RecentRequests of them.
func (s *Server) Requests() []Record { return s.rec.snapshot(0) }

// Stats returns the server's counters, and the IPs flagged now.
func (s *Server) Stats() Stats {
	st := s.rec.stats()
	st.FlaggedIPs = s.FlaggedIPs()
	return st
}
