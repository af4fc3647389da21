package module_test

// This file is the compile-time record of upstream's API (see UPSTREAM.md):
// every exported name of sigsci-module-golang 1.16.0, pinned to upstream's
// signature, and used the way upstream's examples use it, through the
// import name upstream's users give it. Only the standard library and the
// module's own packages are imported.

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/rpc"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sigsci "github.com/seed-a2a44e50/ngwaf-helloworld/module"
	"github.com/seed-a2a44e50/ngwaf-helloworld/module/schema"
	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// Upstream's signatures. A change to any of them fails the build.
var (
	_ func(http.Handler, ...sigsci.ModuleConfigOption) (*sigsci.Module, error)                             = sigsci.NewModule
	_ func(...sigsci.ModuleConfigOption) (*sigsci.ModuleConfig, error)                                     = sigsci.NewModuleConfig
	_ func(*sigsci.ModuleConfig, *http.Request, []byte, int, int64, time.Duration) *sigsci.RPCMsgIn        = sigsci.NewRPCMsgIn
	_ func(http.ResponseWriter) sigsci.ResponseWriter                                                      = sigsci.NewResponseWriter
	_ func(io.ReadWriteCloser) rpc.ClientCodec                                                             = sigsci.NewMsgpClientCodec
	_ func() string                                                                                        = sigsci.Version
	_ func(bool) sigsci.ModuleConfigOption                                                                 = sigsci.AllowUnknownContentLength
	_ func(...int) sigsci.ModuleConfigOption                                                               = sigsci.AltResponseCodes
	_ func(time.Duration) sigsci.ModuleConfigOption                                                        = sigsci.AnomalyDuration
	_ func(int64) sigsci.ModuleConfigOption                                                                = sigsci.AnomalySize
	_ func(sigsci.Inspector, sigsci.InspectorInitFunc, sigsci.InspectorFiniFunc) sigsci.ModuleConfigOption = sigsci.CustomInspector
	_ func(bool) sigsci.ModuleConfigOption                                                                 = sigsci.Debug
	_ func(string) sigsci.ModuleConfigOption                                                               = sigsci.ExpectedContentType
	_ func(bool) sigsci.ModuleConfigOption                                                                 = sigsci.ExtendContentTypes
	_ func(*sigsci.ModuleConfig) sigsci.ModuleConfigOption                                                 = sigsci.FromModuleConfig
	_ func(int64) sigsci.ModuleConfigOption                                                                = sigsci.MaxContentLength
	_ func(string, string) sigsci.ModuleConfigOption                                                       = sigsci.ModuleIdentifier
	_ func(func(*http.Request) [][2]string) sigsci.ModuleConfigOption                                      = sigsci.RawHeaderExtractor
	_ func(string) sigsci.ModuleConfigOption                                                               = sigsci.ServerFlavor
	_ func(func(*http.Request) (http.Header, error)) sigsci.ModuleConfigOption                             = sigsci.CustomHeaderExtractor
	_ func(*http.Request) (http.Header, error)                                                             = sigsci.HeaderExtractorFunc(nil)
	_ func(*sigsci.ModuleConfig) func(*http.Request) (http.Header, error)                                  = (*sigsci.ModuleConfig).HeaderExtractor
	_ func(string) sigsci.ModuleConfigOption                                                               = sigsci.ServerIdentifier
	_ func(string, string) sigsci.ModuleConfigOption                                                       = sigsci.Socket
	_ func(time.Duration) sigsci.ModuleConfigOption                                                        = sigsci.Timeout
	_ func(*sigsci.ModuleConfig) error                                                                     = sigsci.ModuleConfigOption(nil)
	_ func(*http.Request) bool                                                                             = sigsci.InspectorInitFunc(nil)
	_ func(*http.Request)                                                                                  = sigsci.InspectorFiniFunc(nil)
	_ func(*sigsci.ModuleConfig, ...sigsci.ModuleConfigOption) error                                       = (*sigsci.ModuleConfig).SetOptions
	_ func(*sigsci.ModuleConfig, int) bool                                                                 = (*sigsci.ModuleConfig).IsAllowCode
	_ func(*sigsci.ModuleConfig, int) bool                                                                 = (*sigsci.ModuleConfig).IsBlockCode
	_ func(*sigsci.ModuleConfig, string) bool                                                              = (*sigsci.ModuleConfig).IsExpectedContentType
	_ func(*sigsci.ModuleConfig) bool                                                                      = (*sigsci.ModuleConfig).AllowUnknownContentLength
	_ func(*sigsci.ModuleConfig) []int                                                                     = (*sigsci.ModuleConfig).AltResponseCodes
	_ func(*sigsci.ModuleConfig) time.Duration                                                             = (*sigsci.ModuleConfig).AnomalyDuration
	_ func(*sigsci.ModuleConfig) int64                                                                     = (*sigsci.ModuleConfig).AnomalySize
	_ func(*sigsci.ModuleConfig) bool                                                                      = (*sigsci.ModuleConfig).Debug
	_ func(*sigsci.ModuleConfig) sigsci.Inspector                                                          = (*sigsci.ModuleConfig).Inspector
	_ func(*sigsci.ModuleConfig) sigsci.InspectorInitFunc                                                  = (*sigsci.ModuleConfig).InspectorInit
	_ func(*sigsci.ModuleConfig) sigsci.InspectorFiniFunc                                                  = (*sigsci.ModuleConfig).InspectorFini
	_ func(*sigsci.ModuleConfig) int64                                                                     = (*sigsci.ModuleConfig).MaxContentLength
	_ func(*sigsci.ModuleConfig) string                                                                    = (*sigsci.ModuleConfig).ModuleIdentifier
	_ func(*sigsci.ModuleConfig) func(*http.Request) [][2]string                                           = (*sigsci.ModuleConfig).RawHeaderExtractor
	_ func(*sigsci.ModuleConfig) string                                                                    = (*sigsci.ModuleConfig).RPCAddress
	_ func(*sigsci.ModuleConfig) string                                                                    = (*sigsci.ModuleConfig).RPCNetwork
	_ func(*sigsci.ModuleConfig) string                                                                    = (*sigsci.ModuleConfig).RPCAddressString
	_ func(*sigsci.ModuleConfig) string                                                                    = (*sigsci.ModuleConfig).ServerIdentifier
	_ func(*sigsci.ModuleConfig) string                                                                    = (*sigsci.ModuleConfig).ServerFlavor
	_ func(*sigsci.ModuleConfig) time.Duration                                                             = (*sigsci.ModuleConfig).Timeout
	_ func(*sigsci.Module, http.ResponseWriter, *http.Request)                                             = (*sigsci.Module).ServeHTTP
	_ func(*sigsci.Module) sigsci.Inspector                                                                = (*sigsci.Module).Inspector
	_ func(*sigsci.Module) *sigsci.ModuleConfig                                                            = (*sigsci.Module).ModuleConfig
	_ func(*sigsci.Module) string                                                                          = (*sigsci.Module).Version
	_ func(*sigsci.Module) string                                                                          = (*sigsci.Module).ServerVersion
	_ func(*sigsci.RPCInspector, *sigsci.RPCMsgIn, *sigsci.RPCMsgOut) error                                = (*sigsci.RPCInspector).ModuleInit
	_ func(*sigsci.RPCInspector, *sigsci.RPCMsgIn, *sigsci.RPCMsgOut) error                                = (*sigsci.RPCInspector).PreRequest
	_ func(*sigsci.RPCInspector, *sigsci.RPCMsgIn, *sigsci.RPCMsgOut) error                                = (*sigsci.RPCInspector).PostRequest
	_ func(*sigsci.RPCInspector, *sigsci.RPCMsgIn2, *sigsci.RPCMsgOut) error                               = (*sigsci.RPCInspector).UpdateRequest
	_ func(*sigsci.RPCInspector) (*rpc.Client, error)                                                      = (*sigsci.RPCInspector).GetRPCClient
	_ func(*sigsci.RPCInspector, *rpc.Client, error)                                                       = (*sigsci.RPCInspector).CloseRPCClient
	_ sigsci.Inspector                                                                                     = (*sigsci.RPCInspector)(nil)
	_ http.Handler                                                                                         = (*sigsci.Module)(nil)
	_ sigsci.ResponseWriter                                                                                = sigsci.ResponseWriterFlusher(nil)
	_ http.Flusher                                                                                         = sigsci.ResponseWriterFlusher(nil)
	_ func(sigsci.ResponseWriter) http.ResponseWriter                                                      = sigsci.ResponseWriter.BaseResponseWriter
	_ func(sigsci.ResponseWriter) int                                                                      = sigsci.ResponseWriter.StatusCode
	_ func(sigsci.ResponseWriter) int64                                                                    = sigsci.ResponseWriter.BytesWritten
	_ func(sigsci.Inspector, *sigsci.RPCMsgIn, *sigsci.RPCMsgOut) error                                    = sigsci.Inspector.ModuleInit
	_ func(sigsci.Inspector, *sigsci.RPCMsgIn, *sigsci.RPCMsgOut) error                                    = sigsci.Inspector.PreRequest
	_ func(sigsci.Inspector, *sigsci.RPCMsgIn, *sigsci.RPCMsgOut) error                                    = sigsci.Inspector.PostRequest
	_ func(sigsci.Inspector, *sigsci.RPCMsgIn2, *sigsci.RPCMsgOut) error                                   = sigsci.Inspector.UpdateRequest
	_ *schema.RPCMsgIn                                                                                     = (*sigsci.RPCMsgIn)(nil)
	_ *schema.RPCMsgOut                                                                                    = (*sigsci.RPCMsgOut)(nil)
	_ *schema.RPCMsgIn2                                                                                    = (*sigsci.RPCMsgIn2)(nil)
	_ []schema.Action                                                                                      = sigsci.RPCMsgOut{}.RespActions
	_ int8                                                                                                 = schema.AddHdr + schema.SetHdr + schema.SetNEHdr + schema.DelHdr
	_ func(*sigsci.RPCMsgIn, []byte) ([]byte, error)                                                       = (*sigsci.RPCMsgIn).MarshalMsg
	_ func(*sigsci.RPCMsgOut, []byte) ([]byte, error)                                                      = (*sigsci.RPCMsgOut).UnmarshalMsg
	_ func(*sigsci.RPCMsgIn2) int                                                                          = (*sigsci.RPCMsgIn2).Msgsize
	_ bool                                                                                                 = sigsci.DefaultAllowUnknownContentLength || sigsci.DefaultDebug
	_ time.Duration                                                                                        = sigsci.DefaultAnomalyDuration + sigsci.DefaultTimeout
	_ int64                                                                                                = sigsci.DefaultAnomalySize + sigsci.DefaultMaxContentLength
	_ sigsci.Inspector                                                                                     = sigsci.DefaultInspector
	_ string                                                                                               = sigsci.DefaultModuleIdentifier + sigsci.DefaultRPCAddress + sigsci.DefaultRPCNetwork + sigsci.DefaultServerIdentifier + sigsci.DefaultServerFlavor
)

