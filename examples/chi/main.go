// Command chi is a chi server protected by the Next-Gen WAF module: every
// route but /healthz is inspected by the agent first.
//
//	go run ./chi [-listen 127.0.0.1:8080] [-agent /var/run/sigsci.sock]
//
// -agent is a Unix socket path when it contains a "/", host:port otherwise.
// With the fake agent: go run ../cmd/fakeagent -rpc-address /tmp/sigsci.sock
package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/seed-a2a44e50/ngwaf-helloworld/examples/internal/exampleserver"
	sigsci "github.com/seed-a2a44e50/ngwaf-helloworld/module"
)

func main() {
	exampleserver.Main("chi", newApp)
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
