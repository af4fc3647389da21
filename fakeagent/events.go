package fakeagent

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// The feed behind GET /events: a server-sent event stream of the recorded
// requests as they are decided and as their lifecycle moves on, and of the
// counters the dashboard draws.
//
// The recorder numbers every change of a record as an event (1, 2, ...)
// and keeps the record's Seq for the last eventRingSize of them. A client
// is a cursor into that ring: writing to it happens on its own goroutine,
// which reads the records changed since its cursor under the recorder's
// mutex and writes them outside it. Inspection only appends to the ring
// and wakes the clients without waiting, so a slow or stuck client never
// slows it down; a client that falls more than the ring behind (or behind
// the records still kept) skips ahead and is told how many events it
// missed with a "dropped" event. Under load a client is also sent at most
// the newest eventBurst changes per write, about 2,000 a second, so that
// the cost of an open dashboard stays bounded whatever the request rate;
// the counters are the agent's own, so they stay exact. The id of every record event is its
// event number, so that a browser's EventSource resumes after a
// reconnection with Last-Event-ID from where it was, as long as the ring
// still holds it.
//
// A record event carries the record's state when it is written, not when
// it changed: a record that changed twice before a client caught up is
// written once, with both changes applied.

const (
	// eventRingSize bounds the events kept for clients that are behind and
	// for resumption with Last-Event-ID.
	eventRingSize = 4096
	// eventBacklog is how many past events a new client (one without
	// Last-Event-ID) is sent, so that the dashboard opens with the
	// recent requests on it.
	eventBacklog = 500
	// eventBatch bounds the records copied under the recorder's mutex at a
	// time.
	eventBatch = 128
	// eventBurst bounds the changes written to a client at a time, after
	// the first write (the backlog, or what a resumed client missed): a
	// client further behind skips to the newest eventBurst.
	eventBurst = 100
	// eventCoalesce is how long a client waits after being woken before
	// writing, so that under load it writes many events per system call
	// instead of one.
	eventCoalesce = 50 * time.Millisecond
	// eventStatsInterval is how often a client is sent the counters.
	eventStatsInterval = time.Second
	// eventWriteTimeout bounds one write to a client; a client that takes
	// longer is disconnected (its EventSource reconnects and resumes).
	eventWriteTimeout = 10 * time.Second
	// statsHistorySize bounds the samples kept for the dashboard's chart:
	// five minutes at one a second.
	statsHistorySize = 300
	// latencyWindow is the span of recent requests whose agent latency
	// the percentiles describe.
	latencyWindow = 10 * time.Second
)

// The decisions a record shows, as the module carried them out.
const (
	DecisionAllowed    = "allowed"     // WAFResponse 200
	DecisionBlocked    = "blocked"     // WAFResponse 400-599, and the module answered it
	DecisionRedirected = "redirected"  // WAFResponse 300-399, and the module answered it
	DecisionFailedOpen = "failed-open" // the agent failed, answered what a module ignores, or the module reported another response
	DecisionPostOnly   = "post-only"   // a PostRequest that matched no PreRequest: no decision was made
)

// decisionOf classifies rec: the decision, and why it failed open when
// it did.
func decisionOf(rec *Record) (decision, why string) {
	if !rec.Pre {
		return DecisionPostOnly, ""
	}
	if rec.Fault != "" {
		return DecisionFailedOpen, "the agent failed the PreRequest (injected " + rec.Fault + ")"
	}
	code := rec.Out.WAFResponse
	switch {
	case code == 200:
		return DecisionAllowed, ""
	case code >= 300 && code <= 599:
		if resp := rec.Response; resp != nil && resp.ResponseCode != code {
			return DecisionFailedOpen, fmt.Sprintf("the agent answered %d, the module reported a %d response (via %s)",
				code, resp.ResponseCode, resp.Via)
		}
		if code < 400 {
			return DecisionRedirected, ""
		}
		return DecisionBlocked, ""
	default:
		return DecisionFailedOpen, fmt.Sprintf("WAFResponse %d is not one a module acts on", code)
	}
}