// Upstream's RPCInspector fields, as a struct literal.
var _ = &sigsci.RPCInspector{
	Network:           "unix",
	Address:           "/var/run/sigsci.sock",
	Timeout:           100 * time.Millisecond,
	Debug:             false,
	InitRPCClientFunc: func() (*rpc.Client, error) { return nil, errors.New("unused") },
	FiniRPCClientFunc: func(*rpc.Client, error) {},
}

// agent is a small agent for these tests, served over the wire codec:
// it blocks URIs and bodies that contain "attack", answers "/tagged" with
// a RequestID and response header actions, and records the reports.
type agent struct {
	network, addr string
	inits         chan *sigsci.RPCMsgIn
	posts         chan *sigsci.RPCMsgIn
	updates       chan *sigsci.RPCMsgIn2
	done          chan struct{}
}

func startAgent(t *testing.T) *agent {
	t.Helper()
	dir, err := os.MkdirTemp("", "api") // short: socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	a := &agent{
		network: "unix",
		addr:    filepath.Join(dir, "s.sock"),
		inits:   make(chan *sigsci.RPCMsgIn, 64),
		posts:   make(chan *sigsci.RPCMsgIn, 64),
		updates: make(chan *sigsci.RPCMsgIn2, 64),
		done:    make(chan struct{}),
	}
	ln, err := net.Listen(a.network, a.addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer()
	if err := srv.RegisterName("RPC", &agentRPC{a}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				srv.ServeCodec(wire.NewServerCodec(c))
			}()
		}
	}()
	t.Cleanup(func() {
		close(a.done)
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return a
}

type agentRPC struct{ a *agent }

func record[T any](a *agent, ch chan T, v T) {
	select {
	case ch <- v:
	case <-a.done:
	}
}

func (r *agentRPC) ModuleInit(in *sigsci.RPCMsgIn, out *sigsci.RPCMsgOut) error {
	record(r.a, r.a.inits, in)
	out.WAFResponse = 200
	return nil
}

func (r *agentRPC) PreRequest(in *sigsci.RPCMsgIn, out *sigsci.RPCMsgOut) error {
	out.WAFResponse = 200
	switch {
	case strings.Contains(in.URI, "attack"), strings.Contains(in.PostBody, "attack"):
		out.WAFResponse = 406
	case strings.HasPrefix(in.URI, "/tagged"):
		out.RequestID = "req-1"
		out.RequestHeaders = [][2]string{{"X-Sigsci-Tags", "SQLI"}}
		out.RespActions = []schema.Action{
			{Code: schema.AddHdr, Args: []string{"X-Added", "1"}},
			{Code: schema.SetHdr, Args: []string{"X-Set", "agent"}},
			{Code: schema.SetNEHdr, Args: []string{"X-Kept", "agent"}},
			{Code: schema.DelHdr, Args: []string{"X-Secret"}},
		}
	}
	return nil
}

func (r *agentRPC) PostRequest(in *sigsci.RPCMsgIn, out *int) error {
	record(r.a, r.a.posts, in)
	return nil
}

func (r *agentRPC) UpdateRequest(in *sigsci.RPCMsgIn2, out *int) error {
	record(r.a, r.a.updates, in)
	return nil
}

func hello(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Secret", "app")
	w.Header().Set("X-Kept", "app")
	io.WriteString(w, "hello "+r.Header.Get("X-Sigsci-Tags"))
}

func waitFor[T any](t *testing.T, ch chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s reached the agent", what)
		panic("unreachable")
	}
}

