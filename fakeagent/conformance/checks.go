package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent"
)

// check is one entry of the suite.
type check struct {
	id       string
	title    string
	required bool
	run      func(context.Context, *suite) Result
}

// Protocol numbers the checks rely on: every known module's defaults.
const (
	maxContentLength = 100000
	anomalySize      = 512 << 10
	anomalyDuration  = time.Second
	// The values the anomaly checks ask the app for, clear of the limits.
	largeResponse = 600000
	slowResponse  = 1100 * time.Millisecond
	// recoverWithin bounds how long inspection may take to resume once
	// the agent is back.
	recoverWithin = 10 * time.Second
)

// sqli is an attack every agent blocks.
const sqli = "1' OR '1'='1"

// checks run in this order: the first phase against a healthy agent, then
// the fault phases, each with an agent of its own on the same address.
var checks = []check{
	{"allow", "A benign request is allowed and inspected", true, checkAllow},
	{"block-406", "An attack is blocked with the agent's 406", true, checkBlock406},
	{"block-custom", fmt.Sprintf("A rule's block code (%d) is answered as given", customBlockCode), true, checkBlockCustom},
	{"redirect", fmt.Sprintf("A redirect decision answers %d with the agent's Location", redirectCode), true, checkRedirect},
	{"agent-headers", "The agent's reply reaches the app (X-Sigsci-Agentresponse, -Requestid, -Tags)", true, checkAgentHeaders},
	{"spoofed-headers", "Client-sent X-Sigsci-* request headers do not reach the app", true, checkSpoofedHeaders},
	{"resp-actions", "RespActions add, set and delete response headers", true, checkRespActions},
	{"body-form", "A form body is sent to the agent and reaches the app whole", true, bodyCheck(formBody, true)},
	{"body-json", "A JSON body is sent to the agent and reaches the app whole", true, bodyCheck(jsonBody, true)},
	{"body-multipart", "A multipart body is sent to the agent and reaches the app whole", true, bodyCheck(multipartBody, true)},
	{"body-xml", "An XML body is sent to the agent and reaches the app whole", true, bodyCheck(xmlBody, true)},
	{"body-attack", "An attack in a form body is blocked", true, checkBodyAttack},
	{"body-over-limit", fmt.Sprintf("A body over %d bytes is not sent, and reaches the app whole", maxContentLength), true, bodyCheck(overLimitBody, true)},
	{"body-at-limit", fmt.Sprintf("A body of exactly %d bytes", maxContentLength), false, bodyCheck(atLimitBody, false)},
	{"body-text", "A text/plain body", false, bodyCheck(textBody, false)},
	{"body-no-type", "A body without a Content-Type", false, bodyCheck(untypedBody, false)},
	{"body-chunked", "A form body of unknown length (chunked)", false, bodyCheck(chunkedBody, false)},
	{"update-request", "UpdateRequest reports the response of each request given a RequestID", true, checkUpdateRequest},
	{"post-status", "PostRequest reports an error status (404)", true, postCheck("post-status", url.Values{"response_code": {"404"}}, checkCode(404))},
	{"post-size", fmt.Sprintf("PostRequest reports a large response (%d bytes)", largeResponse), true,
		postCheck("post-size", url.Values{"size": {strconv.Itoa(largeResponse)}}, checkSize)},
	{"post-duration", fmt.Sprintf("PostRequest reports a slow response (%v)", slowResponse), true,
		postCheck("post-duration", url.Values{"response_time": {strconv.Itoa(int(slowResponse / time.Millisecond))}}, checkDuration)},
	{"no-post-normal", "No PostRequest for a normal response", false, checkNoPostNormal},
	{"well-formed", "Every message is well-formed (no protocol deviations)", true, checkWellFormed},
	{"connection-reuse", "Connections to the agent", false, checkConnectionReuse},
	{"fail-open-hang", "Fail open when the agent never answers", true,
		failOpen(&fakeagent.Faults{HangRate: 1, Methods: []string{"PreRequest"}})},
	{"fail-open-error", "Fail open when the agent answers an RPC error", true,
		failOpen(&fakeagent.Faults{ErrorRate: 1, Methods: []string{"PreRequest"}})},
	{"fail-open-drop", "Fail open when the agent closes the connection without answering", true,
		failOpen(&fakeagent.Faults{DropRate: 1, Methods: []string{"PreRequest"}})},
	{"fail-open-down", "Fail open when the agent is down", true, failOpen(nil)},
	{"recovers", fmt.Sprintf("Inspection resumes within %v of the agent's return", recoverWithin), true, checkRecovers},
	{"module-init", "ModuleInit (optional)", false, checkModuleInit},
}