// FeedRecord is the summary of a Record that /events sends; GET
// /requests/{seq} has the whole record.
type FeedRecord struct {
	Seq      uint64    `json:"seq"`
	Received time.Time `json:"received"`
	Method   string    `json:"method"`
	Host     string    `json:"host"`
	URI      string    `json:"uri"` // as recorded, so redacted as /requests is
	ClientIP string    `json:"client_ip"`
	// Decision is one of the Decision constants; Why explains a failed
	// open one.
	Decision        string      `json:"decision"`
	Why             string      `json:"why,omitempty"`
	WAFResponse     int32       `json:"waf_response"`
	Signals         []string    `json:"signals"`
	Rule            string      `json:"rule,omitempty"`
	RequestID       string      `json:"request_id,omitempty"`
	AgentLatency    int64       `json:"agent_latency_ns"`
	Fault           string      `json:"fault,omitempty"`
	State           Outcome     `json:"state"`
	Note            string      `json:"note,omitempty"`
	ResponseCode    int32       `json:"response_code,omitempty"` // as reported by UpdateRequest or PostRequest
	ResponseVia     string      `json:"response_via,omitempty"`
	ResponseSignals []string    `json:"response_signals,omitempty"`
	Deviations      []Deviation `json:"deviations"`
}

func feedRecordOf(rec *Record) FeedRecord {
	decision, why := decisionOf(rec)
	f := FeedRecord{
		Seq:          rec.Seq,
		Received:     rec.Received,
		Method:       rec.In.Method,
		Host:         rec.In.ServerName,
		URI:          rec.In.URI,
		ClientIP:     rec.In.RemoteAddr,
		Decision:     decision,
		Why:          why,
		WAFResponse:  rec.Out.WAFResponse,
		Signals:      slices.Clone(rec.Signals),
		Rule:         rec.Rule,
		RequestID:    rec.Out.RequestID,
		AgentLatency: int64(rec.AgentLatency),
		Fault:        rec.Fault,
		State:        rec.Outcome,
		Note:         rec.Note,
		Deviations:   slices.Clone(rec.Deviations),
	}
	if r := rec.Response; r != nil {
		f.ResponseCode, f.ResponseVia, f.ResponseSignals = r.ResponseCode, r.Via, slices.Clone(r.Signals)
	}
	if f.Signals == nil {
		f.Signals = []string{}
	}
	if f.Deviations == nil {
		f.Deviations = []Deviation{}
	}
	return f
}

// eventLog is the recorder's numbered list of record changes, the clients
// following it and the tallies the dashboard shows. It is guarded by the
// recorder's mutex: changedLocked runs inside every critical section that
// adds or changes a record.
type eventLog struct {
	ring    []uint64 // the Seq of the record that changed, for event id at ring[(id-1)%len]
	next    uint64   // the id the next event gets; the first is 1
	clients []*feedClient
	tally   Tally
	tallied uint64 // the highest Seq whose decision is in tally
	history statsHistory
}

// Tally counts decisions and signals since the server was created.
type Tally struct {
	Requests   uint64            `json:"requests"` // PreRequests recorded
	Decisions  map[string]uint64 `json:"decisions"`
	Signals    map[string]uint64 `json:"signals"`    // request and response signals
	Unenforced uint64            `json:"unenforced"` // blocks and redirects the module reported it did not carry out
}

func (t Tally) clone() Tally {
	c := t
	c.Decisions = make(map[string]uint64, len(t.Decisions))
	for k, v := range t.Decisions {
		c.Decisions[k] = v
	}
	c.Signals = make(map[string]uint64, len(t.Signals))
	for k, v := range t.Signals {
		c.Signals[k] = v
	}
	return c
}

// feedClient is one /events stream: wake has room for one wake-up, so
// that waking it never blocks.
type feedClient struct {
	wake chan struct{}
	next uint64 // the next event id to send
}

