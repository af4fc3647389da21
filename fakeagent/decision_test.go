package fakeagent

import (
	"encoding/json"
	"fmt"
	"net/rpc"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect"
	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

var epoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func TestParseDecisionMode(t *testing.T) {
	for in, want := range map[string]DecisionMode{"": DecisionImmediate, "immediate": DecisionImmediate, "threshold": DecisionThreshold} {
		got, err := ParseDecisionMode(in)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err := ParseDecisionMode("later")
	assert.ErrorContains(t, err, `unknown decision mode "later" (valid: immediate, threshold)`)
}

func TestClientIP(t *testing.T) {
	cases := []struct {
		name    string
		headers [][2]string
		header  string
		remote  string
		want    string
	}{
		{"RemoteAddr without the header", nil, DefaultClientIPHeader, "192.0.2.10", "192.0.2.10"},
		{"the first X-Forwarded-For entry", [][2]string{{"x-forwarded-for", "203.0.113.7, 10.0.0.1"}}, DefaultClientIPHeader, "10.0.0.2", "203.0.113.7"},
		{"an IPv6 entry", [][2]string{{"X-Forwarded-For", "2001:db8::7"}}, DefaultClientIPHeader, "10.0.0.2", "2001:db8::7"},
		{"an entry with a port", [][2]string{{"X-Forwarded-For", "[2001:db8::7]:443"}}, DefaultClientIPHeader, "10.0.0.2", "2001:db8::7"},
		{"an invalid entry falls back to RemoteAddr", [][2]string{{"X-Forwarded-For", "unknown"}}, DefaultClientIPHeader, "10.0.0.2", "10.0.0.2"},
		{"another header", [][2]string{{"X-Forwarded-For", "203.0.113.7"}, {"X-Real-Ip", "198.51.100.9"}}, "X-Real-IP", "10.0.0.2", "198.51.100.9"},
		{"no header at all", [][2]string{{"X-Forwarded-For", "203.0.113.7"}}, NoClientIPHeader, "10.0.0.2", "10.0.0.2"},
		{"a RemoteAddr with a port", nil, DefaultClientIPHeader, "192.0.2.10:5123", "192.0.2.10"},
		{"a mapped IPv4 address", nil, DefaultClientIPHeader, "::ffff:192.0.2.10", "192.0.2.10"},
		{"an unparseable RemoteAddr is kept", nil, DefaultClientIPHeader, "somewhere", "somewhere"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, clientIP(tc.headers, tc.header, tc.remote))
		})
	}
}

// attackVerdict is the engine's verdict on a SQL injection in blocking
// mode.
func attackVerdict() verdict { return verdict{WAFResponse: 406, Signals: []string{"SQLI"}} }

func thresholdPolicy(t *testing.T, opts ...Option) *policy {
	t.Helper()
	cfg := Config{Decision: DecisionThreshold}
	for _, o := range opts {
		o(&cfg)
	}
	require.NoError(t, cfg.normalize())
	return newPolicy(&cfg)
}

// TestDefaultThresholds drives each of the real agent's default
// thresholds on its own: the requests are spread so that no shorter
// interval's threshold is reached first.
func TestDefaultThresholds(t *testing.T) {
	cases := []struct {
		name      string
		perMinute int           // attacks per minute, spaced by step
		step      time.Duration // between attacks within a minute
		minutes   int
		want      Threshold
	}{
		{"50 in 1 minute", 50, time.Second, 1, Threshold{time.Minute, 50}},
		{"350 in 10 minutes, never 50 in 1 minute", 35, time.Second, 10, Threshold{10 * time.Minute, 350}},
		{"1,800 in 1 hour, never 350 in 10 minutes", 30, 2 * time.Second, 60, Threshold{time.Hour, 1800}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := thresholdPolicy(t)
			const ip = "203.0.113.7"
			n := 0
			var last time.Time
			for m := range tc.minutes {
				for k := range tc.perMinute {
					last = epoch.Add(time.Duration(m)*time.Minute + time.Duration(k)*tc.step)
					v := attackVerdict()
					p.apply(ip, last, &v)
					n++
					require.Equal(t, int32(200), v.WAFResponse, "attack %d is only tagged", n)
					if n < tc.want.Limit {
						require.NotContains(t, v.Signals, SignalFlaggedIP, "attack %d", n)
						require.Empty(t, p.flagged(last), "attack %d", n)
					}
				}
			}
			require.Equal(t, tc.want.Limit, n)
			flagged := p.flagged(last)
			require.Len(t, flagged, 1, "the attack that reaches the threshold flags the IP")
			assert.Equal(t, FlaggedIP{IP: ip, Flagged: last, Until: last.Add(DefaultFlagDuration), Threshold: tc.want}, flagged[0])

			next := attackVerdict()
			p.apply(ip, last.Add(time.Second), &next)
			assert.Equal(t, int32(406), next.WAFResponse, "the next attack is blocked")
			assert.Equal(t, []string{SignalFlaggedIP, "SQLI"}, next.Signals)
			assert.Contains(t, next.Note, "is flagged until")
		})
	}
}

