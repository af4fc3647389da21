package module

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/seed-a2a44e50/ngwaf-helloworld/module/internal/check"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

var assert, require = check.Assert, check.Require

func TestMain(m *testing.M) { os.Exit(check.VerifyNoLeaks(m)) }

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// seen is what the application handler observed of a request.
type seen struct {
	called  bool
	headers http.Header
	body    string
	bodyErr error
}

// recordingHandler answers 200 "ok" and records what it saw.
func recordingHandler(s *seen) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.called = true
		s.headers = r.Header.Clone()
		b, err := io.ReadAll(r.Body)
		s.body, s.bodyErr = string(b), err
		w.Header().Set("X-App", "helloworld")
		io.WriteString(w, "ok")
	})
}

// okHandler answers 200 with no body: never an anomaly.
var okHandler = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func get(target string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.RemoteAddr = "192.0.2.7:51234"
	return r
}

func TestModuleInitIsSentAtConstruction(t *testing.T) {
	a := startAgent(t, "unix")
	a.module(t, http.NotFoundHandler(), ServerFlavor("helloworld"))
	in := <-a.inits
	assert.Equal(t, defaultModuleName+" "+Version(), in.ModuleVersion)
	assert.Equal(t, "helloworld", in.ServerFlavor)
	assert.NotZero(t, in.Timestamp)
	assert.NotZero(t, in.NowMillis)
	assert.Empty(t, in.Method, "ModuleInit carries no request")
}

func TestModuleInitIsRetriedUntilTheAgentAppears(t *testing.T) {
	a := startAgent(t, "unix")
	a.stop()
	m := a.module(t, http.NotFoundHandler())
	assert.NotNil(t, m, "an unreachable agent is not fatal")
	a.listen()
	select {
	case in := <-a.inits:
		assert.Equal(t, m.Version(), in.ModuleVersion)
	case <-time.After(10 * time.Second):
		t.Fatal("ModuleInit was not retried once the agent came up")
	}
}

func TestTheAgentsDecisionIsApplied(t *testing.T) {
	a := startAgent(t, "unix")
	cases := []struct {
		name       string
		out        RPCMsgOut
		wantStatus int
		wantCalled bool
		check      func(t *testing.T, w *httptest.ResponseRecorder, s *seen)
	}{
		{
			name: "200 lets the request through with the agent's headers",
			out: RPCMsgOut{WAFResponse: 200, RequestHeaders: [][2]string{
				{"X-Sigsci-Tags", "XSS"}, {"X-Extra", "one"},
			}},
			wantStatus: 200, wantCalled: true,
			check: func(t *testing.T, w *httptest.ResponseRecorder, s *seen) {
				assert.Equal(t, "200", s.headers.Get("X-Sigsci-Agentresponse"))
				assert.Equal(t, "XSS", s.headers.Get("X-Sigsci-Tags"))
				assert.Equal(t, []string{"client", "one"}, s.headers.Values("X-Extra"), "other names are added")
				assert.Empty(t, s.headers.Values("X-Sigsci-Requestid"), "no RequestID, no header")
				assert.Equal(t, "ok", w.Body.String())
			},
		},
		{
			name:       "406 blocks without calling the handler",
			out:        RPCMsgOut{WAFResponse: 406, RequestHeaders: [][2]string{{"X-Sigsci-Tags", "SQLI"}}},
			wantStatus: 406,
			check: func(t *testing.T, w *httptest.ResponseRecorder, _ *seen) {
				assert.Contains(t, w.Body.String(), "406 Not Acceptable")
			},
		},
		{
			name:       "another code from 300 to 599 blocks with that code",
			out:        RPCMsgOut{WAFResponse: 503},
			wantStatus: 503,
		},
		{
			name:       "302 with X-Sigsci-Redirect redirects",
			out:        RPCMsgOut{WAFResponse: 302, RequestHeaders: [][2]string{{"X-Sigsci-Redirect", "https://example.com/denied"}}},
			wantStatus: 302,
			check: func(t *testing.T, w *httptest.ResponseRecorder, _ *seen) {
				assert.Equal(t, "https://example.com/denied", w.Header().Get("Location"))
			},
		},
		{
			name:       "301 without a redirect target is a block",
			out:        RPCMsgOut{WAFResponse: 301},
			wantStatus: 301,
			check: func(t *testing.T, w *httptest.ResponseRecorder, _ *seen) {
				assert.Empty(t, w.Header().Get("Location"))
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a.setDecide(func(*RPCMsgIn) (RPCMsgOut, error) { return tc.out, nil })
			var s seen
			m := a.module(t, recordingHandler(&s))
			r := get("/x")
			r.Header.Set("X-Extra", "client")
			w := serve(m, r)
			assert.Equal(t, tc.wantStatus, w.Code)
			assert.Equal(t, tc.wantCalled, s.called)
			if tc.check != nil {
				tc.check(t, w, &s)
			}
		})
	}
}

