package fakeagent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// RateLimit is a rate limit rule, as the real agent's "advanced rate
// limiting" rules: requests from one client IP that carry Signal (every
// request when Signal is empty) are counted in a sliding window of
// Interval; once more than Threshold are counted, the client is limited
// for Duration: its requests that carry Signal (Block "signal", the
// default) or all its requests (Block "all") are blocked with Code (in
// blocking mode), or only logged (Action "log").
//
// In a rules file they are the list under a top-level rate_limits key:
//
//	rate_limits:
//	  - id: login-burst          # required, unique
//	    signal: SITE.LOGIN       # e.g. added by a rule's add-signal action
//	    threshold: 10            # requests per interval
//	    interval: 1m             # the real agent offers 1m and 10m
//	    duration: 5m             # how long the client stays limited
//	    action: block            # block (default) or log
//	    code: 429                # 301, 302 or 400-599; default 406
//	    block: signal            # signal (default) or all
type RateLimit struct {
	ID          string          `json:"id"`
	Description string          `json:"description,omitempty"`
	Signal      string          `json:"signal,omitempty"`
	Threshold   int             `json:"threshold"`
	Interval    time.Duration   `json:"interval_ns"`
	Duration    time.Duration   `json:"duration_ns"`
	Action      RateLimitAction `json:"action"`
	Code        int             `json:"code"`
	Block       RateLimitBlock  `json:"block"`
}

// RateLimitAction is what happens to a limited client's requests.
type RateLimitAction string

// The rate limit actions.
const (
	RateLimitBlockAction RateLimitAction = "block" // answer with the rule's Code (the default)
	RateLimitLog         RateLimitAction = "log"   // note it in the record only
)

// RateLimitBlock is which of a limited client's requests the action
// applies to.
type RateLimitBlock string

// The requests a rate limit acts on.
const (
	RateLimitBlockSignal RateLimitBlock = "signal" // those that carry the rule's signal (the default)
	RateLimitBlockAll    RateLimitBlock = "all"    // all of them
)

// DefaultRateLimitCode is the answer to a limited request when the rule
// names none: the agent's default block code.
const DefaultRateLimitCode = 406

// ValidBlockCode reports whether code is a block code the real agent
// allows: 301, 302, or 400 to 599.
func ValidBlockCode(code int) bool {
	return code == 301 || code == 302 || (code >= 400 && code <= 599)
}

// normalize fills in the defaults and validates r.
func (r *RateLimit) normalize() error {
	if r.Action == "" {
		r.Action = RateLimitBlockAction
	}
	if r.Block == "" {
		r.Block = RateLimitBlockSignal
	}
	if r.Code == 0 {
		r.Code = DefaultRateLimitCode
	}
	switch {
	case r.ID == "":
		return errors.New("id: is required")
	case r.Threshold < 1:
		return fmt.Errorf("threshold: must be at least 1 (got %d)", r.Threshold)
	case r.Interval <= 0:
		return fmt.Errorf("interval: must be more than 0 (got %v)", r.Interval)
	case r.Duration <= 0:
		return fmt.Errorf("duration: must be more than 0 (got %v)", r.Duration)
	case r.Action != RateLimitBlockAction && r.Action != RateLimitLog:
		return fmt.Errorf("action: unknown action %q (valid: block, log)", r.Action)
	case !ValidBlockCode(r.Code):
		return fmt.Errorf("code: %d is not a block code the agent allows (301, 302, 400-599)", r.Code)
	case r.Block != RateLimitBlockSignal && r.Block != RateLimitBlockAll:
		return fmt.Errorf("block: unknown value %q (valid: signal, all)", r.Block)
	}
	if r.Signal == "" {
		// Without a signal every request counts, so "signal" means all.
		r.Block = RateLimitBlockAll
	}
	for _, c := range r.Signal {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.", c)) {
			return fmt.Errorf("signal: %q: want letters, digits, '-', '_' and '.'", r.Signal)
		}
	}
	return nil
}

// normalizeRateLimits validates rules and fills in their defaults, in
// place.
func normalizeRateLimits(rules []RateLimit) error {
	seen := make(map[string]bool, len(rules))
	var errs []error
	for i := range rules {
		r := &rules[i]
		if err := r.normalize(); err != nil {
			errs = append(errs, fmt.Errorf("rate limit %d (%q): %w", i+1, r.ID, err))
			continue
		}
		if seen[r.ID] {
			errs = append(errs, fmt.Errorf("rate limit %d (%q): id already used", i+1, r.ID))
		}
		seen[r.ID] = true
	}
	return errors.Join(errs...)
}

