// Command echo is an echo server protected by the Next-Gen WAF module: every
// route but /healthz is inspected by the agent first.
//
//	go run ./echo [-listen 127.0.0.1:8080] [-agent /var/run/sigsci.sock]
//
// -agent is a Unix socket path when it contains a "/", host:port otherwise.
// With the fake agent: go run ../cmd/fakeagent -rpc-address /tmp/sigsci.sock
package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v5"

	"github.com/seed-a2a44e50/ngwaf-helloworld/examples/internal/exampleserver"
	sigsci "github.com/seed-a2a44e50/ngwaf-helloworld/module"
)

func main() {
	exampleserver.Main("echo", newApp)
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