func TestInvalidWAFResponsesFailOpen(t *testing.T) {
	a := startAgent(t, "unix")
	for _, code := range []int32{0, -1, -2, 201, 299, 600, 1000} {
		t.Run(fmt.Sprintf("WAFResponse %d serves the request", code), func(t *testing.T) {
			a.setDecide(func(*RPCMsgIn) (RPCMsgOut, error) { return RPCMsgOut{WAFResponse: code}, nil })
			var s seen
			m := a.module(t, recordingHandler(&s))
			w := serve(m, get("/"))
			assert.Equal(t, 200, w.Code)
			assert.True(t, s.called)
			assert.Equal(t, uint64(1), m.Stats().FailOpen)
			assert.Equal(t, uint64(1), m.Stats().InvalidResponses)
		})
	}
}

func TestRespActionsEditResponseHeadersBeforeTheStatusIsWritten(t *testing.T) {
	a := startAgent(t, "unix")
	a.setDecide(func(*RPCMsgIn) (RPCMsgOut, error) {
		return RPCMsgOut{WAFResponse: 200, RespActions: []Action{
			{Code: AddHdr, Args: []string{"X-Added", "a2"}},
			{Code: SetHdr, Args: []string{"X-Set", "agent"}},
			{Code: SetNEHdr, Args: []string{"X-Kept", "agent"}},
			{Code: SetNEHdr, Args: []string{"X-New", "agent"}},
			{Code: DelHdr, Args: []string{"Server"}},
		}}, nil
	})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Added", "a1")
		w.Header().Set("X-Set", "app")
		w.Header().Set("X-Kept", "app")
		w.Header().Set("Server", "helloworld")
		w.WriteHeader(201)
	})
	w := serve(a.module(t, h), get("/"))
	assert.Equal(t, 201, w.Code)
	assert.Equal(t, []string{"a1", "a2"}, w.Header().Values("X-Added"), "code 1 adds")
	assert.Equal(t, "agent", w.Header().Get("X-Set"), "code 2 sets")
	assert.Equal(t, "app", w.Header().Get("X-Kept"), "code 3 keeps an existing value")
	assert.Equal(t, "agent", w.Header().Get("X-New"), "code 3 sets a missing one")
	assert.Empty(t, w.Header().Values("Server"), "code 4 deletes")
}

func TestRespActionsApplyWhenTheHandlerWritesNothing(t *testing.T) {
	a := startAgent(t, "unix")
	a.setDecide(func(*RPCMsgIn) (RPCMsgOut, error) {
		return RPCMsgOut{WAFResponse: 200, RespActions: []Action{{Code: SetHdr, Args: []string{"X-A", "b"}}}}, nil
	})
	w := serve(a.module(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})), get("/"))
	assert.Equal(t, "b", w.Header().Get("X-A"))
}

func TestClientSentSigsciHeadersNeverReachTheHandler(t *testing.T) {
	spoofed := map[string]string{
		"X-Sigsci-Tags":          "none",
		"X-Sigsci-Agentresponse": "200",
		"X-Sigsci-Requestid":     "forged",
		"X-Sigsci-Redirect":      "https://evil.example",
		"x-sigsci-custom":        "1",
	}
	spoof := func(r *http.Request) *http.Request {
		for k, v := range spoofed {
			r.Header[k] = []string{v} // also non-canonical spellings
		}
		return r
	}
	t.Run("when the agent allows", func(t *testing.T) {
		a := startAgent(t, "unix")
		var s seen
		serve(a.module(t, recordingHandler(&s)), spoof(get("/")))
		require.True(t, s.called)
		assert.Equal(t, "200", s.headers.Get("X-Sigsci-Agentresponse"))
		for k := range s.headers {
			assert.NotContains(t, []string{"X-Sigsci-Tags", "X-Sigsci-Requestid", "X-Sigsci-Redirect", "x-sigsci-custom", "X-Sigsci-Custom"}, k)
		}
		in := <-a.pres
		assert.Contains(t, in.HeadersIn, [2]string{"X-Sigsci-Tags", "none"}, "the agent still sees what the client sent")
	})
	t.Run("when the module fails open", func(t *testing.T) {
		a := startAgent(t, "unix")
		a.stop()
		var s seen
		serve(a.module(t, recordingHandler(&s)), spoof(get("/")))
		require.True(t, s.called)
		for k := range s.headers {
			assert.False(t, hasSigsciPrefix(k), "header %s reached the handler", k)
		}
	})
	t.Run("when an init func skips inspection", func(t *testing.T) {
		a := startAgent(t, "unix")
		var s seen
		m := a.module(t, recordingHandler(&s), CustomInspector(a.rpcInspector(t), func(*http.Request) bool { return false }, nil))
		serve(m, spoof(get("/")))
		require.True(t, s.called)
		for k := range s.headers {
			assert.False(t, hasSigsciPrefix(k), "header %s reached the handler", k)
		}
	})
}