func TestAFlaggedIP(t *testing.T) {
	const ip, other = "203.0.113.7", "198.51.100.9"
	flag := func(t *testing.T, p *policy) time.Time {
		t.Helper()
		for i := range 3 {
			v := attackVerdict()
			p.apply(ip, epoch.Add(time.Duration(i)*time.Second), &v)
		}
		require.Len(t, p.flagged(epoch.Add(2*time.Second)), 1)
		return epoch.Add(2 * time.Second)
	}
	small := WithThresholds(time.Hour, Threshold{time.Minute, 3})

	t.Run("carries the flagged signal on benign requests, which pass", func(t *testing.T) {
		p := thresholdPolicy(t, small)
		at := flag(t, p)
		v := verdict{WAFResponse: 200}
		p.apply(ip, at.Add(time.Minute), &v)
		assert.Equal(t, int32(200), v.WAFResponse)
		assert.Equal(t, []string{SignalFlaggedIP}, v.Signals)
	})
	t.Run("anomalies alone are neither counted nor blocked", func(t *testing.T) {
		p := thresholdPolicy(t, small)
		for i := range 10 {
			v := verdict{WAFResponse: 200, Signals: []string{"NOUA"}}
			p.apply(ip, epoch.Add(time.Duration(i)*time.Second), &v)
			assert.Equal(t, int32(200), v.WAFResponse)
		}
		assert.Empty(t, p.flagged(epoch.Add(10*time.Second)))
	})
	t.Run("another IP is not affected", func(t *testing.T) {
		p := thresholdPolicy(t, small)
		at := flag(t, p)
		v := attackVerdict()
		p.apply(other, at.Add(time.Second), &v)
		assert.Equal(t, int32(200), v.WAFResponse)
		assert.Equal(t, []string{"SQLI"}, v.Signals)
	})
	t.Run("is blocked for the flag duration only", func(t *testing.T) {
		p := thresholdPolicy(t, small)
		at := flag(t, p)
		v := attackVerdict()
		p.apply(ip, at.Add(time.Hour-time.Nanosecond), &v)
		assert.Equal(t, int32(406), v.WAFResponse, "just before the flag ends")
		v = attackVerdict()
		p.apply(ip, at.Add(time.Hour), &v)
		assert.Equal(t, int32(200), v.WAFResponse, "the flag has ended; the attacks within the last minute start counting again")
		assert.Equal(t, []string{"SQLI"}, v.Signals)
		assert.Empty(t, p.flagged(at.Add(time.Hour)))
	})
	t.Run("the default flag duration is 24 hours", func(t *testing.T) {
		p := thresholdPolicy(t, WithThresholds(0, Threshold{time.Minute, 3}))
		at := flag(t, p)
		assert.Equal(t, at.Add(24*time.Hour), p.flagged(at)[0].Until)
	})
	t.Run("is only logged in not-blocking mode", func(t *testing.T) {
		p := thresholdPolicy(t, small, WithMode(detect.ModeNotBlocking))
		at := flag(t, p)
		v := verdict{WAFResponse: 200, Signals: []string{"SQLI"}}
		p.apply(ip, at.Add(time.Second), &v)
		assert.Equal(t, int32(200), v.WAFResponse)
		assert.Equal(t, []string{SignalFlaggedIP, "SQLI"}, v.Signals)
	})
	t.Run("a rule's decision stands", func(t *testing.T) {
		p := thresholdPolicy(t, small)
		blocked := verdict{WAFResponse: 403, Signals: []string{"SQLI"}, RuleDecided: true}
		p.apply(other, epoch, &blocked)
		assert.Equal(t, int32(403), blocked.WAFResponse, "a block rule blocks below the thresholds")
		at := flag(t, p)
		allowed := verdict{WAFResponse: 200, Signals: []string{"SQLI"}, RuleDecided: true}
		p.apply(ip, at.Add(time.Second), &allowed)
		assert.Equal(t, int32(200), allowed.WAFResponse, "an allow rule allows a flagged IP")
		assert.Contains(t, allowed.Signals, SignalFlaggedIP)
	})
	t.Run("attacks are counted in a sliding window", func(t *testing.T) {
		p := thresholdPolicy(t, small)
		for i, at := range []time.Duration{0, 30 * time.Second, 61 * time.Second, 91 * time.Second} {
			v := attackVerdict()
			p.apply(ip, epoch.Add(at), &v)
			assert.Equal(t, int32(200), v.WAFResponse, "attack %d", i)
		}
		assert.Empty(t, p.flagged(epoch.Add(91*time.Second)), "never 3 within a minute")
		v := attackVerdict()
		p.apply(ip, epoch.Add(120*time.Second), &v)
		assert.Len(t, p.flagged(epoch.Add(120*time.Second)), 1, "61s, 91s and 120s are 3 within (60s, 120s]")
	})
}