func newEventLog(size int) *eventLog {
	return &eventLog{
		ring: make([]uint64, size),
		next: 1,
		tally: Tally{
			Decisions: map[string]uint64{DecisionAllowed: 0, DecisionBlocked: 0, DecisionRedirected: 0, DecisionFailedOpen: 0},
			Signals:   map[string]uint64{},
		},
	}
}

// changedLocked numbers a change of rec (just added, or its lifecycle
// moved on), counts it, and wakes the clients. It never blocks.
func (l *eventLog) changedLocked(rec *Record) {
	if l == nil {
		return
	}
	l.ring[(l.next-1)%uint64(len(l.ring))] = rec.Seq
	l.next++
	l.countLocked(rec)
	for _, c := range l.clients {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// countLocked counts a record's decision and request signals on the
// first change of it seen (when it is added, so with the newest Seq), and
// its response signals when the response is reported.
func (l *eventLog) countLocked(rec *Record) {
	t := &l.tally
	if rec.Seq > l.tallied {
		l.tallied = rec.Seq
		if rec.Pre {
			t.Requests++
			d, _ := decisionOf(rec)
			t.Decisions[d]++
			for _, s := range rec.Signals {
				t.Signals[s]++
			}
		}
		if rec.Response != nil {
			l.countResponseLocked(rec, false)
		}
		return
	}
	if rec.Response != nil && (rec.Outcome == OutcomeUpdated || rec.Outcome == OutcomePosted) {
		l.countResponseLocked(rec, true)
	}
}

// countResponseLocked counts the response signals of rec and, when a
// block or redirect was counted but the module reported another response,
// moves it to failed open.
func (l *eventLog) countResponseLocked(rec *Record, counted bool) {
	t := &l.tally
	for _, s := range rec.Response.Signals {
		t.Signals[s]++
	}
	code := rec.Out.WAFResponse
	if counted && rec.Pre && rec.Fault == "" && code >= 300 && code <= 599 && rec.Response.ResponseCode != code {
		t.Unenforced++
		if code < 400 {
			t.Decisions[DecisionRedirected]--
		} else {
			t.Decisions[DecisionBlocked]--
		}
		t.Decisions[DecisionFailedOpen]++
	}
}

// subscribe adds a client that resumes after event lastID, or, when
// lastID is 0 or not an event of this server, starts backlog events
// back.
func (r *recorder) subscribe(lastID uint64, backlog int) *feedClient {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.feed
	c := &feedClient{wake: make(chan struct{}, 1)}
	switch {
	case lastID > 0 && lastID < l.next:
		c.next = lastID + 1
	default:
		c.next = l.next - min(uint64(backlog), l.next-1)
	}
	l.clients = append(l.clients, c)
	return c
}

func (r *recorder) unsubscribe(c *feedClient) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.feed
	if i := slices.Index(l.clients, c); i >= 0 {
		l.clients = slices.Delete(l.clients, i, i+1)
	}
}

// feedEvent is a record event to write: its id and the record's summary.
type feedEvent struct {
	id  uint64
	rec FeedRecord
}

// catchUp appends to dst the records changed since c's cursor, at most
// eventBatch events' worth, each once with the id of its last change,
// and moves the cursor on. missed counts the events skipped because the
// client was too far behind (it resumes at event resume), or whose record
// is no longer kept.
//
// With burst > 0, a client more than burst events behind skips to the
// newest burst.
func (r *recorder) catchUp(c *feedClient, dst []feedEvent, burst uint64) (events []feedEvent, missed, resume uint64, more bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.feed
	oldest := l.next - min(l.next-1, uint64(len(l.ring)))
	if burst > 0 && l.next-oldest > burst {
		oldest = l.next - burst
	}
	if c.next < oldest {
		missed = oldest - c.next
		c.next = oldest
	}
	resume = c.next
	end := min(l.next, c.next+eventBatch)
	last := make(map[uint64]uint64, end-c.next) // seq -> id of its last change in the batch
	for id := c.next; id < end; id++ {
		last[l.ring[(id-1)%uint64(len(l.ring))]] = id
	}
	for id := c.next; id < end; id++ {
		seq := l.ring[(id-1)%uint64(len(l.ring))]
		if last[seq] != id {
			continue
		}
		rec := r.bySeqLocked(seq)
		if rec == nil {
			missed++
			continue
		}
		dst = append(dst, feedEvent{id: id, rec: feedRecordOf(rec)})
	}
	c.next = end
	return dst, missed, resume, end < l.next
}

// bySeqLocked returns the kept record with seq, or nil once it has left
// the ring of recent requests.
func (r *recorder) bySeqLocked(seq uint64) *Record {
	if seq == 0 || seq > r.seq || len(r.ring) == 0 {
		return nil
	}
	rec := r.ring[(seq-1)%uint64(len(r.ring))]
	if rec.Seq != seq {
		return nil
	}
	return rec
}

// record returns a copy of the kept record with seq.
func (r *recorder) record(seq uint64) (Record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.bySeqLocked(seq)
	if rec == nil {
		return Record{}, false
	}
	return rec.clone(), true
}

// FeedStats is what a "stats" event carries: the counters, the agent
// latency percentiles of recent PreRequests and the top signals.
type FeedStats struct {
	At        time.Time `json:"at"`
	UptimeSec float64   `json:"uptime_s"`
	Tally
	TopSignals []SignalCount `json:"top_signals"`
	Pending    uint64        `json:"pending"`
	Updated    uint64        `json:"updated"`
	Posted     uint64        `json:"posted"`
	Expired    uint64        `json:"expired"`
	Evicted    uint64        `json:"evicted"`
	Deviations uint64        `json:"deviations"`
	Faults     uint64        `json:"faults"`
	Latency    Percentiles   `json:"latency"`
}

// SignalCount is how often a signal was seen.
type SignalCount struct {
	Signal string `json:"signal"`
	Count  uint64 `json:"count"`
}

// Percentiles of the agent latency of the PreRequests recorded in the
// last WindowSec seconds (at most the requests still kept), in
// microseconds; zero when there were none.
type Percentiles struct {
	WindowSec float64 `json:"window_s"`
	Count     int     `json:"count"`
	P50       float64 `json:"p50_us"`
	P90       float64 `json:"p90_us"`
	P99       float64 `json:"p99_us"`
	Max       float64 `json:"max_us"`
}

// feedStats takes the counters now; latencies is scratch space.
func (s *Server) feedStats(latencies []time.Duration) (FeedStats, []time.Duration) {
	r := s.rec
	r.mu.Lock()
	now := r.clock.Now()
	r.sweepLocked(now)
	st := FeedStats{
		At:        now,
		UptimeSec: now.Sub(s.created).Seconds(),
		Tally:     r.feed.tally.clone(),
		Pending:   uint64(len(r.pending)),
		Updated:   r.updated,
		Posted:    r.posted,
		Expired:   r.expired,
		Evicted:   r.evicted,
	}
	for _, n := range r.deviations {
		st.Deviations += n
	}
	for _, n := range r.faults {
		st.Faults += n
	}
	since := now.Add(-latencyWindow)
	latencies = latencies[:0]
	for _, rec := range r.ring {
		if rec.Pre && rec.Fault == "" && !rec.Received.Before(since) {
			latencies = append(latencies, rec.AgentLatency)
		}
	}
	r.mu.Unlock()
	st.Latency = percentiles(latencies)
	st.Latency.WindowSec = latencyWindow.Seconds()
	for sig, n := range st.Signals {
		st.TopSignals = append(st.TopSignals, SignalCount{sig, n})
	}
	slices.SortFunc(st.TopSignals, func(a, b SignalCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Signal, b.Signal))
	})
	st.TopSignals = st.TopSignals[:min(len(st.TopSignals), 10)]
	if st.TopSignals == nil {
		st.TopSignals = []SignalCount{}
	}
	return st, latencies
}

