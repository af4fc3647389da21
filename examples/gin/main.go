// Command gin is a gin server protected by the Next-Gen WAF module: every
// route but /healthz is inspected by the agent first.
//
//	go run ./gin [-listen 127.0.0.1:8080] [-agent /var/run/sigsci.sock]
//
// -agent is a Unix socket path when it contains a "/", host:port otherwise.
// With the fake agent: go run ../cmd/fakeagent -rpc-address /tmp/sigsci.sock
package main

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/seed-a2a44e50/ngwaf-helloworld/examples/internal/exampleserver"
	sigsci "github.com/seed-a2a44e50/ngwaf-helloworld/module"
)

func main() {
	gin.SetMode(gin.ReleaseMode)
	exampleserver.Main("gin", newApp)
}

// newApp is the gin engine: /healthz answered directly, everything else
// behind the module. The returned func closes the module.
func newApp(network, address string, logger *slog.Logger) (http.Handler, func() error, error) {
	protect, m, err := Middleware(
		sigsci.Socket(network, address),
		sigsci.ServerFlavor("gin"),
		sigsci.Logger(logger),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("setting up the module: %w", err)
	}
	r := gin.New()
	r.Use(gin.Recovery())
	r.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok\n") })
	g := r.Group("/", protect)
	g.GET("/", func(c *gin.Context) { c.String(http.StatusOK, "Hello from gin!\n") })
	g.GET("/hello/:name", func(c *gin.Context) { c.String(http.StatusOK, "Hello, %s!\n", c.Param("name")) })
	g.POST("/echo", func(c *gin.Context) {
		body, err := c.GetRawData()
		if err != nil {
			c.AbortWithStatus(http.StatusBadRequest)
			return
		}
		c.Data(http.StatusOK, "text/plain; charset=utf-8", body)
	})
	g.DELETE("/item", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	return r, m.Close, nil
}
