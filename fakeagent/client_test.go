package fakeagent

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/rpc"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// callTimeout only guards against a hung test; no test waits for it.
const callTimeout = 10 * time.Second

// dial opens an RPC client to s, closed when the test ends.
func dial(t testing.TB, s *Server) *rpc.Client {
	t.Helper()
	nc, err := net.DialTimeout(s.Network(), s.Addr(), callTimeout)
	require.NoError(t, err)
	cl := rpc.NewClientWithCodec(wire.NewClientCodec(nc))
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// dialRaw opens a plain connection to s, closed when the test ends.
func dialRaw(t testing.TB, s *Server) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout(s.Network(), s.Addr(), callTimeout)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	return nc
}

// invoke makes one call and waits for its reply.
func invoke(t testing.TB, cl *rpc.Client, method string, in, out any) error {
	t.Helper()
	call := cl.Go(method, in, out, make(chan *rpc.Call, 1))
	select {
	case <-call.Done:
		return call.Error
	case <-time.After(callTimeout):
		t.Fatalf("%s: no reply within %v", method, callTimeout)
		return nil
	}
}

// pre makes a PreRequest on a client and returns the reply.
func pre(t testing.TB, cl *rpc.Client, in *wire.RPCMsgIn) wire.RPCMsgOut {
	t.Helper()
	var out wire.RPCMsgOut
	require.NoError(t, invoke(t, cl, wire.MethodPreRequest, in, &out))
	return out
}

// moduleInit sends the ModuleInit a module sends when it starts.
func moduleInit(t testing.TB, cl *rpc.Client) wire.RPCMsgOut {
	t.Helper()
	now := time.Now()
	in := &wire.RPCMsgIn{
		ModuleVersion: testModuleVersion,
		ServerVersion: runtime.Version(),
		ServerFlavor:  "test",
		Timestamp:     now.Unix(),
		NowMillis:     now.UnixMilli(),
	}
	var out wire.RPCMsgOut
	require.NoError(t, invoke(t, cl, wire.MethodModuleInit, in, &out))
	return out
}

const testModuleVersion = "sigsci-module-test 1.0.0"

// request returns a well-formed PreRequest message for method and uri.
func request(method, uri string) *wire.RPCMsgIn {
	now := time.Now()
	return &wire.RPCMsgIn{
		ModuleVersion:  testModuleVersion,
		ServerVersion:  runtime.Version(),
		ServerFlavor:   "test",
		ServerName:     "example.com",
		Timestamp:      now.Unix(),
		NowMillis:      now.UnixMilli(),
		RemoteAddr:     "192.0.2.10",
		Method:         method,
		Scheme:         "http",
		URI:            uri,
		Protocol:       "HTTP/1.1",
		ResponseCode:   -1,
		ResponseMillis: 0,
		ResponseSize:   -1,
		HeadersIn: [][2]string{
			{"Host", "example.com"},
			{"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) fakeagent-test"},
			{"Accept", "text/html"},
		},
	}
}

// The requests most tests send.
const (
	benignURI = "/hello?name=world"
	sqliURI   = "/search?q=1'%20OR%20'1'='1"
)

func benign() *wire.RPCMsgIn { return request("GET", benignURI) }
func sqli() *wire.RPCMsgIn   { return request("GET", sqliURI) }

// post returns the PostRequest a module sends after answering in with
// status.
func post(in *wire.RPCMsgIn, status int32) *wire.RPCMsgIn {
	p := *in
	p.ResponseCode = status
	p.ResponseMillis = 3
	p.ResponseSize = 120
	p.HeadersOut = [][2]string{{"Content-Type", "text/plain"}}
	return &p
}

// logBuffer collects a server's logs.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// withLogs sends the server's logs, from debug level up, to a buffer.
func withLogs(buf *logBuffer) Option {
	return WithLogger(slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

// shutdown shuts s down, failing the test if that takes the whole
// callTimeout.
func shutdown(t testing.TB, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	require.NoError(t, s.Shutdown(ctx))
}

// recordOf returns the only recorded request.
func recordOf(t testing.TB, s *Server) Record {
	t.Helper()
	recs := s.Requests()
	require.Len(t, recs, 1)
	return recs[0]
}

// shortSocketPath returns a socket path in a fresh directory with a short
// name: t.TempDir() paths can exceed the ~104-byte limit on socket paths.
func shortSocketPath(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fa-test-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "sigsci.sock")
}
