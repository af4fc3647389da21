package detect

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var sqliRequest = get("/search?q=1%27+or+%271%27%3D%271")

func TestParseMode(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Mode
	}{
		{"blocking", ModeBlocking},
		{"not-blocking", ModeNotBlocking},
		{"off", ModeOff},
		{"", ModeBlocking},
	} {
		t.Run(`"`+c.in+`" parses as `+string(c.want), func(t *testing.T) {
			got, err := ParseMode(c.in)
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
	t.Run("an unknown mode is an error naming the valid ones", func(t *testing.T) {
		_, err := ParseMode("block")
		require.Error(t, err)
		assert.ErrorContains(t, err, `"block"`)
		assert.ErrorContains(t, err, `"blocking", "not-blocking" and "off"`)
	})
}

func TestModes(t *testing.T) {
	headerRule := Rule{ID: "hdr", Action: RuleAction{Type: ActionAddResponseHeader, Header: "X-A", Value: "1"}}
	blockRule := Rule{ID: "block-all", Action: RuleAction{Type: ActionBlock, Code: 403}}

	t.Run("blocking mode blocks an attack with 406 and tags it", func(t *testing.T) {
		d := NewEngine(ModeBlocking, nil).Decide(sqliRequest)
		assert.Equal(t, int32(406), d.WAFResponse)
		assert.Equal(t, []string{SignalSQLI}, d.Signals)
		assert.Equal(t, [][2]string{{HeaderTags, "SQLI"}}, d.RequestHeaders)
	})
	t.Run("blocking mode lets anomalies alone through, tagged", func(t *testing.T) {
		d := NewEngine(ModeBlocking, nil).Decide(get("/download?file=.env").without("User-Agent"))
		assert.Equal(t, int32(200), d.WAFResponse)
		assert.Equal(t, [][2]string{{HeaderTags, "NOUA,PRIVATEFILE"}}, d.RequestHeaders)
	})
	t.Run("blocking mode allows an ordinary request with nothing set", func(t *testing.T) {
		d := NewEngine(ModeBlocking, nil).Decide(get("/"))
		assert.Equal(t, Decision{WAFResponse: 200}, d)
	})
	t.Run("the empty mode is blocking", func(t *testing.T) {
		e := NewEngine("", nil)
		assert.Equal(t, ModeBlocking, e.Mode())
		assert.Equal(t, int32(406), e.Decide(sqliRequest).WAFResponse)
	})
	t.Run("not-blocking mode tags an attack and allows it", func(t *testing.T) {
		e := NewEngine(ModeNotBlocking, []Rule{headerRule, blockRule})
		assert.Equal(t, ModeNotBlocking, e.Mode())
		d := e.Decide(sqliRequest)
		assert.Equal(t, int32(200), d.WAFResponse)
		assert.Equal(t, [][2]string{{HeaderTags, "SQLI"}}, d.RequestHeaders)
		assert.Equal(t, []RespAction{{Op: RespAdd, Name: "X-A", Value: "1"}}, d.RespActions)
		assert.Equal(t, "block-all", d.Rule, "the rule that would have decided is reported")
	})
	t.Run("not-blocking mode does not redirect", func(t *testing.T) {
		e := NewEngine(ModeNotBlocking, []Rule{{ID: "r", Action: RuleAction{Type: ActionRedirect, URL: "/x"}}})
		d := e.Decide(get("/"))
		assert.Equal(t, int32(200), d.WAFResponse)
		assert.Empty(t, d.RequestHeaders)
	})
	t.Run("off mode allows everything and says nothing", func(t *testing.T) {
		e := NewEngine(ModeOff, []Rule{headerRule, blockRule})
		assert.Equal(t, ModeOff, e.Mode())
		assert.Equal(t, Decision{WAFResponse: 200}, e.Decide(sqliRequest))
		assert.Nil(t, e.Signals(sqliRequest))
	})
}

func TestNewEngine(t *testing.T) {
	t.Run("it panics on an unknown mode", func(t *testing.T) {
		assert.PanicsWithValue(t, `detect.NewEngine: unknown mode "block": valid modes are "blocking", "not-blocking" and "off"`,
			func() { NewEngine("block", nil) })
	})
	t.Run("it panics on a rule that does not validate", func(t *testing.T) {
		bad := Rule{ID: "bad", Conditions: []Condition{{Field: FieldPath, Op: OpRegex, Value: "("}}, Action: RuleAction{Type: ActionAllow}}
		require.Error(t, bad.Validate())
		assert.Panics(t, func() { NewEngine(ModeBlocking, []Rule{bad}) })
	})
	t.Run("it does not change the caller's rules", func(t *testing.T) {
		rules := []Rule{{ID: "m", Conditions: []Condition{{Field: FieldMethod, Value: "post"}}, Action: RuleAction{Type: ActionBlock}}}
		e := NewEngine(ModeBlocking, rules)
		assert.Equal(t, "post", rules[0].Conditions[0].Value)
		assert.Equal(t, 0, rules[0].Action.Code)
		assert.Equal(t, int32(406), e.Decide(post("/", "text/plain", "x")).WAFResponse)
	})
}

func TestRuleActions(t *testing.T) {
	onPath := func(p string) []Condition { return []Condition{{Field: FieldPath, Op: OpPrefix, Value: p}} }
	e := NewEngine(ModeBlocking, []Rule{
		{ID: "tag-api", Conditions: onPath("/api/"), Action: RuleAction{Type: ActionAddSignal, Signal: "api"}},
		{ID: "tag-api-again", Conditions: onPath("/api/"), Action: RuleAction{Type: ActionAddSignal, Signal: "SITE.API"}},
		{ID: "add-hdr", Conditions: onPath("/api/"), Action: RuleAction{Type: ActionAddResponseHeader, Header: "X-A", Value: "1"}},
		{ID: "set-hdr", Conditions: onPath("/api/"), Action: RuleAction{Type: ActionSetResponseHeader, Header: "Cache-Control", Value: "no-store"}},
		{ID: "del-hdr", Conditions: onPath("/api/"), Action: RuleAction{Type: ActionDeleteResponseHeader, Header: "Server"}},
		{ID: "allow-scanner", Conditions: onPath("/api/scan"), Action: RuleAction{Type: ActionAllow}},
		{ID: "block-admin", Conditions: onPath("/admin"), Action: RuleAction{Type: ActionBlock, Code: 403}},
		{ID: "block-admin-again", Conditions: onPath("/admin"), Action: RuleAction{Type: ActionBlock, Code: 451}},
		{ID: "old-docs", Conditions: onPath("/docs/v1"), Action: RuleAction{Type: ActionRedirect, Code: 301, URL: "https://docs.example.com/v2/"}},
		{ID: "default-redirect", Conditions: onPath("/moved"), Action: RuleAction{Type: ActionRedirect, URL: "/new"}},
		{ID: "default-block", Conditions: onPath("/blocked"), Action: RuleAction{Type: ActionBlock}},
		{ID: "after-terminal", Conditions: onPath("/"), Action: RuleAction{Type: ActionAddSignal, Signal: "late"}},
	})

	t.Run("add-signal adds SITE.<NAME> once, sorted among the others, and does not decide", func(t *testing.T) {
		d := e.Decide(get("/api/items?q=%3Cscript%3Ealert(1)%3C/script%3E"))
		assert.Equal(t, int32(406), d.WAFResponse)
		assert.Equal(t, []string{"SITE.API", "SITE.LATE", SignalXSS}, d.Signals)
		assert.Equal(t, [][2]string{{HeaderTags, "SITE.API,SITE.LATE,XSS"}}, d.RequestHeaders)
		assert.Empty(t, d.Rule)
	})
	t.Run("response header actions become response actions in rule order", func(t *testing.T) {
		d := e.Decide(get("/api/items"))
		assert.Equal(t, []RespAction{
			{Op: RespAdd, Name: "X-A", Value: "1"},
			{Op: RespSet, Name: "Cache-Control", Value: "no-store"},
			{Op: RespDelete, Name: "Server"},
		}, d.RespActions)
	})
	t.Run("allow lets an attack through and keeps its tags", func(t *testing.T) {
		d := e.Decide(get("/api/scan?q=1%27+or+%271%27%3D%271"))
		assert.Equal(t, int32(200), d.WAFResponse)
		assert.Equal(t, "allow-scanner", d.Rule)
		assert.Equal(t, []string{"SITE.API", SignalSQLI}, d.Signals)
	})
	t.Run("block answers with the rule's code, and the first terminal rule wins", func(t *testing.T) {
		d := e.Decide(get("/admin/users"))
		assert.Equal(t, int32(403), d.WAFResponse)
		assert.Equal(t, "block-admin", d.Rule)
	})
	t.Run("rules after the deciding one do not apply", func(t *testing.T) {
		assert.NotContains(t, e.Decide(get("/admin/users")).Signals, "SITE.LATE")
	})
	t.Run("block without a code answers 406", func(t *testing.T) {
		assert.Equal(t, int32(406), e.Decide(get("/blocked")).WAFResponse)
	})
	t.Run("redirect answers with its code and X-Sigsci-Redirect", func(t *testing.T) {
		d := e.Decide(get("/docs/v1/intro"))
		assert.Equal(t, int32(301), d.WAFResponse)
		assert.Equal(t, "old-docs", d.Rule)
		assert.Contains(t, d.RequestHeaders, [2]string{HeaderRedirect, "https://docs.example.com/v2/"})
	})
	t.Run("redirect without a code answers 302", func(t *testing.T) {
		assert.Equal(t, int32(302), e.Decide(get("/moved")).WAFResponse)
	})
	t.Run("a rule's block takes precedence over attack signals", func(t *testing.T) {
		d := e.Decide(get("/admin?q=1%27+or+%271%27%3D%271"))
		assert.Equal(t, int32(403), d.WAFResponse)
		assert.Contains(t, d.Signals, SignalSQLI)
	})
}

func TestRuleConditions(t *testing.T) {
	cases := []struct {
		name     string
		cond     Condition
		match    []*Request
		nonMatch []*Request
	}{
		{"method equals compares case-insensitively",
			Condition{Field: FieldMethod, Value: "post"},
			[]*Request{post("/", "text/plain", "x"), func() *Request { r := get("/"); r.Method = "Post"; return r }()},
			[]*Request{get("/")}},
		{"path prefix looks at the decoded path",
			Condition{Field: FieldPath, Op: OpPrefix, Value: "/admin"},
			[]*Request{get("/admin"), get("/%61dmin/x?y=1")},
			[]*Request{get("/public/admin"), get("/?p=/admin")}},
		{"path suffix",
			Condition{Field: FieldPath, Op: OpSuffix, Value: ".php"},
			[]*Request{get("/index.php?x=1")},
			[]*Request{get("/index.php5")}},
		{"path regex",
			Condition{Field: FieldPath, Op: OpRegex, Value: `^/docs/v[12](/|$)`},
			[]*Request{get("/docs/v1"), get("/docs/v2/a")},
			[]*Request{get("/docs/v10")}},
		{"query without a name looks at the raw query string",
			Condition{Field: FieldQuery, Op: OpContains, Value: "debug=%74rue"},
			[]*Request{get("/?a=1&debug=%74rue")},
			[]*Request{get("/?debug=true")}},
		{"query with a name looks at each decoded value of that parameter",
			Condition{Field: FieldQuery, Name: "debug", Value: "true now"},
			[]*Request{get("/?debug=no&debug=true+now"), get("/?debug=true%20now")},
			[]*Request{get("/?debugx=true+now"), get("/?x=debug")}},
		{"header compares names case-insensitively and any value matches",
			Condition{Field: FieldHeader, Name: "x-token", Value: "secret"},
			[]*Request{get("/").with("X-Token", "secret"), get("/").with("X-TOKEN", "other").and("x-token", "secret")},
			[]*Request{get("/"), get("/").with("X-Token", "Secret")}},
		{"ip equals an address",
			Condition{Field: FieldIP, Value: "203.0.113.9"},
			[]*Request{get("/").from("203.0.113.9"), get("/").from("::ffff:203.0.113.9"), get("/").from("203.0.113.9:5555")},
			[]*Request{get("/").from("203.0.113.90"), get("/").from(""), get("/").from("not-an-ip")}},
		{"ip cidr contains the client",
			Condition{Field: FieldIP, Op: OpCIDR, Value: "10.0.0.0/8"},
			[]*Request{get("/").from("10.1.2.3")},
			[]*Request{get("/").from("11.0.0.1")}},
		{"ip cidr works for IPv6",
			Condition{Field: FieldIP, Op: OpCIDR, Value: "2001:db8::/32"},
			[]*Request{get("/").from("2001:db8::1")},
			[]*Request{get("/").from("2001:db9::1"), get("/").from("10.0.0.1")}},
		{"body contains",
			Condition{Field: FieldBody, Op: OpContains, Value: `"export":"all"`},
			[]*Request{post("/", "application/json", `{"export":"all"}`)},
			[]*Request{post("/", "application/json", `{"export":"some"}`)}},
		{"signal equals a present signal, upper-casing the rule's value",
			Condition{Field: FieldSignal, Value: "sqli"},
			[]*Request{sqliRequest},
			[]*Request{get("/")}},
		{"signal prefix",
			Condition{Field: FieldSignal, Op: OpPrefix, Value: "NO"},
			[]*Request{get("/").without("User-Agent")},
			[]*Request{get("/")}},
		{"not negates, and a missing header then matches",
			Condition{Field: FieldHeader, Name: "X-Token", Value: "secret", Not: true},
			[]*Request{get("/"), get("/").with("X-Token", "nope")},
			[]*Request{get("/").with("X-Token", "secret")}},
	}
	for _, c := range cases {
		e := NewEngine(ModeBlocking, []Rule{{ID: "r", Conditions: []Condition{c.cond}, Action: RuleAction{Type: ActionBlock, Code: 451}}})
		for i, r := range c.match {
			t.Run(c.name+": matches request "+itoa3(i), func(t *testing.T) {
				assert.Equal(t, int32(451), e.Decide(r).WAFResponse)
			})
		}
		for i, r := range c.nonMatch {
			t.Run(c.name+": does not match request "+itoa3(i), func(t *testing.T) {
				assert.NotEqual(t, int32(451), e.Decide(r).WAFResponse)
			})
		}
	}
	t.Run("all conditions must match", func(t *testing.T) {
		e := NewEngine(ModeBlocking, []Rule{{ID: "r", Conditions: []Condition{
			{Field: FieldPath, Op: OpPrefix, Value: "/admin"},
			{Field: FieldIP, Op: OpCIDR, Value: "10.0.0.0/8", Not: true},
		}, Action: RuleAction{Type: ActionBlock, Code: 403}}})
		assert.Equal(t, int32(403), e.Decide(get("/admin").from("203.0.113.1")).WAFResponse)
		assert.Equal(t, int32(200), e.Decide(get("/admin").from("10.0.0.1")).WAFResponse)
		assert.Equal(t, int32(200), e.Decide(get("/").from("203.0.113.1")).WAFResponse)
	})
	t.Run("a signal condition sees SITE signals added by earlier rules", func(t *testing.T) {
		e := NewEngine(ModeBlocking, []Rule{
			{ID: "tag", Conditions: []Condition{{Field: FieldPath, Value: "/x"}}, Action: RuleAction{Type: ActionAddSignal, Signal: "x"}},
			{ID: "use", Conditions: []Condition{{Field: FieldSignal, Value: "SITE.X"}}, Action: RuleAction{Type: ActionBlock, Code: 429}},
		})
		assert.Equal(t, int32(429), e.Decide(get("/x")).WAFResponse)
	})
	t.Run("a rule without conditions matches every request", func(t *testing.T) {
		e := NewEngine(ModeBlocking, []Rule{{ID: "all", Action: RuleAction{Type: ActionBlock, Code: 503}}})
		assert.Equal(t, int32(503), e.Decide(get("/")).WAFResponse)
	})
}

func TestEngineIsSafeForConcurrentUse(t *testing.T) {
	rules, err := LoadRules("testdata/rules.yaml")
	require.NoError(t, err)
	e := NewEngine(ModeBlocking, rules)
	reqs := []*Request{typicalRequest(), sqliRequest, get("/api/x?q=%3Cscript%3E"), get("/admin").from("203.0.113.1")}
	want := make([]Decision, len(reqs))
	for i, r := range reqs {
		want[i] = e.Decide(r)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for n := range 50 {
				i := (g + n) % len(reqs)
				assert.Equal(t, want[i], e.Decide(reqs[i]))
			}
		})
	}
	wg.Wait()
}