func (a *testAgent) rpcInspector(t testing.TB) *RPCInspector {
	ri := NewRPCInspector(RPCInspectorConfig{Network: a.network, Address: a.addr, Timeout: time.Second})
	t.Cleanup(func() { ri.Close() })
	return ri
}

func TestRequestIsDescribedAsTheProtocolSays(t *testing.T) {
	a := startAgent(t, "unix")
	m := a.module(t, http.NotFoundHandler())
	r := httptest.NewRequest(http.MethodGet, "http://shop.example/a/b?q=1&r=%20", nil)
	r.RemoteAddr = "[2001:db8::1]:40000"
	r.Header.Set("User-Agent", "test")
	r.Header.Add("Accept", "text/html")
	r.Header.Add("Accept", "application/json")
	serve(m, r)
	in := <-a.pres
	assert.Equal(t, "2001:db8::1", in.RemoteAddr, "without the port")
	assert.Equal(t, "GET", in.Method)
	assert.Equal(t, "http", in.Scheme)
	assert.Equal(t, "/a/b?q=1&r=%20", in.URI)
	assert.Equal(t, "HTTP/1.1", in.Protocol)
	assert.Equal(t, "shop.example", in.ServerName)
	assert.Equal(t, int32(-1), in.ResponseCode)
	assert.Equal(t, int64(-1), in.ResponseSize)
	assert.Zero(t, in.ResponseMillis)
	assert.NotZero(t, in.Timestamp)
	require.NotEmpty(t, in.HeadersIn)
	assert.Equal(t, [2]string{"Host", "shop.example"}, in.HeadersIn[0], "Host first")
	assert.Contains(t, in.HeadersIn, [2]string{"Accept", "text/html"})
	assert.Contains(t, in.HeadersIn, [2]string{"Accept", "application/json"})
	assert.Empty(t, in.TLSProtocol)
}

func TestTLSRequestsCarryProtocolAndCipherNames(t *testing.T) {
	a := startAgent(t, "unix")
	srv := httptest.NewTLSServer(a.module(t, http.NotFoundHandler()))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/")
	require.NoError(t, err)
	resp.Body.Close()
	in := <-a.pres
	assert.Equal(t, "https", in.Scheme)
	assert.Equal(t, "TLSv1.3", in.TLSProtocol)
	assert.Equal(t, "TLS_AES_128_GCM_SHA256", in.TLSCipher)
}

func TestRawHeaderExtractorKeepsTheServersOrder(t *testing.T) {
	a := startAgent(t, "unix")
	m := a.module(t, http.NotFoundHandler(), RawHeaderExtractor(func(*http.Request) [][2]string {
		return [][2]string{{"zeta", "1"}, {"host", "dup"}, {"alpha", "2"}}
	}))
	serve(m, get("http://h.example/"))
	in := <-a.pres
	assert.Equal(t, [][2]string{{"Host", "h.example"}, {"zeta", "1"}, {"alpha", "2"}}, in.HeadersIn)
}

func TestRequestIDLeadsToUpdateRequest(t *testing.T) {
	a := startAgent(t, "unix")
	a.setDecide(func(*RPCMsgIn) (RPCMsgOut, error) {
		return RPCMsgOut{WAFResponse: 200, RequestID: "req-1", RequestHeaders: [][2]string{{"X-Sigsci-Tags", "XSS"}}}, nil
	})
	var s seen
	m := a.module(t, recordingHandler(&s))
	serve(m, get("/"))
	assert.Equal(t, "req-1", s.headers.Get("X-Sigsci-Requestid"))
	up := <-a.updates
	assert.Equal(t, "req-1", up.RequestID)
	assert.Equal(t, int32(200), up.ResponseCode)
	assert.Equal(t, int64(2), up.ResponseSize)
	assert.Contains(t, up.HeadersOut, [2]string{"X-App", "helloworld"})
	assert.Empty(t, a.posts, "no PostRequest when a RequestID came back")
}

func TestBlockedRequestWithRequestIDReportsTheBlock(t *testing.T) {
	a := startAgent(t, "unix")
	a.setDecide(func(*RPCMsgIn) (RPCMsgOut, error) { return RPCMsgOut{WAFResponse: 406, RequestID: "r"}, nil })
	serve(a.module(t, http.NotFoundHandler()), get("/"))
	up := <-a.updates
	assert.Equal(t, int32(406), up.ResponseCode)
}