// TestUpstreamsHelloworldWiring builds the module as upstream's helloworld
// and mtest examples do, options and all.
func TestUpstreamsHelloworldWiring(t *testing.T) {
	a := startAgent(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/", hello)
	wrapped, err := sigsci.NewModule(mux,
		sigsci.Socket(a.network, a.addr),
		sigsci.Timeout(10*time.Second), // a loaded CI machine must not fail open
		sigsci.AnomalySize(512*1024),
		sigsci.AnomalyDuration(1*time.Second),
		sigsci.MaxContentLength(100000),
		sigsci.ServerFlavor("api-test"),
		sigsci.AltResponseCodes(403), // deprecated upstream: a nil option, skipped
		sigsci.Logger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wrapped.Close() })
	if in := waitFor(t, a.inits, "ModuleInit"); in.ServerFlavor != "api-test" || in.ModuleVersion != wrapped.Version() {
		t.Errorf("ModuleInit = %q %q, want flavor api-test and version %q", in.ServerFlavor, in.ModuleVersion, wrapped.Version())
	}
	if wrapped.ServerVersion() != sigsci.DefaultServerIdentifier {
		t.Errorf("ServerVersion() = %q, want %q", wrapped.ServerVersion(), sigsci.DefaultServerIdentifier)
	}
	if _, ok := wrapped.Inspector().(*sigsci.RPCInspector); !ok {
		t.Errorf("Inspector() is %T, want *RPCInspector", wrapped.Inspector())
	}

	cases := []struct {
		name, method, target, body string
		want                       int
	}{
		{"a benign request is allowed", "GET", "/?q=hello", "", 200},
		{"an attack in the query is blocked", "GET", "/?q=attack", "", 406},
		{"an attack in a form body is blocked", "POST", "/", "q=attack", 406},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, c.target, strings.NewReader(c.body))
			if c.body != "" {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			w := httptest.NewRecorder()
			wrapped.ServeHTTP(w, r)
			if w.Code != c.want {
				t.Errorf("status = %d, want %d", w.Code, c.want)
			}
		})
	}
}

