package detect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRules(t *testing.T) {
	const yamlRules = `
- id: block-admin
  description: admin only from inside
  conditions:
    - {field: path, op: prefix, value: /admin}
    - field: ip
      op: cidr
      value: 10.0.0.0/8
      not: true
  action: {type: block, code: 403}
- id: ok
  action: allow
`
	const jsonRules = `[
	{"id": "block-admin", "description": "admin only from inside",
	 "conditions": [
		{"field": "path", "op": "prefix", "value": "\/admin"},
		{"field": "ip", "op": "cidr", "value": "10.0.0.0/8", "not": true}
	 ],
	 "action": {"type": "block", "code": 403}},
	{"id": "ok", "action": "allow"}
]`
	const jsonEscapes = `[{"id": "\u0061\/\ud83c\udf89\"\\\/", "action": "allow"}]`
	want := []Rule{
		{ID: "block-admin", Description: "admin only from inside",
			Conditions: []Condition{
				{Field: FieldPath, Op: OpPrefix, Value: "/admin"},
				{Field: FieldIP, Op: OpCIDR, Value: "10.0.0.0/8", Not: true},
			},
			Action: RuleAction{Type: ActionBlock, Code: 403}},
		{ID: "ok", Action: RuleAction{Type: ActionAllow}},
	}
	strip := func(rules []Rule) []Rule {
		for i := range rules {
			rules[i].Source = ""
			for j := range rules[i].Conditions {
				c := &rules[i].Conditions[j]
				*c = Condition{Field: c.Field, Name: c.Name, Op: c.Op, Value: c.Value, Not: c.Not}
			}
		}
		return rules
	}
	t.Run("YAML rules parse", func(t *testing.T) {
		got, err := ParseRules([]byte(yamlRules), "rules.yaml")
		require.NoError(t, err)
		assert.Equal(t, "rules.yaml:2", got[0].Source)
		assert.Equal(t, "rules.yaml:11", got[1].Source)
		assert.Equal(t, want, strip(got))
	})
	t.Run("JSON rules parse to the same, tabs and \\/ included", func(t *testing.T) {
		got, err := ParseRules([]byte(jsonRules), "rules.json")
		require.NoError(t, err)
		assert.Equal(t, "rules.json:2", got[0].Source)
		assert.Equal(t, want, strip(got))
	})
	t.Run("JSON escapes YAML lacks are understood", func(t *testing.T) {
		got, err := ParseRules([]byte(jsonEscapes), "rules.json")
		require.NoError(t, err)
		assert.Equal(t, "a/\U0001F389\"\\/", got[0].ID)
	})
	t.Run("the example files are twins", func(t *testing.T) {
		y, err := LoadRules("testdata/rules.yaml")
		require.NoError(t, err)
		j, err := LoadRules("testdata/rules.json")
		require.NoError(t, err)
		require.NotEmpty(t, y)
		assert.Equal(t, strip(y), strip(j))
	})
	for _, empty := range []string{"", "# only a comment\n", "[]", "null", "~\n"} {
		t.Run("an empty file "+strings.TrimSpace(empty)+" has no rules", func(t *testing.T) {
			got, err := ParseRules([]byte(empty), "rules.yaml")
			require.NoError(t, err)
			assert.Empty(t, got)
		})
	}
	t.Run("the mapping form accepts rate_limits beside the rules", func(t *testing.T) {
		got, err := ParseRules([]byte("rules:\n  - id: a\n    action: allow\nrate_limits:\n  - {id: r, threshold: 10, window: 1m}\n"), "r.yaml")
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, "a", got[0].ID)
		got, err = ParseRules([]byte("rate_limits: []\n"), "r.yaml")
		require.NoError(t, err)
		assert.Empty(t, got)
	})
	t.Run("values are normalized at load", func(t *testing.T) {
		got, err := ParseRules([]byte("- id: a\n  conditions: [{field: method, value: get}]\n  action: {type: add-signal, signal: my-tag}\n"), "r.yaml")
		require.NoError(t, err)
		assert.Equal(t, "GET", got[0].Conditions[0].Value)
		assert.Equal(t, OpEquals, got[0].Conditions[0].Op)
		assert.Equal(t, "SITE.MY-TAG", got[0].Action.Signal)
	})
}

func TestParseRulesErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		file string
		want string
	}{
		{"a rule instead of a list", "id: x\n",
			`rules.yaml:1: the rules file: unknown field "id" (valid: rules, rate_limits)`},
		{"rules that are not a list", "rules: {id: x}\n",
			"rules.yaml:1: the rules file must be a list of rules (or a mapping with rules and rate_limits), not a mapping"},
		{"a rule that is not a mapping", "- just a string\n",
			"rules.yaml:1: rule 1 must be a mapping, not a string"},
		{"an unknown rule key", "- id: a\n  action: allow\n  color: red\n",
			`rules.yaml:3: rule 1: unknown field "color" (valid: id, description, conditions, action)`},
		{"a key given twice", "- id: a\n  action: allow\n  action: block\n",
			`rules.yaml:3: `},
		{"a missing id", "- action: allow\n",
			`rules.yaml:1: rule 1: field "id" is required`},
		{"an id that is not a string", "- id: [a]\n  action: allow\n",
			"rules.yaml:1: rule 1: id must be a string, not a list"},
		{"a duplicate id", "- id: a\n  action: allow\n- id: a\n  action: allow\n",
			`rules.yaml:3: rule "a": id already used by the rule at line 1`},
		{"a missing action", "- id: a\n",
			`rules.yaml:1: rule "a": action is required`},
		{"an unknown action", "- id: a\n  action: {type: frobnicate}\n",
			`rules.yaml:2: rule "a": action.type: unknown action "frobnicate" (valid: block, allow, redirect, add-signal`},
		{"an unknown action key", "- id: a\n  action:\n    type: block\n    status: 403\n",
			`rules.yaml:4: rule "a": action: unknown field "status" (valid: type, code, url, signal, header, value)`},
		{"an action key that does not apply", "- id: a\n  action: {type: block, url: /x}\n",
			`rules.yaml:2: rule "a": action.url: does not apply to action block`},
		{"a block code out of range", "- id: a\n  action:\n    type: block\n    code: 200\n",
			`rules.yaml:4: rule "a": action.code: 200 is not a code the agent blocks with (400-599; 301 and 302 are redirects: use type redirect with a url)`},
		{"a 3xx block code", "- id: a\n  action: {type: block, code: 303}\n",
			`rules.yaml:2: rule "a": action.code: 303 is not a code the agent blocks with`},
		{"a redirect code the agent does not allow", "- id: a\n  action: {type: redirect, code: 307, url: /x}\n",
			`rules.yaml:2: rule "a": action.code: 307 is not a redirect code the agent allows (301, 302)`},
		{"a code that is not a number", "- id: a\n  action: {type: block, code: x}\n",
			`rules.yaml:2: rule "a": action.code must be an integer, not "x"`},
		{"an unknown top-level key", "rules: []\nlimits: []\n",
			`rules.yaml:2: the rules file: unknown field "limits" (valid: rules, rate_limits)`},
		{"a redirect code that is not a redirect", "- id: a\n  action: {type: redirect, code: 305, url: /x}\n",
			`rules.yaml:2: rule "a": action.code: 305 is not a redirect code`},
		{"a redirect without URL", "- id: a\n  action: {type: redirect}\n",
			`rules.yaml:2: rule "a": action.url: is required for redirect`},
		{"a bad signal name", "- id: a\n  action: {type: add-signal, signal: 'two words'}\n",
			`rules.yaml:2: rule "a": action.signal: "TWO WORDS" is not a valid signal name`},
		{"a bad header name", "- id: a\n  action: {type: add-response-header, header: 'X A', value: v}\n",
			`rules.yaml:2: rule "a": action.header: "X A" is not a valid header name`},
		{"a header action without value", "- id: a\n  action: {type: set-response-header, header: X-A}\n",
			`rules.yaml:2: rule "a": action.value: is required for set-response-header`},
		{"conditions that are not a list", "- id: a\n  conditions: {field: path}\n  action: allow\n",
			`rules.yaml:2: rule "a": conditions must be a list, not a mapping`},
		{"an unknown condition key", "- id: a\n  conditions:\n    - {field: path, value: /, operator: prefix}\n  action: allow\n",
			`rules.yaml:3: rule "a": conditions[0]: unknown field "operator" (valid: field, op, name, value, not)`},
		{"an unknown field", "- id: a\n  conditions:\n    - {field: host, value: x}\n  action: allow\n",
			`rules.yaml:3: rule "a": conditions[0].field: unknown field "host" (valid: method, path, query, header, ip, body, signal)`},
		{"an unknown operator", "- id: a\n  conditions:\n    - field: path\n      op: startswith\n      value: /a\n  action: allow\n",
			`rules.yaml:4: rule "a": conditions[0].op: unknown operator "startswith" (valid: equals, contains, prefix, suffix, regex, cidr)`},
		{"an invalid regex", "- id: a\n  conditions:\n    - field: path\n      op: regex\n      value: '('\n  action: allow\n",
			`rules.yaml:5: rule "a": conditions[0].value: invalid regular expression: error parsing regexp: missing closing )`},
		{"a bad CIDR", "- id: a\n  conditions:\n    - {field: ip, op: cidr, value: 10.0.0.0/33}\n  action: allow\n",
			`rules.yaml:3: rule "a": conditions[0].value: invalid CIDR "10.0.0.0/33"`},
		{"a bad IP", "- id: a\n  conditions:\n    - {field: ip, value: 10.0.0.0/8}\n  action: allow\n",
			`rules.yaml:3: rule "a": conditions[0].value: invalid IP address "10.0.0.0/8" (use op cidr for a prefix)`},
		{"cidr on another field", "- id: a\n  conditions:\n    - {field: path, op: cidr, value: 10.0.0.0/8}\n  action: allow\n",
			`rules.yaml:3: rule "a": conditions[0].op: operator cidr applies to ip only`},
		{"a string operator on ip", "- id: a\n  conditions:\n    - {field: ip, op: prefix, value: '10.'}\n  action: allow\n",
			`rules.yaml:3: rule "a": conditions[0].op: operator "prefix" does not apply to ip (valid: equals, cidr)`},
		{"a header condition without name", "- id: a\n  conditions:\n    - {field: header, value: x}\n  action: allow\n",
			`rules.yaml:3: rule "a": conditions[0].name: is required for a header condition`},
		{"a name on a path condition", "- id: a\n  conditions:\n    - {field: path, name: x, value: /}\n  action: allow\n",
			`rules.yaml:3: rule "a": conditions[0].name: applies to header and query conditions only`},
		{"a condition without value", "- id: a\n  conditions:\n    - {field: path, op: prefix}\n  action: allow\n",
			`rules.yaml:3: rule "a": conditions[0]: field "value" is required`},
		{"a not that is not a boolean", "- id: a\n  conditions:\n    - {field: path, value: /a, not: yes}\n  action: allow\n",
			`rules.yaml:3: rule "a": conditions[0].not must be true or false, not "yes"`},
		{"a YAML syntax error", "- id: a\n  action: [\n",
			"rules.yaml:2: invalid YAML: "},
		{"a JSON syntax error", "[\n {\"id\": \"a\",\n  \"action\": \"allow\",\n }\n]\n",
			"rules.yaml:4: invalid JSON: invalid character '}' looking for beginning of object key string"},
	} {
		t.Run("it reports "+c.name+" with its line", func(t *testing.T) {
			rules, err := ParseRules([]byte(c.file), "rules.yaml")
			require.Error(t, err)
			assert.Nil(t, rules)
			assert.ErrorContains(t, err, c.want)
		})
	}
	t.Run("it reports the problems of every rule", func(t *testing.T) {
		_, err := ParseRules([]byte("- action: allow\n- id: b\n- id: c\n  action: {type: block, code: 9}\n"), "r.yaml")
		require.Error(t, err)
		lines := strings.Split(err.Error(), "\n")
		assert.Equal(t, []string{
			`r.yaml:1: rule 1: field "id" is required`,
			`r.yaml:2: rule "b": action is required`,
			`r.yaml:4: rule "c": action.code: 9 is not a code the agent blocks with (400-599; 301 and 302 are redirects: use type redirect with a url)`,
		}, lines)
	})
}

