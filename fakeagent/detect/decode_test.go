package detect

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestUnescape(t *testing.T) {
	for _, c := range []struct {
		in   string
		plus bool
		want string
	}{
		{"plain", true, "plain"},
		{"a%20b+c", true, "a b c"},
		{"a%20b+c", false, "a b+c"},
		{"%2527", true, "%27"},
		{"100%", true, "100%"},
		{"%zz%4", true, "%zz%4"},
		{"%C3%A9", false, "é"},
	} {
		t.Run(fmt.Sprintf("%q decodes once to %q", c.in, c.want), func(t *testing.T) {
			assert.Equal(t, c.want, unescape(c.in, c.plus))
		})
	}
}

func TestParseInetAton(t *testing.T) {
	const metadata = 0xa9fea9fe
	for _, in := range []string{"169.254.169.254", "2852039166", "0xa9fea9fe", "0251.0376.0251.0376", "169.254.43518", "169.16689662", "0xa9.0xfe.0xa9.0xfe"} {
		t.Run(in+" is the metadata address", func(t *testing.T) {
			got, ok := parseInetAton(in)
			assert.True(t, ok)
			assert.Equal(t, uint32(metadata), got)
		})
	}
	for _, in := range []string{"", "1.2.3.4.5", "256.1.1.1", "1.2.3.256", "4294967296", "0x", "08", "1..2", "a.b.c.d", "example.com"} {
		t.Run(in+" is not an IPv4 address", func(t *testing.T) {
			_, ok := parseInetAton(in)
			assert.False(t, ok)
		})
	}
}

func TestJSONUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`a\"b\\c\/d`:         `a"b\c/d`,
		`\n\t\r\b\f`:         "\n\t\r\b\f",
		`caf\u00e9`:          "café",
		`\ud83c\udf89`:       "🎉",
		`\u003cscript\u003e`: "<script>",
		`bad\u12`:            `bad\u12`,
	} {
		t.Run(fmt.Sprintf("%s unescapes to %q", in, want), func(t *testing.T) {
			assert.Equal(t, want, jsonUnescape(in))
		})
	}
}

func TestLimits(t *testing.T) {
	e := NewEngine(ModeBlocking, nil)
	const attack = "1' or '1'='1"
	t.Run("a value is inspected up to maxValueLen", func(t *testing.T) {
		head := post("/c", "application/json", `{"a":"`+attack+strings.Repeat("x", 2*maxValueLen)+`"}`)
		tail := post("/c", "application/json", `{"a":"`+strings.Repeat("x ", maxValueLen)+attack+`"}`)
		assert.Contains(t, e.Signals(head), SignalSQLI)
		assert.NotContains(t, e.Signals(tail), SignalSQLI)
	})
	t.Run("at most maxValues values are inspected", func(t *testing.T) {
		var b strings.Builder
		for i := range maxValues {
			fmt.Fprintf(&b, "p%d=v&", i)
		}
		late := post("/c", "application/x-www-form-urlencoded", b.String()+"q=%3Cscript%3Ealert(1)%3C/script%3E")
		assert.NotContains(t, e.Signals(late), SignalXSS)
	})
	t.Run("a JSON body beyond maxBodyLen is inspected up to it, without JSON-ERROR", func(t *testing.T) {
		body := `{"a":"` + attack + `","pad":"` + strings.Repeat("x", maxBodyLen) + `"}`
		got := e.Signals(post("/c", "application/json", body))
		assert.Contains(t, got, SignalSQLI)
		assert.NotContains(t, got, SignalJSONError)
	})
	t.Run("any number of lookups is resolved", func(t *testing.T) {
		many := strings.Repeat("${::-x}", 1000) + "${${::-j}ndi:ldap://x/a}"
		assert.Contains(t, e.Signals(get("/?q="+many)), SignalLog4JJNDI)
	})
	t.Run("lookups nested up to maxLookupDepth are resolved", func(t *testing.T) {
		nest := func(depth int) string {
			return strings.Repeat("${::-", depth-1) + "j" + strings.Repeat("}", depth-1) + "${::-ndi}:ldap://x/a}"
		}
		assert.Contains(t, e.Signals(get("/?q=${"+nest(maxLookupDepth-1))), SignalLog4JJNDI)
		assert.NotContains(t, e.Signals(get("/?q=${"+nest(maxLookupDepth+2))), SignalLog4JJNDI)
	})
}
