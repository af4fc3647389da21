package fakeagent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect"
	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// sseEvent is one server-sent event.
type sseEvent struct {
	name, id, data string
}

func (e sseEvent) idNum(t testing.TB) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(e.id, 10, 64)
	require.NoError(t, err, "event id %q", e.id)
	return n
}

func (e sseEvent) record(t testing.TB) FeedRecord {
	t.Helper()
	require.Equal(t, "record", e.name)
	var r FeedRecord
	require.NoError(t, json.Unmarshal([]byte(e.data), &r), e.data)
	return r
}

// parseSSE reads events from r until it ends.
func parseSSE(r *bufio.Reader, events chan<- sseEvent) {
	var ev sseEvent
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if ev.name != "" || ev.data != "" {
				events <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			ev.data += strings.TrimPrefix(line, "data: ")
		}
	}
}

// eventStream is an open GET /events.
type eventStream struct {
	resp   *http.Response
	events chan sseEvent
	done   chan struct{}
}

// openEvents opens the feed of s with the given Last-Event-ID header (none
// when empty) and query.
func openEvents(t testing.TB, s *Server, lastID, query string) *eventStream {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+s.AdminAddr()+"/events"+query, nil)
	require.NoError(t, err)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	st := &eventStream{resp: resp, events: make(chan sseEvent, 1024), done: make(chan struct{})}
	go func() {
		defer close(st.done)
		defer close(st.events)
		parseSSE(bufio.NewReader(resp.Body), st.events)
	}()
	t.Cleanup(st.close)
	return st
}

func (st *eventStream) close() {
	_ = st.resp.Body.Close()
	<-st.done
}

// next returns the next event, failing the test if none comes.
func (st *eventStream) next(t testing.TB) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-st.events:
		require.True(t, ok, "the stream ended")
		return ev
	case <-time.After(callTimeout):
		t.Fatalf("no event within %v", callTimeout)
		return sseEvent{}
	}
}

// nextNamed skips events until one named name.
func (st *eventStream) nextNamed(t testing.TB, name string) sseEvent {
	t.Helper()
	for {
		if ev := st.next(t); ev.name == name {
			return ev
		}
	}
}

// records reads record events until until returns true for one, and
// returns them all; other events are skipped.
func (st *eventStream) records(t testing.TB, until func(FeedRecord) bool) []sseEvent {
	t.Helper()
	var out []sseEvent
	for {
		ev := st.nextNamed(t, "record")
		out = append(out, ev)
		if until(ev.record(t)) {
			return out
		}
	}
}

// hello reads the first events: retry, hello and stats.
func (st *eventStream) hello(t testing.TB) (hello, FeedStats) {
	t.Helper()
	var h hello
	ev := st.next(t)
	require.Equal(t, "hello", ev.name)
	require.NoError(t, json.Unmarshal([]byte(ev.data), &h))
	ev = st.next(t)
	require.Equal(t, "stats", ev.name)
	var fs FeedStats
	require.NoError(t, json.Unmarshal([]byte(ev.data), &fs))
	return h, fs
}

// withEventRing replaces the server's event log with one of size events;
// only before any request is recorded.
func withEventRing(s *Server, size int) {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	s.rec.feed = newEventLog(size)
}