// ms formats a duration in milliseconds, to a tenth.
func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
}

func pass(format string, args ...any) Result {
	return Result{Status: StatusPass, Detail: fmt.Sprintf(format, args...)}
}

func fail(format string, args ...any) Result {
	return Result{Status: StatusFail, Detail: fmt.Sprintf(format, args...)}
}

func info(format string, args ...any) Result {
	return Result{Status: StatusInfo, Detail: fmt.Sprintf(format, args...)}
}

// decided sends r and checks that the app answered want after the agent
// decided wantWAF; it returns the exchange and the agent's record, or a
// failed Result.
func decided(ctx context.Context, s *suite, r request, want int, wantWAF int32) (exchange, *fakeagent.Record, *Result) {
	ex := s.send(ctx, r)
	if ex.err != nil {
		res := fail("the request failed: %v", ex.err)
		return ex, nil, &res
	}
	rec := s.find(r.token)
	if rec == nil || !rec.Pre {
		res := fail("answered %d, but the agent got no PreRequest for it", ex.status)
		return ex, nil, &res
	}
	if rec.Out.WAFResponse != wantWAF {
		res := fail("the agent answered WAFResponse %d (want %d): the request did not reach the agent as sent (URI %q)",
			rec.Out.WAFResponse, wantWAF, rec.In.URI)
		return ex, rec, &res
	}
	if ex.status != want {
		res := fail("the agent answered WAFResponse %d; the module answered %d (want %d)", wantWAF, ex.status, want)
		return ex, rec, &res
	}
	return ex, rec, nil
}

func checkAllow(ctx context.Context, s *suite) Result {
	tok := s.token("allow")
	s.tokens["allow"] = tok
	_, rec, res := decided(ctx, s, request{token: tok, query: url.Values{"response_code": {"200"}}}, 200, 200)
	if res != nil {
		return *res
	}
	return pass("200; the agent saw %s %s from %q (WAFResponse 200)", rec.In.Method, rec.In.URI, rec.In.RemoteAddr)
}

func checkBlock406(ctx context.Context, s *suite) Result {
	tok := s.token("block-406")
	s.tokens["block-406"] = tok
	_, rec, res := decided(ctx, s, request{token: tok, query: url.Values{"q": {sqli}}}, 406, 406)
	if res != nil {
		return *res
	}
	return pass("406 for signals %s", strings.Join(rec.Signals, ","))
}

func checkBlockCustom(ctx context.Context, s *suite) Result {
	_, _, res := decided(ctx, s, request{token: s.token(caseBlockCustom)}, customBlockCode, customBlockCode)
	if res != nil {
		return *res
	}
	return pass("%d, as the rule said", customBlockCode)
}

func checkRedirect(ctx context.Context, s *suite) Result {
	ex, _, res := decided(ctx, s, request{token: s.token(caseRedirect)}, redirectCode, redirectCode)
	if res != nil {
		return *res
	}
	loc := ex.header.Get("Location")
	if u, err := url.Parse(loc); loc == "" || err != nil || u.Path != redirectURL {
		return fail("%d, but Location is %q (want %q, from X-Sigsci-Redirect)", redirectCode, loc, redirectURL)
	}
	return pass("%d to %s", redirectCode, loc)
}

