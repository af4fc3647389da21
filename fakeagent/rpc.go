package fakeagent

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
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

// handler is the "RPC" service of one connection. net/rpc runs each call
// in a goroutine of its own, so the methods run concurrently.
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
	h.c.initSeen.Store(true)
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
	rec := &Record{Conn: h.c.id, Received: s.clock.Now(), Pre: true, In: recordedIn(in), BodySize: len(in.PostBody)}
	devs := checkRequest(in, false)
	if !h.c.initSeen.Load() && !s.rec.initialized(in) {
		devs = append(devs, DeviationNoModuleInit)
	}

	f, err := s.inject(methodPreRequest)
	if err != nil {
		return err
	}
	if f != faultNone {
		// Recorded first: a hanging request shows in Requests meanwhile.
		rec.Fault = f.String()
		rec.AgentLatency = time.Since(start)
		s.rec.addPre(rec, devs)
		if s.cfg.DebugLogWebInputs {
			s.log.Info("PreRequest", "conn", h.c.id, "method", in.Method, "uri", in.URI,
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
			RemoteAddr: in.RemoteAddr,
			Headers:    in.HeadersIn,
			Body:       in.PostBody,
		})
		out.WAFResponse = d.WAFResponse
		out.RequestHeaders = d.RequestHeaders
		out.RespActions = wireActions(d.RespActions)
		if len(d.Signals) > 0 {
			out.RequestID = newRequestID()
		}
		rec.Signals, rec.Rule = d.Signals, d.Rule
	}
	rec.Out = *out
	rec.AgentLatency = time.Since(start)
	s.rec.addPre(rec, devs)
	s.metrics.decision(out.WAFResponse, rec.Signals)
	if s.cfg.DebugLogWebInputs {
		s.log.Info("PreRequest", "conn", h.c.id, "method", in.Method, "uri", in.URI,
			"remote_addr", in.RemoteAddr, "waf_response", out.WAFResponse,
			"tags", strings.Join(rec.Signals, ","), "rule", rec.Rule,
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
	s.rec.post(in, h.c.id, checkRequest(in, true), signals)
	s.metrics.countSignals(signals)
	*out = 0
	if s.cfg.DebugLogWebInputs {
		s.log.Info("PostRequest", "conn", h.c.id, "method", in.Method, "uri", in.URI,
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
	known := s.rec.update(in, signals)
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
// net/rpc sends it as the RPC error, unless the connection is closed.
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

// newRequestID returns a random (version 4) UUID.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// tagsOf returns the signals listed in an X-Sigsci-Tags request header.
func tagsOf(h [][2]string) []string {
	var tags []string
	for _, kv := range h {
		if !strings.EqualFold(kv[0], "X-Sigsci-Tags") {
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