// LoadRateLimits reads the rate limits of a rules file (see RateLimit): a
// file that is a list holds rules only, and no rate limits.
func LoadRateLimits(path string) ([]RateLimit, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading rate limits: %w", err)
	}
	return ParseRateLimits(data, path)
}

// ParseRateLimits parses the top-level rate_limits key of a rules file,
// YAML or JSON; name is used in error messages ("rules.yaml:7:
// rate_limits[0].interval: ..."), which list every problem. Other
// top-level keys are left to the rules parser.
func ParseRateLimits(data []byte, name string) ([]RateLimit, error) {
	lines := true
	if t := bytes.TrimSpace(data); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		// JSON is read through YAML, which it mostly is; tabs and some
		// escapes are not, so re-encode it. Lines are then lost.
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("%s: invalid JSON: %w", name, err)
		}
		var err error
		if data, err = yaml.Marshal(v); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		lines = false
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: invalid YAML: %w", name, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil
	}
	var list *yaml.Node
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "rate_limits" {
			list = root.Content[i+1]
		}
	}
	if list == nil || (list.Kind == yaml.ScalarNode && list.Tag == "!!null") {
		return nil, nil
	}
	p := rateLimitParser{name: name, lines: lines}
	if list.Kind != yaml.SequenceNode {
		p.errorf(list, "rate_limits: must be a list")
		return nil, p.err()
	}
	rules := make([]RateLimit, 0, len(list.Content))
	for i, n := range list.Content {
		if r, ok := p.rule(fmt.Sprintf("rate_limits[%d]", i), n); ok {
			rules = append(rules, r)
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	for i := range rules {
		if err := rules[i].normalize(); err != nil {
			p.errorf(list.Content[i], "rate_limits[%d] (%q): %v", i, rules[i].ID, err)
		}
	}
	seen := map[string]bool{}
	for i, r := range rules {
		if seen[r.ID] {
			p.errorf(list.Content[i], "rate_limits[%d]: id %q already used", i, r.ID)
		}
		seen[r.ID] = true
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return rules, nil
}

type rateLimitParser struct {
	name  string
	lines bool
	errs  []error
}

func (p *rateLimitParser) errorf(n *yaml.Node, format string, args ...any) {
	where := p.name
	if p.lines {
		where += ":" + strconv.Itoa(n.Line)
	}
	p.errs = append(p.errs, fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...)))
}

func (p *rateLimitParser) err() error { return errors.Join(p.errs...) }

var rateLimitFields = []string{"id", "description", "signal", "threshold", "interval", "duration", "action", "code", "block"}

func (p *rateLimitParser) rule(what string, n *yaml.Node) (RateLimit, bool) {
	var r RateLimit
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s: must be a mapping", what)
		return r, false
	}
	ok := true
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := what + "." + k.Value
		if seen[k.Value] {
			p.errorf(k, "%s: given twice", field)
			ok = false
			continue
		}
		seen[k.Value] = true
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			p.errorf(v, "%s: must be a value, not a list or mapping", field)
			ok = false
			continue
		}
		var err error
		switch k.Value {
		case "id":
			r.ID = v.Value
		case "description":
			r.Description = v.Value
		case "signal":
			r.Signal = v.Value
		case "threshold":
			r.Threshold, err = strconv.Atoi(v.Value)
		case "code":
			r.Code, err = strconv.Atoi(v.Value)
		case "interval":
			r.Interval, err = time.ParseDuration(v.Value)
		case "duration":
			r.Duration, err = time.ParseDuration(v.Value)
		case "action":
			r.Action = RateLimitAction(v.Value)
		case "block":
			r.Block = RateLimitBlock(v.Value)
		default:
			p.errorf(k, "%s: unknown field (valid: %s)", field, strings.Join(rateLimitFields, ", "))
			ok = false
			continue
		}
		if err != nil {
			p.errorf(v, "%s: %q: want %s", field, v.Value, map[string]string{
				"threshold": "an integer", "code": "an integer", "interval": "a duration such as 1m", "duration": "a duration such as 10m",
			}[k.Value])
			ok = false
		}
	}
	return r, ok
}
