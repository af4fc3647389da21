package detect

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// Rule is one custom rule: when all its conditions match a request, its
// action applies. Rules are evaluated in order; add-signal and the
// response-header actions apply and evaluation goes on; the first matching
// block, allow or redirect rule decides and stops it.
type Rule struct {
	ID          string      // unique name, reported in Decision.Rule
	Description string      // free text
	Conditions  []Condition // all must match; none means every request matches
	Action      RuleAction
	Source      string // "file:line" where the rule was defined; "" when built in code
}

// Field names the part of a request a condition looks at.
type Field string

// The fields a condition can look at.
const (
	FieldMethod Field = "method" // the HTTP method, compared case-insensitively
	FieldPath   Field = "path"   // the URL path, percent-decoded once
	FieldQuery  Field = "query"  // with Name, each value of that parameter (decoded once); without, the raw query string
	FieldHeader Field = "header" // each value of the header called Name (names compare case-insensitively)
	FieldIP     Field = "ip"     // the client IP (RemoteAddr), with equals (an IP) or cidr (a prefix)
	FieldBody   Field = "body"   // the raw request body
	FieldSignal Field = "signal" // each signal the request carries so far (upper case): attack, anomaly, SITE.*
)

var fields = []Field{FieldMethod, FieldPath, FieldQuery, FieldHeader, FieldIP, FieldBody, FieldSignal}

// Operator is how a condition compares a field with its value.
type Operator string

// The operators. All comparisons are case-sensitive except on method, on
// signal names (both upper-cased) and with a (?i) regular expression.
const (
	OpEquals   Operator = "equals" // the default
	OpContains Operator = "contains"
	OpPrefix   Operator = "prefix"
	OpSuffix   Operator = "suffix"
	OpRegex    Operator = "regex" // Go RE2 syntax, unanchored
	OpCIDR     Operator = "cidr"  // ip only: the client IP is within the prefix
)

var operators = []Operator{OpEquals, OpContains, OpPrefix, OpSuffix, OpRegex, OpCIDR}

// Condition is one test on a request.
type Condition struct {
	Field Field
	Name  string   // header name (required for header), query parameter name (optional for query)
	Op    Operator // "" means equals
	Value string
	Not   bool // negate the result (a missing header or parameter then matches)

	re     *regexp.Regexp
	prefix netip.Prefix
}

// ActionType names what a rule does.
type ActionType string

// The actions. block, allow and redirect are terminal: the first matching
// one decides. The others apply and let evaluation go on.
const (
	ActionBlock                ActionType = "block"                  // WAFResponse Code (400-599, default 406)
	ActionAllow                ActionType = "allow"                  // WAFResponse 200 even with attack signals
	ActionRedirect             ActionType = "redirect"               // WAFResponse Code (301 or 302; default 302) and X-Sigsci-Redirect: URL
	ActionAddSignal            ActionType = "add-signal"             // add the signal SITE.<SIGNAL>
	ActionAddResponseHeader    ActionType = "add-response-header"    // add Header: Value to the response
	ActionSetResponseHeader    ActionType = "set-response-header"    // set Header: Value on the response
	ActionDeleteResponseHeader ActionType = "delete-response-header" // delete Header from the response
)

var actionTypes = []ActionType{ActionBlock, ActionAllow, ActionRedirect, ActionAddSignal,
	ActionAddResponseHeader, ActionSetResponseHeader, ActionDeleteResponseHeader}

// RuleAction is what a rule does when it matches. Only the fields its Type
// uses may be set.
type RuleAction struct {
	Type   ActionType
	Code   int    // block, redirect; 0 means the default
	URL    string // redirect
	Signal string // add-signal: NAME or SITE.NAME (letters, digits, - and _)
	Header string // response-header actions
	Value  string // add-response-header, set-response-header
}

// Terminal reports whether the action decides the request (block, allow,
// redirect) and so stops rule evaluation.
func (a RuleAction) Terminal() bool {
	return a.Type == ActionBlock || a.Type == ActionAllow || a.Type == ActionRedirect
}

// Validate reports the first problem that would stop r from being used
// (ParseRules reports them all, with lines). NewEngine panics on a rule
// that does not validate.
func (r Rule) Validate() error {
	_, err := r.compiled()
	return err
}