// fakeClock is advanced by handlers to simulate slow responses.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestAnomaliesAreReportedWithPostRequest(t *testing.T) {
	a := startAgent(t, "unix")
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	cases := []struct {
		name    string
		handler http.HandlerFunc
		check   func(t *testing.T, in *RPCMsgIn)
	}{
		{"a status of 300 or more", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			func(t *testing.T, in *RPCMsgIn) { assert.Equal(t, int32(404), in.ResponseCode) }},
		{"a response of AnomalySize bytes or more", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(make([]byte, 2048))
		},
			func(t *testing.T, in *RPCMsgIn) { assert.Equal(t, int64(2048), in.ResponseSize) }},
		{"a response taking AnomalyDuration or more", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			clock.advance(3 * time.Second)
		},
			func(t *testing.T, in *RPCMsgIn) { assert.Equal(t, int64(3000), in.ResponseMillis) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := a.module(t, tc.handler, AnomalySize(1024), AnomalyDuration(2*time.Second))
			m.now = clock.now
			serve(m, get("/slow?x=1"))
			in := <-a.posts
			assert.Equal(t, "/slow?x=1", in.URI)
			assert.Equal(t, int32(200), in.WAFResponse)
			assert.NotEmpty(t, in.HeadersOut)
			tc.check(t, in)
		})
	}
	t.Run("an ordinary response is not reported", func(t *testing.T) {
		m := a.module(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") }))
		m.now = clock.now
		serve(m, get("/"))
		require.NoError(t, m.Close(), "Close waits for any background call")
		assert.Empty(t, a.posts)
		assert.Zero(t, m.Stats().PostRequests)
	})
}

func TestRequestBodyRules(t *testing.T) {
	a := startAgent(t, "unix")
	form := "a=1&b=2"
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	mw.WriteField("f", "v")
	mw.Close()

	cases := []struct {
		name        string
		contentType string
		body        string
		length      int64 // -1: unknown (chunked)
		opts        []ModuleConfigOption
		wantSent    bool
	}{
		{"a form body is sent", "application/x-www-form-urlencoded", form, 0, nil, true},
		{"a multipart body is sent", mw.FormDataContentType(), mp.String(), 0, nil, true},
		{"a JSON body is sent", "application/json; charset=utf-8", `{"a":1}`, 0, nil, true},
		{"a +json body is sent", "application/vnd.api+json", `{"a":1}`, 0, nil, true},
		{"a JavaScript body is sent", "application/javascript", `alert(1)`, 0, nil, true},
		{"an XML body is sent", "text/xml", `<a/>`, 0, nil, true},
		{"a +xml body is sent", "application/soap+xml", `<a/>`, 0, nil, true},
		{"a gRPC body is sent", "application/grpc+proto", "\x00\x00\x00\x00\x01x", 0, nil, true},
		{"a GraphQL body is sent", "application/graphql", `{ me { id } }`, 0, nil, true},
		{"a body without a content type is sent", "", "raw", 0, nil, true},
		{"an image body is not sent", "image/png", "\x89PNG", 0, nil, false},
		{"a text/plain body is not sent", "text/plain", "hello", 0, nil, false},
		{"an expected content type is sent", "text/plain", "hello", 0, []ModuleConfigOption{ExpectedContentType("text/plain")}, true},
		{"any type is sent with ExtendContentTypes", "image/png", "\x89PNG", 0, []ModuleConfigOption{ExtendContentTypes(true)}, true},
		{"a body over MaxContentLength is not sent", "application/json", `{"a":"` + strings.Repeat("x", 100) + `"}`, 0, []ModuleConfigOption{MaxContentLength(50)}, false},
		{"a body of exactly MaxContentLength is sent", "application/json", strings.Repeat("7", 50), 0, []ModuleConfigOption{MaxContentLength(50)}, true},
		{"an unknown length is not sent by default", "application/json", `{"a":1}`, -1, nil, false},
		{"an unknown length is sent when allowed and small", "application/json", `{"a":1}`, -1, []ModuleConfigOption{AllowUnknownContentLength(true)}, true},
		{"an unknown length over the limit is not sent", "application/json", strings.Repeat("x", 80), -1, []ModuleConfigOption{AllowUnknownContentLength(true), MaxContentLength(50)}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var s seen
			m := a.module(t, recordingHandler(&s), tc.opts...)
			var body io.Reader = strings.NewReader(tc.body)
			if tc.length < 0 {
				body = io.MultiReader(body) // hides the length
			}
			r := httptest.NewRequest(http.MethodPost, "/submit", body)
			if tc.length < 0 {
				r.ContentLength = -1
			}
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			serve(m, r)
			in := <-a.pres
			if tc.wantSent {
				assert.Equal(t, tc.body, in.PostBody)
			} else {
				assert.Empty(t, in.PostBody)
			}
			require.True(t, s.called)
			assert.NoError(t, s.bodyErr)
			assert.Equal(t, tc.body, s.body, "the handler sees the whole body unchanged")
		})
	}
}