func TestEventsOrdering(t *testing.T) {
	s := Start(t, WithAdminAddress("127.0.0.1:0"))
	<-s.Ready()
	st := openEvents(t, s, "", "")
	h, stats := st.hello(t)
	assert.Equal(t, "blocking", h.Info.Mode)
	assert.False(t, h.Resumed)
	assert.Zero(t, stats.Requests)

	cl := dial(t, s)
	moduleInit(t, cl)
	pre(t, cl, benign())
	out := pre(t, cl, sqli())
	require.NotEmpty(t, out.RequestID)
	var ack int
	require.NoError(t, invoke(t, cl, wire.MethodUpdateRequest, &wire.RPCMsgIn2{
		RequestID: out.RequestID, ResponseCode: 406, ResponseMillis: 1, ResponseSize: 30,
	}, &ack))
	pre(t, cl, request("POST", "/login"))

	evs := st.records(t, func(r FeedRecord) bool { return r.Seq == 3 })
	var lastID uint64
	var seqs []uint64
	latest := map[uint64]FeedRecord{}
	for _, ev := range evs {
		id := ev.idNum(t)
		assert.Greater(t, id, lastID, "event ids increase")
		lastID = id
		r := ev.record(t)
		if _, seen := latest[r.Seq]; !seen {
			seqs = append(seqs, r.Seq)
		}
		latest[r.Seq] = r
	}
	assert.Equal(t, []uint64{1, 2, 3}, seqs, "records arrive in the order they were recorded")

	t.Run("a benign request is allowed, with no update expected", func(t *testing.T) {
		r := latest[1]
		assert.Equal(t, DecisionAllowed, r.Decision)
		assert.Equal(t, int32(200), r.WAFResponse)
		assert.Equal(t, OutcomeNone, r.State)
		assert.Equal(t, "GET", r.Method)
		assert.Equal(t, benignURI, r.URI)
		assert.Equal(t, "192.0.2.10", r.ClientIP)
		assert.Empty(t, r.Signals)
		assert.Positive(t, r.AgentLatency)
	})
	t.Run("an attack is blocked with 406 and updated once its response is reported", func(t *testing.T) {
		r := latest[2]
		assert.Equal(t, DecisionBlocked, r.Decision)
		assert.Equal(t, int32(406), r.WAFResponse)
		assert.Contains(t, r.Signals, "SQLI")
		assert.Equal(t, OutcomeUpdated, r.State)
		assert.Equal(t, int32(406), r.ResponseCode)
		assert.Equal(t, "UpdateRequest", r.ResponseVia)
	})
	t.Run("the counters count what was decided", func(t *testing.T) {
		fs := st.nextNamed(t, "stats")
		var got FeedStats
		require.NoError(t, json.Unmarshal([]byte(fs.data), &got))
		assert.Equal(t, uint64(3), got.Requests)
		assert.Equal(t, uint64(2), got.Decisions[DecisionAllowed])
		assert.Equal(t, uint64(1), got.Decisions[DecisionBlocked])
		assert.Equal(t, uint64(1), got.Signals["SQLI"])
		require.NotEmpty(t, got.TopSignals)
		assert.Equal(t, 3, got.Latency.Count)
		assert.Positive(t, got.Latency.P50)
	})
}

func TestEventsResume(t *testing.T) {
	s := Start(t, WithAdminAddress("127.0.0.1:0"))
	<-s.Ready()
	withEventRing(s, 8)
	cl := dial(t, s)
	moduleInit(t, cl)
	send := func(n int) {
		for range n {
			pre(t, cl, benign())
		}
	}

	send(3)
	first := openEvents(t, s, "", "")
	first.hello(t)
	evs := first.records(t, func(r FeedRecord) bool { return r.Seq == 3 })
	require.Len(t, evs, 3, "a new client gets the recent events")
	assert.Equal(t, "3", evs[2].id)
	first.close()

	send(2)
	t.Run("a client that reconnects with Last-Event-ID gets what it missed, once", func(t *testing.T) {
		st := openEvents(t, s, "3", "")
		h, _ := st.hello(t)
		assert.True(t, h.Resumed)
		evs := st.records(t, func(r FeedRecord) bool { return r.Seq == 5 })
		require.Len(t, evs, 2)
		assert.Equal(t, "4", evs[0].id)
		assert.Equal(t, uint64(4), evs[0].record(t).Seq)
		assert.Equal(t, "5", evs[1].id)
	})

	send(10) // events 6..15: the ring of 8 keeps 8..15
	t.Run("a client that resumes from beyond the ring is told what it missed", func(t *testing.T) {
		st := openEvents(t, s, "3", "")
		h, _ := st.hello(t)
		assert.True(t, h.Resumed)
		ev := st.next(t)
		require.Equal(t, "dropped", ev.name, ev.data)
		var d struct{ Missed, Resume uint64 }
		require.NoError(t, json.Unmarshal([]byte(ev.data), &d))
		assert.Equal(t, uint64(4), d.Missed, "events 4 to 7 are gone")
		assert.Equal(t, uint64(8), d.Resume)
		evs := st.records(t, func(r FeedRecord) bool { return r.Seq == 15 })
		assert.Len(t, evs, 8)
		assert.Equal(t, "8", evs[0].id)
	})
	t.Run("a Last-Event-ID this agent never gave (it restarted) starts afresh", func(t *testing.T) {
		st := openEvents(t, s, "999", "?backlog=2")
		h, _ := st.hello(t)
		assert.False(t, h.Resumed)
		evs := st.records(t, func(r FeedRecord) bool { return r.Seq == 15 })
		require.Len(t, evs, 2)
		assert.Equal(t, "14", evs[0].id)
	})
}