// TestTheModulesWriterIsUpstreamsResponseWriter: handlers that look at the
// writer upstream hands them find the same methods.
func TestTheModulesWriterIsUpstreamsResponseWriter(t *testing.T) {
	a := startAgent(t)
	var status int
	var size int64
	var base http.ResponseWriter
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw, ok := w.(sigsci.ResponseWriterFlusher)
		if !ok {
			t.Errorf("the handler's writer %T is not a ResponseWriterFlusher", w)
			return
		}
		io.WriteString(rw, "12345")
		rw.Flush()
		status, size, base = rw.StatusCode(), rw.BytesWritten(), rw.BaseResponseWriter()
	})
	m, err := sigsci.NewModule(h, sigsci.Socket(a.network, a.addr), sigsci.Timeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	w := httptest.NewRecorder()
	m.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if status != 200 || size != 5 || base != w {
		t.Errorf("StatusCode, BytesWritten, BaseResponseWriter = %d, %d, %T; want 200, 5, the server's writer", status, size, base)
	}
}

// middleware drives the inspector itself, as upstream's gin example does
// with gin.Context; here with plain net/http and NewResponseWriter.
func middleware(next http.Handler, options ...sigsci.ModuleConfigOption) (http.Handler, *sigsci.Module, error) {
	m, err := sigsci.NewModule(http.NotFoundHandler(), options...)
	if err != nil {
		return nil, nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		cfg := m.ModuleConfig()
		msgIn := sigsci.NewRPCMsgIn(cfg, r, nil, -1, -1, 0)
		msgOut := &sigsci.RPCMsgOut{}
		if err := m.Inspector().PreRequest(msgIn, msgOut); err != nil {
			next.ServeHTTP(w, r) // fail open
			return
		}
		for _, kv := range msgOut.RequestHeaders {
			r.Header.Set(kv[0], kv[1])
		}
		rw := sigsci.NewResponseWriter(w)
		for _, a := range msgOut.RespActions {
			switch a.Code {
			case schema.AddHdr:
				rw.Header().Add(a.Args[0], a.Args[1])
			case schema.SetHdr:
				rw.Header().Set(a.Args[0], a.Args[1])
			case schema.SetNEHdr:
				if rw.Header().Get(a.Args[0]) == "" {
					rw.Header().Set(a.Args[0], a.Args[1])
				}
			case schema.DelHdr:
				rw.Header().Del(a.Args[0])
			}
		}
		waf := int(msgOut.WAFResponse)
		switch {
		case cfg.IsAllowCode(waf):
			next.ServeHTTP(rw, r)
		case cfg.IsBlockCode(waf):
			http.Error(rw, http.StatusText(waf), waf)
		default:
			next.ServeHTTP(rw, r)
		}
		duration := time.Since(start)
		if msgOut.RequestID != "" {
			in2 := &sigsci.RPCMsgIn2{
				RequestID:      msgOut.RequestID,
				ResponseCode:   int32(rw.StatusCode()),
				ResponseSize:   rw.BytesWritten(),
				ResponseMillis: duration.Milliseconds(),
			}
			m.Inspector().UpdateRequest(in2, &sigsci.RPCMsgOut{})
		} else if rw.StatusCode() >= 300 || rw.BytesWritten() >= cfg.AnomalySize() || duration >= cfg.AnomalyDuration() {
			post := sigsci.NewRPCMsgIn(cfg, r, nil, rw.StatusCode(), rw.BytesWritten(), duration)
			post.WAFResponse = msgOut.WAFResponse
			m.Inspector().PostRequest(post, &sigsci.RPCMsgOut{})
		}
	}), m, nil
}

