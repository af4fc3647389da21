// Package exampleserver is the scaffolding the framework examples share and
// a reader of one of them need not study: the flags, the signal handling and
// serving until cancelled. What each example shows, how its framework's
// middleware wraps handlers with the module, stays in the example's NewApp.
package exampleserver

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

	sigsci "github.com/seed-a2a44e50/ngwaf-helloworld/module"
)

// NewApp builds an example's handler with the module speaking to the agent
// at network and address. The returned func closes the module.
type NewApp func(network, address string, logger *slog.Logger) (http.Handler, func() error, error)

// Main runs Run with the process's arguments until SIGINT or SIGTERM, and
// exits 1 with the error, prefixed by name, if there is one.
func Main(name string, newApp NewApp) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, name, newApp, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		stop()
		os.Exit(1)
	}
}

// Run parses args (-listen, -agent), builds the app with newApp and serves
// it until ctx is done. It prints "listening on http://ADDR" to stdout once
// the listener is open; logs and flag errors go to stderr.
func Run(ctx context.Context, name string, newApp NewApp, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
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