func TestLoadRules(t *testing.T) {
	t.Run("a missing file is an error naming it", func(t *testing.T) {
		_, err := LoadRules("testdata/nope.yaml")
		assert.ErrorContains(t, err, "testdata/nope.yaml")
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
	t.Run("errors name the file by its path", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "bad.yaml")
		require.NoError(t, os.WriteFile(path, []byte("- id: a\n  action: nope\n"), 0o600))
		_, err := LoadRules(path)
		assert.ErrorContains(t, err, path+`:2: rule "a": action.type: unknown action "nope"`)
	})
}

func TestRuleValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		rule Rule
		want string
	}{
		{"a rule without id", Rule{Action: RuleAction{Type: ActionAllow}}, "id: is required"},
		{"a rule without action", Rule{ID: "a"}, `action.type: unknown action ""`},
		{"a bad condition", Rule{ID: "a", Conditions: []Condition{{Field: "x"}}, Action: RuleAction{Type: ActionAllow}},
			`conditions[0].field: unknown field "x"`},
	} {
		t.Run(c.name+" does not validate", func(t *testing.T) {
			assert.ErrorContains(t, c.rule.Validate(), c.want)
		})
	}
	t.Run("a good rule validates", func(t *testing.T) {
		assert.NoError(t, Rule{ID: "a", Action: RuleAction{Type: ActionBlock}}.Validate())
	})
	t.Run("terminal actions are block, allow and redirect", func(t *testing.T) {
		for _, a := range actionTypes {
			want := a == ActionBlock || a == ActionAllow || a == ActionRedirect
			assert.Equal(t, want, RuleAction{Type: a}.Terminal(), string(a))
		}
	})
}