func TestUpstreamsGinExampleFlow(t *testing.T) {
	a := startAgent(t)
	h, m, err := middleware(http.HandlerFunc(hello), sigsci.Socket(a.network, a.addr), sigsci.Timeout(10*time.Second), sigsci.Debug(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if !m.ModuleConfig().Debug() {
		t.Error("Debug() = false after Debug(true)")
	}

	t.Run("a block is answered and reported with PostRequest", func(t *testing.T) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/attack", nil))
		if w.Code != 406 {
			t.Fatalf("status = %d, want 406", w.Code)
		}
		post := waitFor(t, a.posts, "PostRequest")
		if post.ResponseCode != 406 || post.WAFResponse != 406 || post.URI != "/attack" {
			t.Errorf("PostRequest = code %d, waf %d, uri %q; want 406, 406, /attack", post.ResponseCode, post.WAFResponse, post.URI)
		}
	})
	t.Run("a tagged request gets the agent's headers and an UpdateRequest", func(t *testing.T) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/tagged", nil))
		if w.Code != 200 || w.Body.String() != "hello SQLI" {
			t.Fatalf("response = %d %q, want 200 %q", w.Code, w.Body.String(), "hello SQLI")
		}
		// Applied before the handler runs, as upstream's gin example does,
		// the actions add and set; the handler's own headers then win
		// (a Module applies them when the status is written instead).
		hdr := w.Header()
		if hdr.Get("X-Added") != "1" || hdr.Get("X-Set") != "agent" || hdr.Get("X-Kept") != "app" {
			t.Errorf("response headers = %v, want X-Added 1, X-Set agent, X-Kept app", hdr)
		}
		up := waitFor(t, a.updates, "UpdateRequest")
		if up.RequestID != "req-1" || up.ResponseCode != 200 || up.ResponseSize != int64(len("hello SQLI")) {
			t.Errorf("UpdateRequest = %+v, want req-1, 200, %d bytes", up, len("hello SQLI"))
		}
	})
}

func TestNewRPCMsgInDescribesTheRequest(t *testing.T) {
	cfg, err := sigsci.NewModuleConfig(sigsci.ModuleIdentifier("mod", "9.9"), sigsci.ServerIdentifier("srv 1"), sigsci.ServerFlavor("flavor"))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "http://example.com/p?q=1", nil)
	r.RemoteAddr = "192.0.2.7:5555"
	r.Header.Set("User-Agent", "test")
	in := sigsci.NewRPCMsgIn(cfg, r, []byte("a=1"), 201, 42, 1500*time.Millisecond)
	checks := []struct {
		name      string
		got, want any
	}{
		{"ModuleVersion", in.ModuleVersion, "mod 9.9"},
		{"ServerVersion", in.ServerVersion, "srv 1"},
		{"ServerFlavor", in.ServerFlavor, "flavor"},
		{"ServerName", in.ServerName, "example.com"},
		{"RemoteAddr", in.RemoteAddr, "192.0.2.7"},
		{"Method", in.Method, "POST"},
		{"Scheme", in.Scheme, "http"},
		{"URI", in.URI, "/p?q=1"},
		{"Protocol", in.Protocol, "HTTP/1.1"},
		{"PostBody", in.PostBody, "a=1"},
		{"ResponseCode", in.ResponseCode, int32(201)},
		{"ResponseSize", in.ResponseSize, int64(42)},
		{"ResponseMillis", in.ResponseMillis, int64(1500)},
		{"first header", in.HeadersIn[0], [2]string{"Host", "example.com"}},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if in.Timestamp == 0 || in.NowMillis/1000 != in.Timestamp {
		t.Errorf("Timestamp %d and NowMillis %d disagree", in.Timestamp, in.NowMillis)
	}
	if def := sigsci.NewRPCMsgIn(nil, r, nil, -1, -1, 0); def.ModuleVersion != sigsci.DefaultModuleIdentifier {
		t.Errorf("with a nil config ModuleVersion = %q, want the default %q", def.ModuleVersion, sigsci.DefaultModuleIdentifier)
	}
}

type nopInspector struct{}

func (nopInspector) ModuleInit(*sigsci.RPCMsgIn, *sigsci.RPCMsgOut) error     { return nil }
func (nopInspector) PreRequest(*sigsci.RPCMsgIn, *sigsci.RPCMsgOut) error     { return nil }
func (nopInspector) PostRequest(*sigsci.RPCMsgIn, *sigsci.RPCMsgOut) error    { return nil }
func (nopInspector) UpdateRequest(*sigsci.RPCMsgIn2, *sigsci.RPCMsgOut) error { return nil }

