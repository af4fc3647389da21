// Command chi is a chi server protected by the Next-Gen WAF module: every
// route but /healthz is inspected by the agent first.
//
//	go run ./chi [-listen 127.0.0.1:8080] [-agent /var/run/sigsci.sock]
//
// -agent is a Unix socket path when it contains a "/", host:port otherwise.
// With the fake agent: go run ../cmd/fakeagent -rpc-address /tmp/sigsci.sock
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"

	sigsci "github.com/seed-a2a44e50/ngwaf-helloworld/module"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "chi:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done. It prints "listening on http://ADDR" once
// the listener is open.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve HTTP on")
	agent := fs.String("agent", sigsci.DefaultRPCAddress, `the agent's RPC address: a Unix socket path (contains "/") or host:port`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	network := "tcp"
	if strings.Contains(*agent, "/") {
		network = "unix"
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	app, closeApp, err := newApp(network, *agent, logger)
	if err != nil {
		return err
	}
	defer closeApp()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", *listen, err)
	}
	srv := &http.Server{Handler: app, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newApp is the chi router: /healthz answered directly, everything else
// behind the module. The returned func closes the module.
func newApp(network, address string, logger *slog.Logger) (http.Handler, func() error, error) {
	protect, m, err := Middleware(
		sigsci.Socket(network, address),
		sigsci.ServerFlavor("chi"),
		sigsci.Logger(logger),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("setting up the module: %w", err)
	}
	r := chi.NewRouter()
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	r.Group(func(r chi.Router) {
		r.Use(protect)
		r.Get("/", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "Hello from chi!\n") })
		r.Get("/hello/{name}", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "Hello, %s!\n", chi.URLParam(r, "name"))
		})
		r.Post("/echo", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.Copy(w, r.Body)
		})
	})
	return r, m.Close, nil
}