// appHeaders asks the app's GET /headers echo route what it received.
func appHeaders(ctx context.Context, s *suite, r request) (map[string]string, *fakeagent.Record, *Result) {
	r.path = "/headers"
	ex := s.send(ctx, r)
	if ex.err != nil {
		res := fail("GET /headers failed: %v", ex.err)
		return nil, nil, &res
	}
	if ex.status != 200 {
		res := fail("GET /headers answered %d: the app needs the /headers echo route (a JSON object of the X-Sigsci-* request headers it received)", ex.status)
		return nil, nil, &res
	}
	var raw map[string]any
	if err := json.Unmarshal(ex.body, &raw); err != nil {
		res := fail("GET /headers answered no JSON object: %v (body %.80q)", err, ex.body)
		return nil, nil, &res
	}
	got := make(map[string]string, len(raw))
	for k, v := range raw {
		switch v := v.(type) {
		case string:
			got[http.CanonicalHeaderKey(k)] = v
		case []any:
			parts := make([]string, len(v))
			for i, p := range v {
				parts[i] = fmt.Sprint(p)
			}
			got[http.CanonicalHeaderKey(k)] = strings.Join(parts, ", ")
		default:
			got[http.CanonicalHeaderKey(k)] = fmt.Sprint(v)
		}
	}
	return got, s.find(r.token), nil
}

// headerValue returns the first value of name in pairs, case-insensitively.
func headerValue(pairs [][2]string, name string) string {
	for _, kv := range pairs {
		if strings.EqualFold(kv[0], name) {
			return kv[1]
		}
	}
	return ""
}

