package detect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// ParseRules parses a rules file, YAML or JSON (one schema: JSON is read as
// the YAML it also is). name is used in error messages, which look like
// "rules.yaml:12: rule \"block-admin\": conditions[0].op: unknown operator
// \"startswith\" (valid: ...)"; the problems of every rule are reported,
// joined.
//
// The file is a list of rules, or a mapping whose "rules" key holds that
// list next to "rate_limits" (which package fakeagent reads; it is not
// checked here):
//
//   - id: block-admin-outside      # required, unique
//     description: free text       # optional
//     conditions:                  # optional; all must match
//   - {field: path, op: prefix, value: /admin}
//   - {field: ip, op: cidr, value: 10.0.0.0/8, not: true}
//     action: {type: block, code: 403}
//
// A condition has field (method, path, query, header, ip, body, signal),
// op (equals, the default; contains, prefix, suffix, regex; cidr for ip),
// value, name (header name; query parameter name) and not. An action has
// type (block, allow, redirect, add-signal, add-response-header,
// set-response-header, delete-response-header) and, as the type needs,
// code, url, signal, header and value; "action: allow" is short for
// "action: {type: allow}". See testdata/rules.yaml.
func ParseRules(data []byte, name string) ([]Rule, error) {
	if t := bytes.TrimSpace(data); len(t) > 0 && (t[0] == '[' || t[0] == '{') {
		if err := checkJSON(data); err != nil {
			return nil, fmt.Errorf("%s:%w", name, err)
		}
		data = jsonAsYAML(data)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s:%s", name, yamlErrorText(err))
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil
	}
	p := &rulesParser{name: name, ids: map[string]int{}}
	if root.Kind == yaml.MappingNode {
		// The mapping form: {rules: [...], rate_limits: [...]}. Rate
		// limits are parsed by package fakeagent, not here.
		m, ok := p.mapping(root, "the rules file", "rules", "rate_limits")
		if !ok {
			return nil, p.err()
		}
		root = m["rules"]
		if root == nil || root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			return nil, nil
		}
	}
	if root.Kind != yaml.SequenceNode {
		p.errorf(root, "the rules file must be a list of rules (or a mapping with rules and rate_limits), not a %s", kindName(root))
		return nil, p.err()
	}
	rules := make([]Rule, 0, len(root.Content))
	for i, n := range root.Content {
		if r, ok := p.rule(i, n); ok {
			rules = append(rules, r)
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return rules, nil
}

// LoadRules reads and parses the rules file at path (see ParseRules).
func LoadRules(path string) ([]Rule, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading rules: %w", err)
	}
	return ParseRules(data, path)
}

// checkJSON reports a JSON syntax error as "line: message".
func checkJSON(data []byte) error {
	if json.Valid(data) {
		return nil
	}
	var v any
	err := json.Unmarshal(data, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%d: invalid JSON: %v", 1+bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n")), se)
	}
	return fmt.Errorf(" invalid JSON: %v", err)
}

// jsonAsYAML rewrites the little of valid JSON that YAML reads otherwise,
// keeping every line where it is: tabs between tokens (YAML wants spaces),
// the \/ escape (unknown to YAML) and \u surrogate pairs (which YAML
// decodes one half at a time) inside strings.
func jsonAsYAML(data []byte) []byte {
	out := make([]byte, 0, len(data))
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case !inString && c == '\t':
			out = append(out, ' ')
		case c == '"':
			inString = !inString
			out = append(out, c)
		case inString && c == '\\' && i+1 < len(data):
			switch data[i+1] {
			case '/':
				out = append(out, '/')
				i++
			case 'u':
				if r, n := jsonRune(string(data[i+2 : min(i+12, len(data))])); n == 10 {
					out = utf8.AppendRune(out, r)
					i += 1 + n
					continue
				}
				out = append(out, c)
			default:
				out = append(out, c, data[i+1])
				i++
			}
		default:
			out = append(out, c)
		}
	}
	return out
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlErrorText turns "yaml: line 3: msg" into "3: msg".
func yamlErrorText(err error) string {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		return m[1] + ": invalid YAML: " + m[2]
	}
	return " invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")
}

type rulesParser struct {
	name string
	ids  map[string]int // rule ID -> line where first defined
	errs []error
}

func (p *rulesParser) errorf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s:%d: %s", p.name, n.Line, fmt.Sprintf(format, args...)))
}

func (p *rulesParser) err() error { return errors.Join(p.errs...) }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	case yaml.AliasNode:
		return "alias"
	}
	switch n.Tag {
	case "!!int", "!!float":
		return "number"
	case "!!bool":
		return "boolean"
	case "!!null":
		return "null"
	}
	return "string"
}

// mapping returns the key/value nodes of a mapping, in order, reporting
// keys that are not in allowed and keys given twice.
func (p *rulesParser) mapping(n *yaml.Node, what string, allowed ...string) (map[string]*yaml.Node, bool) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping, not a %s", what, kindName(n))
		return nil, false
	}
	m := make(map[string]*yaml.Node, len(n.Content)/2)
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case !contains(allowed, k.Value):
			p.errorf(k, "%s: unknown field %q (valid: %s)", what, k.Value, strings.Join(allowed, ", "))
			ok = false
		case m[k.Value] != nil:
			p.errorf(k, "%s: field %q given twice", what, k.Value)
			ok = false
		default:
			m[k.Value] = v
		}
	}
	return m, ok
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// str reads an optional scalar as a string; prefix starts the error
// message ("rule 1: " or "rule \"a\": action.").
func (p *rulesParser) str(m map[string]*yaml.Node, key, prefix string) (string, bool) {
	n := m[key]
	if n == nil {
		return "", true
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errorf(n, "%s%s must be a string, not a %s", prefix, key, kindName(n))
		return "", false
	}
	return n.Value, true
}

