// Command helloworld is the example application of the Next-Gen WAF agent +
// module deployment: a small HTTP server whose handler is wrapped by the
// module when an agent address is given.
//
//	helloworld [flags] [listen-address [agent-address]]
//	helloworld probe [address]
//
// The listen address defaults to localhost:8000. The agent address is a
// Unix socket path when it contains a slash (or starts with unix:), else
// host:port (optionally tcp:host:port); without it no module is used.
//
// Every path and method answers the hello page, as upstream's helloworld
// does, except GET /healthz (never inspected) and GET /headers (the
// X-Sigsci-* request headers the app received, as JSON). The query
// parameters of upstream's mtest shape any answer, so that a conformance
// suite can drive the module through it (see echo.go).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

const defaultListen = "localhost:8000"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// config is the command line, parsed and validated.
type config struct {
	listen       string
	agentNetwork string
	agentAddress string
	timeout      time.Duration
	drainTimeout time.Duration
	logLevel     slog.Level
	debug        bool
	maxConns     int
	connPerCall  bool
	debugAddress string
}

// run is the whole program; main only supplies the process's context,
// arguments and output streams.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 1 && args[1] == "probe" {
		return probe(ctx, args[2:], stdout, stderr)
	}
	cfg, err := parseArgs(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if errors.Is(err, errVersion) {
		fmt.Fprintln(stdout, "helloworld", version)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "helloworld: %v (helloworld -h for help)\n", err)
		return exitUsage
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	if err := serve(ctx, cfg, logger, stdout); err != nil {
		logger.Error("helloworld stopped", "error", err)
		return exitError
	}
	return exitOK
}

var errVersion = errors.New("version requested")

// parseArgs parses the command line. Help goes to stdout; errors are
// returned, not printed, so that run prints each one once.
func parseArgs(args []string, stdout io.Writer) (*config, error) {
	fs := flag.NewFlagSet("helloworld", flag.ContinueOnError)
	// The flag package calls Usage on every error too; help is printed
	// only when asked for, below.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	usage := func() {
		fs.SetOutput(stdout)
		fmt.Fprintf(fs.Output(), "usage: helloworld [flags] [listen-address [agent-address]]\n"+
			"       helloworld probe [address]\n\n"+
			"listen-address defaults to %s. agent-address is a Unix socket path\n"+
			"(contains '/', or unix:/path) or host:port (or tcp:host:port); without it\n"+
			"requests are not inspected.\n\nflags:\n", defaultListen)
		fs.PrintDefaults()
	}
	cfg := &config{timeout: module.DefaultTimeout, drainTimeout: 10 * time.Second}
	fs.Var((*durationFlag)(&cfg.timeout), "timeout", "agent call `duration`, connecting included; on timeout requests fail open")
	fs.Var((*durationFlag)(&cfg.drainTimeout), "drain-timeout", "how long to let in-flight requests finish on SIGTERM/SIGINT (a `duration`)")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	fs.BoolVar(&cfg.debug, "debug", false, "log every inspection decision (and set -log-level debug)")
	fs.IntVar(&cfg.maxConns, "max-conns", module.DefaultMaxConns, "pooled agent connections at most")
	fs.BoolVar(&cfg.connPerCall, "conn-per-call", false, "dial a new agent connection for every call, as upstream modules do")
	fs.StringVar(&cfg.debugAddress, "debug-address", "", "serve /debug/module (the module's counters as JSON) and /debug/pprof/ here; a bare :port binds localhost only")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
		}
		return nil, err
	}
	if *showVersion {
		return nil, errVersion
	}
	if err := cfg.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", *level)
	}
	if cfg.debug {
		cfg.logLevel = slog.LevelDebug
	}
	if cfg.timeout <= 0 {
		return nil, fmt.Errorf("-timeout %v: must be positive", cfg.timeout)
	}
	if cfg.drainTimeout < 0 {
		return nil, fmt.Errorf("-drain-timeout %v: must not be negative", cfg.drainTimeout)
	}
	if cfg.maxConns < 1 {
		return nil, fmt.Errorf("-max-conns %d: must be at least 1", cfg.maxConns)
	}
	if cfg.debugAddress != "" {
		if err := checkHostPort(cfg.debugAddress); err != nil {
			return nil, fmt.Errorf("-debug-address %q: %w", cfg.debugAddress, err)
		}
		if strings.HasPrefix(cfg.debugAddress, ":") {
			cfg.debugAddress = "127.0.0.1" + cfg.debugAddress
		}
	}
	rest := fs.Args()
	if len(rest) > 2 {
		return nil, fmt.Errorf("too many arguments %q: want [listen-address [agent-address]]", rest)
	}
	cfg.listen = defaultListen
	if len(rest) > 0 {
		if err := checkHostPort(rest[0]); err != nil {
			return nil, fmt.Errorf("listen address %q: %w", rest[0], err)
		}
		cfg.listen = rest[0]
	}
	if len(rest) > 1 {
		var err error
		if cfg.agentNetwork, cfg.agentAddress, err = ParseAgentAddress(rest[1]); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// ParseAgentAddress applies the deployment's address rule: "unix:/path" or
// anything containing a slash is a Unix socket; "tcp:host:port" or
// "host:port" is TCP.
func ParseAgentAddress(s string) (network, address string, err error) {
	switch {
	case strings.HasPrefix(s, "unix:"):
		network, address = "unix", strings.TrimPrefix(s, "unix:")
	case strings.HasPrefix(s, "tcp:"):
		network, address = "tcp", strings.TrimPrefix(s, "tcp:")
	case strings.Contains(s, "/"):
		network, address = "unix", s
	default:
		network, address = "tcp", s
	}
	if network == "unix" {
		if address == "" {
			return "", "", fmt.Errorf("agent address %q: empty socket path", s)
		}
		return network, address, nil
	}
	if err := checkHostPort(address); err != nil {
		return "", "", fmt.Errorf("agent address %q: %w (want a socket path or host:port)", s, err)
	}
	return network, address, nil
}

func checkHostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

// serve runs the server until ctx ends, then drains it.
func serve(ctx context.Context, cfg *config, logger *slog.Logger, stdout io.Writer) error {
	app, mod, err := newHandler(cfg, logger)
	if err != nil {
		return err
	}
	if mod != nil {
		defer mod.Close()
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.listen, err)
	}
	srv := newServer(app, logger)
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()

	if cfg.debugAddress != "" {
		dln, err := net.Listen("tcp", cfg.debugAddress)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listening on -debug-address %s: %w", cfg.debugAddress, err)
		}
		dsrv := newServer(debugHandler(mod), logger)
		dsrv.WriteTimeout = 0 // CPU profiles take as long as asked
		go func() { errc <- dsrv.Serve(dln) }()
		defer dsrv.Close()
		logger.Info("debug listener started", "debug_address", dln.Addr().String())
	}

	agent := "none (requests are not inspected)"
	if mod != nil {
		agent = cfg.agentNetwork + ":" + cfg.agentAddress
	}
	fmt.Fprintf(stdout, "helloworld: listening on http://%s (agent: %s)\n", ln.Addr(), agent)
	logger.Info("helloworld started", "version", version, "listen", ln.Addr().String(), "agent", agent)

	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down: draining in-flight requests", "drain_timeout", cfg.drainTimeout)
	drainCtx, cancel := context.WithTimeout(context.Background(), cfg.drainTimeout)
	defer cancel()
	if err := srv.Shutdown(drainCtx); err != nil {
		srv.Close()
		return fmt.Errorf("draining requests within %v: %w", cfg.drainTimeout, err)
	}
	logger.Info("helloworld stopped cleanly")
	return nil
}