func TestOddContentTypesStillGetTheBodyInspected(t *testing.T) {
	a := startAgent(t, "unix")
	const body = "q=1' OR '1'='1"
	cases := []struct {
		name     string
		values   []string // Content-Type header lines, in order
		wantSent bool
	}{
		{"a form in any case is sent", []string{"Application/X-WWW-Form-URLEncoded"}, true},
		{"a form with parameters is sent", []string{"application/x-www-form-urlencoded; charset=ISO-8859-1"}, true},
		{"a comma list with a form in it is sent", []string{"text/plain, application/x-www-form-urlencoded"}, true},
		{"a comma list of uninspected types is sent too", []string{"text/plain, image/png"}, true},
		{"two headers are sent", []string{"text/plain", "application/x-www-form-urlencoded"}, true},
		{"two uninspected headers are sent too", []string{"text/plain", "text/plain"}, true},
		{"an empty value is sent", []string{""}, true},
		{"a value that does not parse is sent", []string{"garbage;;==\x01"}, true},
		{"a type without a subtype is sent", []string{"application"}, true},
		{"a type containing json is sent", []string{"application/problem+json"}, true},
		{"a type containing javascript is sent", []string{"text/x-javascript"}, true},
		{"an odd json type is sent", []string{"text/x-json"}, true},
		{"text/plain alone is not sent", []string{"text/plain"}, false},
		{"text/plain with parameters is not sent", []string{"TEXT/PLAIN; charset=utf-8"}, false},
		{"an image is not sent", []string{"image/png"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var s seen
			m := a.module(t, recordingHandler(&s))
			r := httptest.NewRequest(http.MethodPost, "/submit", strings.NewReader(body))
			for _, v := range tc.values {
				r.Header.Add("Content-Type", v)
			}
			serve(m, r)
			in := <-a.pres
			if tc.wantSent {
				assert.Equal(t, body, in.PostBody)
			} else {
				assert.Empty(t, in.PostBody)
			}
			assert.Equal(t, body, s.body, "the handler sees the whole body unchanged")
		})
	}
	t.Run("MaxContentLength still applies to a list", func(t *testing.T) {
		var s seen
		m := a.module(t, recordingHandler(&s), MaxContentLength(5))
		r := httptest.NewRequest(http.MethodPost, "/submit", strings.NewReader(body))
		r.Header.Set("Content-Type", "text/plain, application/x-www-form-urlencoded")
		serve(m, r)
		assert.Empty(t, (<-a.pres).PostBody)
		assert.Equal(t, body, s.body)
	})
}

// failingBody yields some bytes, then an error, like a client that hangs up.
type failingBody struct {
	data []byte
	err  error
}

func (f *failingBody) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestABodyReadErrorReachesTheHandlerAfterTheSameBytes(t *testing.T) {
	a := startAgent(t, "unix")
	var s seen
	m := a.module(t, recordingHandler(&s))
	boom := errors.New("client went away")
	r := httptest.NewRequest(http.MethodPost, "/", &failingBody{data: []byte("part"), err: boom})
	r.ContentLength = 100
	r.Header.Set("Content-Type", "application/json")
	serve(m, r)
	in := <-a.pres
	assert.Empty(t, in.PostBody, "an incomplete body is not inspected")
	assert.Equal(t, "part", s.body)
	assert.ErrorIs(t, s.bodyErr, boom)
}