// gatedWriter is a client that stops reading: Flush blocks until the gate
// opens. It tells each flush on flushed.
type gatedWriter struct {
	header  http.Header
	gate    chan struct{}
	flushed chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (w *gatedWriter) Header() http.Header { return w.header }
func (w *gatedWriter) WriteHeader(int)     {}
func (w *gatedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *gatedWriter) Flush() {
	select {
	case w.flushed <- struct{}{}:
	default:
	}
	<-w.gate
}

func (w *gatedWriter) events() []sseEvent {
	w.mu.Lock()
	b := bytes.Clone(w.buf.Bytes())
	w.mu.Unlock()
	ch := make(chan sseEvent, 1024)
	parseSSE(bufio.NewReader(bytes.NewReader(b)), ch)
	close(ch)
	var out []sseEvent
	for ev := range ch {
		out = append(out, ev)
	}
	return out
}

func TestEventsSlowClient(t *testing.T) {
	s := Start(t)
	<-s.Ready()
	withEventRing(s, 8)
	w := &gatedWriter{header: http.Header{}, gate: make(chan struct{}), flushed: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan struct{})
	go func() {
		defer close(served)
		s.AdminHandler().ServeHTTP(w, httptest.NewRequestWithContext(ctx, "GET", "/events?backlog=0", nil))
	}()
	select {
	case <-w.flushed: // the client is stuck in its first flush
	case <-time.After(callTimeout):
		t.Fatal("the stream never flushed")
	}

	cl := dial(t, s)
	moduleInit(t, cl)
	for i := range 20 {
		// pre fails the test if a call is not answered within callTimeout:
		// inspection does not wait for the stuck client.
		out := pre(t, cl, benign())
		require.Equal(t, int32(200), out.WAFResponse, "request %d", i+1)
	}

	close(w.gate)
	var evs []sseEvent
	for done := false; !done; {
		select {
		case <-w.flushed:
		case <-time.After(callTimeout):
			t.Fatalf("the stream did not catch up; so far: %v", w.events())
		}
		evs = w.events()
		for _, ev := range evs {
			if ev.name == "record" && ev.id == "20" {
				done = true
			}
		}
	}
	cancel()
	<-served

	var names []string
	var dropped sseEvent
	var ids []string
	for _, ev := range evs {
		names = append(names, ev.name)
		switch ev.name {
		case "dropped":
			dropped = ev
		case "record":
			ids = append(ids, ev.id)
		}
	}
	require.NotEmpty(t, dropped.data, "the client is told it missed events: %v", names)
	var d struct{ Missed, Resume uint64 }
	require.NoError(t, json.Unmarshal([]byte(dropped.data), &d))
	assert.Equal(t, uint64(12), d.Missed, "20 events, 8 kept")
	assert.Equal(t, uint64(13), d.Resume)
	assert.Equal(t, []string{"13", "14", "15", "16", "17", "18", "19", "20"}, ids, "then the events kept, in order")
}

func TestEventsBurst(t *testing.T) {
	s := Start(t)
	<-s.Ready()
	w := &gatedWriter{header: http.Header{}, gate: make(chan struct{}), flushed: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan struct{})
	go func() {
		defer close(served)
		s.AdminHandler().ServeHTTP(w, httptest.NewRequestWithContext(ctx, "GET", "/events?backlog=0", nil))
	}()
	select {
	case <-w.flushed:
	case <-time.After(callTimeout):
		t.Fatal("the stream never flushed")
	}
	cl := dial(t, s)
	moduleInit(t, cl)
	const sent = eventBurst + 50
	for range sent {
		pre(t, cl, benign())
	}
	close(w.gate)
	want := strconv.Itoa(sent)
	var evs []sseEvent
	for done := false; !done; {
		select {
		case <-w.flushed:
		case <-time.After(callTimeout):
			t.Fatalf("the stream did not catch up")
		}
		evs = w.events()
		done = slices.ContainsFunc(evs, func(ev sseEvent) bool { return ev.name == "record" && ev.id == want })
	}
	cancel()
	<-served
	var records int
	var missed uint64
	for _, ev := range evs {
		switch ev.name {
		case "record":
			records++
		case "dropped":
			var d struct{ Missed uint64 }
			require.NoError(t, json.Unmarshal([]byte(ev.data), &d))
			missed += d.Missed
		}
	}
	assert.Equal(t, eventBurst, records, "a client far behind gets the newest eventBurst changes")
	assert.Equal(t, uint64(sent-eventBurst), missed, "and is told how many it skipped")
}

func TestEventsEndAtShutdown(t *testing.T) {
	s := Start(t, WithAdminAddress("127.0.0.1:0"))
	<-s.Ready()
	st := openEvents(t, s, "", "")
	st.hello(t)
	shutdown(t, s)
	select {
	case <-st.done:
	case <-time.After(callTimeout):
		t.Fatal("the stream is still open after shutdown")
	}
}

func TestDecisionOf(t *testing.T) {
	for _, c := range []struct {
		name string
		rec  Record
		want string
	}{
		{"200 is allowed", Record{Pre: true, Out: wire.RPCMsgOut{WAFResponse: 200}}, DecisionAllowed},
		{"406 is blocked", Record{Pre: true, Out: wire.RPCMsgOut{WAFResponse: 406}}, DecisionBlocked},
		{"a block the module answered is blocked", Record{Pre: true, Out: wire.RPCMsgOut{WAFResponse: 406},
			Response: &Response{Via: "UpdateRequest", ResponseCode: 406}}, DecisionBlocked},
		{"a block the module did not answer failed open", Record{Pre: true, Out: wire.RPCMsgOut{WAFResponse: 406},
			Response: &Response{Via: "UpdateRequest", ResponseCode: 200}}, DecisionFailedOpen},
		{"302 is redirected", Record{Pre: true, Out: wire.RPCMsgOut{WAFResponse: 302}}, DecisionRedirected},
		{"an injected error failed open", Record{Pre: true, Fault: "error"}, DecisionFailedOpen},
		{"a WAFResponse no module acts on failed open", Record{Pre: true, Out: wire.RPCMsgOut{WAFResponse: 0}}, DecisionFailedOpen},
		{"a PostRequest alone has no decision", Record{Pre: false}, DecisionPostOnly},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, why := decisionOf(&c.rec)
			assert.Equal(t, c.want, got)
			if got == DecisionFailedOpen {
				assert.NotEmpty(t, why)
			}
		})
	}
}

