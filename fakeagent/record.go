package fakeagent

import (
	"container/list"
	"fmt"
	"slices"
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
	// AccessKeyID redacted and PostBody cut to 8 KiB.
	In       wire.RPCMsgIn `json:"in"`
	BodySize int           `json:"body_size"` // the full length of PostBody
	// Out is the reply sent; zero when a fault replaced it.
	Out          wire.RPCMsgOut `json:"out"`
	Signals      []string       `json:"signals"`
	Rule         string         `json:"rule,omitempty"` // the rule that decided, if any
	AgentLatency time.Duration  `json:"agent_latency_ns"`
	Fault        string         `json:"fault,omitempty"` // "error", "drop" or "hang"
	Outcome      Outcome        `json:"outcome"`
	Note         string         `json:"note,omitempty"`
	Response     *Response      `json:"response,omitempty"`
	Deviations   []Deviation    `json:"deviations"`
}

// Response is a request's outcome as reported by UpdateRequest or
// PostRequest.
type Response struct {
	Via            string        `json:"via"` // "UpdateRequest" or "PostRequest"
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
	if r.Response != nil {
		resp := *r.Response
		resp.HeadersOut = slices.Clone(resp.HeadersOut)
		resp.Signals = slices.Clone(resp.Signals)
		c.Response = &resp
	}
	return c
}

// recordedIn is the copy of a request message kept in a Record.
func recordedIn(in *wire.RPCMsgIn) wire.RPCMsgIn {
	c := *in
	if c.AccessKeyID != "" {
		c.AccessKeyID = redacted
	}
	if len(c.PostBody) > recordBodyLimit {
		c.PostBody = c.PostBody[:recordBodyLimit]
	}
	return c
}

// postKey matches a PostRequest to its PreRequest, which carries no
// RequestID: the module sends the same request fields in both.
type postKey struct {
	nowMillis            int64
	method, host, uri, a string
}

func postKeyOf(in *wire.RPCMsgIn) postKey {
	return postKey{in.NowMillis, in.Method, in.ServerName, in.URI, in.RemoteAddr}
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

	mu        sync.Mutex
	ring      []*Record
	next      int // the slot to write next once the ring is full
	seq       uint64
	pending   map[string]*list.Element // RequestID -> element of order
	order     list.List                // *pendingEntry, oldest first
	postIndex map[postKey]*Record      // recorded PreRequests awaiting a PostRequest
	feed      *eventLog                // the changes of records, for /events (events.go)
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
		postIndex:  make(map[postKey]*Record),
		counters:   newCounters(),
		feed:       newEventLog(eventRingSize),
	}
}

// addPre records a PreRequest; its RequestID, if any, starts waiting for an
// UpdateRequest.
func (r *recorder) addPre(rec *Record, devs []Deviation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	r.sweepLocked(now)
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
			r.postIndex[postKeyOf(&rec.In)] = rec
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
	old := r.ring[r.next]
	if k := postKeyOf(&old.In); r.postIndex[k] == old {
		delete(r.postIndex, k)
	}
	r.ring[r.next] = rec
	r.next = (r.next + 1) % r.size
}

// update applies an UpdateRequest. It reports false, and counts the
// deviation, when the RequestID is not pending.
func (r *recorder) update(in *wire.RPCMsgIn2, signals []string) bool {
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
		Received:       now,
		After:          now.Sub(e.rec.Received),
		ResponseCode:   in.ResponseCode,
		ResponseMillis: in.ResponseMillis,
		ResponseSize:   in.ResponseSize,
		HeadersOut:     in.HeadersOut,
		Signals:        signals,
	}
	if in.ResponseCode < 100 {
		r.addDeviationLocked(e.rec, DeviationInvalidResponseCode)
	}
	r.feed.changedLocked(e.rec)
	return true
}

// post applies a PostRequest: to the PreRequest it matches, or as a record
// of its own.
func (r *recorder) post(in *wire.RPCMsgIn, conn uint64, devs []Deviation, signals []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	r.sweepLocked(now)
	r.posted++
	k := postKeyOf(in)
	rec, matched := r.postIndex[k]
	if matched {
		delete(r.postIndex, k)
	} else {
		rec = &Record{Conn: conn, Received: now, In: recordedIn(in), BodySize: len(in.PostBody)}
	}
	rec.Outcome = OutcomePosted
	rec.Response = &Response{
		Via:            methodPostRequest,
		Received:       now,
		After:          now.Sub(rec.Received),
		ResponseCode:   in.ResponseCode,
		ResponseMillis: in.ResponseMillis,
		ResponseSize:   in.ResponseSize,
		HeadersOut:     in.HeadersOut,
		Signals:        signals,
	}
	for _, d := range devs {
		r.addDeviationLocked(rec, d)
	}
	if !matched {
		r.pushLocked(rec)
	}
	r.feed.changedLocked(rec)
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