// newServer sets the limits a server in front of the internet needs.
func newServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// newHandler builds the routes: GET /healthz is answered directly;
// everything else goes through the module when an agent address is
// configured, and every path but GET /headers answers the hello page.
func newHandler(cfg *config, logger *slog.Logger) (http.Handler, *module.Module, error) {
	app := http.NewServeMux()
	app.HandleFunc("GET /headers", sigsciHeaders)
	app.HandleFunc("/", hello)

	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	if cfg.agentAddress == "" {
		root.Handle("/", app)
		return root, nil, nil
	}
	mod, err := module.NewModule(app,
		module.Socket(cfg.agentNetwork, cfg.agentAddress),
		module.Timeout(cfg.timeout),
		module.MaxConns(cfg.maxConns),
		module.ConnectionPerCall(cfg.connPerCall),
		module.Debug(cfg.debug),
		module.Logger(logger),
		module.ServerFlavor("helloworld "+version),
	)
	if err != nil {
		return nil, nil, err
	}
	root.Handle("/", mod)
	return root, mod, nil
}

// debugHandler serves the module's counters and the Go profiler, for the
// fault and soak suites and for people chasing a problem.
func debugHandler(mod *module.Module) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/module", func(w http.ResponseWriter, _ *http.Request) {
		var stats any = map[string]string{"module": "none"}
		if mod != nil {
			stats = mod.Stats()
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(stats)
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// hello is the application itself: the hello page on every path, shaped
// by the echo parameters when the query has any.
func hello(w http.ResponseWriter, r *http.Request) {
	p, err := parseEcho(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if p.set() {
		p.serve(w, r)
		return
	}
	n, err := io.Copy(io.Discard, r.Body)
	if err != nil {
		http.Error(w, "reading request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if n > 0 {
		fmt.Fprintf(w, "Hello, world! (%s, %d body bytes)\n", r.Method, n)
		return
	}
	io.WriteString(w, "Hello, world!\n")
}

// sigsciHeaders answers the X-Sigsci-* request headers the application
// received, as a JSON object: what the module told the application.
func sigsciHeaders(w http.ResponseWriter, r *http.Request) {
	out := map[string]string{}
	keys := make([]string, 0)
	for k := range r.Header {
		if strings.HasPrefix(k, "X-Sigsci-") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		out[k] = strings.Join(r.Header.Values(k), ", ")
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// probe checks a running helloworld's /healthz, for container health checks
// in images without a shell.
func probe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("helloworld probe", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	usage := func() {
		fmt.Fprintf(stdout, "usage: helloworld probe [address]\n\n"+
			"GET http://address/healthz and exit 0 if it answers 200 within 2s, else 1.\n"+
			"address defaults to %s; a wildcard host (0.0.0.0, ::, empty) means 127.0.0.1.\n", defaultListen)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
			return exitOK
		}
		fmt.Fprintf(stderr, "helloworld probe: %v (helloworld probe -h for help)\n", err)
		return exitUsage
	}
	addr := defaultListen
	switch fs.NArg() {
	case 0:
	case 1:
		addr = fs.Arg(0)
	default:
		fmt.Fprintf(stderr, "helloworld probe: too many arguments %q: want [address]\n", fs.Args())
		return exitUsage
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		fmt.Fprintf(stderr, "helloworld probe: address %q: %v\n", addr, err)
		return exitUsage
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	url := "http://" + net.JoinHostPort(host, port) + "/healthz"
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "helloworld probe: %v\n", err)
		return exitError
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "helloworld probe: %v\n", err)
		return exitError
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "helloworld probe: %s answered %s\n", url, resp.Status)
		return exitError
	}
	fmt.Fprintf(stdout, "helloworld probe: %s ok\n", url)
	return exitOK
}
