package detect

import (
	"os"
	"testing"
)

// FuzzParseRules checks that no rules file, however broken, panics the
// parser, and that whatever it accepts builds an engine that decides.
func FuzzParseRules(f *testing.F) {
	for _, name := range []string{"testdata/rules.yaml", "testdata/rules.json"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("- id: x\n  action: {type: block, code: 9999}\n"))
	f.Add([]byte(`[{"id":"a","conditions":[{"field":"ip","op":"cidr","value":"10.0.0.0/33"}],"action":"allow"}]`))
	f.Add([]byte("- id: r\n  conditions:\n    - {field: header, op: regex, value: '('}\n  action: allow\n"))
	f.Add([]byte("{{{"))
	req := &Request{Method: "POST", URI: "/admin?q=1", RemoteAddr: "10.1.2.3",
		Headers: [][2]string{{"Host", "h"}, {"User-Agent", "x"}, {"Content-Type", "application/json"}}, Body: `{"a":"b"}`}
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := ParseRules(data, "fuzz.yaml")
		if err != nil {
			return
		}
		d := NewEngine(ModeBlocking, rules).Decide(req)
		if w := d.WAFResponse; w != 200 && (w < 300 || w > 599) {
			t.Fatalf("accepted rules gave WAFResponse %d", w)
		}
	})
}
