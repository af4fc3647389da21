package fakeagent

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect"
	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// Method names without the "RPC." service prefix, as used in metrics,
// Stats and Faults.Methods.
const (
	methodModuleInit    = "ModuleInit"
	methodPreRequest    = "PreRequest"
	methodPostRequest   = "PostRequest"
	methodUpdateRequest = "UpdateRequest"
)

var methodNames = []string{methodModuleInit, methodPreRequest, methodPostRequest, methodUpdateRequest}

// shortMethod strips an optional "RPC." prefix.
func shortMethod(m string) string { return strings.TrimPrefix(m, "RPC.") }

func isMethodName(m string) bool {
	switch m {
	case methodModuleInit, methodPreRequest, methodPostRequest, methodUpdateRequest:
		return true
	}
	return false
}

// probeModuleVersion is the ModuleVersion Probe sends; its ModuleInits are
// logged at debug level only, as they come every few seconds.
const probeModuleVersion = "fakeagent-probe"

var (
	errShuttingDown = errors.New("fakeagent: shutting down")
	errDropped      = errors.New("fakeagent: connection dropped (injected fault)")
	errHung         = errors.New("fakeagent: call hung (injected fault)")
)

// handler is the "RPC" service of one connection, called by its serving
// loop (serveConn): on the loop's goroutine, or on one per call while
// faults delay or hang calls, so the methods may run concurrently.
type handler struct {
	s *Server
	c *conn
}

// ModuleInit records the module and answers 200.
func (h *handler) ModuleInit(in *wire.RPCMsgIn, out *wire.RPCMsgOut) error {
	s, start := h.s, time.Now()
	defer s.metrics.observeCall(methodModuleInit, start)
	if err := h.begin(methodModuleInit); err != nil {
		return err
	}
	s.rec.moduleInit(in)
	if in.Timestamp <= 0 || in.NowMillis <= 0 {
		s.rec.countDeviation(DeviationInvalidTimestamp)
	}
	out.WAFResponse = 200
	level := s.log.Info
	if strings.HasPrefix(in.ModuleVersion, probeModuleVersion) {
		level = s.log.Debug
	}
	level("module initialized", "conn", h.c.id, "module_version", in.ModuleVersion,
		"server_version", in.ServerVersion, "server_flavor", in.ServerFlavor)
	return nil
}

// PreRequest inspects a request and answers the decision. A request with
// signals gets a RequestID and starts waiting for its UpdateRequest.
func (h *handler) PreRequest(in *wire.RPCMsgIn, out *wire.RPCMsgOut) error {
	s, start := h.s, time.Now()
	s.rec.countCall(methodPreRequest)
	defer s.metrics.observeCall(methodPreRequest, start)
	ip := clientIP(in.HeadersIn, s.cfg.ClientIPHeader, in.RemoteAddr)
	rec := &Record{Conn: h.c.id, Received: s.clock.Now(), Pre: true, In: redactIn(in, s.cfg.RecordRaw),
		BodySize: len(in.PostBody), ClientIP: ip}
	devs := checkRequest(in, false)

	f, err := s.inject(methodPreRequest)
	if err != nil {
		return err
	}
	if f != faultNone {
		// Recorded first: a hanging request shows in Requests meanwhile.
		rec.Fault = f.String()
		rec.AgentLatency = time.Since(start)
		s.rec.addPre(rec, in, devs)
		if s.cfg.DebugLogWebInputs {
			s.log.Info("PreRequest", "conn", h.c.id, "method", in.Method, "uri", rec.In.URI,
				"fault", rec.Fault, "duration", rec.AgentLatency)
		}
		return s.fail(h.c, f)
	}

	if s.cfg.Decider != nil {
		*out = s.cfg.Decider(in)
		rec.Signals = tagsOf(out.RequestHeaders)
	} else {
		d := s.engine.Decide(&detect.Request{
			Method:     in.Method,
			URI:        in.URI,
			RemoteAddr: ip,
			Headers:    in.HeadersIn,
			Body:       in.PostBody,
		})
		v := verdict{WAFResponse: d.WAFResponse, Signals: d.Signals, RuleDecided: d.Rule != ""}
		if s.engine.Mode() != detect.ModeOff {
			s.policy.apply(ip, s.clock.Now(), &v)
		}
		out.WAFResponse = v.WAFResponse
		out.RequestHeaders = replyHeaders(d.RequestHeaders, v.Signals, s.cfg.CustomRequestHeaders)
		out.RespActions = wireActions(d.RespActions)
		if len(v.Signals) > 0 {
			out.RequestID = newRequestID()
		}
		rec.Signals, rec.Rule, rec.Policy = v.Signals, d.Rule, v.Note
	}
	rec.Out = *out
	rec.AgentLatency = time.Since(start)
	s.rec.addPre(rec, in, devs)
	s.metrics.decision(out.WAFResponse, rec.Signals)
	if s.cfg.DebugLogWebInputs {
		s.log.Info("PreRequest", "conn", h.c.id, "method", in.Method, "uri", rec.In.URI,
			"remote_addr", in.RemoteAddr, "client_ip", ip, "waf_response", out.WAFResponse,
			"tags", strings.Join(rec.Signals, ","), "rule", rec.Rule, "policy", rec.Policy,
			"request_id", out.RequestID, "duration", rec.AgentLatency)
	}
	return nil
}