func TestImmediateDecisionBlocksEveryAttack(t *testing.T) {
	s := Start(t)
	cl := dial(t, s)
	for i := range 3 {
		assert.Equal(t, int32(406), pre(t, cl, sqli()).WAFResponse, "attack %d", i)
	}
	assert.Empty(t, s.FlaggedIPs())
	for _, rec := range s.Requests() {
		assert.Empty(t, rec.Policy)
		assert.NotContains(t, rec.Signals, SignalFlaggedIP)
	}
}

// xff returns in sent through a proxy for client.
func xff(in *wire.RPCMsgIn, client string) *wire.RPCMsgIn {
	in.RemoteAddr = "10.0.0.2"
	in.HeadersIn = append(in.HeadersIn, [2]string{"X-Forwarded-For", client + ", 10.0.0.1"})
	return in
}

func TestThresholdDecisionEndToEnd(t *testing.T) {
	clock := NewManualClock(epoch)
	s := Start(t, WithClock(clock), WithDecision(DecisionThreshold))
	cl := dial(t, s)
	const attacker, neighbour = "203.0.113.7", "203.0.113.8"
	for i := range 50 {
		out := pre(t, cl, xff(sqli(), attacker))
		require.Equal(t, int32(200), out.WAFResponse, "attack %d is below the 1-minute threshold of 50", i+1)
		require.NotEmpty(t, out.RequestID, "tagged requests get a RequestID")
		clock.Advance(time.Second)
	}
	flagged := s.FlaggedIPs()
	require.Len(t, flagged, 1)
	assert.Equal(t, attacker, flagged[0].IP, "the client IP from X-Forwarded-For, not the proxy's")
	assert.Equal(t, Threshold{time.Minute, 50}, flagged[0].Threshold)

	out := pre(t, cl, xff(sqli(), attacker))
	assert.Equal(t, int32(406), out.WAFResponse)
	assert.Equal(t, []string{SignalFlaggedIP, "SQLI"}, tagsOf(out.RequestHeaders))
	assert.Equal(t, "X-SigSci-Tags", out.RequestHeaders[0][0])

	benignOut := pre(t, cl, xff(benign(), attacker))
	assert.Equal(t, int32(200), benignOut.WAFResponse)
	assert.Equal(t, []string{SignalFlaggedIP}, tagsOf(benignOut.RequestHeaders))
	assert.NotEmpty(t, benignOut.RequestID)

	assert.Equal(t, int32(200), pre(t, cl, xff(sqli(), neighbour)).WAFResponse, "behind the same proxy, another client")

	recs := s.Requests()
	last := recs[len(recs)-1]
	assert.Equal(t, neighbour, last.ClientIP)
	assert.Equal(t, "threshold: allowed: 203.0.113.8 is not flagged", last.Policy)
	assert.Contains(t, recs[49].Policy, "threshold: 203.0.113.7 flagged: 50 requests with attack signals in 1m0s (limit 50)")
	assert.Contains(t, recs[50].Policy, "threshold: blocked: 203.0.113.7 is flagged until 2025-01-03T03:04:54Z")

	clock.Advance(DefaultFlagDuration)
	assert.Equal(t, int32(200), pre(t, cl, xff(sqli(), attacker)).WAFResponse, "24 hours later the flag is gone")
	assert.Empty(t, s.FlaggedIPs())
}