// percentiles sorts d and returns its nearest-rank percentiles.
func percentiles(d []time.Duration) Percentiles {
	p := Percentiles{Count: len(d)}
	if len(d) == 0 {
		return p
	}
	slices.Sort(d)
	at := func(q float64) float64 {
		i := int(q*float64(len(d))+0.999999) - 1
		return float64(d[min(max(i, 0), len(d)-1)].Nanoseconds()) / 1e3
	}
	p.P50, p.P90, p.P99, p.Max = at(0.50), at(0.90), at(0.99), at(1)
	return p
}

// statsHistory keeps a sample of the counters at most once a second,
// taken whenever a client is sent them, so that a dashboard opened now
// draws the last minutes (with gaps while nobody watched).
type statsHistory struct {
	samples []FeedStats // oldest first, at most statsHistorySize
}

func (r *recorder) statsHistory() []FeedStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.feed.history.samples)
}

func (r *recorder) addStatsSample(st FeedStats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.feed.history.add(st)
}

func (h *statsHistory) add(st FeedStats) {
	if n := len(h.samples); n > 0 && st.At.Sub(h.samples[n-1].At) < time.Second {
		return
	}
	if len(h.samples) == statsHistorySize {
		h.samples = slices.Delete(h.samples, 0, 1)
	}
	h.samples = append(h.samples, st)
}