func TestTheAgentFailingMakesTheModuleFailOpen(t *testing.T) {
	const timeout = 50 * time.Millisecond
	cases := []struct {
		name  string
		setup func(a *testAgent)
	}{
		{"the agent is down", func(a *testAgent) { a.stop() }},
		{"the agent hangs", func(a *testAgent) { a.setDecide(a.hang) }},
		{"the agent answers with an error", func(a *testAgent) {
			a.setDecide(func(*RPCMsgIn) (RPCMsgOut, error) { return RPCMsgOut{}, errors.New("overloaded") })
		}},
		{"the agent closes the connection mid-call", func(a *testAgent) {
			a.setRaw(func(c net.Conn) { c.Read(make([]byte, 64)); c.Close() })
		}},
		{"the agent answers garbage", func(a *testAgent) {
			a.setRaw(func(c net.Conn) { c.Read(make([]byte, 64)); c.Write([]byte{0xc1, 0xc1, 0xc1}) })
		}},
		{"the agent answers a truncated frame", func(a *testAgent) {
			a.setRaw(func(c net.Conn) {
				c.Read(make([]byte, 64))
				c.Write([]byte{0x94, 0x01, 0x01, 0xc0, 0xdb, 0, 0, 0, 9, 'a'})
			})
		}},
		{"the agent answers with the wrong sequence number", func(a *testAgent) {
			a.setRaw(func(c net.Conn) {
				c.Read(make([]byte, 64))
				c.Write([]byte{0x94, 0x01, 0x7f, 0xc0, 0x81, 0xab, 'W', 'A', 'F', 'R', 'e', 's', 'p', 'o', 'n', 's', 'e', 0xcd, 0x01, 0x96})
			})
		}},
	}
	for _, tc := range cases {
		for _, network := range []string{"unix", "tcp"} {
			t.Run(tc.name+" over "+network, func(t *testing.T) {
				a := startAgent(t, network)
				var s seen
				m := a.module(t, recordingHandler(&s), Timeout(timeout), CircuitBreaker(0, 0))
				tc.setup(a)
				r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"k":"v"}`))
				r.Header.Set("Content-Type", "application/json")
				start := time.Now()
				w := serve(m, r)
				// Not a performance assertion: a generous bound that only a
				// hang (a call not bounded by the timeout) can exceed.
				assert.Less(t, time.Since(start), timeout+2*time.Second)
				assert.Equal(t, 200, w.Code)
				assert.Equal(t, "ok", w.Body.String())
				assert.Equal(t, `{"k":"v"}`, s.body, "the body survives")
				assert.Equal(t, uint64(1), m.Stats().FailOpen)
			})
		}
	}
}

func TestPooledConnectionsAreReused(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		t.Run("sequential requests share one connection over "+network, func(t *testing.T) {
			a := startAgent(t, network)
			m := a.module(t, okHandler)
			for range 50 {
				serve(m, get("/"))
			}
			assert.Equal(t, int64(51), a.preCalls.Load()+1)
			assert.Equal(t, int64(1), a.accepted.Load(), "ModuleInit and 50 requests over one connection")
			assert.Equal(t, uint64(0), m.Stats().FailOpen)
		})
	}
	t.Run("parallel requests use at most MaxConns connections", func(t *testing.T) {
		a := startAgent(t, "unix")
		m := a.module(t, okHandler, MaxConns(3))
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for range 20 {
					serve(m, get("/"))
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int64(320), a.preCalls.Load())
		assert.LessOrEqual(t, a.accepted.Load(), int64(3))
		assert.Zero(t, m.Stats().FailOpen)
	})
	t.Run("ConnectionPerCall dials for every call", func(t *testing.T) {
		a := startAgent(t, "unix")
		m := a.module(t, okHandler, ConnectionPerCall(true))
		for range 5 {
			serve(m, get("/"))
		}
		assert.Equal(t, int64(6), a.accepted.Load(), "ModuleInit plus one per request")
		assert.Zero(t, m.Stats().RPC.OpenConns)
	})
}

func TestAStalePooledConnectionIsRetriedOnAFreshOne(t *testing.T) {
	a := startAgent(t, "unix")
	var s seen
	m := a.module(t, recordingHandler(&s))
	serve(m, get("/"))
	require.Equal(t, int64(1), a.accepted.Load())

	// The agent restarts: its side of the pooled connection is gone.
	a.mu.Lock()
	a.dropConns()
	a.mu.Unlock()

	s = seen{}
	serve(m, get("/again"))
	assert.Equal(t, "200", s.headers.Get("X-Sigsci-Agentresponse"), "inspected, not failed open")
	assert.Equal(t, int64(2), a.accepted.Load())
	assert.Zero(t, m.Stats().FailOpen)
}

func TestTheCircuitBreakerOpensAndRecovers(t *testing.T) {
	a := startAgent(t, "unix")
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	var s seen
	m := a.module(t, recordingHandler(&s), CircuitBreaker(3, time.Second), Timeout(20*time.Millisecond))
	m.rpc.now = clock.now

	a.setDecide(a.hang)
	for range 3 {
		serve(m, get("/"))
	}
	st := m.Stats()
	require.True(t, st.RPC.BreakerOpen, "three timeouts open the breaker")
	callsWhenOpened := st.RPC.Calls

	serve(m, get("/"))
	st = m.Stats()
	assert.Equal(t, callsWhenOpened, st.RPC.Calls, "an open breaker doesn't call the agent")
	assert.Equal(t, uint64(1), st.RPC.BreakerRejected)
	assert.Equal(t, uint64(4), st.FailOpen)

	a.setDecide(allow)
	serve(m, get("/"))
	assert.Equal(t, uint64(2), m.Stats().RPC.BreakerRejected, "still open before the cooldown")

	clock.advance(time.Second)
	s = seen{}
	serve(m, get("/probe"))
	assert.Equal(t, "200", s.headers.Get("X-Sigsci-Agentresponse"), "the probe is inspected")
	assert.False(t, m.Stats().RPC.BreakerOpen, "a successful probe closes the breaker")

	s = seen{}
	serve(m, get("/after"))
	assert.Equal(t, "200", s.headers.Get("X-Sigsci-Agentresponse"))
}

func TestFastFailuresDoNotOpenTheBreaker(t *testing.T) {
	a := startAgent(t, "unix")
	var s seen
	m := a.module(t, recordingHandler(&s), CircuitBreaker(3, time.Hour))

	a.stop() // connections refused: each request fails open at once
	for range 10 {
		serve(m, get("/"))
	}
	st := m.Stats()
	assert.False(t, st.RPC.BreakerOpen)
	assert.Equal(t, uint64(10), st.FailOpen)

	a.listen()
	serve(m, get("/back"))
	assert.Equal(t, "200", s.headers.Get("X-Sigsci-Agentresponse"), "inspected as soon as the agent is back")
}

func TestAFailedProbeDoublesTheCooldown(t *testing.T) {
	b := newBreaker(1, time.Second)
	t0 := time.Unix(0, 0)
	assert.Equal(t, breakerOpened, b.record(false, t0))
	assert.False(t, b.allow(t0.Add(999*time.Millisecond)))
	assert.True(t, b.allow(t0.Add(time.Second)), "the first call after the cooldown probes")
	assert.False(t, b.allow(t0.Add(time.Second)), "only one probe at a time")
	assert.Equal(t, breakerUnchanged, b.record(false, t0.Add(time.Second)))
	assert.False(t, b.allow(t0.Add(2*time.Second)))
	assert.True(t, b.allow(t0.Add(3*time.Second)), "the next probe waits twice as long")
	assert.Equal(t, breakerClosed, b.record(true, t0.Add(3*time.Second)))
	assert.True(t, b.allow(t0.Add(3*time.Second)))
}

func TestAStreamingHandlerStillStreams(t *testing.T) {
	a := startAgent(t, "unix")
	firstRead := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		require.NoError(t, http.NewResponseController(w).Flush())
		<-firstRead // the client must have the first line before the second is written
		io.WriteString(w, "second\n")
	})
	srv := httptest.NewServer(a.module(t, h))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "first\n", line)
	close(firstRead)
	line, err = br.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "second\n", line)
}

func TestTheWrapperKeepsHijackAndReadFrom(t *testing.T) {
	a := startAgent(t, "unix")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/copy" {
			_, isRF := w.(io.ReaderFrom)
			assert.True(t, isRF)
			io.Copy(w, strings.NewReader("copied"))
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if !assert.NoError(t, err) {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		brw.Flush()
	})
	srv := httptest.NewServer(a.module(t, h))
	defer srv.Close()
	for path, want := range map[string]string{"/copy": "copied", "/hijack": "hijacked"} {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, want, string(b))
	}
}

func TestCloseWaitsForBackgroundCalls(t *testing.T) {
	a := startAgent(t, "unix")
	a.setDecide(func(*RPCMsgIn) (RPCMsgOut, error) { return RPCMsgOut{WAFResponse: 200, RequestID: "x"}, nil })
	m := a.module(t, http.NotFoundHandler())
	for range 10 {
		serve(m, get("/"))
	}
	require.NoError(t, m.Close())
	assert.Len(t, a.updates, 10, "every UpdateRequest was delivered before Close returned")
	w := serve(m, get("/after-close"))
	assert.Equal(t, 404, w.Code, "requests after Close still reach the handler")
}

func TestInvalidOptionsAreReported(t *testing.T) {
	cases := map[string]ModuleConfigOption{
		"socket network":      Socket("udp", "x"),
		"socket address":      Socket("unix", ""),
		"timeout":             Timeout(0),
		"anomaly size":        AnomalySize(0),
		"anomaly duration":    AnomalyDuration(-1),
		"max content length":  MaxContentLength(-1),
		"expected content":    ExpectedContentType("not a type;;"),
		"custom inspector":    CustomInspector(nil, nil, nil),
		"module identifier":   ModuleIdentifier("", "1"),
		"max conns":           MaxConns(0),
		"circuit breaker":     CircuitBreaker(-1, time.Second),
		"breaker no cooldown": CircuitBreaker(2, 0),
	}
	for name, opt := range cases {
		t.Run("an invalid "+name+" is an error", func(t *testing.T) {
			_, err := NewModule(http.NotFoundHandler(), opt)
			assert.ErrorContains(t, err, "module: invalid configuration")
		})
	}
	_, err := NewModule(nil)
	assert.Error(t, err, "a nil handler is an error")
}

// countingInspector is a custom Inspector; it shows the interface is all a
// replacement needs.
type countingInspector struct {
	mu   sync.Mutex
	pres int
}

func (c *countingInspector) ModuleInit(*RPCMsgIn, *RPCMsgOut) error { return nil }
func (c *countingInspector) PreRequest(in *RPCMsgIn, out *RPCMsgOut) error {
	c.mu.Lock()
	c.pres++
	c.mu.Unlock()
	out.WAFResponse = 200
	if strings.Contains(in.URI, "evil") {
		out.WAFResponse = 403
	}
	return nil
}
func (c *countingInspector) PostRequest(*RPCMsgIn, *RPCMsgOut) error    { return nil }
func (c *countingInspector) UpdateRequest(*RPCMsgIn2, *RPCMsgOut) error { return nil }

func TestACustomInspectorAndItsHooks(t *testing.T) {
	insp := &countingInspector{}
	var finis int
	m, err := NewModule(http.NotFoundHandler(), Logger(discardLogger()),
		CustomInspector(insp, func(r *http.Request) bool { return r.URL.Path != "/healthz" }, func(*http.Request) { finis++ }))
	require.NoError(t, err)
	defer m.Close()
	assert.Equal(t, 403, serve(m, get("/evil")).Code)
	assert.Equal(t, 404, serve(m, get("/fine")).Code)
	assert.Equal(t, 404, serve(m, get("/healthz")).Code)
	assert.Equal(t, 2, insp.pres, "the init func excluded /healthz")
	assert.Equal(t, 2, finis)
	st := m.Stats()
	assert.Equal(t, uint64(1), st.Skipped)
	assert.Equal(t, uint64(1), st.Blocked)
	assert.Equal(t, uint64(1), st.Allowed)
}

func TestStatsCountDecisions(t *testing.T) {
	a := startAgent(t, "unix")
	a.setDecide(func(in *RPCMsgIn) (RPCMsgOut, error) {
		if strings.Contains(in.URI, "attack") {
			return RPCMsgOut{WAFResponse: 406}, nil
		}
		return RPCMsgOut{WAFResponse: 200}, nil
	})
	m := a.module(t, okHandler)
	serve(m, get("/"))
	serve(m, get("/attack"))
	require.NoError(t, m.Close()) // the block's PostRequest is done
	st := m.Stats()
	assert.Equal(t, uint64(2), st.Inspected)
	assert.Equal(t, uint64(1), st.Allowed)
	assert.Equal(t, uint64(1), st.Blocked)
	assert.Equal(t, uint64(1), st.PostRequests, "the block was anomalous")
	assert.Equal(t, uint64(4), st.RPC.Calls, "ModuleInit, two PreRequests and a PostRequest")
	assert.Positive(t, st.RPC.LatencyTotal)
	b, err := json.Marshal(st)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"Blocked":1`)
}

func TestModuleInitIsSentAgainAfterTheAgentRestarts(t *testing.T) {
	a := startAgent(t, "unix")
	m := a.module(t, okHandler)
	<-a.inits
	serve(m, get("/"))
	assert.Empty(t, a.inits, "no second ModuleInit while the connection lives")

	a.mu.Lock()
	a.dropConns() // the agent restarted and forgot the module
	a.mu.Unlock()
	serve(m, get("/"))
	select {
	case in := <-a.inits:
		assert.Equal(t, m.Version(), in.ModuleVersion)
	case <-time.After(10 * time.Second):
		t.Fatal("no ModuleInit after the connection was lost")
	}
	require.NoError(t, m.Close())
}

func TestACallQueuedBehindABlockedWriteLeavesAtItsDeadline(t *testing.T) {
	a := startAgent(t, "unix")
	// An agent that accepts but never reads: writes block once the socket
	// buffers fill.
	a.setRaw(func(c net.Conn) { <-a.release; c.Close() })
	const timeout = 50 * time.Millisecond
	ri := NewRPCInspector(RPCInspectorConfig{Network: a.network, Address: a.addr, Timeout: timeout, MaxConns: 1})
	defer ri.Close()
	big := &RPCMsgIn{PostBody: strings.Repeat("x", 1<<20)}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			var out RPCMsgOut
			assert.Error(t, ri.PreRequest(big, &out))
		})
	}
	wg.Wait()
	// Not a performance assertion: without per-call deadlines the k-th
	// caller waited about k timeouts; a generous bound catches that.
	assert.Less(t, ri.Stats().LatencyMax, timeout+500*time.Millisecond)
}