func TestRateLimits(t *testing.T) {
	loginRule := detect.Rule{
		ID:         "login",
		Conditions: []detect.Condition{{Field: detect.FieldPath, Op: detect.OpPrefix, Value: "/login"}},
		Action:     detect.RuleAction{Type: detect.ActionAddSignal, Signal: "SITE.LOGIN"},
	}
	limit := RateLimit{ID: "login-burst", Signal: "SITE.LOGIN", Threshold: 3, Interval: time.Minute, Duration: 5 * time.Minute, Code: 429}
	start := func(t *testing.T, rl RateLimit, opts ...Option) (*ManualClock, *rpc.Client, *Server) {
		t.Helper()
		clock := NewManualClock(epoch)
		s := Start(t, append([]Option{WithClock(clock), WithRules([]detect.Rule{loginRule}), WithRateLimits(rl)}, opts...)...)
		return clock, dial(t, s), s
	}
	login := func() *wire.RPCMsgIn { return request("POST", "/login") }

	t.Run("block the requests with the signal past the threshold, for the duration", func(t *testing.T) {
		clock, cl, s := start(t, limit)
		for i := range 3 {
			require.Equal(t, int32(200), pre(t, cl, login()).WAFResponse, "login %d", i+1)
			clock.Advance(time.Second)
		}
		assert.Equal(t, int32(429), pre(t, cl, login()).WAFResponse, "the 4th within a minute")
		assert.Contains(t, s.Requests()[3].Policy, "rate limit login-burst: 192.0.2.10 limited: 4 requests in 1m0s (limit 3)")
		assert.Equal(t, int32(200), pre(t, cl, benign()).WAFResponse, "requests without the signal pass")
		clock.Advance(5*time.Minute - time.Nanosecond)
		assert.Equal(t, int32(429), pre(t, cl, login()).WAFResponse, "still limited")
		clock.Advance(time.Nanosecond)
		assert.Equal(t, int32(200), pre(t, cl, login()).WAFResponse, "the duration is over")
	})
	t.Run("count per client IP", func(t *testing.T) {
		_, cl, _ := start(t, limit)
		for i := range 4 {
			in := login()
			in.RemoteAddr = fmt.Sprintf("192.0.2.%d", 20+i)
			assert.Equal(t, int32(200), pre(t, cl, in).WAFResponse)
		}
	})
	t.Run("count in a sliding window", func(t *testing.T) {
		clock, cl, _ := start(t, limit)
		for i, at := range []time.Duration{0, 20 * time.Second, 40 * time.Second, 61 * time.Second, 81 * time.Second} {
			clock.Advance(at - clock.Now().Sub(epoch))
			assert.Equal(t, int32(200), pre(t, cl, login()).WAFResponse, "login %d: never 4 within a minute", i+1)
		}
		clock.Advance(time.Second)
		assert.Equal(t, int32(429), pre(t, cl, login()).WAFResponse, "40s, 61s, 81s and 82s are 4 within (22s, 82s]")
	})
	t.Run("block all of a limited client's requests", func(t *testing.T) {
		all := limit
		all.Block = RateLimitBlockAll
		_, cl, _ := start(t, all)
		for range 4 {
			pre(t, cl, login())
		}
		assert.Equal(t, int32(429), pre(t, cl, benign()).WAFResponse)
	})
	t.Run("count every request without a signal", func(t *testing.T) {
		any := RateLimit{ID: "any", Threshold: 2, Interval: time.Minute, Duration: time.Minute}
		_, cl, _ := start(t, any)
		pre(t, cl, benign())
		pre(t, cl, benign())
		assert.Equal(t, int32(406), pre(t, cl, benign()).WAFResponse, "the default code")
	})
	t.Run("only log", func(t *testing.T) {
		logged := limit
		logged.Action = RateLimitLog
		_, cl, s := start(t, logged)
		for range 5 {
			assert.Equal(t, int32(200), pre(t, cl, login()).WAFResponse)
		}
		assert.Equal(t, "rate limit login-burst: logged", s.Requests()[4].Policy)
	})
	t.Run("only log in not-blocking mode", func(t *testing.T) {
		_, cl, _ := start(t, limit, WithMode(detect.ModeNotBlocking))
		for range 5 {
			assert.Equal(t, int32(200), pre(t, cl, login()).WAFResponse)
		}
	})
	t.Run("apply in the threshold decision mode too", func(t *testing.T) {
		_, cl, _ := start(t, limit, WithDecision(DecisionThreshold))
		for range 3 {
			pre(t, cl, login())
		}
		assert.Equal(t, int32(429), pre(t, cl, login()).WAFResponse)
	})
}

