package fakeagent

import (
	"container/list"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// Outcome is what became of a recorded request after its PreRequest.
type Outcome string

// The outcomes of a Record.
const (
	// OutcomeNone: no RequestID was given and no PostRequest came (the
	// normal case for a request without signals or anomalies).
	OutcomeNone Outcome = "none"
	// OutcomePending: a RequestID was given; its UpdateRequest has not
	// come yet.
	OutcomePending Outcome = "pending"
	// OutcomeUpdated: the UpdateRequest for its RequestID came.
	OutcomeUpdated Outcome = "updated"
	// OutcomePosted: a PostRequest reported its response.
	OutcomePosted Outcome = "posted"
	// OutcomeExpired: no UpdateRequest came within the update expiry.
	OutcomeExpired Outcome = "expired"
	// OutcomeEvicted: it stopped waiting for its UpdateRequest because too
	// many requests were pending, or its RequestID was given again.
	OutcomeEvicted Outcome = "evicted"
)

// recordBodyLimit bounds the PostBody kept in a Record; Record.BodySize
// has the full length. (A Decider sees the whole body.)
const recordBodyLimit = 8 << 10

// Match says how a PostRequest or UpdateRequest was tied to the
// PreRequest it reports on (Response.Match).
type Match string

// The ways a response is matched to its request.
const (
	// MatchRequestID: an UpdateRequest, by the RequestID the PreRequest
	// was given.
	MatchRequestID Match = "request_id"
	// MatchExact: a PostRequest with the method, host, URI and remote
	// address of a recent unmatched PreRequest, and its Timestamp and
	// NowMillis too (a module that reuses its PreRequest message).
	MatchExact Match = "exact"
	// MatchUnique: a PostRequest whose method, host, URI and remote
	// address only one recent unmatched PreRequest has. Most modules
	// rebuild the message after the response, so the clock fields differ.
	MatchUnique Match = "unique"
	// MatchAmbiguous: several recent unmatched PreRequests have the
	// PostRequest's method, host, URI and remote address
	// (Response.Candidates of them); the one received closest to when the
	// response started (the PostRequest's arrival less its
	// ResponseMillis) was taken, the oldest on a tie.
	MatchAmbiguous Match = "ambiguous"
	// MatchNone: a PostRequest that matched no recorded PreRequest; it is
	// recorded on its own (Record.Pre is false).
	MatchNone Match = "none"
)

// postMatchWindow is how recent an unmatched PreRequest must be for a
// PostRequest to be matched to it; maxPostCandidates bounds the
// unmatched PreRequests remembered per method, host, URI and remote
// address (the oldest is forgotten first).
const (
	postMatchWindow   = 10 * time.Minute
	maxPostCandidates = 64
)

// The quirks of a module's messages that are accepted, and shown in
// Record.Quirks, rather than counted as deviations.
const (
	// QuirkStatusLineInHeadersOut: HeadersOut carries the status line as a
	// header pair, e.g. ["HTTP/1.1 406 Not Acceptable", ""] (the Node.js
	// module).
	QuirkStatusLineInHeadersOut = "status_line_in_headers_out"
)

// Record is one request as the fake agent saw it, through its lifecycle:
// the PreRequest and the decision, then the UpdateRequest or PostRequest
// that reported the response, or the expiry of its RequestID.
type Record struct {
	Seq      uint64    `json:"seq"`      // 1 for the first request recorded
	Conn     uint64    `json:"conn"`     // the connection of the first call
	Received time.Time `json:"received"` // on the server's clock
	// Pre is false for a PostRequest that matched no recorded PreRequest.
	Pre bool `json:"pre"`
	// In is the PreRequest (or unmatched PostRequest) message, with
	// AccessKeyID hidden, PostBody cut to 8 KiB, and sensitive values
	// redacted unless Config.RecordRaw is set.
	In       wire.RPCMsgIn `json:"in"`
	BodySize int           `json:"body_size"` // the full length of PostBody
	// Out is the reply sent; zero when a fault replaced it.
	Out     wire.RPCMsgOut `json:"out"`
	Signals []string       `json:"signals"`
	Rule    string         `json:"rule,omitempty"` // the rule that decided, if any
	// ClientIP is the client IP rules, thresholds and rate limits saw:
	// from Config.ClientIPHeader when the request has it, else RemoteAddr.
	ClientIP string `json:"client_ip,omitempty"`
	// Policy says what the attack thresholds and rate limits did, if
	// anything (Config.Decision, Config.RateLimits).
	Policy       string        `json:"policy,omitempty"`
	AgentLatency time.Duration `json:"agent_latency_ns"`
	Fault        string        `json:"fault,omitempty"` // "error", "drop" or "hang"
	Outcome      Outcome       `json:"outcome"`
	Note         string        `json:"note,omitempty"`
	Response     *Response     `json:"response,omitempty"`
	Deviations   []Deviation   `json:"deviations"`
	// Quirks are the module's accepted departures from the usual message
	// shape (see QuirkStatusLineInHeadersOut); they are not deviations.
	Quirks []string `json:"quirks,omitempty"`
}

// Response is a request's outcome as reported by UpdateRequest or
// PostRequest.
type Response struct {
	Via string `json:"via"` // "UpdateRequest" or "PostRequest"
	// Match is how the response was tied to its request; Candidates is
	// how many recorded PreRequests could have been it (1 unless Match is
	// MatchAmbiguous; 0 for MatchNone).
	Match          Match         `json:"match"`
	Candidates     int           `json:"candidates"`
	Received       time.Time     `json:"received"`
	After          time.Duration `json:"after_ns"` // since the PreRequest was received
	ResponseCode   int32         `json:"response_code"`
	ResponseMillis int64         `json:"response_millis"`
	ResponseSize   int64         `json:"response_size"`
	HeadersOut     [][2]string   `json:"headers_out"`
	Signals        []string      `json:"signals"` // response signals, e.g. HTTP404
}

// clone returns a copy that a caller may change without touching r.
func (r *Record) clone() Record {
	c := *r
	c.In.HeadersIn = slices.Clone(r.In.HeadersIn)
	c.In.HeadersOut = slices.Clone(r.In.HeadersOut)
	c.Out.RequestHeaders = slices.Clone(r.Out.RequestHeaders)
	c.Out.RespActions = slices.Clone(r.Out.RespActions)
	c.Signals = slices.Clone(r.Signals)
	c.Deviations = append([]Deviation{}, r.Deviations...)
	c.Quirks = slices.Clone(r.Quirks)
	if r.Response != nil {
		resp := *r.Response
		resp.HeadersOut = slices.Clone(resp.HeadersOut)
		resp.Signals = slices.Clone(resp.Signals)
		c.Response = &resp
	}
	return c
}

// postKey is what a module keeps of a request between its PreRequest and
// its PostRequest: most modules rebuild the message after the response,
// so the clock fields are not part of it.
type postKey struct {
	method, host, uri, remoteAddr string
}

func postKeyOf(in *wire.RPCMsgIn) postKey {
	host := in.ServerName
	if host == "" {
		host = headerValue(in.HeadersIn, "Host")
	}
	return postKey{in.Method, host, in.URI, in.RemoteAddr}
}

type pendingEntry struct {
	id       string
	rec      *Record
	deadline time.Time
}

// recorder is the agent's book-keeping: the ring of recent requests, the
// requests waiting for UpdateRequest, the counters behind Stats, and the
// modules seen. One mutex guards it all; every critical section is short.
type recorder struct {
	clock      Clock
	expiry     time.Duration
	maxPending int
	size       int
	m          *metrics

	mu      sync.Mutex
	ring    []*Record
	next    int // the slot to write next once the ring is full
	seq     uint64
	pending map[string]*list.Element // RequestID -> element of order
	order   list.List                // *pendingEntry, oldest first
	// postIndex holds the recorded PreRequests without a RequestID that no
	// PostRequest has matched yet, oldest first, keyed by what a module
	// keeps of a request. Keys are computed from the unredacted message,
	// kept in postKeys, so that redaction never breaks a match.
	postIndex map[postKey][]*Record
	postKeys  map[*Record]postKey
	feed      *eventLog // the changes of records, for /events (events.go)
	counters
}

func newRecorder(clock Clock, expiry time.Duration, size, maxPending int, m *metrics) *recorder {
	return &recorder{
		clock:      clock,
		expiry:     expiry,
		size:       size,
		maxPending: maxPending,
		m:          m,
		pending:    make(map[string]*list.Element),
		postIndex:  make(map[postKey][]*Record),
		postKeys:   make(map[*Record]postKey),
		counters:   newCounters(),
		feed:       newEventLog(eventRingSize),
	}
}

// addPre records a PreRequest, whose message as sent is in; its
// RequestID, if any, starts waiting for an UpdateRequest.
func (r *recorder) addPre(rec *Record, in *wire.RPCMsgIn, devs []Deviation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	r.sweepLocked(now)
	r.noteModuleLocked(in, false, now)
	for _, d := range devs {
		r.addDeviationLocked(rec, d)
	}
	if rec.Fault == "" {
		r.decisions[rec.Out.WAFResponse]++
	}
	switch {
	case rec.Out.RequestID != "":
		rec.Outcome = OutcomePending
		r.addPendingLocked(rec, now)
	default:
		rec.Outcome = OutcomeNone
		if rec.Fault == "" {
			r.addCandidateLocked(rec, postKeyOf(in))
		}
	}
	r.pushLocked(rec)
	r.feed.changedLocked(rec)
}

func (r *recorder) addPendingLocked(rec *Record, now time.Time) {
	id := rec.Out.RequestID
	if el, ok := r.pending[id]; ok {
		r.evictLocked(el, "its RequestID was given again")
	}
	for len(r.pending) >= r.maxPending {
		r.evictLocked(r.order.Front(), fmt.Sprintf("more than %d requests were pending", r.maxPending))
	}
	r.pending[id] = r.order.PushBack(&pendingEntry{id: id, rec: rec, deadline: now.Add(r.expiry)})
	r.m.pending.Set(float64(len(r.pending)))
}

func (r *recorder) evictLocked(el *list.Element, why string) {
	e := r.order.Remove(el).(*pendingEntry)
	delete(r.pending, e.id)
	e.rec.Outcome = OutcomeEvicted
	e.rec.Note = "stopped waiting for UpdateRequest: " + why
	r.evicted++
	r.m.evicted.Inc()
	r.m.pending.Set(float64(len(r.pending)))
	r.feed.changedLocked(e.rec)
}

// pushLocked appends rec to the ring, overwriting the oldest record when
// the ring is full.
func (r *recorder) pushLocked(rec *Record) {
	r.seq++
	rec.Seq = r.seq
	if len(r.ring) < r.size {
		r.ring = append(r.ring, rec)
		return
	}
	r.removeCandidateLocked(r.ring[r.next])
	r.ring[r.next] = rec
	r.next = (r.next + 1) % r.size
}

// update applies an UpdateRequest; headersOut is its HeadersOut as
// recorded. It reports false, and counts the deviation, when the RequestID
// is not pending.
func (r *recorder) update(in *wire.RPCMsgIn2, headersOut [][2]string, signals []string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	r.sweepLocked(now)
	el, ok := r.pending[in.RequestID]
	if !ok {
		r.countDeviationLocked(DeviationUnknownRequestID)
		return false
	}
	e := r.order.Remove(el).(*pendingEntry)
	delete(r.pending, e.id)
	r.m.pending.Set(float64(len(r.pending)))
	r.updated++
	e.rec.Outcome = OutcomeUpdated
	e.rec.Response = &Response{
		Via:            methodUpdateRequest,
		Match:          MatchRequestID,
		Candidates:     1,
		Received:       now,
		After:          now.Sub(e.rec.Received),
		ResponseCode:   in.ResponseCode,
		ResponseMillis: in.ResponseMillis,
		ResponseSize:   in.ResponseSize,
		HeadersOut:     headersOut,
		Signals:        signals,
	}
	r.addQuirksLocked(e.rec, in.HeadersOut)
	if in.ResponseCode < 100 {
		r.addDeviationLocked(e.rec, DeviationInvalidResponseCode)
	}
	r.feed.changedLocked(e.rec)
	return true
}

// post applies a PostRequest, whose message as sent is in and as recorded
// kept: to the PreRequest it matches, or as a record of its own.
func (r *recorder) post(in *wire.RPCMsgIn, kept wire.RPCMsgIn, conn uint64, devs []Deviation, signals []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	r.sweepLocked(now)
	r.posted++
	rec, match, candidates := r.matchPostLocked(in, now)
	if rec == nil {
		rec = &Record{Conn: conn, Received: now, In: kept, BodySize: len(in.PostBody)}
	}
	rec.Outcome = OutcomePosted
	rec.Response = &Response{
		Via:            methodPostRequest,
		Match:          match,
		Candidates:     candidates,
		Received:       now,
		After:          now.Sub(rec.Received),
		ResponseCode:   in.ResponseCode,
		ResponseMillis: in.ResponseMillis,
		ResponseSize:   in.ResponseSize,
		HeadersOut:     kept.HeadersOut,
		Signals:        signals,
	}
	for _, d := range devs {
		r.addDeviationLocked(rec, d)
	}
	r.addQuirksLocked(rec, in.HeadersOut)
	if match == MatchNone {
		r.pushLocked(rec)
	}
	r.feed.changedLocked(rec)
}

// matchPostLocked finds, and stops remembering, the PreRequest a
// PostRequest reports on; see Match for how. It returns nil and MatchNone
// when there is none.
func (r *recorder) matchPostLocked(in *wire.RPCMsgIn, now time.Time) (*Record, Match, int) {
	k := postKeyOf(in)
	list := r.postIndex[k]
	// Forget the candidates too old to be matched.
	cut := 0
	for cut < len(list) && now.Sub(list[cut].Received) > postMatchWindow {
		delete(r.postKeys, list[cut])
		cut++
	}
	list = list[cut:]
	if len(list) == 0 {
		delete(r.postIndex, k)
		return nil, MatchNone, 0
	}
	pick, match := -1, MatchUnique
	for i, c := range list {
		if c.In.Timestamp == in.Timestamp && c.In.NowMillis == in.NowMillis {
			pick, match = i, MatchExact
			break
		}
	}
	if pick < 0 && len(list) == 1 {
		pick = 0
	}
	if pick < 0 {
		// The PreRequest came when the response started.
		started := now.Add(-time.Duration(max(in.ResponseMillis, 0)) * time.Millisecond)
		best := time.Duration(math.MaxInt64)
		for i, c := range list {
			if d := absDuration(c.Received.Sub(started)); d < best {
				pick, best = i, d
			}
		}
		match = MatchAmbiguous
	}
	rec, n := list[pick], len(list)
	delete(r.postKeys, rec)
	list = slices.Delete(list, pick, pick+1)
	if len(list) == 0 {
		delete(r.postIndex, k)
	} else {
		r.postIndex[k] = list
	}
	if match == MatchExact {
		n = 1
	}
	return rec, match, n
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// addCandidateLocked remembers rec, a PreRequest without a RequestID, as
// awaiting a PostRequest.
func (r *recorder) addCandidateLocked(rec *Record, k postKey) {
	list := r.postIndex[k]
	if len(list) >= maxPostCandidates {
		delete(r.postKeys, list[0])
		list = slices.Delete(list, 0, 1)
	}
	r.postIndex[k] = append(list, rec)
	r.postKeys[rec] = k
}

// removeCandidateLocked forgets rec, leaving the ring, as a candidate.
func (r *recorder) removeCandidateLocked(rec *Record) {
	k, ok := r.postKeys[rec]
	if !ok {
		return
	}
	delete(r.postKeys, rec)
	list := r.postIndex[k]
	if i := slices.Index(list, rec); i >= 0 {
		list = slices.Delete(list, i, i+1)
	}
	if len(list) == 0 {
		delete(r.postIndex, k)
	} else {
		r.postIndex[k] = list
	}
}

// addQuirksLocked notes the quirks visible in a response's HeadersOut.
func (r *recorder) addQuirksLocked(rec *Record, headersOut [][2]string) {
	for _, kv := range headersOut {
		if strings.HasPrefix(kv[0], "HTTP/") && strings.Contains(kv[0], " ") && kv[1] == "" {
			if !slices.Contains(rec.Quirks, QuirkStatusLineInHeadersOut) {
				rec.Quirks = append(rec.Quirks, QuirkStatusLineInHeadersOut)
			}
			return
		}
	}
}

// sweep expires the pending requests whose time is up.
func (r *recorder) sweep() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweepLocked(r.clock.Now())
}

func (r *recorder) sweepLocked(now time.Time) {
	for el := r.order.Front(); el != nil; el = r.order.Front() {
		e := el.Value.(*pendingEntry)
		if now.Before(e.deadline) {
			break
		}
		r.order.Remove(el)
		delete(r.pending, e.id)
		e.rec.Outcome = OutcomeExpired
		e.rec.Note = fmt.Sprintf("no update within %v", r.expiry)
		r.addDeviationLocked(e.rec, DeviationRequestIDNotUpdated)
		r.expired++
		r.m.expired.Inc()
		r.m.pending.Set(float64(len(r.pending)))
		r.feed.changedLocked(e.rec)
	}
}

// snapshot returns copies of the last limit records (all when limit <= 0),
// oldest first.
func (r *recorder) snapshot(limit int) []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweepLocked(r.clock.Now())
	n := len(r.ring)
	if limit <= 0 || limit > n {
		limit = n
	}
	out := make([]Record, 0, limit)
	start := r.next // the oldest record once the ring is full, else 0
	if n < r.size {
		start = 0
	}
	for i := n - limit; i < n; i++ {
		out = append(out, r.ring[(start+i)%n].clone())
	}
	return out
}

// addDeviationLocked notes d on rec once, and counts it.
func (r *recorder) addDeviationLocked(rec *Record, d Deviation) {
	if slices.Contains(rec.Deviations, d) {
		return
	}
	rec.Deviations = append(rec.Deviations, d)
	r.countDeviationLocked(d)
}

func (r *recorder) countDeviationLocked(d Deviation) {
	r.deviations[d]++
	r.m.deviations.WithLabelValues(string(d)).Inc()
}

// countDeviation counts a deviation that belongs to no record.
func (r *recorder) countDeviation(d Deviation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.countDeviationLocked(d)
}
