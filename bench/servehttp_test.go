package bench

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module"
)

// hello is the application handler of the ServeHTTP benchmarks, like
// helloworld's: it reads the body and answers a short text.
func hello(w http.ResponseWriter, r *http.Request) {
	n, _ := io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if n > 0 {
		io.WriteString(w, "Hello, world! (with a body)\n")
		return
	}
	io.WriteString(w, "Hello, world!\n")
}

// BenchmarkServeHTTP measures the module's ServeHTTP against the bare
// handler, for a GET and a POST with a 1 KB JSON body, each with 10
// headers. It calls ServeHTTP directly with an httptest.ResponseRecorder,
// without an HTTP server: the difference between handler=bare and the
// module is what the module adds to a request (building the RPCMsgIn, the
// agent round trip, applying the decision). The agent runs as a separate
// process (agent=proc, the realistic case) or in this one (agent=inproc).
func BenchmarkServeHTTP(b *testing.B) {
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		b.Run("method="+method, func(b *testing.B) {
			b.Run("handler=bare", func(b *testing.B) { benchServeHTTP(b, http.HandlerFunc(hello), method) })
			for _, where := range []string{process, inProcess} {
				for _, network := range []string{"unix", "tcp"} {
					b.Run("handler=module/agent="+where+"/net="+network, func(b *testing.B) {
						// The sub-benchmark's body runs once per b.N tried; one
						// agent per run keeps the cleanup simple.
						a := startAgent(b, where, network)
						m, err := module.NewModule(http.HandlerFunc(hello),
							module.Socket(a.network, a.address),
							module.Timeout(5*time.Second),
							module.Logger(slog.New(slog.DiscardHandler)))
						if err != nil {
							b.Fatal(err)
						}
						defer m.Close()
						benchServeHTTP(b, m, method)
						if s := m.Stats(); s.FailOpen > 0 || s.Errors > 0 {
							b.Errorf("module failed open %d times, %d errors: %+v", s.FailOpen, s.Errors, s.RPC)
						}
					})
				}
			}
		})
	}
}

func benchServeHTTP(b *testing.B, h http.Handler, method string) {
	base := newHTTPRequest(method)
	body := []byte(nil)
	if method == http.MethodPost {
		body = []byte(jsonBody)
	}
	serve := func() {
		r := base.Clone(base.Context())
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("%s answered %d: %s", method, w.Code, w.Body)
		}
	}
	serve() // connect before timing
	b.ReportAllocs()
	for b.Loop() {
		serve()
	}
}
