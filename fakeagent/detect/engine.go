package detect

import (
	"fmt"
	"strings"
	"sync"
)

// Request is the part of an inspected HTTP request the engine looks at: the
// engine's own description, which the server fills from the module's
// message.
type Request struct {
	Method     string
	URI        string      // path?query exactly as received (not decoded)
	RemoteAddr string      // client IP
	Headers    [][2]string // name/value pairs as sent by the module, in order (names in any case)
	Body       string      // request body ("PostBody"); empty when the module did not send it
}

// Decision is the engine's verdict on one request; the server turns it
// into the agent's reply.
type Decision struct {
	WAFResponse    int32        // 200 allow, 406 default block, a rule's code, or 3xx for redirects
	Signals        []string     // sorted, unique: attack, anomaly and SITE.<NAME> signals
	RequestHeaders [][2]string  // ["X-Sigsci-Tags", "SQLI,XSS"] when there are signals; ["X-Sigsci-Redirect", url] for redirects
	RespActions    []RespAction // response header edits from rules, in rule order
	Rule           string       // ID of the rule that decided ("" when none); in ModeNotBlocking, the rule that would have
}

// RespOp is what a RespAction does to a response header.
type RespOp uint8

// The response header edits a rule can ask for.
const (
	RespAdd    RespOp = iota + 1 // add Value to header Name
	RespSet                      // set header Name to Value
	RespSetNE                    // set header Name to Value unless it is already set
	RespDelete                   // delete header Name
)

// RespAction is one edit of the application's response headers.
type RespAction struct {
	Op    RespOp
	Name  string
	Value string // unused by RespDelete
}

// Request headers the engine asks the module to set for the application.
const (
	HeaderTags     = "X-Sigsci-Tags"     // comma-separated signals
	HeaderRedirect = "X-Sigsci-Redirect" // redirect target, with a 3xx WAFResponse
)

// Detector is the stage of the pipeline the engines differ in: it finds
// the built-in signals of a request and says whether, on its own, the
// request should be blocked. Implementations hold no per-request state and
// are safe for concurrent use. Native returns the built-in one; package
// crs has one running the OWASP Core Rule Set on Coraza.
type Detector interface {
	Detect(req *Request) Findings
}

// Findings is what a Detector found in one request.
type Findings struct {
	set signalSet
	// Block is the detector's verdict in ModeBlocking when no rule
	// decides: any attack signal for the native detector, the inbound
	// anomaly score reaching its threshold for CRS.
	Block bool
}

// Add adds a built-in signal by name and reports whether it is one.
func (f *Findings) Add(signal string) bool {
	for i := range numSignals {
		if signalNames[i] == signal {
			f.set.add(i)
			return true
		}
	}
	return false
}

// Has reports whether the findings hold the built-in signal.
func (f *Findings) Has(signal string) bool {
	for i := range numSignals {
		if signalNames[i] == signal {
			return f.set.has(i)
		}
	}
	return false
}

// Signals returns the signals found, sorted.
func (f *Findings) Signals() []string { return f.set.names(nil) }

// Engine inspects requests and decides on them: a Detector finds signals,
// then the decision policy (mode, custom rules) turns them into the
// agent's answer. It holds no per-request state and is safe for concurrent
// use.
type Engine struct {
	mode  Mode
	rules []Rule
	det   Detector // nil: the native detector, called without the interface
}

// NewEngine returns an engine running the native detector in mode (""
// means ModeBlocking) with rules, evaluated in order. Rules are validated
// and compiled here, once: it panics on an unknown mode or on a rule that
// does not validate (rules from ParseRules always do; check hand-built ones
// with Rule.Validate).
func NewEngine(mode Mode, rules []Rule) *Engine {
	return NewEngineWith(mode, rules, nil)
}

// NewEngineWith is NewEngine with another detector; nil means the native
// one.
func NewEngineWith(mode Mode, rules []Rule, det Detector) *Engine {
	m, err := ParseMode(string(mode))
	if err != nil {
		panic("detect.NewEngine: " + err.Error())
	}
	if _, ok := det.(nativeDetector); ok {
		det = nil
	}
	e := &Engine{mode: m, rules: make([]Rule, len(rules)), det: det}
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

// Native returns the built-in detector: the location, transformation and
// per-signal detector stages of package detect.
func Native() Detector { return nativeDetector{} }

type nativeDetector struct{}

func (nativeDetector) Detect(req *Request) Findings {
	uri := parseURI(req.URI)
	return inspectRequest(req, &uri)
}

func (e *Engine) detect(req *Request, uri *parsedURI) Findings {
	if e.det != nil {
		return e.det.Detect(req)
	}
	return inspectRequest(req, uri)
}

// inspectors keeps inspectors, and the buffers they have grown, from one
// request to the next.
var inspectors = sync.Pool{New: func() any { return new(inspector) }}

// inspectRequest runs the native detectors on req.
func inspectRequest(req *Request, uri *parsedURI) Findings {
	in := inspectors.Get().(*inspector)
	in.sig, in.values = 0, 0
	in.inspect(req, uri)
	f := Findings{set: in.sig, Block: in.sig.hasAttack()}
	inspectors.Put(in)
	return f
}

// Decide inspects req, evaluates the rules and returns the verdict:
//
//   - ModeOff: 200 and nothing else; rules are not evaluated.
//   - ModeBlocking: the first matching block/allow/redirect rule decides;
//     without one, the detector's verdict does: 406 when it says block (the
//     native detector: any attack signal; anomalies alone do not).
//   - ModeNotBlocking: always 200, with the same signals, tags and
//     response-header actions as ModeBlocking would give.
func (e *Engine) Decide(req *Request) Decision {
	d := Decision{WAFResponse: 200}
	if e.mode == ModeOff {
		return d
	}
	uri := parseURI(req.URI)
	f := e.detect(req, &uri)

	ri := ruleInput{req: req, uri: &uri, sig: f.set}
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
			d.RespActions = append(d.RespActions, RespAction{Op: RespAdd, Name: a.Header, Value: a.Value})
			continue
		case ActionSetResponseHeader:
			d.RespActions = append(d.RespActions, RespAction{Op: RespSet, Name: a.Header, Value: a.Value})
			continue
		case ActionDeleteResponseHeader:
			d.RespActions = append(d.RespActions, RespAction{Op: RespDelete, Name: a.Header})
			continue
		}
		decided = r
		break
	}

	d.Signals = f.set.names(ri.site)
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
		if f.Block {
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
	f := e.detect(req, &uri)
	return f.set.names(nil)
}