func TestEventsCountUnenforcedBlocksAsFailedOpen(t *testing.T) {
	s := Start(t, WithAdminAddress("127.0.0.1:0"))
	<-s.Ready()
	cl := dial(t, s)
	moduleInit(t, cl)
	out := pre(t, cl, sqli())
	var ack int
	require.NoError(t, invoke(t, cl, wire.MethodUpdateRequest, &wire.RPCMsgIn2{
		RequestID: out.RequestID, ResponseCode: 200, ResponseMillis: 1, ResponseSize: 30,
	}, &ack))
	st := openEvents(t, s, "", "")
	_, stats := st.hello(t)
	assert.Equal(t, uint64(0), stats.Decisions[DecisionBlocked])
	assert.Equal(t, uint64(1), stats.Decisions[DecisionFailedOpen])
	assert.Equal(t, uint64(1), stats.Unenforced)
	r := st.nextNamed(t, "record").record(t)
	assert.Equal(t, DecisionFailedOpen, r.Decision)
	assert.Contains(t, r.Why, "reported a 200 response")
}

func TestDashboardRoutes(t *testing.T) {
	s := Start(t, WithAdminAddress("127.0.0.1:0"), WithMode(detect.ModeNotBlocking))
	<-s.Ready()
	base := "http://" + s.AdminAddr()
	cl := dial(t, s)
	moduleInit(t, cl)
	pre(t, cl, benign())

	for _, c := range []struct {
		name, path string
		status     int
		contains   string
	}{
		{"the page is at /", "/", 200, `<script src="/dashboard/app.js"`},
		{"and at /dashboard", "/dashboard", 200, `id="rows"`},
		{"its script is served", "/dashboard/app.js", 200, "new EventSource"},
		{"its style sheet is served", "/dashboard/app.css", 200, "prefers-color-scheme: dark"},
		{"info tells the mode", "/info", 200, `"mode": "not-blocking"`},
		{"one request is served whole", "/requests/1", 200, `"URI": "` + benignURI + `"`},
		{"a request not kept is not found", "/requests/99", 404, "not (or no longer) recorded"},
		{"a bad sequence number is refused", "/requests/x", 400, "seq"},
		{"a bad backlog is refused", "/events?backlog=-1", 400, "backlog"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := httpGet(t, base+c.path)
			assert.Equal(t, c.status, status, body)
			assert.Contains(t, body, c.contains)
		})
	}
	t.Run("the page allows nothing from elsewhere", func(t *testing.T) {
		resp, err := http.Get(base + "/")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'")
		assert.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	})
}