func TestModuleConfigGettersReadBackEveryOption(t *testing.T) {
	def, err := sigsci.NewModuleConfig()
	if err != nil {
		t.Fatal(err)
	}
	extract := func(*http.Request) [][2]string { return nil }
	init := func(*http.Request) bool { return true }
	fini := func(*http.Request) {}
	set, err := sigsci.NewModuleConfig(
		sigsci.AllowUnknownContentLength(true),
		sigsci.AltResponseCodes(403),
		sigsci.AnomalyDuration(10*time.Second),
		sigsci.AnomalySize(8192),
		sigsci.CustomInspector(nopInspector{}, init, fini),
		sigsci.Debug(true),
		sigsci.ExpectedContentType("application/x-yaml"),
		sigsci.ExtendContentTypes(false),
		sigsci.MaxContentLength(500000),
		sigsci.ModuleIdentifier("mod", "1.2.3"),
		sigsci.RawHeaderExtractor(extract),
		sigsci.ServerFlavor("flavor"),
		sigsci.ServerIdentifier("server 1"),
		sigsci.Socket("tcp", "127.0.0.1:1234"),
		sigsci.Timeout(10*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name                string
		gotDefault, wantDef any
		gotSet, wantSet     any
	}{
		{"AllowUnknownContentLength", def.AllowUnknownContentLength(), sigsci.DefaultAllowUnknownContentLength, set.AllowUnknownContentLength(), true},
		{"AltResponseCodes is always nil", def.AltResponseCodes() == nil, true, set.AltResponseCodes() == nil, true},
		{"AnomalyDuration", def.AnomalyDuration(), sigsci.DefaultAnomalyDuration, set.AnomalyDuration(), 10 * time.Second},
		{"AnomalySize", def.AnomalySize(), sigsci.DefaultAnomalySize, set.AnomalySize(), int64(8192)},
		{"Debug", def.Debug(), sigsci.DefaultDebug, set.Debug(), true},
		{"Inspector", def.Inspector(), sigsci.DefaultInspector, set.Inspector(), sigsci.Inspector(nopInspector{})},
		{"InspectorInit is set", def.InspectorInit() == nil, true, set.InspectorInit() != nil, true},
		{"InspectorFini is set", def.InspectorFini() == nil, true, set.InspectorFini() != nil, true},
		{"IsExpectedContentType", def.IsExpectedContentType("application/x-yaml"), false, set.IsExpectedContentType("Application/X-YAML; charset=utf-8"), true},
		{"MaxContentLength", def.MaxContentLength(), sigsci.DefaultMaxContentLength, set.MaxContentLength(), int64(500000)},
		{"ModuleIdentifier", def.ModuleIdentifier(), sigsci.DefaultModuleIdentifier, set.ModuleIdentifier(), "mod 1.2.3"},
		{"RawHeaderExtractor is set", def.RawHeaderExtractor() == nil, true, set.RawHeaderExtractor() != nil, true},
		{"RPCAddress", def.RPCAddress(), sigsci.DefaultRPCAddress, set.RPCAddress(), "127.0.0.1:1234"},
		{"RPCNetwork", def.RPCNetwork(), sigsci.DefaultRPCNetwork, set.RPCNetwork(), "tcp"},
		{"RPCAddressString", def.RPCAddressString(), sigsci.DefaultRPCNetwork + ":" + sigsci.DefaultRPCAddress, set.RPCAddressString(), "tcp:127.0.0.1:1234"},
		{"ServerFlavor", def.ServerFlavor(), sigsci.DefaultServerFlavor, set.ServerFlavor(), "flavor"},
		{"ServerIdentifier", def.ServerIdentifier(), sigsci.DefaultServerIdentifier, set.ServerIdentifier(), "server 1"},
		{"Timeout", def.Timeout(), sigsci.DefaultTimeout, set.Timeout(), 10 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name+" reads back the default and the option", func(t *testing.T) {
			if c.gotDefault != c.wantDef {
				t.Errorf("default: got %v, want %v", c.gotDefault, c.wantDef)
			}
			if c.gotSet != c.wantSet {
				t.Errorf("set: got %v, want %v", c.gotSet, c.wantSet)
			}
		})
	}
}

func TestAllowAndBlockCodes(t *testing.T) {
	cfg, err := sigsci.NewModuleConfig()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		code         int
		allow, block bool
	}{
		{200, true, false}, {0, false, false}, {-1, false, false}, {204, false, false},
		{299, false, false}, {300, false, true}, {302, false, true}, {403, false, true},
		{406, false, true}, {599, false, true}, {600, false, false},
	}
	for _, c := range cases {
		if got := cfg.IsAllowCode(c.code); got != c.allow {
			t.Errorf("IsAllowCode(%d) = %v, want %v", c.code, got, c.allow)
		}
		if got := cfg.IsBlockCode(c.code); got != c.block {
			t.Errorf("IsBlockCode(%d) = %v, want %v", c.code, got, c.block)
		}
	}
}

