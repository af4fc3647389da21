package detect

import (
	"fmt"
	"strings"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// Request is the part of an inspected HTTP request the engine looks at.
type Request struct {
	Method     string
	URI        string      // path?query exactly as received (not decoded)
	RemoteAddr string      // client IP
	Headers    [][2]string // name/value pairs as sent by the module, in order (names in any case)
	Body       string      // request body ("PostBody"); empty when the module did not send it
}

// Decision is the engine's verdict on one request, ready to become an
// RPCMsgOut.
type Decision struct {
	WAFResponse    int32         // 200 allow, 406 default block, a rule's code, or 3xx for redirects
	Signals        []string      // sorted, unique: attack, anomaly and SITE.<NAME> signals
	RequestHeaders [][2]string   // ["X-Sigsci-Tags", "SQLI,XSS"] when there are signals; ["X-Sigsci-Redirect", url] for redirects
	RespActions    []wire.Action // response header edits from rules, in rule order
	Rule           string        // ID of the rule that decided ("" when none); in ModeNotBlocking, the rule that would have
}

// Request headers the engine asks the module to set for the application.
const (
	HeaderTags     = "X-Sigsci-Tags"     // comma-separated signals
	HeaderRedirect = "X-Sigsci-Redirect" // redirect target, with a 3xx WAFResponse
)

// Engine inspects requests and decides on them. It holds no per-request
// state and is safe for concurrent use.
type Engine struct {
	mode  Mode
	rules []Rule
}

// NewEngine returns an engine running in mode ("" means ModeBlocking) with
// rules, evaluated in order. Rules are validated and compiled here, once:
// it panics on an unknown mode or on a rule that does not validate (rules
// from ParseRules always do; check hand-built ones with Rule.Validate).
func NewEngine(mode Mode, rules []Rule) *Engine {
	m, err := ParseMode(string(mode))
	if err != nil {
		panic("detect.NewEngine: " + err.Error())
	}
	e := &Engine{mode: m, rules: make([]Rule, len(rules))}
	for i, r := range rules {
		c, err := r.compiled()
		if err != nil {
			panic(fmt.Sprintf("detect.NewEngine: rule %d (%q): %v", i, r.ID, err))
		}
		e.rules[i] = c
	}
	return e
}

// Mode reports the engine's mode.
func (e *Engine) Mode() Mode { return e.mode }

// Decide inspects req, evaluates the rules and returns the verdict:
//
//   - ModeOff: 200 and nothing else; rules are not evaluated.
//   - ModeBlocking: the first matching block/allow/redirect rule decides;
//     without one, any attack signal gives 406 (anomalies alone do not).
//   - ModeNotBlocking: always 200, with the same signals, tags and
//     response-header actions as ModeBlocking would give.
func (e *Engine) Decide(req *Request) Decision {
	d := Decision{WAFResponse: 200}
	if e.mode == ModeOff {
		return d
	}
	uri := parseURI(req.URI)
	var in inspector
	in.inspect(req, &uri)

	ri := ruleInput{req: req, uri: &uri, sig: in.sig}
	var decided *Rule
	for i := range e.rules {
		r := &e.rules[i]
		if !r.matches(&ri) {
			continue
		}
		a := &r.Action
		switch a.Type {
		case ActionAddSignal:
			if !contains(ri.site, a.Signal) {
				ri.site = append(ri.site, a.Signal)
			}
			continue
		case ActionAddResponseHeader:
			d.RespActions = append(d.RespActions, wire.Action{Code: wire.AddHdr, Args: []string{a.Header, a.Value}})
			continue
		case ActionSetResponseHeader:
			d.RespActions = append(d.RespActions, wire.Action{Code: wire.SetHdr, Args: []string{a.Header, a.Value}})
			continue
		case ActionDeleteResponseHeader:
			d.RespActions = append(d.RespActions, wire.Action{Code: wire.DelHdr, Args: []string{a.Header}})
			continue
		}
		decided = r
		break
	}

	d.Signals = in.sig.names(ri.site)
	if len(d.Signals) > 0 {
		d.RequestHeaders = append(d.RequestHeaders, [2]string{HeaderTags, strings.Join(d.Signals, ",")})
	}
	if decided != nil {
		d.Rule = decided.ID
	}
	if e.mode != ModeBlocking {
		return d
	}
	switch {
	case decided == nil:
		if in.sig.hasAttack() {
			d.WAFResponse = 406
		}
	case decided.Action.Type == ActionBlock:
		d.WAFResponse = int32(decided.Action.Code)
	case decided.Action.Type == ActionRedirect:
		d.WAFResponse = int32(decided.Action.Code)
		d.RequestHeaders = append(d.RequestHeaders, [2]string{HeaderRedirect, decided.Action.URL})
	}
	return d
}

// Signals inspects req and returns its attack and anomaly signals, sorted
// and unique, without evaluating rules. In ModeOff it returns nil.
func (e *Engine) Signals(req *Request) []string {
	if e.mode == ModeOff {
		return nil
	}
	uri := parseURI(req.URI)
	var in inspector
	in.inspect(req, &uri)
	return in.sig.names(nil)
}