func sameTags(a, b string) bool {
	split := func(s string) []string {
		var out []string
		for t := range strings.SplitSeq(s, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
		sort.Strings(out)
		return out
	}
	return slices.Equal(split(a), split(b))
}

func checkAgentHeaders(ctx context.Context, s *suite) Result {
	tok := s.token(caseTag)
	s.tokens["tag"] = tok
	got, rec, res := appHeaders(ctx, s, request{token: tok})
	if res != nil {
		return *res
	}
	if rec == nil {
		return fail("the agent got no PreRequest for GET /headers")
	}
	wantTags := headerValue(rec.Out.RequestHeaders, "X-Sigsci-Tags")
	if rec.Out.RequestID == "" || wantTags == "" {
		return fail("the agent gave no RequestID or tags (rule conformance-tag did not match %q)", rec.In.URI)
	}
	var wrong []string
	if v := got["X-Sigsci-Agentresponse"]; v != "200" {
		wrong = append(wrong, fmt.Sprintf("X-Sigsci-Agentresponse %q (want \"200\")", v))
	}
	if v := got["X-Sigsci-Requestid"]; v != rec.Out.RequestID {
		wrong = append(wrong, fmt.Sprintf("X-Sigsci-Requestid %q (want %q)", v, rec.Out.RequestID))
	}
	if v := got["X-Sigsci-Tags"]; !sameTags(v, wantTags) {
		wrong = append(wrong, fmt.Sprintf("X-Sigsci-Tags %q (want %q)", v, wantTags))
	}
	if len(wrong) > 0 {
		return fail("the app saw %s", strings.Join(wrong, "; "))
	}
	return pass("the app saw X-Sigsci-Agentresponse 200, X-Sigsci-Requestid %s, X-Sigsci-Tags %s", rec.Out.RequestID, wantTags)
}

// spoofed are the agent headers a client sends to fool the app.
var spoofed = []struct{ name, value string }{
	{"X-Sigsci-Tags", "SPOOFED-TAG"},
	{"X-Sigsci-Redirect", "http://spoofed.invalid/"},
	{"X-Sigsci-Requestid", "spoofed-request-id"},
	{"X-Sigsci-Agentresponse", "599"},
}

// spoofedOther is an X-Sigsci-* name the protocol does not name; what
// becomes of it is reported, not judged.
const spoofedOther = "X-Sigsci-Conformance-Spoofed"

func checkSpoofedHeaders(ctx context.Context, s *suite) Result {
	h := http.Header{}
	for _, sp := range spoofed {
		h.Set(sp.name, sp.value)
	}
	h.Set(spoofedOther, "1")
	got, _, res := appHeaders(ctx, s, request{token: s.token("spoof"), header: h})
	if res != nil {
		return *res
	}
	var leaked []string
	for _, sp := range spoofed {
		if v, ok := got[sp.name]; ok && strings.Contains(v, sp.value) {
			leaked = append(leaked, sp.name+": "+sp.value)
		}
	}
	other := "removed too"
	if _, ok := got[spoofedOther]; ok {
		other = "passed through"
	}
	if len(leaked) > 0 {
		return fail("the app saw the client's %s (%s, not named by the protocol, %s)", strings.Join(leaked, ", "), spoofedOther, other)
	}
	return pass("none of the client's %d reached the app (%s, not named by the protocol, %s)", len(spoofed), spoofedOther, other)
}

func checkRespActions(ctx context.Context, s *suite) Result {
	q := url.Values{"response_code": {"302"}}
	ctl := s.send(ctx, request{token: s.token("resp-control"), query: q})
	if ctl.err != nil {
		return fail("the control request failed: %v", ctl.err)
	}
	ex := s.send(ctx, request{token: s.token(caseRespActions), query: q})
	if ex.err != nil {
		return fail("the request failed: %v", ex.err)
	}
	var ok, bad []string
	if v := ex.header.Get(respAddHeader); v == respAddValue {
		ok = append(ok, "added "+respAddHeader)
	} else {
		bad = append(bad, fmt.Sprintf("%s %q (want %q added)", respAddHeader, v, respAddValue))
	}
	if v := ex.header.Values(respSetHeader); slices.Equal(v, []string{respSetValue}) {
		ok = append(ok, "set "+respSetHeader)
	} else {
		bad = append(bad, fmt.Sprintf("%s %q (want it set to %q)", respSetHeader, v, respSetValue))
	}
	switch {
	case ctl.header.Get(respDeleteField) == "":
		ok = append(ok, fmt.Sprintf("delete not testable: the app sets no %s on its 3xx", respDeleteField))
	case ex.header.Get(respDeleteField) == "":
		ok = append(ok, "deleted "+respDeleteField)
	default:
		bad = append(bad, fmt.Sprintf("%s %q still there (want it deleted)", respDeleteField, ex.header.Get(respDeleteField)))
	}
	if len(bad) > 0 {
		return fail("%s", strings.Join(append(bad, ok...), "; "))
	}
	return pass("%s", strings.Join(ok, ", "))
}

// body is a request body case.
type body struct {
	name        string
	contentType string // "" sends none
	data        []byte
	chunked     bool
	sent        bool   // whether the protocol's default rule sends it
	rule        string // that rule, for the report
}

var (
	formBody = body{name: "body-form", contentType: "application/x-www-form-urlencoded",
		data: []byte("name=conformance&comment=hello+world"), sent: true, rule: "forms are sent"}
	jsonBody = body{name: "body-json", contentType: "application/json",
		data: []byte(`{"name":"conformance","n":1}`), sent: true, rule: "JSON is sent"}
	multipartBody = body{name: "body-multipart", contentType: "multipart/form-data; boundary=conformance-boundary",
		data: multipartData(), sent: true, rule: "multipart is sent"}
	xmlBody = body{name: "body-xml", contentType: "application/xml",
		data: []byte(`<conformance><n>1</n></conformance>`), sent: true, rule: "XML is sent"}
	overLimitBody = body{name: "body-over-limit", contentType: "application/x-www-form-urlencoded",
		data: formOfSize(maxContentLength + 1), sent: false, rule: fmt.Sprintf("bodies over %d bytes are not sent", maxContentLength)}
	atLimitBody = body{name: "body-at-limit", contentType: "application/x-www-form-urlencoded",
		data: formOfSize(maxContentLength), sent: true, rule: fmt.Sprintf("bodies of 1 to %d bytes are sent", maxContentLength)}
	textBody = body{name: "body-text", contentType: "text/plain",
		data: []byte("plain conformance text"), sent: false, rule: "text/plain is not sent unless configured"}
	untypedBody = body{name: "body-no-type",
		data: []byte("name=conformance"), sent: true, rule: "a body without a Content-Type is sent"}
	chunkedBody = body{name: "body-chunked", contentType: "application/x-www-form-urlencoded",
		data: []byte("name=conformance&chunked=1"), chunked: true, sent: false, rule: "a body of unknown length is not sent unless configured"}
)

func formOfSize(n int) []byte { return append([]byte("a="), bytes.Repeat([]byte{'x'}, n-2)...) }

func multipartData() []byte {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	_ = w.SetBoundary("conformance-boundary")
	_ = w.WriteField("name", "conformance")
	_ = w.WriteField("comment", "hello world")
	_ = w.Close()
	return b.Bytes()
}

// bodyCheck posts b to the app's echo route: the app must get it whole,
// and the agent must get it exactly when the protocol's rule says so (a
// required check) or is told which it got (an informational one).
func bodyCheck(b body, required bool) func(context.Context, *suite) Result {
	return func(ctx context.Context, s *suite) Result {
		tok := s.token(b.name)
		ex := s.send(ctx, request{method: http.MethodPost, token: tok, query: url.Values{"echo": {"1"}},
			body: b.data, contentType: b.contentType, chunked: b.chunked})
		if ex.err != nil {
			return fail("the request failed: %v", ex.err)
		}
		var problems []string
		if ex.status != 200 {
			problems = append(problems, fmt.Sprintf("answered %d", ex.status))
		} else if !bytes.Equal(ex.body, b.data) {
			problems = append(problems, fmt.Sprintf("the app got %d bytes, not the %d sent", len(ex.body), len(b.data)))
		}
		rec := s.find(tok)
		if rec == nil || !rec.Pre {
			problems = append(problems, "the agent got no PreRequest for it")
			return fail("%s", strings.Join(problems, "; "))
		}
		sent := rec.BodySize > 0
		switch {
		case sent && rec.BodySize != len(b.data):
			problems = append(problems, fmt.Sprintf("the agent got %d of the %d bytes", rec.BodySize, len(b.data)))
		case sent && len(b.data) <= len(rec.In.PostBody) && rec.In.PostBody != string(b.data):
			problems = append(problems, "the agent got other bytes than those sent")
		}
		what := "not sent to the agent"
		if sent {
			what = fmt.Sprintf("sent to the agent (%d bytes)", rec.BodySize)
		}
		if !required {
			if len(problems) > 0 {
				return fail("%s; %s", what, strings.Join(problems, "; "))
			}
			verdict := "as the protocol's default rule has it"
			if sent != b.sent {
				verdict = "the protocol's default rule differs"
			}
			return info("%s (%s: %s); the app got it whole", what, verdict, b.rule)
		}
		if sent != b.sent {
			problems = append(problems, fmt.Sprintf("%s, but %s", what, b.rule))
		}
		if len(problems) > 0 {
			return fail("%s", strings.Join(problems, "; "))
		}
		return pass("%s; the app got all %d bytes", what, len(b.data))
	}
}

func checkBodyAttack(ctx context.Context, s *suite) Result {
	data := []byte(url.Values{"q": {sqli}}.Encode())
	tok := s.token("body-attack")
	_, rec, res := decided(ctx, s, request{method: http.MethodPost, token: tok, query: url.Values{"echo": {"1"}},
		body: data, contentType: "application/x-www-form-urlencoded"}, 406, 406)
	if res != nil {
		if rec != nil && rec.BodySize == 0 {
			res.Detail += " (the body was not sent to the agent)"
		}
		return *res
	}
	return pass("406 for signals %s found in the body", strings.Join(rec.Signals, ","))
}

// waitResponse waits for the UpdateRequest or PostRequest of tok.
func waitResponse(ctx context.Context, s *suite, tok string) (resp *fakeagent.Response, matched bool) {
	s.waitFor(ctx, func() bool {
		resp, matched = s.findPost(tok)
		return resp != nil
	})
	return resp, matched
}

func checkUpdateRequest(ctx context.Context, s *suite) Result {
	cases := []struct {
		key  string
		code int32
	}{{"tag", 200}, {"block-406", 406}}
	var ok, bad []string
	for _, c := range cases {
		tok, found := s.tokens[c.key]
		if !found {
			bad = append(bad, c.key+": no request to look at")
			continue
		}
		rec := s.find(tok)
		if rec == nil || rec.Out.RequestID == "" {
			bad = append(bad, c.key+": the agent gave it no RequestID")
			continue
		}
		resp, _ := waitResponse(ctx, s, tok)
		switch {
		case resp == nil:
			bad = append(bad, fmt.Sprintf("%s (%d): no UpdateRequest within %v", c.key, c.code, s.cfg.Settle))
		case resp.Via != "UpdateRequest":
			bad = append(bad, fmt.Sprintf("%s (%d): a %s instead of an UpdateRequest", c.key, c.code, resp.Via))
		case resp.ResponseCode != c.code:
			bad = append(bad, fmt.Sprintf("%s: UpdateRequest with ResponseCode %d (want %d)", c.key, resp.ResponseCode, c.code))
		default:
			ok = append(ok, fmt.Sprintf("%s: %d after %v", c.key, resp.ResponseCode, ms(resp.After)))
		}
	}
	if len(bad) > 0 {
		return fail("%s", strings.Join(append(bad, ok...), "; "))
	}
	return pass("%s", strings.Join(ok, "; "))
}

func checkCode(code int32) func(*fakeagent.Response) string {
	return func(r *fakeagent.Response) string {
		if r.ResponseCode != code {
			return fmt.Sprintf("ResponseCode %d (want %d)", r.ResponseCode, code)
		}
		return ""
	}
}

func checkSize(r *fakeagent.Response) string {
	if r.ResponseSize < anomalySize {
		return fmt.Sprintf("ResponseSize %d (want %d)", r.ResponseSize, largeResponse)
	}
	return ""
}

func checkDuration(r *fakeagent.Response) string {
	if time.Duration(r.ResponseMillis)*time.Millisecond < anomalyDuration {
		return fmt.Sprintf("ResponseMillis %d (want at least %d)", r.ResponseMillis, anomalyDuration/time.Millisecond)
	}
	return ""
}

// postCheck asks the app for an anomalous response and waits for the
// PostRequest that reports it.
func postCheck(c string, q url.Values, judge func(*fakeagent.Response) string) func(context.Context, *suite) Result {
	return func(ctx context.Context, s *suite) Result {
		tok := s.token(c)
		ex := s.send(ctx, request{token: tok, query: q})
		if ex.err != nil {
			return fail("the request failed: %v", ex.err)
		}
		resp, matched := waitResponse(ctx, s, tok)
		if resp == nil {
			return fail("answered %d in %v; no PostRequest within %v", ex.status, ms(ex.elapsed), s.cfg.Settle)
		}
		if resp.Via != "PostRequest" {
			return fail("a %s instead of a PostRequest", resp.Via)
		}
		match := "matched to its PreRequest"
		if !matched {
			match = "a PostRequest the agent could not match to its PreRequest"
		}
		if why := judge(resp); why != "" {
			return fail("PostRequest with %s (%s)", why, match)
		}
		return pass("PostRequest: ResponseCode %d, ResponseSize %d, ResponseMillis %d (%s)",
			resp.ResponseCode, resp.ResponseSize, resp.ResponseMillis, match)
	}
}

func checkNoPostNormal(_ context.Context, s *suite) Result {
	tok, ok := s.tokens["allow"]
	if !ok {
		return info("no request to look at")
	}
	if resp, _ := s.findPost(tok); resp != nil {
		return info("a %s for a 200 answered at once (the protocol sends PostRequest only for anomalies)", resp.Via)
	}
	return info("none, as the protocol has it")
}

func checkWellFormed(_ context.Context, s *suite) Result {
	st := s.main.Stats()
	var devs []string
	for d, n := range st.Deviations {
		if n == 0 {
			continue
		}
		devs = append(devs, fmt.Sprintf("%s ×%d", d, n))
	}
	sort.Strings(devs)
	calls := uint64(0)
	for _, n := range st.Calls {
		calls += n
	}
	if len(devs) > 0 {
		return fail("%s in %d calls (see the fake agent's /requests for the messages)", strings.Join(devs, ", "), calls)
	}
	return pass("0 deviations in %d calls", calls)
}

func checkConnectionReuse(_ context.Context, s *suite) Result {
	st := s.main.Stats()
	calls := uint64(0)
	for _, n := range st.Calls {
		calls += n
	}
	how := "pooled"
	if st.Connections*10 >= calls*9 {
		how = "a connection per call, as upstream modules do"
	}
	return info("%d calls over %d connections: %s", calls, st.Connections, how)
}

// failOpen swaps the agent for one with faults f (nil: none at all), then
// sends a GET and a POST to echo: both must be answered by the app, the
// body whole. With faults, each is sent until the agent has seen one
// carry the fault, for up to the settle time (a module's first call after
// the swap may meet a dead connection, or an open circuit breaker may
// skip the agent: both fail open without reaching it); every try must be
// answered.
func failOpen(f *fakeagent.Faults) func(context.Context, *suite) Result {
	return func(ctx context.Context, s *suite) Result {
		var err error
		if f == nil {
			err = s.agent.stop()
		} else {
			err = s.agent.restart(*f)
		}
		if err != nil {
			return fail("setting the agent up: %v", err)
		}
		get := request{query: url.Values{"response_code": {"200"}}}
		post := request{method: http.MethodPost, query: url.Values{"echo": {"1"}}, body: formBody.data, contentType: formBody.contentType}
		var ok, bad []string
		for _, r := range []struct {
			name string
			req  request
		}{{"GET", get}, {"POST", post}} {
			tries, faulted := 0, false
			var last exchange
			deadline := time.Now().Add(s.cfg.Settle)
			for !faulted && len(bad) == 0 && (tries == 0 || time.Now().Before(deadline)) {
				if tries > 0 {
					pause(ctx, failOpenPace)
				}
				tries++
				r.req.token = s.token("fail-open")
				last = s.send(ctx, r.req)
				switch {
				case last.err != nil:
					bad = append(bad, fmt.Sprintf("%s failed after %v: %v", r.name, ms(last.elapsed), last.err))
				case last.status != 200:
					bad = append(bad, fmt.Sprintf("%s answered %d", r.name, last.status))
				case r.req.body != nil && !bytes.Equal(last.body, r.req.body):
					bad = append(bad, fmt.Sprintf("%s: the app got %d of the %d body bytes", r.name, len(last.body), len(r.req.body)))
				}
				faulted = f == nil
				if rec := s.find(r.req.token); rec != nil && rec.Fault != "" {
					faulted = true
				}
			}
			switch {
			case len(bad) > 0:
			case !faulted:
				bad = append(bad, fmt.Sprintf("%s: none of %d requests in %v reached the agent (all failed open without calling it)", r.name, tries, s.cfg.Settle))
			case tries > 1:
				ok = append(ok, fmt.Sprintf("%s 200 in %v (at try %d; the earlier ones failed open before reaching the agent)", r.name, ms(last.elapsed), tries))
			default:
				ok = append(ok, fmt.Sprintf("%s 200 in %v", r.name, ms(last.elapsed)))
			}
		}
		if len(bad) > 0 {
			return fail("%s", strings.Join(append(bad, ok...), "; "))
		}
		return pass("%s; the body whole", strings.Join(ok, ", "))
	}
}

// failOpenPace spaces the requests sent until one reaches a faulty agent,
// leaving a circuit breaker the time to let a probe through.
const failOpenPace = 50 * time.Millisecond

// pause waits d or until ctx is done.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func checkRecovers(ctx context.Context, s *suite) Result {
	if err := s.agent.restart(fakeagent.Faults{}); err != nil {
		return fail("starting the agent again: %v", err)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, recoverWithin)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for n := 1; ; n++ {
		ex := s.send(ctx, request{token: s.token("recover"), query: url.Values{"q": {sqli}}})
		if ex.err == nil && ex.status == 406 {
			return pass("an attack was blocked again at request %d, %v after the agent's return", n, ms(time.Since(start)))
		}
		select {
		case <-ctx.Done():
			return fail("%d attacks in %v after the agent's return, none blocked (last: %d %v)", n, recoverWithin, ex.status, ex.err)
		case <-tick.C:
		}
	}
}

func checkModuleInit(_ context.Context, s *suite) Result {
	inits := map[string]uint64{}
	var order []string
	for _, srv := range s.agent.all {
		for _, m := range srv.Stats().Modules {
			if m.Inits == 0 { // a module known from its PreRequests only
				continue
			}
			if _, ok := inits[m.ModuleVersion]; !ok {
				order = append(order, m.ModuleVersion)
			}
			inits[m.ModuleVersion] += m.Inits
		}
	}
	if len(order) == 0 {
		return info("not sent (it is optional: Go modules send it at start, so start the app after the agent to see it; Node.js, Python and PHP never send it)")
	}
	parts := make([]string, len(order))
	for i, v := range order {
		parts[i] = fmt.Sprintf("%q ×%d", v, inits[v])
	}
	return info("sent by %s over %d agent starts", strings.Join(parts, ", "), len(s.agent.all))
}