// compiled returns a copy of r ready for matching: defaults filled in,
// values normalized, regular expressions and prefixes compiled.
func (r Rule) compiled() (Rule, error) {
	if r.ID == "" {
		return r, fieldErr("id", "is required")
	}
	r.Conditions = slices.Clone(r.Conditions)
	for i := range r.Conditions {
		if err := r.Conditions[i].compile(); err != nil {
			err.field = fmt.Sprintf("conditions[%d].%s", i, err.field)
			return r, err
		}
	}
	if err := r.Action.check(); err != nil {
		err.field = "action." + err.field
		return r, err
	}
	return r, nil
}

// validationError is a problem with one field of a rule; the rules file
// parser turns it into a message with the field's line.
type validationError struct {
	field string
	msg   string
}

func (e *validationError) Error() string { return e.field + ": " + e.msg }

func fieldErr(field, format string, args ...any) *validationError {
	return &validationError{field: field, msg: fmt.Sprintf(format, args...)}
}

func (c *Condition) compile() *validationError {
	if !slices.Contains(fields, c.Field) {
		return fieldErr("field", "unknown field %q (valid: %s)", c.Field, list(fields))
	}
	if c.Op == "" {
		c.Op = OpEquals
	}
	if !slices.Contains(operators, c.Op) {
		return fieldErr("op", "unknown operator %q (valid: %s)", c.Op, list(operators))
	}
	switch {
	case c.Field == FieldIP && c.Op != OpEquals && c.Op != OpCIDR:
		return fieldErr("op", "operator %q does not apply to ip (valid: equals, cidr)", c.Op)
	case c.Field != FieldIP && c.Op == OpCIDR:
		return fieldErr("op", "operator cidr applies to ip only")
	case c.Field == FieldHeader && c.Name == "":
		return fieldErr("name", "is required for a header condition")
	case c.Field == FieldHeader && !isToken(c.Name):
		return fieldErr("name", "%q is not a valid header name", c.Name)
	case c.Name != "" && c.Field != FieldHeader && c.Field != FieldQuery:
		return fieldErr("name", "applies to header and query conditions only")
	case c.Value == "" && c.Op != OpEquals:
		return fieldErr("value", "is required with operator %s", c.Op)
	}
	switch c.Field {
	case FieldMethod, FieldSignal:
		c.Value = strings.ToUpper(c.Value)
	}
	switch c.Op {
	case OpRegex:
		re, err := regexp.Compile(c.Value)
		if err != nil {
			return fieldErr("value", "invalid regular expression: %v", err)
		}
		c.re = re
	case OpCIDR:
		p, err := netip.ParsePrefix(c.Value)
		if err != nil {
			return fieldErr("value", "invalid CIDR %q: %v", c.Value, err)
		}
		c.prefix = p.Masked()
	case OpEquals:
		if c.Field == FieldIP {
			a, err := netip.ParseAddr(c.Value)
			if err != nil {
				return fieldErr("value", "invalid IP address %q (use op cidr for a prefix)", c.Value)
			}
			a = a.Unmap()
			c.prefix = netip.PrefixFrom(a, a.BitLen())
		}
	}
	return nil
}