func TestCustomRequestHeaders(t *testing.T) {
	s := Start(t, WithCustomRequestHeaders([2]string{"X-Env", "staging"}, [2]string{"X-Team", "waf"}))
	cl := dial(t, s)
	assert.Equal(t, [][2]string{{"X-Env", "staging"}, {"X-Team", "waf"}}, pre(t, cl, benign()).RequestHeaders)
	out := pre(t, cl, sqli())
	assert.Equal(t, HeaderTags, out.RequestHeaders[0][0])
	assert.Equal(t, [][2]string{{"X-Env", "staging"}, {"X-Team", "waf"}}, out.RequestHeaders[1:])
}

func TestPolicyConfigIsValidated(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"an unknown decision mode", Config{Decision: "later"}, `unknown decision mode "later"`},
		{"a threshold without a limit", Config{Thresholds: []Threshold{{time.Minute, 0}}}, "Thresholds[0]"},
		{"a negative flag duration", Config{FlagDuration: -time.Second}, "FlagDuration"},
		{"a rate limit without an id", Config{RateLimits: []RateLimit{{Threshold: 1, Interval: time.Second, Duration: time.Second}}}, "id: is required"},
		{"a rate limit with a code the agent does not allow", Config{RateLimits: []RateLimit{{ID: "a", Threshold: 1, Interval: time.Second, Duration: time.Second, Code: 303}}}, "303 is not a block code the agent allows (301, 302, 400-599)"},
		{"two rate limits with one id", Config{RateLimits: []RateLimit{
			{ID: "a", Threshold: 1, Interval: time.Second, Duration: time.Second},
			{ID: "a", Threshold: 1, Interval: time.Second, Duration: time.Second},
		}}, `rate limit 2 ("a"): id already used`},
		{"a custom request header with a bad name", Config{CustomRequestHeaders: [][2]string{{"X Env", "1"}}}, `"X Env" is not a header name`},
		{"a custom request header with a line break", Config{CustomRequestHeaders: [][2]string{{"X-Env", "a\r\nb"}}}, "line break"},
		{"a bad client IP header", Config{ClientIPHeader: "X:Forwarded"}, "ClientIPHeader"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestValidBlockCode(t *testing.T) {
	for code, want := range map[int]bool{200: false, 300: false, 301: true, 302: true, 303: false, 399: false, 400: true, 406: true, 429: true, 599: true, 600: false} {
		assert.Equal(t, want, ValidBlockCode(code), "%d", code)
	}
}

func TestStatsShowModulesAndFlaggedIPs(t *testing.T) {
	clock := NewManualClock(epoch)
	s := Start(t, WithClock(clock), WithAdminAddress("127.0.0.1:0"), WithDecision(DecisionThreshold),
		WithThresholds(time.Hour, Threshold{time.Minute, 2}))
	cl := dial(t, s)
	in := sqli()
	in.ModuleVersion = "sigsci-module-nodejs 2.2.1"
	pre(t, cl, in)
	pre(t, cl, in)

	_, body := httpGet(t, "http://"+s.AdminAddr()+"/stats")
	var st Stats
	require.NoError(t, json.Unmarshal([]byte(body), &st))
	require.Len(t, st.Modules, 1)
	assert.Equal(t, "sigsci-module-nodejs 2.2.1", st.Modules[0].ModuleVersion)
	assert.False(t, st.Modules[0].SentModuleInit)
	assert.EqualValues(t, 2, st.Modules[0].PreRequests)
	assert.Equal(t, []FlaggedIP{{IP: "192.0.2.10", Flagged: epoch, Until: epoch.Add(time.Hour), Threshold: Threshold{time.Minute, 2}}}, st.FlaggedIPs)
	assert.EqualValues(t, 2, st.Calls[methodPreRequest])
}

func TestFingerprintFollowsTheDecisionSettings(t *testing.T) {
	fp := func(opts ...Option) string {
		t.Helper()
		cfg := Config{}
		for _, o := range opts {
			o(&cfg)
		}
		s, err := New(cfg)
		require.NoError(t, err)
		return s.fingerprint
	}
	base := fp()
	assert.Equal(t, base, fp(), "the same settings, the same fingerprint")
	for name, opt := range map[string]Option{
		"the decision mode":      WithDecision(DecisionThreshold),
		"a rate limit":           WithRateLimits(RateLimit{ID: "a", Threshold: 1, Interval: time.Minute, Duration: time.Minute}),
		"the client IP header":   WithClientIPHeader("X-Real-IP"),
		"custom request headers": WithCustomRequestHeaders([2]string{"X-Env", "1"}),
		"the engine":             WithEngine(EngineCRS),
	} {
		assert.NotEqual(t, base, fp(opt), name)
	}
	assert.NotEqual(t, fp(WithDecision(DecisionThreshold)),
		fp(WithDecision(DecisionThreshold), WithThresholds(0, Threshold{time.Minute, 5})), "the thresholds")
	assert.NotEqual(t, fp(WithEngine(EngineCRS)), fp(WithEngine(EngineCRS), WithCRS(2, 7)), "CRS's paranoia and threshold")
}

func TestRulesSeeTheClientIP(t *testing.T) {
	rules := []detect.Rule{{
		ID:         "block-net",
		Conditions: []detect.Condition{{Field: detect.FieldIP, Op: detect.OpCIDR, Value: "203.0.113.0/24"}},
		Action:     detect.RuleAction{Type: detect.ActionBlock, Code: 403},
	}}
	cases := []struct {
		name   string
		opts   []Option
		in     *wire.RPCMsgIn
		status int32
		ip     string
	}{
		{"from X-Forwarded-For by default", nil, xff(benign(), "203.0.113.7"), 403, "203.0.113.7"},
		{"from RemoteAddr without the header", nil, benign(), 200, "192.0.2.10"},
		{"from the header named", []Option{WithClientIPHeader("X-Real-IP")}, func() *wire.RPCMsgIn {
			in := xff(benign(), "198.51.100.1")
			in.HeadersIn = append(in.HeadersIn, [2]string{"X-Real-IP", "203.0.113.9"})
			return in
		}(), 403, "203.0.113.9"},
		{"from RemoteAddr alone when told", []Option{WithClientIPHeader(NoClientIPHeader)}, xff(benign(), "203.0.113.7"), 200, "10.0.0.2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := Start(t, append([]Option{WithRules(rules)}, tc.opts...)...)
			assert.Equal(t, tc.status, pre(t, dial(t, s), tc.in).WAFResponse)
			rec := recordOf(t, s)
			assert.Equal(t, tc.ip, rec.ClientIP)
			assert.Equal(t, tc.in.RemoteAddr, rec.In.RemoteAddr, "the message is recorded as sent")
		})
	}
}