// PostRequest records the response of a request that got no RequestID.
func (h *handler) PostRequest(in *wire.RPCMsgIn, out *int) error {
	s, start := h.s, time.Now()
	defer s.metrics.observeCall(methodPostRequest, start)
	if err := h.begin(methodPostRequest); err != nil {
		return err
	}
	signals := detect.ResponseSignals(int(in.ResponseCode))
	kept := redactIn(in, s.cfg.RecordRaw)
	s.rec.post(in, kept, h.c.id, checkRequest(in, true), signals)
	s.metrics.countSignals(signals)
	*out = 0
	if s.cfg.DebugLogWebInputs {
		s.log.Info("PostRequest", "conn", h.c.id, "method", in.Method, "uri", kept.URI,
			"response_code", in.ResponseCode, "tags", strings.Join(signals, ","),
			"duration", time.Since(start))
	}
	return nil
}

// UpdateRequest records the response of a request that got a RequestID.
func (h *handler) UpdateRequest(in *wire.RPCMsgIn2, out *int) error {
	s, start := h.s, time.Now()
	defer s.metrics.observeCall(methodUpdateRequest, start)
	if err := h.begin(methodUpdateRequest); err != nil {
		return err
	}
	signals := detect.ResponseSignals(int(in.ResponseCode))
	headersOut := in.HeadersOut
	if !s.cfg.RecordRaw {
		headersOut = redactHeaders(headersOut)
	}
	known := s.rec.update(in, headersOut, signals)
	if known {
		s.metrics.countSignals(signals)
	}
	*out = 0
	if s.cfg.DebugLogWebInputs {
		s.log.Info("UpdateRequest", "conn", h.c.id, "request_id", in.RequestID, "known", known,
			"response_code", in.ResponseCode, "tags", strings.Join(signals, ","),
			"duration", time.Since(start))
	}
	return nil
}

// begin counts a call of method and applies its faults; an error ends
// the call.
func (h *handler) begin(method string) error {
	h.s.rec.countCall(method)
	f, err := h.s.inject(method)
	if err != nil {
		return err
	}
	if f != faultNone {
		return h.s.fail(h.c, f)
	}
	return nil
}

// inject waits the latency injected into a call of method and draws
// what then happens to it. The error is errShuttingDown when shutdown cut
// the wait short.
func (s *Server) inject(method string) (fault, error) {
	delay, f := s.faults.plan(method)
	if delay > 0 {
		s.rec.countFault("latency")
		if err := s.clock.Sleep(s.callCtx, delay); err != nil {
			return faultNone, errShuttingDown
		}
	}
	return f, nil
}