func (p *rulesParser) rule(i int, n *yaml.Node) (Rule, bool) {
	what := fmt.Sprintf("rule %d", i+1)
	m, ok := p.mapping(n, what, "id", "description", "conditions", "action")
	if m == nil {
		return Rule{}, false
	}
	r := Rule{Source: fmt.Sprintf("%s:%d", p.name, n.Line)}
	id, idOK := p.str(m, "id", what+": ")
	ok = ok && idOK
	switch {
	case m["id"] == nil:
		p.errorf(n, "%s: field \"id\" is required", what)
		ok = false
	case id == "" && idOK:
		p.errorf(m["id"], "%s: field \"id\" must not be empty", what)
		ok = false
	case idOK:
		what = fmt.Sprintf("rule %q", id)
		if line, dup := p.ids[id]; dup {
			p.errorf(m["id"], "%s: id already used by the rule at line %d", what, line)
			ok = false
		} else {
			p.ids[id] = m["id"].Line
		}
	}
	r.ID = id
	desc, descOK := p.str(m, "description", what+": ")
	r.Description = desc
	ok = ok && descOK

	// Condition and action field nodes, to point errors at their lines.
	var condNodes []map[string]*yaml.Node
	if cn := m["conditions"]; cn != nil {
		var items []*yaml.Node
		switch {
		case cn.Kind == yaml.SequenceNode:
			items = cn.Content
		case cn.Kind != yaml.ScalarNode || cn.Tag != "!!null":
			p.errorf(cn, "%s: conditions must be a list, not a %s", what, kindName(cn))
			ok = false
		}
		for j, c := range items {
			cm, cOK := p.condition(c, fmt.Sprintf("%s: conditions[%d]", what, j))
			ok = ok && cOK
			condNodes = append(condNodes, cm)
			if cm != nil {
				var cond Condition
				cond.Field = Field(p.mustStr(cm, "field"))
				cond.Op = Operator(p.mustStr(cm, "op"))
				cond.Name = p.mustStr(cm, "name")
				cond.Value = p.mustStr(cm, "value")
				cond.Not = cm["not"] != nil && cm["not"].Value == "true"
				r.Conditions = append(r.Conditions, cond)
			}
		}
	}
	actionNodes, aOK := p.action(m["action"], n, what, &r.Action)
	ok = ok && aOK
	if !ok {
		return Rule{}, false
	}

	// The checks shared with NewEngine, attributed to their lines.
	for j := range r.Conditions {
		if err := r.Conditions[j].compile(); err != nil {
			p.errorf(lineOf(condNodes[j], err.field), "%s: conditions[%d].%s: %s", what, j, err.field, err.msg)
			ok = false
		}
	}
	if err := r.Action.check(); err != nil {
		p.errorf(lineOf(actionNodes, err.field), "%s: action.%s: %s", what, err.field, err.msg)
		ok = false
	}
	return r, ok
}

// mustStr returns a scalar already checked by p.condition.
func (p *rulesParser) mustStr(m map[string]*yaml.Node, key string) string {
	if n := m[key]; n != nil {
		return n.Value
	}
	return ""
}

// lineOf returns the node of field, or of the mapping when absent.
func lineOf(m map[string]*yaml.Node, field string) *yaml.Node {
	if n := m[field]; n != nil {
		return n
	}
	return m[""]
}

func (p *rulesParser) condition(n *yaml.Node, what string) (map[string]*yaml.Node, bool) {
	m, ok := p.mapping(n, what, "field", "op", "name", "value", "not")
	if m == nil {
		return nil, false
	}
	m[""] = n
	for _, k := range []string{"field", "op", "name", "value"} {
		if _, sOK := p.str(m, k, what+"."); !sOK {
			ok = false
		}
	}
	if m["field"] == nil {
		p.errorf(n, "%s: field \"field\" is required", what)
		ok = false
	}
	if m["value"] == nil {
		p.errorf(n, "%s: field \"value\" is required", what)
		ok = false
	}
	if v := m["not"]; v != nil && (v.Kind != yaml.ScalarNode || v.Tag != "!!bool") {
		p.errorf(v, "%s.not must be true or false, not %q", what, v.Value)
		ok = false
	}
	return m, ok
}

func (p *rulesParser) action(n, rule *yaml.Node, what string, a *RuleAction) (map[string]*yaml.Node, bool) {
	what += ": action"
	if n == nil {
		p.errorf(rule, "%s is required", what)
		return nil, false
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		a.Type = ActionType(n.Value)
		return map[string]*yaml.Node{"": n, "type": n}, true
	}
	m, ok := p.mapping(n, what, "type", "code", "url", "signal", "header", "value")
	if m == nil {
		return nil, false
	}
	m[""] = n
	for _, k := range []string{"type", "url", "signal", "header", "value"} {
		if _, sOK := p.str(m, k, what+"."); !sOK {
			ok = false
		}
	}
	if m["type"] == nil {
		p.errorf(n, "%s: field \"type\" is required", what)
		ok = false
	}
	a.Type = ActionType(p.mustStr(m, "type"))
	a.URL = p.mustStr(m, "url")
	a.Signal = p.mustStr(m, "signal")
	a.Header = p.mustStr(m, "header")
	a.Value = p.mustStr(m, "value")
	if c := m["code"]; c != nil {
		code, err := strconv.Atoi(c.Value)
		if c.Kind != yaml.ScalarNode || c.Tag != "!!int" || err != nil {
			p.errorf(c, "%s.code must be an integer, not %q", what, c.Value)
			ok = false
		} else if code == 0 {
			p.errorf(c, "%s.code must not be 0 (leave it out for the default)", what)
			ok = false
		} else {
			a.Code = code
		}
	}
	return m, ok
}