func TestExampleRules(t *testing.T) {
	rules, err := LoadRules("testdata/rules.yaml")
	require.NoError(t, err)
	e := NewEngine(ModeBlocking, rules)
	for _, c := range []struct {
		name string
		req  *Request
		code int32
		rule string
	}{
		{"an API call is tagged and allowed", get("/api/items"), 200, ""},
		{"SQL injection on the API gets 429", get("/api/items?q=1%27+or+%271%27%3D%271"), 429, "block-sqli-on-api"},
		{"admin from outside is forbidden", get("/admin").from("203.0.113.1"), 403, "block-admin-from-outside"},
		{"admin from inside is allowed", get("/admin").from("10.1.1.1"), 200, ""},
		{"the internal scanner may attack", get("/?q=1%27+or+%271%27%3D%271").from("10.20.3.4").with("X-Scanner-Token", "let-me-in"), 200, "allow-internal-scanner"},
		{"old docs are redirected", get("/docs/v1/intro"), 301, "old-docs-moved"},
		{"the debug parameter is blocked", get("/?debug=true"), 406, "block-debug-param"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := e.Decide(c.req)
			assert.Equal(t, c.code, d.WAFResponse)
			assert.Equal(t, c.rule, d.Rule)
			assert.Contains(t, d.RespActions, RespAction{Op: RespAdd, Name: "X-Fake-Agent", Value: "rules.yaml"})
		})
	}
}