// fail carries out fault f on a call on c and returns the call's error:
// the serving loop sends it as the RPC error, unless the connection is closed.
func (s *Server) fail(c *conn, f fault) error {
	s.rec.countFault(f.String())
	switch f {
	case faultDrop:
		_ = c.Close()
		return errDropped
	case faultHang:
		select {
		case <-c.done: // the module gave up and closed the connection
		case <-s.stopCtx.Done():
		}
		_ = c.Close()
		return errHung
	default:
		return errors.New(InjectedError)
	}
}

// requestIDSeq makes RequestIDs unique within the process; it starts at a
// random value so that IDs differ between runs too.
var requestIDSeq = func() *atomic.Uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	var n atomic.Uint32
	n.Store(binary.BigEndian.Uint32(b[:]))
	return &n
}()

// RequestIDLength is the length of the RequestIDs the fake agent gives: 24
// hex characters, under the 32 bytes from which msgpack encodes a string
// as str8, which older msgpack decoders (the PHP module's bundled
// pure-PHP one) cannot read. Every one encodes as a fixstr.
const RequestIDLength = 24

// newRequestID returns a unique, unpredictable RequestID: a 32-bit
// sequence number and 64 random bits, in hex.
func newRequestID() string {
	var b [RequestIDLength / 2]byte
	binary.BigEndian.PutUint32(b[:4], requestIDSeq.Add(1))
	_, _ = rand.Read(b[4:])
	return hex.EncodeToString(b[:])
}

// The request headers the agent sets, spelled as the real agent spells
// them on the wire: the vendor's PHP module looks them up case-sensitively
// under exactly these names (and the Python module's comments show them
// so), while the Go module canonicalises and Node.js matches any case.
const (
	HeaderTags     = "X-SigSci-Tags"
	HeaderRedirect = "X-Sigsci-Redirect"
)

// agentHeaderCase returns h with the agent's own request headers spelled
// as the real agent spells them (HeaderTags, HeaderRedirect).
func agentHeaderCase(h [][2]string) [][2]string {
	if len(h) == 0 {
		return h
	}
	out := make([][2]string, len(h))
	for i, kv := range h {
		switch {
		case strings.EqualFold(kv[0], HeaderTags):
			kv[0] = HeaderTags
		case strings.EqualFold(kv[0], HeaderRedirect):
			kv[0] = HeaderRedirect
		}
		out[i] = kv
	}
	return out
}

// replyHeaders returns the RequestHeaders of a reply: the engine's, spelled
// as the real agent spells them, with the tags header listing signals
// (which the policy may have added to), then the custom request headers.
func replyHeaders(engine [][2]string, signals []string, custom [][2]string) [][2]string {
	h := agentHeaderCase(engine)
	if len(signals) > 0 {
		tags := strings.Join(signals, ",")
		i := slices.IndexFunc(h, func(kv [2]string) bool { return kv[0] == HeaderTags })
		switch {
		case i < 0:
			h = append([][2]string{{HeaderTags, tags}}, h...)
		case h[i][1] != tags:
			h[i][1] = tags
		}
	}
	if len(custom) > 0 {
		h = append(h[:len(h):len(h)], custom...)
	}
	return h
}

// tagsOf returns the signals listed in an X-SigSci-Tags request header
// (any case).
func tagsOf(h [][2]string) []string {
	var tags []string
	for _, kv := range h {
		if !strings.EqualFold(kv[0], HeaderTags) {
			continue
		}
		for t := range strings.SplitSeq(kv[1], ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
	}
	return tags
}

// wireActions maps the engine's response header edits to the protocol's
// actions.
func wireActions(acts []detect.RespAction) []wire.Action {
	if len(acts) == 0 {
		return nil
	}
	out := make([]wire.Action, len(acts))
	for i, a := range acts {
		switch a.Op {
		case detect.RespAdd:
			out[i] = wire.Action{Code: wire.AddHdr, Args: []string{a.Name, a.Value}}
		case detect.RespSet:
			out[i] = wire.Action{Code: wire.SetHdr, Args: []string{a.Name, a.Value}}
		case detect.RespSetNE:
			out[i] = wire.Action{Code: wire.SetNEHdr, Args: []string{a.Name, a.Value}}
		case detect.RespDelete:
			out[i] = wire.Action{Code: wire.DelHdr, Args: []string{a.Name}}
		}
	}
	return out
}
