// Command echo is an echo server protected by the Next-Gen WAF module: every
// route but /healthz is inspected by the agent first.
//
//	go run ./echo [-listen 127.0.0.1:8080] [-agent /var/run/sigsci.sock]
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

	"github.com/labstack/echo/v5"

	sigsci "github.com/seed-a2a44e50/ngwaf-helloworld/module"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done. It prints "listening on http://ADDR" once
// the listener is open.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
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

// newApp is the echo server: /healthz answered directly, everything else
// behind the module. The returned func closes the module.
func newApp(network, address string, logger *slog.Logger) (http.Handler, func() error, error) {
	protect, m, err := Middleware(
		sigsci.Socket(network, address),
		sigsci.ServerFlavor("echo"),
		sigsci.Logger(logger),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("setting up the module: %w", err)
	}
	e := echo.New()
	e.GET("/healthz", func(c *echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	g := e.Group("", protect)
	g.GET("/", func(c *echo.Context) error { return c.String(http.StatusOK, "Hello from echo!\n") })
	g.GET("/hello/:name", func(c *echo.Context) error {
		return c.String(http.StatusOK, "Hello, "+c.Param("name")+"!\n")
	})
	g.POST("/echo", func(c *echo.Context) error {
		body, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, err.Error())
		}
		return c.Blob(http.StatusOK, "text/plain; charset=utf-8", body)
	})
	g.GET("/teapot", func(c *echo.Context) error { return echo.NewHTTPError(http.StatusTeapot, "short and stout") })
	return e, m.Close, nil
}
