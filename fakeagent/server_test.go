package fakeagent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"net/rpc"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect"
	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

var requestIDPattern = regexp.MustCompile(`^[0-9a-f]{24}$`)

func TestRoundTrips(t *testing.T) {
	networks := []struct {
		name string
		opts []Option
	}{
		{"unix socket", nil},
		{"tcp", []Option{WithTCP()}},
	}
	cases := []struct {
		name      string
		mode      detect.Mode
		in        func() *wire.RPCMsgIn
		status    int32
		requestID bool
		tag       string // expected in X-Sigsci-Tags; "" means no tags header
	}{
		{"a benign request is allowed without a RequestID", detect.ModeBlocking, benign, 200, false, ""},
		{"SQL injection is blocked with 406, a RequestID and the SQLI tag", detect.ModeBlocking, sqli, 406, true, "SQLI"},
		{"SQL injection is allowed but tagged in not-blocking mode", detect.ModeNotBlocking, sqli, 200, true, "SQLI"},
		{"nothing is inspected in off mode", detect.ModeOff, sqli, 200, false, ""},
	}
	for _, n := range networks {
		t.Run(n.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					s := Start(t, append([]Option{WithMode(tc.mode)}, n.opts...)...)
					assert.Equal(t, n.name == "tcp", s.Network() == "tcp")
					cl := dial(t, s)
					assert.Equal(t, int32(200), moduleInit(t, cl).WAFResponse)

					out := pre(t, cl, tc.in())

					assert.Equal(t, tc.status, out.WAFResponse)
					if tc.requestID {
						assert.Regexp(t, requestIDPattern, out.RequestID)
					} else {
						assert.Empty(t, out.RequestID)
					}
					tags := tagsOf(out.RequestHeaders)
					if tc.tag == "" {
						assert.Empty(t, tags)
					} else {
						assert.Contains(t, tags, tc.tag)
					}
					rec := recordOf(t, s)
					assert.Equal(t, out, rec.Out)
					assert.Equal(t, tags, rec.Signals)
					assert.Equal(t, tc.in().URI, rec.In.URI)
					assert.Empty(t, rec.Deviations)
					assert.Positive(t, rec.AgentLatency)
				})
			}
		})
	}
}

func TestRequestIDsAreUnique(t *testing.T) {
	s := Start(t)
	cl := dial(t, s)
	moduleInit(t, cl)
	seen := make(map[string]bool)
	for range 20 {
		id := pre(t, cl, sqli()).RequestID
		require.Regexp(t, requestIDPattern, id)
		assert.False(t, seen[id], "RequestID %s given twice", id)
		seen[id] = true
	}
}