func (a *RuleAction) check() *validationError {
	if !slices.Contains(actionTypes, a.Type) {
		return fieldErr("type", "unknown action %q (valid: %s)", a.Type, list(actionTypes))
	}
	used := map[ActionType][]string{
		ActionBlock:                {"code"},
		ActionAllow:                {},
		ActionRedirect:             {"code", "url"},
		ActionAddSignal:            {"signal"},
		ActionAddResponseHeader:    {"header", "value"},
		ActionSetResponseHeader:    {"header", "value"},
		ActionDeleteResponseHeader: {"header"},
	}[a.Type]
	for _, f := range []struct {
		name string
		set  bool
	}{{"code", a.Code != 0}, {"url", a.URL != ""}, {"signal", a.Signal != ""}, {"header", a.Header != ""}, {"value", a.Value != ""}} {
		if f.set && !slices.Contains(used, f.name) {
			return fieldErr(f.name, "does not apply to action %s", a.Type)
		}
	}
	switch a.Type {
	case ActionBlock:
		if a.Code == 0 {
			a.Code = 406
		}
		// The codes the real agent lets a rule block with: 400-599, and
		// 301/302 only as redirects (which need a URL).
		if a.Code < 400 || a.Code > 599 {
			return fieldErr("code", "%d is not a code the agent blocks with (400-599; 301 and 302 are redirects: use type redirect with a url)", a.Code)
		}
	case ActionRedirect:
		if a.Code == 0 {
			a.Code = 302
		}
		if a.Code != 301 && a.Code != 302 {
			return fieldErr("code", "%d is not a redirect code the agent allows (301, 302)", a.Code)
		}
		if a.URL == "" {
			return fieldErr("url", "is required for redirect")
		}
		if strings.ContainsAny(a.URL, "\r\n") {
			return fieldErr("url", "must not contain CR or LF")
		}
	case ActionAddSignal:
		a.Signal = normalizeSiteSignal(a.Signal)
		name := strings.TrimPrefix(a.Signal, SitePrefix)
		if name == "" || strings.Trim(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
			return fieldErr("signal", "%q is not a valid signal name (letters, digits, - and _)", name)
		}
	case ActionAddResponseHeader, ActionSetResponseHeader, ActionDeleteResponseHeader:
		if a.Header == "" {
			return fieldErr("header", "is required for %s", a.Type)
		}
		if !isToken(a.Header) {
			return fieldErr("header", "%q is not a valid header name", a.Header)
		}
		if a.Type != ActionDeleteResponseHeader && a.Value == "" {
			return fieldErr("value", "is required for %s", a.Type)
		}
		if strings.ContainsAny(a.Value, "\r\n") {
			return fieldErr("value", "must not contain CR or LF")
		}
	}
	return nil
}

// isToken reports whether s is a valid HTTP header name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isWordByte(c) && !strings.ContainsRune("!#$%&'*+-.^|~", rune(c)) {
			return false
		}
	}
	return true
}

func list[T ~string](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// ruleInput is what conditions are matched against for one request.
type ruleInput struct {
	req  *Request
	uri  *parsedURI
	sig  signalSet
	site []string

	ip       netip.Addr
	ipParsed bool
}

func (in *ruleInput) clientIP() netip.Addr {
	if !in.ipParsed {
		in.ipParsed = true
		s := strings.TrimSpace(in.req.RemoteAddr)
		if a, err := netip.ParseAddr(s); err == nil {
			in.ip = a.Unmap()
		} else if ap, err := netip.ParseAddrPort(s); err == nil {
			in.ip = ap.Addr().Unmap()
		}
	}
	return in.ip
}

func (r *Rule) matches(in *ruleInput) bool {
	for i := range r.Conditions {
		if !r.Conditions[i].matches(in) {
			return false
		}
	}
	return true
}

func (c *Condition) matches(in *ruleInput) bool {
	return c.test(in) != c.Not
}

func (c *Condition) test(in *ruleInput) bool {
	switch c.Field {
	case FieldMethod:
		return c.compare(strings.ToUpper(in.req.Method))
	case FieldPath:
		return c.compare(in.uri.decoded)
	case FieldBody:
		return c.compare(in.req.Body)
	case FieldIP:
		ip := in.clientIP()
		return ip.IsValid() && c.prefix.Contains(ip)
	case FieldHeader:
		for _, h := range in.req.Headers {
			if strings.EqualFold(h[0], c.Name) && c.compare(h[1]) {
				return true
			}
		}
		return false
	case FieldQuery:
		if c.Name == "" {
			return c.compare(in.uri.query)
		}
		for q := in.uri.query; q != ""; {
			var pair string
			pair, q, _ = strings.Cut(q, "&")
			name, value, _ := strings.Cut(pair, "=")
			if unescape(name, true) == c.Name && c.compare(unescape(value, true)) {
				return true
			}
		}
		return false
	case FieldSignal:
		for i := range numSignals {
			if in.sig.has(i) && c.compare(signalNames[i]) {
				return true
			}
		}
		for _, s := range in.site {
			if c.compare(s) {
				return true
			}
		}
		return false
	}
	return false
}

func (c *Condition) compare(v string) bool {
	switch c.Op {
	case OpEquals:
		return v == c.Value
	case OpContains:
		return strings.Contains(v, c.Value)
	case OpPrefix:
		return strings.HasPrefix(v, c.Value)
	case OpSuffix:
		return strings.HasSuffix(v, c.Value)
	case OpRegex:
		return c.re.MatchString(v)
	}
	return false
}