// Info describes the agent for the dashboard (GET /info).
type Info struct {
	Version      string    `json:"version"`
	Mode         string    `json:"mode"`
	Engine       string    `json:"engine"`
	RulesFile    string    `json:"rules_file"`
	Rules        int       `json:"rules"` // custom rules loaded
	Fingerprint  string    `json:"fingerprint"`
	Started      time.Time `json:"started"`
	UptimeSec    float64   `json:"uptime_s"`
	Loaded       bool      `json:"loaded"`
	Network      string    `json:"network"`
	Address      string    `json:"address"`
	UpdateExpiry string    `json:"update_expiry"`
	Recent       int       `json:"recent_requests"` // how many requests are kept
	Faults       bool      `json:"faults"`          // fault injection is on
	// Instance changes when the agent restarts, so that a dashboard that
	// reconnects knows its rows belong to the previous one.
	Instance string `json:"instance"`
}

// info describes s now.
func (s *Server) info() Info {
	engine := "native (built-in pipeline)"
	if s.cfg.Engine == EngineCRS {
		engine = fmt.Sprintf("crs (OWASP CRS on Coraza, paranoia %d, threshold %d)", s.cfg.CRSParanoia, s.cfg.CRSThreshold)
	}
	if s.cfg.Decider != nil {
		engine = "a Decider supplied in code"
	}
	now := s.clock.Now()
	return Info{
		Version:      s.cfg.Version,
		Mode:         string(s.cfg.Mode),
		Engine:       engine,
		RulesFile:    s.cfg.RulesFile,
		Rules:        len(s.rules),
		Fingerprint:  s.fingerprint,
		Started:      s.created,
		UptimeSec:    now.Sub(s.created).Seconds(),
		Loaded:       s.Loaded(),
		Network:      s.cfg.Network,
		Address:      s.Addr(),
		UpdateExpiry: s.cfg.UpdateExpiry.String(),
		Recent:       s.cfg.RecentRequests,
		Faults:       s.cfg.Faults.blocksCalls() || s.cfg.Faults.ErrorRate+s.cfg.Faults.DropRate > 0,
		Instance:     strconv.FormatInt(s.created.UnixNano(), 36) + "-" + s.fingerprint[:min(8, len(s.fingerprint))],
	}
}

// hello is the first event of a stream.
type hello struct {
	Info    Info        `json:"info"`
	History []FeedStats `json:"history"`
	Resumed bool        `json:"resumed"` // the stream continues after Last-Event-ID
}

// lastEventID reads the Last-Event-ID header an EventSource sends when it
// reconnects, or the last_event_id query parameter; 0 when absent or
// not a number.
func lastEventID(r *http.Request) uint64 {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("last_event_id")
	}
	id, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0
	}
	return id
}