func TestUpdateRequestCompletesThePendingRequest(t *testing.T) {
	clock := NewManualClock(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	s := Start(t, WithClock(clock))
	cl := dial(t, s)
	moduleInit(t, cl)
	out := pre(t, cl, sqli())
	require.NotEmpty(t, out.RequestID)
	require.Equal(t, OutcomePending, recordOf(t, s).Outcome)
	require.EqualValues(t, 1, s.Stats().Pending)

	clock.Advance(1500 * time.Millisecond)
	var ack int
	require.NoError(t, invoke(t, cl, wire.MethodUpdateRequest, &wire.RPCMsgIn2{
		RequestID:      out.RequestID,
		ResponseCode:   406,
		ResponseMillis: 2,
		ResponseSize:   42,
		HeadersOut:     [][2]string{{"Content-Type", "text/plain"}},
	}, &ack))

	rec := recordOf(t, s)
	assert.Equal(t, OutcomeUpdated, rec.Outcome)
	require.NotNil(t, rec.Response)
	assert.Equal(t, methodUpdateRequest, rec.Response.Via)
	assert.Equal(t, int32(406), rec.Response.ResponseCode)
	assert.Equal(t, int64(42), rec.Response.ResponseSize)
	assert.Equal(t, 1500*time.Millisecond, rec.Response.After)
	assert.Equal(t, detect.ResponseSignals(406), rec.Response.Signals)
	assert.Empty(t, rec.Deviations)
	st := s.Stats()
	assert.Zero(t, st.Pending)
	assert.EqualValues(t, 1, st.Updated)

	t.Run("a second update for the same RequestID is an unknown RequestID", func(t *testing.T) {
		require.NoError(t, invoke(t, cl, wire.MethodUpdateRequest, &wire.RPCMsgIn2{RequestID: out.RequestID, ResponseCode: 406}, &ack))
		assert.EqualValues(t, 1, s.Stats().Deviations[DeviationUnknownRequestID])
		assert.Equal(t, OutcomeUpdated, recordOf(t, s).Outcome)
	})
}

func TestPendingRequestExpiresAfterTheUpdateExpiry(t *testing.T) {
	clock := NewManualClock(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	s := Start(t, WithClock(clock))
	cl := dial(t, s)
	moduleInit(t, cl)
	out := pre(t, cl, sqli())
	require.NotEmpty(t, out.RequestID)

	clock.Advance(DefaultUpdateExpiry - time.Millisecond)
	assert.Equal(t, OutcomePending, recordOf(t, s).Outcome, "just before the expiry")

	clock.Advance(time.Millisecond)
	s.rec.sweep() // what the ticker does; serving /metrics does not sweep
	metrics := httptest.NewRecorder()
	s.AdminHandler().ServeHTTP(metrics, httptest.NewRequest("GET", "/metrics", nil))
	assert.Contains(t, metrics.Body.String(), "\nfakeagent_expired_updates_total 1\n")
	assert.Contains(t, metrics.Body.String(), "\nfakeagent_pending_updates 0\n")
	rec := recordOf(t, s)
	assert.Equal(t, OutcomeExpired, rec.Outcome)
	assert.Equal(t, "no update within 10s", rec.Note)
	assert.Equal(t, []Deviation{DeviationRequestIDNotUpdated}, rec.Deviations)
	st := s.Stats()
	assert.Zero(t, st.Pending)
	assert.EqualValues(t, 1, st.Expired)

	var ack int
	require.NoError(t, invoke(t, cl, wire.MethodUpdateRequest, &wire.RPCMsgIn2{RequestID: out.RequestID, ResponseCode: 200}, &ack))
	assert.EqualValues(t, 1, s.Stats().Deviations[DeviationUnknownRequestID], "a late update is unknown")
}

func TestPendingRequestsAreBounded(t *testing.T) {
	s := Start(t, Option(func(c *Config) { c.MaxPending = 2 }))
	cl := dial(t, s)
	moduleInit(t, cl)
	for range 3 {
		pre(t, cl, sqli())
	}
	recs := s.Requests()
	require.Len(t, recs, 3)
	assert.Equal(t, OutcomeEvicted, recs[0].Outcome)
	assert.Contains(t, recs[0].Note, "more than 2 requests were pending")
	assert.Equal(t, OutcomePending, recs[1].Outcome)
	assert.Equal(t, OutcomePending, recs[2].Outcome)
	st := s.Stats()
	assert.EqualValues(t, 2, st.Pending)
	assert.EqualValues(t, 1, st.Evicted)
}

func TestRecordsAreARingOfTheLastRequests(t *testing.T) {
	s := Start(t, WithRecentRequests(3))
	cl := dial(t, s)
	moduleInit(t, cl)
	for i := range 5 {
		pre(t, cl, request("GET", fmt.Sprintf("/page/%d", i)))
	}
	recs := s.Requests()
	require.Len(t, recs, 3)
	for i, rec := range recs {
		assert.Equal(t, uint64(i+3), rec.Seq)
		assert.Equal(t, fmt.Sprintf("/page/%d", i+2), rec.In.URI)
	}
	assert.Len(t, s.rec.snapshot(2), 2)
	assert.Equal(t, "/page/4", s.rec.snapshot(1)[0].In.URI)
}

func TestPostRequest(t *testing.T) {
	t.Run("is attached to the PreRequest it follows", func(t *testing.T) {
		s := Start(t)
		cl := dial(t, s)
		moduleInit(t, cl)
		in := request("GET", "/missing")
		require.Empty(t, pre(t, cl, in).RequestID)
		var ack int
		require.NoError(t, invoke(t, cl, wire.MethodPostRequest, post(in, 404), &ack))

		rec := recordOf(t, s)
		assert.True(t, rec.Pre)
		assert.Equal(t, OutcomePosted, rec.Outcome)
		require.NotNil(t, rec.Response)
		assert.Equal(t, methodPostRequest, rec.Response.Via)
		assert.Equal(t, int32(404), rec.Response.ResponseCode)
		assert.Equal(t, detect.ResponseSignals(404), rec.Response.Signals)
		assert.EqualValues(t, 1, s.Stats().Posted)
	})
	t.Run("without a PreRequest is recorded on its own", func(t *testing.T) {
		s := Start(t)
		cl := dial(t, s)
		moduleInit(t, cl)
		var ack int
		require.NoError(t, invoke(t, cl, wire.MethodPostRequest, post(request("GET", "/boom"), 500), &ack))

		rec := recordOf(t, s)
		assert.False(t, rec.Pre)
		assert.Equal(t, OutcomePosted, rec.Outcome)
		assert.Equal(t, "/boom", rec.In.URI)
		assert.Equal(t, detect.ResponseSignals(500), rec.Response.Signals)
	})
}

func TestDeciderScriptsTheReply(t *testing.T) {
	reply := wire.RPCMsgOut{
		WAFResponse:    302,
		RequestID:      "scripted-1",
		RequestHeaders: [][2]string{{"X-Sigsci-Tags", "SITE.TEST, XSS"}, {"X-Sigsci-Redirect", "https://example.com/"}},
		RespActions:    []wire.Action{{Code: wire.AddHdr, Args: []string{"X-Test", "1"}}},
	}
	var got *wire.RPCMsgIn
	var mu sync.Mutex
	s := Start(t, WithDecider(func(in *wire.RPCMsgIn) wire.RPCMsgOut {
		mu.Lock()
		defer mu.Unlock()
		got = in
		return reply
	}))
	cl := dial(t, s)
	moduleInit(t, cl)
	in := benign()
	in.PostBody = "a=b"

	assert.Equal(t, reply, pre(t, cl, in))
	mu.Lock()
	assert.Equal(t, "a=b", got.PostBody)
	mu.Unlock()
	rec := recordOf(t, s)
	assert.Equal(t, []string{"SITE.TEST", "XSS"}, rec.Signals)
	assert.Equal(t, OutcomePending, rec.Outcome)

	var ack int
	require.NoError(t, invoke(t, cl, wire.MethodUpdateRequest, &wire.RPCMsgIn2{RequestID: "scripted-1", ResponseCode: 302}, &ack))
	assert.Equal(t, OutcomeUpdated, recordOf(t, s).Outcome)
}

func TestManyCallsOnOneConnection(t *testing.T) {
	s := Start(t)
	cl := dial(t, s)
	moduleInit(t, cl)
	const n = 50
	calls := make([]*rpc.Call, n)
	for i := range calls {
		in := benign()
		if i%2 == 1 {
			in = sqli()
		}
		calls[i] = cl.Go(wire.MethodPreRequest, in, new(wire.RPCMsgOut), make(chan *rpc.Call, 1))
	}
	for i, c := range calls {
		select {
		case <-c.Done:
		case <-time.After(callTimeout):
			t.Fatalf("call %d: no reply", i)
		}
		require.NoError(t, c.Error)
		out := c.Reply.(*wire.RPCMsgOut)
		if i%2 == 1 {
			assert.Equal(t, int32(406), out.WAFResponse, "call %d", i)
		} else {
			assert.Equal(t, int32(200), out.WAFResponse, "call %d", i)
		}
	}
	st := s.Stats()
	assert.EqualValues(t, 1, st.Connections)
	assert.EqualValues(t, n, st.Calls[methodPreRequest])
}

func TestConnectionPerCall(t *testing.T) {
	s := Start(t, WithTCP())
	const n = 20
	for i := range n {
		nc, err := net.DialTimeout(s.Network(), s.Addr(), callTimeout)
		require.NoError(t, err)
		cl := rpc.NewClientWithCodec(wire.NewClientCodec(nc))
		if i == 0 {
			moduleInit(t, cl)
		} else {
			assert.Equal(t, int32(200), pre(t, cl, benign()).WAFResponse)
		}
		require.NoError(t, cl.Close())
	}
	st := s.Stats()
	assert.EqualValues(t, n, st.Connections)
	assert.EqualValues(t, n-1, st.Calls[methodPreRequest])
	require.Len(t, st.Modules, 1)
	assert.EqualValues(t, 1, st.Modules[0].Inits)
	assert.EqualValues(t, n-1, st.Modules[0].PreRequests, "requests on other connections count for the module")
}

func TestConcurrentClients(t *testing.T) {
	for _, network := range []struct {
		name string
		opts []Option
	}{{"unix socket", nil}, {"tcp", []Option{WithTCP()}}} {
		t.Run(network.name, func(t *testing.T) {
			s := Start(t, network.opts...)
			moduleInit(t, dial(t, s))
			const clients, callsEach = 8, 25
			var wg sync.WaitGroup
			errs := make(chan error, clients*callsEach)
			for c := range clients {
				wg.Go(func() {
					shared := c%2 == 0 // half share a connection, half dial per call
					var cl *rpc.Client
					for i := range callsEach {
						if cl == nil {
							nc, err := net.DialTimeout(s.Network(), s.Addr(), callTimeout)
							if err != nil {
								errs <- err
								return
							}
							cl = rpc.NewClientWithCodec(wire.NewClientCodec(nc))
						}
						in, want := benign(), int32(200)
						if i%3 == 0 {
							in, want = sqli(), 406
						}
						var out wire.RPCMsgOut
						if err := cl.Call(wire.MethodPreRequest, in, &out); err != nil {
							errs <- err
						} else if out.WAFResponse != want {
							errs <- fmt.Errorf("client %d call %d: WAFResponse %d, want %d", c, i, out.WAFResponse, want)
						}
						if !shared {
							_ = cl.Close()
							cl = nil
						}
					}
					if cl != nil {
						_ = cl.Close()
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			assert.EqualValues(t, clients*callsEach, s.Stats().Calls[methodPreRequest])
		})
	}
}

func TestGracefulShutdownFinishesCallsInFlight(t *testing.T) {
	clock := NewManualClock(time.Now())
	s := Start(t, WithClock(clock), WithFaults(Faults{Latency: 50 * time.Millisecond, Methods: []string{"PreRequest"}}))
	busy, idle := dial(t, s), dialRaw(t, s)
	moduleInit(t, busy)

	call := busy.Go(wire.MethodPreRequest, sqli(), new(wire.RPCMsgOut), make(chan *rpc.Call, 1))
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	require.NoError(t, clock.WaitForSleepers(ctx, 1))

	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()

	// The idle connection is closed, ...
	require.NoError(t, idle.SetReadDeadline(time.Now().Add(callTimeout)))
	_, err := idle.Read(make([]byte, 1))
	require.Error(t, err)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
	// ... new connections are refused, ...
	_, err = net.DialTimeout(s.Network(), s.Addr(), callTimeout)
	require.Error(t, err)
	// ... and the call in flight still gets its reply.
	select {
	case <-call.Done:
		t.Fatal("the call finished before its latency elapsed")
	default:
	}
	clock.Advance(50 * time.Millisecond)
	<-call.Done
	require.NoError(t, call.Error)
	assert.Equal(t, int32(406), call.Reply.(*wire.RPCMsgOut).WAFResponse)
	require.NoError(t, <-done)
}

func TestShutdownAfterDeadlineCutsCallsOff(t *testing.T) {
	clock := NewManualClock(time.Now())
	s := Start(t, WithClock(clock), WithFaults(Faults{Latency: time.Hour, Methods: []string{"PreRequest"}}))
	cl := dial(t, s)
	call := cl.Go(wire.MethodPreRequest, benign(), new(wire.RPCMsgOut), make(chan *rpc.Call, 1))
	wait, cancelWait := context.WithTimeout(context.Background(), callTimeout)
	defer cancelWait()
	require.NoError(t, clock.WaitForSleepers(wait, 1))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Shutdown(ctx)
	require.ErrorIs(t, err, context.Canceled)
	<-call.Done
	require.Error(t, call.Error)
}

func TestServeReturnsWhenItsContextIsCancelled(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{Address: shortSocketPath(t), SharedCacheDir: dir})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	<-s.Ready()
	cl := dial(t, s)
	moduleInit(t, cl)

	cancel()
	require.NoError(t, <-served)
	assert.ErrorIs(t, s.Serve(context.Background()), ErrServerClosed)
	assert.ErrorIs(t, s.Listen(), ErrServerClosed)
	require.NoError(t, s.Shutdown(context.Background()), "a second Shutdown returns the first one's result")
	require.NoError(t, s.Close())
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown mode", Config{Mode: "loud"}, "Mode"},
		{"bad tcp address", Config{Address: "localhost"}, "Address"},
		{"unknown network", Config{Network: "udp", Address: "x:1"}, "Network"},
		{"error rate above 1", Config{Faults: Faults{ErrorRate: 1.5}}, "ErrorRate"},
		{"rates adding up to more than 1", Config{Faults: Faults{ErrorRate: 0.6, DropRate: 0.6}}, "more than 1"},
		{"negative latency", Config{Faults: Faults{Latency: -1}}, "latency"},
		{"unknown fault method", Config{Faults: Faults{Methods: []string{"Foo"}}}, "Foo"},
		{"negative expiry", Config{UpdateExpiry: -time.Second}, "UpdateExpiry"},
		{"negative message size", Config{MaxMessageSize: -1}, "MaxMessageSize"},
		{"bad admin address", Config{AdminAddress: "nope"}, "AdminAddress"},
		{"rules and a rules file", Config{Rules: []detect.Rule{}, RulesFile: "x.yaml"}, "not both"},
		{"missing rules file", Config{RulesFile: "/nonexistent/rules.yaml"}, "rules"},
		{"required credentials missing", Config{RequireCredentials: true, AccessKeyID: "id"}, "credentials"},
		{"socket mode with non-permission bits", Config{SocketMode: os.ModeDir | 0o600}, "SocketMode"},
		{"a rule that does not validate", Config{Rules: []detect.Rule{{ID: "bad", Action: detect.RuleAction{Type: "explode"}}}}, `rule 0 ("bad")`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestParseAddress(t *testing.T) {
	cases := []struct {
		in, network, address string
		bad                  bool
	}{
		{in: "/sigsci/tmp/sigsci.sock", network: "unix", address: "/sigsci/tmp/sigsci.sock"},
		{in: "unix:/tmp/a.sock", network: "unix", address: "/tmp/a.sock"},
		{in: "./rel/a.sock", network: "unix", address: "./rel/a.sock"},
		{in: "127.0.0.1:8888", network: "tcp", address: "127.0.0.1:8888"},
		{in: "tcp:localhost:8888", network: "tcp", address: "localhost:8888"},
		{in: ":8888", network: "tcp", address: ":8888"},
		{in: "[::1]:8888", network: "tcp", address: "[::1]:8888"},
		{in: "", bad: true},
		{in: "unix:", bad: true},
		{in: "localhost", bad: true},
		{in: "tcp:localhost", bad: true},
		{in: "localhost:http", bad: true},
		{in: "localhost:70000", bad: true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			network, address, err := ParseAddress(tc.in)
			if tc.bad {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.network, network)
			assert.Equal(t, tc.address, address)
		})
	}
}

func TestRulesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`
- id: block-admin
  conditions:
    - {field: path, op: prefix, value: /admin}
  action: {type: block, code: 403}
`), 0o644))
	s := Start(t, WithRulesFile(path))
	cl := dial(t, s)
	moduleInit(t, cl)

	assert.Equal(t, int32(403), pre(t, cl, request("GET", "/admin/users")).WAFResponse)
	assert.Equal(t, "block-admin", recordOf(t, s).Rule)
}

func TestUpdateExpiryIsConfigurable(t *testing.T) {
	clock := NewManualClock(time.Now())
	s := Start(t, WithClock(clock), WithUpdateExpiry(2*time.Second))
	cl := dial(t, s)
	moduleInit(t, cl)
	pre(t, cl, sqli())
	clock.Advance(2 * time.Second)
	rec := recordOf(t, s)
	assert.Equal(t, OutcomeExpired, rec.Outcome)
	assert.Equal(t, "no update within 2s", rec.Note)
}

func TestRulesInCode(t *testing.T) {
	s := Start(t, WithRules([]detect.Rule{{
		ID:         "block-old-api",
		Conditions: []detect.Condition{{Field: detect.FieldPath, Op: detect.OpPrefix, Value: "/v1/"}},
		Action:     detect.RuleAction{Type: detect.ActionBlock, Code: 410},
	}}))
	cl := dial(t, s)
	moduleInit(t, cl)
	assert.Equal(t, int32(410), pre(t, cl, request("GET", "/v1/users")).WAFResponse)
	assert.Equal(t, int32(200), pre(t, cl, request("GET", "/v2/users")).WAFResponse)
}

func TestTemporaryAcceptErrors(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{&net.OpError{Op: "accept", Err: os.NewSyscallError("accept", syscall.EMFILE)}, true},
		{&net.OpError{Op: "accept", Err: os.NewSyscallError("accept", syscall.ECONNABORTED)}, true},
		{&net.OpError{Op: "accept", Err: os.ErrDeadlineExceeded}, true},
		{net.ErrClosed, false},
		{errors.New("boom"), false},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, isTemporaryAcceptError(tc.err), "%v", tc.err)
	}
}
