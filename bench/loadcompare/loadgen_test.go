package loadcompare

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name      string
		raw       string
		status    int
		keepAlive bool
	}{
		{"a Content-Length body", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello", 200, true},
		{"a chunked body with a trailer", "HTTP/1.1 406 Not Acceptable\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", 406, true},
		{"Connection: close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", 200, false},
		{"HTTP/1.0 without keep-alive", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, false},
		{"a body up to the close", "HTTP/1.1 200 OK\r\n\r\nuntil EOF", 200, false},
		{"no body for 204", "HTTP/1.1 204 No Content\r\n\r\n", 204, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const next = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
			raw := tt.raw
			if tt.keepAlive {
				raw += next
			}
			br := bufio.NewReader(strings.NewReader(raw))
			status, keepAlive, err := readResponse(br)
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.status || keepAlive != tt.keepAlive {
				t.Errorf("got %d keep-alive=%v, want %d keep-alive=%v", status, keepAlive, tt.status, tt.keepAlive)
			}
			if tt.keepAlive { // the whole response was consumed, and no more
				if status, _, err := readResponse(br); err != nil || status != 200 {
					t.Errorf("the next response: %d, %v", status, err)
				}
			}
		})
	}
	for _, bad := range []string{"", "SMTP ready\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"} {
		if _, _, err := readResponse(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("readResponse(%q) succeeded, want an error", bad)
		}
	}
}

func TestRequestWire(t *testing.T) {
	got := string(loadRequest(RequestPost).wire("127.0.0.1:8000"))
	if !strings.HasPrefix(got, "POST / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n") || !strings.Contains(got, "\r\nContent-Length: 1024\r\n\r\n{") {
		t.Errorf("POST on the wire:\n%s", got)
	}
	if len(JSONBody) != 1024 {
		t.Errorf("JSONBody is %d bytes, want 1024", len(JSONBody))
	}
}

// newTestServer answers 200 to GET /, 406 to anything else, and counts
// the requests and the connections it served.
func newTestServer(t *testing.T) (srv *httptest.Server, requests, conns *atomic.Int64) {
	requests, conns = new(atomic.Int64), new(atomic.Int64)
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		io.Copy(io.Discard, r.Body)
		if r.URL.Path != "/" {
			http.Error(w, "blocked", http.StatusNotAcceptable)
			return
		}
		io.WriteString(w, "Hello, world!\n")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, requests, conns
}

func TestRunLoad(t *testing.T) {
	for _, client := range []string{ClientRaw, ClientNetHTTP} {
		t.Run(client+" client keeps its connections and counts every request", func(t *testing.T) {
			srv, requests, conns := newTestServer(t)
			res, err := RunLoad(context.Background(), LoadConfig{
				Addr: srv.Listener.Addr().String(), Request: loadRequest(RequestPost),
				Conns: 3, Duration: 200 * time.Millisecond, Client: client,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests == 0 || res.OK != res.Requests || res.Errors() != 0 {
				t.Fatalf("requests %d, ok %d, errors %d (%s)", res.Requests, res.OK, res.Errors(), res.FirstError)
			}
			if got := requests.Load(); got != int64(res.Requests) {
				t.Errorf("the server saw %d requests, the load generator counted %d", got, res.Requests)
			}
			if got := conns.Load(); got > 3 {
				t.Errorf("%d connections for 3 workers: keep-alive is not working", got)
			}
			if int64(res.Latency.TotalCount()) != int64(res.Requests) || res.Latency.ValueAtQuantile(50) <= 0 {
				t.Errorf("latency histogram: %d values, p50 %d", res.Latency.TotalCount(), res.Latency.ValueAtQuantile(50))
			}
			if res.Throughput() <= 0 || res.Elapsed > 5*time.Second {
				t.Errorf("throughput %v over %v", res.Throughput(), res.Elapsed)
			}
		})
	}
	t.Run("stops at MaxRequests", func(t *testing.T) {
		srv, requests, _ := newTestServer(t)
		res, err := RunLoad(context.Background(), LoadConfig{
			Addr: srv.Listener.Addr().String(), Request: loadRequest(RequestGet),
			Conns: 4, Duration: time.Minute, MaxRequests: 50,
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests != 50 || requests.Load() != 50 {
			t.Errorf("sent %d (server saw %d), want exactly 50", res.Requests, requests.Load())
		}
	})
	t.Run("counts non-200 answers as errors", func(t *testing.T) {
		srv, _, _ := newTestServer(t)
		req := loadRequest(RequestGet)
		req.Path = "/blocked"
		res, err := RunLoad(context.Background(), LoadConfig{
			Addr: srv.Listener.Addr().String(), Request: req, Conns: 1, Duration: time.Minute, MaxRequests: 10,
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Non200 != 10 || res.OK != 0 || res.FirstError != "status 406" {
			t.Errorf("non-200 %d, ok %d, first error %q", res.Non200, res.OK, res.FirstError)
		}
	})
	t.Run("counts transport errors when nothing listens", func(t *testing.T) {
		addr, err := freeLoopbackAddr()
		if err != nil {
			t.Fatal(err)
		}
		res, err := RunLoad(context.Background(), LoadConfig{
			Addr: addr, Request: loadRequest(RequestGet), Conns: 1, Duration: time.Minute, MaxRequests: 5,
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.TransportErrors != 5 || res.FirstError == "" {
			t.Errorf("transport errors %d, first %q", res.TransportErrors, res.FirstError)
		}
	})
}