// serveEvents streams the feed until the client goes away or the server
// shuts down.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	backlog := eventBacklog
	if v := r.URL.Query().Get("backlog"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			http.Error(w, "backlog: want a non-negative integer", http.StatusBadRequest)
			return
		}
		backlog = n
	}
	last := lastEventID(r)
	c := s.rec.subscribe(last, backlog)
	defer s.rec.unsubscribe(c)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	bw := bufio.NewWriterSize(w, 32<<10)
	st := &feedStream{w: bw, rc: rc}
	if err := st.deadline(); err != nil {
		s.log.Debug("writing /events", "error", err)
		return
	}
	st.retry(2 * time.Second)
	st.event("hello", 0, hello{Info: s.info(), History: s.rec.statsHistory(), Resumed: last > 0 && c.next == last+1})
	var latencies []time.Duration
	sendStats := func() {
		var fs FeedStats
		fs, latencies = s.feedStats(latencies)
		s.rec.addStatsSample(fs)
		st.event("stats", 0, fs)
	}
	sendStats()

	ticker := time.NewTicker(eventStatsInterval)
	defer ticker.Stop()
	coalesce := time.NewTimer(0)
	defer coalesce.Stop()
	<-coalesce.C
	var batch []feedEvent
	burst := uint64(0) // the first write sends all the client asked for
	for {
		if err := st.deadline(); err != nil {
			s.log.Debug("writing /events", "error", err)
			return
		}
		for more, first := true, true; more; first = false {
			var missed, resume uint64
			b := burst
			if !first {
				b = 0 // the burst counts from the start of this write
			}
			batch, missed, resume, more = s.rec.catchUp(c, batch[:0], b)
			if missed > 0 {
				st.event("dropped", 0, struct {
					Missed uint64 `json:"missed"`
					Resume uint64 `json:"resume"` // the first event sent after the gap
				}{missed, resume})
			}
			for i := range batch {
				st.event("record", batch[i].id, &batch[i].rec)
			}
		}
		if err := st.flush(); err != nil {
			s.log.Debug("writing /events", "error", err)
			return
		}
		burst = eventBurst
		select {
		case <-c.wake:
			coalesce.Reset(eventCoalesce)
			select {
			case <-coalesce.C:
			case <-r.Context().Done():
				return
			case <-s.stopCtx.Done():
				return
			}
		case <-ticker.C:
			sendStats()
		case <-r.Context().Done():
			return
		case <-s.stopCtx.Done():
			return
		}
	}
}

// feedStream writes server-sent events; the first error sticks.
type feedStream struct {
	w   *bufio.Writer
	rc  *http.ResponseController
	err error
}

func (f *feedStream) retry(d time.Duration) {
	if f.err == nil {
		_, f.err = fmt.Fprintf(f.w, "retry: %d\n\n", d.Milliseconds())
	}
}

// event writes one event; its id line only when id > 0. JSON has no raw
// newlines, so the data fits one data line.
func (f *feedStream) event(name string, id uint64, v any) {
	if f.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		f.err = fmt.Errorf("encoding a %s event: %w", name, err)
		return
	}
	_, _ = f.w.WriteString("event: ")
	_, _ = f.w.WriteString(name)
	if id > 0 {
		_, _ = f.w.WriteString("\nid: ")
		_, _ = f.w.WriteString(strconv.FormatUint(id, 10))
	}
	_, _ = f.w.WriteString("\ndata: ")
	_, _ = f.w.Write(b)
	_, f.err = f.w.WriteString("\n\n")
}

// deadline bounds the writes from now until the next flush by
// eventWriteTimeout.
func (f *feedStream) deadline() error {
	if err := f.rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// flush sends what was written.
func (f *feedStream) flush() error {
	if f.err != nil {
		return f.err
	}
	if err := f.w.Flush(); err != nil {
		return err
	}
	return f.rc.Flush()
}