// BenchmarkRecordWithFeedClients is the cost that the feed adds to
// recording a request, with no client and with a client that reads
// nothing.
func BenchmarkRecordWithFeedClients(b *testing.B) {
	for _, clients := range []int{0, 1, 4} {
		b.Run("clients="+strconv.Itoa(clients), func(b *testing.B) {
			r := newRecorder(realClock{}, time.Minute, DefaultRecentRequests, DefaultMaxPending, newMetrics("bench", "blocking"))
			for range clients {
				r.subscribe(0, 0)
			}
			in := benign()
			b.ReportAllocs()
			for b.Loop() {
				r.addPre(&Record{Pre: true, In: redactIn(in, false), Out: wire.RPCMsgOut{WAFResponse: 200}}, in, nil)
			}
		})
	}
}

// BenchmarkPreRequestWithDashboard is BenchmarkPreRequest's shared
// connection case with no dashboard and with one following /events.
func BenchmarkPreRequestWithDashboard(b *testing.B) {
	for _, clients := range []int{0, 1} {
		b.Run("dashboards="+strconv.Itoa(clients), func(b *testing.B) {
			s := Start(b, WithAdminAddress("127.0.0.1:0"))
			<-s.Ready()
			for range clients {
				st := openEvents(b, s, "", "")
				go func() {
					for range st.events { // read everything, as a browser does
					}
				}()
			}
			cl := dial(b, s)
			moduleInit(b, cl)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				in := benign()
				for pb.Next() {
					var out wire.RPCMsgOut
					if err := cl.Call(wire.MethodPreRequest, in, &out); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