func TestFromModuleConfigAndSetOptions(t *testing.T) {
	base, err := sigsci.NewModuleConfig(sigsci.Socket("tcp", "127.0.0.1:9"), sigsci.AnomalySize(77))
	if err != nil {
		t.Fatal(err)
	}
	clone, err := sigsci.NewModuleConfig(sigsci.FromModuleConfig(base), sigsci.Timeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if clone.RPCAddressString() != "tcp:127.0.0.1:9" || clone.AnomalySize() != 77 || clone.Timeout() != time.Second {
		t.Errorf("clone = %s, %d, %v; want base's address and size with its own timeout", clone.RPCAddressString(), clone.AnomalySize(), clone.Timeout())
	}
	if base.Timeout() != sigsci.DefaultTimeout {
		t.Errorf("the option after FromModuleConfig changed the original: timeout %v", base.Timeout())
	}
	if err := base.SetOptions(nil, sigsci.MaxContentLength(5), sigsci.AltResponseCodes(1)); err != nil || base.MaxContentLength() != 5 {
		t.Errorf("SetOptions = %v, MaxContentLength %d; want nil options skipped and 5", err, base.MaxContentLength())
	}
	if err := base.SetOptions(sigsci.Socket("udp", "x"), sigsci.MaxContentLength(6)); err == nil || base.MaxContentLength() != 5 {
		t.Errorf("SetOptions with a bad option = %v, MaxContentLength %d; want an error and nothing after it applied", err, base.MaxContentLength())
	}
	if _, err := sigsci.NewModuleConfig(sigsci.FromModuleConfig(nil)); err == nil {
		t.Error("FromModuleConfig(nil) is not an error")
	}
}

func TestAnRPCInspectorBuiltAsAStructLiteral(t *testing.T) {
	a := startAgent(t)
	insp := &sigsci.RPCInspector{Network: a.network, Address: a.addr, Timeout: 10 * time.Second}
	t.Cleanup(func() { insp.Close() })
	in := sigsci.NewRPCMsgIn(nil, httptest.NewRequest("GET", "/attack", nil), nil, -1, -1, 0)
	var out sigsci.RPCMsgOut
	if err := insp.PreRequest(in, &out); err != nil || out.WAFResponse != 406 {
		t.Fatalf("PreRequest = %v, WAFResponse %d; want 406", err, out.WAFResponse)
	}
	if err := insp.ModuleInit(&sigsci.RPCMsgIn{ModuleVersion: "m"}, &out); err != nil {
		t.Fatalf("ModuleInit: %v", err)
	}
	if got := waitFor(t, a.inits, "ModuleInit"); got.ModuleVersion != "m" {
		t.Errorf("ModuleInit carried %q", got.ModuleVersion)
	}
	if err := insp.UpdateRequest(&sigsci.RPCMsgIn2{RequestID: "r"}, &out); err != nil {
		t.Fatalf("UpdateRequest: %v", err)
	}
	waitFor(t, a.updates, "UpdateRequest")
	if insp.Stats().Calls != 3 {
		t.Errorf("Stats().Calls = %d, want 3 pooled calls", insp.Stats().Calls)
	}
}

func TestTheRPCClientHooks(t *testing.T) {
	a := startAgent(t)
	var inits, finis int
	var lastErr error
	plain := &sigsci.RPCInspector{Network: a.network, Address: a.addr, Timeout: 10 * time.Second}
	insp := &sigsci.RPCInspector{
		Timeout: 10 * time.Second,
		InitRPCClientFunc: func() (*rpc.Client, error) {
			inits++
			conn, err := net.Dial(a.network, a.addr)
			if err != nil {
				return nil, err
			}
			return rpc.NewClientWithCodec(sigsci.NewMsgpClientCodec(conn)), nil
		},
		FiniRPCClientFunc: func(c *rpc.Client, err error) {
			finis++
			lastErr = err
			c.Close()
		},
	}
	var out sigsci.RPCMsgOut
	in := sigsci.NewRPCMsgIn(nil, httptest.NewRequest("GET", "/", nil), nil, -1, -1, 0)
	if err := insp.PreRequest(in, &out); err != nil || out.WAFResponse != 200 {
		t.Fatalf("PreRequest through the hooks = %v, %d; want 200", err, out.WAFResponse)
	}
	if err := insp.PostRequest(in, &out); err != nil {
		t.Fatalf("PostRequest through the hooks: %v", err)
	}
	waitFor(t, a.posts, "PostRequest")
	if inits != 2 || finis != 2 || lastErr != nil {
		t.Errorf("hooks ran %d/%d times, last error %v; want a client per call, closed without error", inits, finis, lastErr)
	}

	client, err := plain.GetRPCClient()
	if err != nil {
		t.Fatalf("GetRPCClient: %v", err)
	}
	var reply sigsci.RPCMsgOut
	err = client.Call("RPC.PreRequest", sigsci.NewRPCMsgIn(nil, httptest.NewRequest("GET", "/attack", nil), nil, -1, -1, 0), &reply)
	plain.CloseRPCClient(client, err)
	if err != nil || reply.WAFResponse != 406 {
		t.Errorf("a call on GetRPCClient's client = %v, %d; want 406", err, reply.WAFResponse)
	}
	if err := client.Call("RPC.PreRequest", in, &reply); !errors.Is(err, rpc.ErrShutdown) {
		t.Errorf("after CloseRPCClient a call gives %v, want rpc.ErrShutdown", err)
	}

	failing := &sigsci.RPCInspector{InitRPCClientFunc: func() (*rpc.Client, error) { return nil, errors.New("no agent here") }}
	if err := failing.PreRequest(in, &out); err == nil || !strings.Contains(err.Error(), "no agent here") {
		t.Errorf("PreRequest with a failing InitRPCClientFunc = %v, want its error", err)
	}
}

func TestNewResponseWriter(t *testing.T) {
	t.Run("a flushing base gives a ResponseWriterFlusher", func(t *testing.T) {
		base := httptest.NewRecorder()
		rw := sigsci.NewResponseWriter(base)
		f, ok := rw.(sigsci.ResponseWriterFlusher)
		if !ok {
			t.Fatalf("NewResponseWriter(httptest.ResponseRecorder) is %T, not a ResponseWriterFlusher", rw)
		}
		if rw.StatusCode() != 200 || rw.BytesWritten() != 0 {
			t.Errorf("before writing: %d, %d; want 200, 0", rw.StatusCode(), rw.BytesWritten())
		}
		rw.WriteHeader(201)
		io.WriteString(rw, "abc")
		f.Flush()
		if rw.StatusCode() != 201 || rw.BytesWritten() != 3 || !base.Flushed || base.Code != 201 || rw.BaseResponseWriter() != base {
			t.Errorf("after writing: %d, %d, flushed %v; want 201, 3, flushed", rw.StatusCode(), rw.BytesWritten(), base.Flushed)
		}
	})
	t.Run("a base that cannot flush gives a writer that cannot either", func(t *testing.T) {
		rw := sigsci.NewResponseWriter(plainWriter{httptest.NewRecorder()})
		if _, ok := rw.(http.Flusher); ok {
			t.Errorf("%T is an http.Flusher over a base that is not", rw)
		}
		if _, _, err := rw.(http.Hijacker).Hijack(); err == nil {
			t.Error("Hijack over a base that cannot hijack did not fail")
		}
		//lint:ignore SA1019 upstream's writer has CloseNotify
		if rw.(http.CloseNotifier).CloseNotify() == nil {
			t.Error("CloseNotify returned a nil channel")
		}
	})
	t.Run("ReadFrom counts what it copies", func(t *testing.T) {
		rw := sigsci.NewResponseWriter(httptest.NewRecorder())
		if _, err := rw.(io.ReaderFrom).ReadFrom(strings.NewReader("12345678")); err != nil || rw.BytesWritten() != 8 {
			t.Errorf("ReadFrom = %v, BytesWritten %d; want 8", err, rw.BytesWritten())
		}
	})
	t.Run("a hijack passes through", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rw := sigsci.NewResponseWriter(w)
			conn, brw, err := rw.(http.Hijacker).Hijack()
			if err != nil {
				t.Errorf("Hijack: %v", err)
				return
			}
			defer conn.Close()
			brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
			brw.Flush()
		}))
		defer srv.Close()
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != "hi" {
			t.Errorf("hijacked response body %q, want hi", body)
		}
	})
}

// plainWriter hides every optional interface of the writer it wraps.
type plainWriter struct{ w http.ResponseWriter }

func (p plainWriter) Header() http.Header         { return p.w.Header() }
func (p plainWriter) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p plainWriter) WriteHeader(code int)        { p.w.WriteHeader(code) }

func TestVersion(t *testing.T) {
	if v := sigsci.Version(); v == "" || !strings.HasSuffix(sigsci.DefaultModuleIdentifier, " "+v) {
		t.Errorf("Version() = %q, DefaultModuleIdentifier = %q; want the identifier to end in the version", v, sigsci.DefaultModuleIdentifier)
	}
}

func TestCustomHeaderExtractorReplacesTheRequestHeaders(t *testing.T) {
	r := httptest.NewRequest("GET", "http://example.com/", nil)
	r.Header.Set("X-Real", "seen")
	cases := []struct {
		name      string
		extractor func(*http.Request) (http.Header, error)
		want      [][2]string
	}{
		{"the extractor's headers are sent, Host first",
			func(*http.Request) (http.Header, error) { return http.Header{"X-Other": {"1", "2"}}, nil },
			[][2]string{{"Host", "example.com"}, {"X-Other", "1"}, {"X-Other", "2"}}},
		{"a failing extractor sends the request's own",
			func(*http.Request) (http.Header, error) { return nil, errors.New("no") },
			[][2]string{{"Host", "example.com"}, {"X-Real", "seen"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := sigsci.NewModuleConfig(sigsci.CustomHeaderExtractor(c.extractor))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.HeaderExtractor() == nil {
				t.Error("HeaderExtractor() = nil after CustomHeaderExtractor")
			}
			got := sigsci.NewRPCMsgIn(cfg, r, nil, -1, -1, 0).HeadersIn
			if len(got) != len(c.want) {
				t.Fatalf("HeadersIn = %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("HeadersIn[%d] = %v, want %v", i, got[i], c.want[i])
				}
			}
		})
	}
}
