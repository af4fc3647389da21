package fakeagent

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// Card numbers that pass the Luhn check (the networks' published test
// numbers) and one that does not.
const (
	visa       = "4111111111111111"
	visaSpaced = "4111 1111 1111 1111"
	amex       = "378282246310005"
	mastercard = "5555-5555-5555-4444"
	notLuhn    = "4111111111111112"
	ssn        = "123-45-6789"
)

func TestRedactNumbers(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"a card number", "card " + visa + " end", "card [redacted] end"},
		{"a card number grouped with spaces", "cc=" + visaSpaced + ";", "cc=[redacted];"},
		{"a card number grouped with dashes", mastercard, "[redacted]"},
		{"a 15-digit card number", amex, "[redacted]"},
		{"a card number encoded in a URL", "/pay?cc=4111%201111%201111%201111", "/pay?cc=[redacted]"},
		{"a card number grouped with plus signs", "cc=4111+1111+1111+1111", "cc=[redacted]"},
		{"a card number after another number", "qty 3 " + visa, "qty 3 [redacted]"},
		{"two card numbers", visa + "," + amex, "[redacted],[redacted]"},
		{"a number failing the Luhn check stays", notLuhn, notLuhn},
		{"a millisecond timestamp stays (no card starts with 1)", "t=1730000000123", "t=1730000000123"},
		{"a long run of digits stays", "id=41111111111111111111111", "id=41111111111111111111111"},
		{"a card number glued to more digits stays", "4111111111111111" + "99", "4111111111111111" + "99"},
		{"short numbers do not add up to a card number", "6789 123-45-6789", "6789 [redacted]"},
		{"groups with mixed separators are no card number", "4111 1111-1111 1111", "4111 1111-1111 1111"},
		{"a social security number", "ssn " + ssn + ".", "ssn [redacted]."},
		{"a social security number followed by a number", "ssn " + ssn + " 5", "ssn [redacted] 5"},
		{"an invalid area is no social security number", "000-45-6789 666-45-6789 912-45-6789", "000-45-6789 666-45-6789 912-45-6789"},
		{"a zero group or serial is no social security number", "123-00-6789 123-45-0000", "123-00-6789 123-45-0000"},
		{"a phone number is no social security number", "555-123-4567", "555-123-4567"},
		{"a date stays", "2025-01-02", "2025-01-02"},
		{"text without digits is returned as it is", "hello world", "hello world"},
		{"empty", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, redactNumbers(tc.in))
		})
	}
}

func TestRedactHeaders(t *testing.T) {
	in := [][2]string{
		{"Host", "example.com"},
		{"Authorization", "Bearer abc.def"},
		{"Proxy-Authorization", "Basic dXNlcjpwYXNz"},
		{"cookie", "session=s3cr3t; theme=dark"},
		{"Set-Cookie", "id=42; HttpOnly"},
		{"X-Auth-Token", "t0k3n"},
		{"X-Api-Key", "k3y"},
		{"X-Session-Id", "abc"},
		{"X-Client-Secret", "shh"},
		{"X-Password", "hunter2"},
		{"Referer", "https://shop.example/checkout?coupon=FREE&card=" + visa},
		{"Location", "/next?token=abc"},
		{"User-Agent", "Mozilla/5.0"},
		{"X-Card", visaSpaced},
		{"Accept", ""},
	}
	want := [][2]string{
		{"Host", "example.com"},
		{"Authorization", "[redacted]"},
		{"Proxy-Authorization", "[redacted]"},
		{"cookie", "[redacted]"},
		{"Set-Cookie", "[redacted]"},
		{"X-Auth-Token", "[redacted]"},
		{"X-Api-Key", "[redacted]"},
		{"X-Session-Id", "[redacted]"},
		{"X-Client-Secret", "[redacted]"},
		{"X-Password", "[redacted]"},
		{"Referer", "https://shop.example/checkout?[redacted]"},
		{"Location", "/next?[redacted]"},
		{"User-Agent", "Mozilla/5.0"},
		{"X-Card", "[redacted]"},
		{"Accept", ""},
	}
	orig := append([][2]string{}, in...)
	assert.Equal(t, want, redactHeaders(in))
	assert.Equal(t, orig, in, "the message is not changed")
	assert.Nil(t, redactHeaders(nil))
}

func TestRedactURI(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"no query", "/hello", "/hello"},
		{"harmless parameters stay", "/search?q=shoes&page=2", "/search?q=shoes&page=2"},
		{"sensitive parameters", "/login?user=ann&password=hunter2&api_key=k&sessionid=s", "/login?user=ann&password=[redacted]&api_key=[redacted]&sessionid=[redacted]"},
		{"an encoded sensitive name", "/x?pass%77ord=hunter2", "/x?pass%77ord=[redacted]"},
		{"a name that does not decode is matched as it is", "/x?token%zz=1", "/x?token%zz=[redacted]"},
		{"a card number in the path", "/cards/" + visa + "/charge", "/cards/[redacted]/charge"},
		{"a social security number in a parameter", "/x?ssn=" + ssn, "/x?ssn=[redacted]"},
		{"an attack stays visible", "/search?q=1'%20OR%20'1'='1", "/search?q=1'%20OR%20'1'='1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, redactURI(tc.in))
		})
	}
}

func TestRedactBody(t *testing.T) {
	cases := []struct{ name, contentType, in, want string }{
		{"a form", "application/x-www-form-urlencoded", "user=ann&password=hunter2&cc=" + visa, "user=ann&password=[redacted]&cc=[redacted]"},
		{
			"JSON, as in the agent's documentation", "application/json",
			`{"user":"user@api.example.com","password":"<script>alert(1)</script>mypassword","zip":94089}`,
			`{"user":"user@api.example.com","password":"[redacted]","zip":94089}`,
		},
		{
			"JSON with numbers, literals, nesting and escapes", "application/json; charset=utf-8",
			`{"pin": 1234, "apiKey" : true, "auth": {"token": "a\"b", "n": 1}, "list": ["password", "x"], "s\u0065cret": null}`,
			`{"pin": 1234, "apiKey" : "[redacted]", "auth": {"token": "[redacted]", "n": 1}, "list": ["password", "x"], "s\u0065cret": "[redacted]"}`,
		},
		{"JSON cut short", "application/json", `{"password":"hunter`, `{"password":"[redacted]"`},
		{"JSON without a content type", "", `{"token":"t"}`, `{"token":"[redacted]"}`},
		{"a card number in JSON", "application/json", `{"card":"` + visa + `"}`, `{"card":"[redacted]"}`},
		{
			"multipart", "multipart/form-data; boundary=XX",
			"--XX\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nann\r\n--XX\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nhunter2\r\n--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"secret.txt\"\r\n\r\ncontent\r\n--XX--\r\n",
			"--XX\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nann\r\n--XX\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n[redacted]\r\n--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"secret.txt\"\r\n\r\ncontent\r\n--XX--\r\n",
		},
		{"plain text keeps its words", "text/plain", "password=hunter2 ssn " + ssn, "password=hunter2 ssn [redacted]"},
		{"empty", "application/json", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, redactBody(tc.in, tc.contentType))
		})
	}
}

// leaky is a request carrying one of everything the agent redacts.
func leaky() *wire.RPCMsgIn {
	in := request("POST", "/checkout?password=hunter2&cc="+visa)
	in.HeadersIn = append(in.HeadersIn,
		[2]string{"Authorization", "Bearer leak-authz"},
		[2]string{"Cookie", "session=leak-cookie"},
		[2]string{"X-Api-Key", "leak-apikey"},
		[2]string{"Content-Type", "application/json"},
	)
	in.PostBody = `{"user":"ann","password":"leak-body-password","ssn":"` + ssn + `"}`
	return in
}

var leaks = []string{"hunter2", visa, "leak-authz", "leak-cookie", "leak-apikey", "leak-body-password", ssn, "leak-setcookie"}

func TestRecordsAreRedacted(t *testing.T) {
	var logs logBuffer
	s := Start(t, withLogs(&logs), WithAdminAddress("127.0.0.1:0"), Option(func(c *Config) { c.DebugLogWebInputs = true }))
	cl := dial(t, s)
	in := leaky()
	pre(t, cl, in)
	p := rebuilt(in, 500, 2)
	p.HeadersOut = [][2]string{{"Set-Cookie", "id=leak-setcookie"}}
	var ack int
	require.NoError(t, invoke(t, cl, wire.MethodPostRequest, p, &ack))
	// An unmatched PostRequest and an UpdateRequest are redacted too.
	other := leaky()
	other.URI = "/elsewhere?token=hunter2"
	require.NoError(t, invoke(t, cl, wire.MethodPostRequest, post(other, 500), &ack))
	attack := leaky()
	attack.URI += "&q=1'%20OR%20'1'='1"
	out := pre(t, cl, attack)
	require.NotEmpty(t, out.RequestID)
	require.NoError(t, invoke(t, cl, wire.MethodUpdateRequest, &wire.RPCMsgIn2{
		RequestID: out.RequestID, ResponseCode: 406, HeadersOut: [][2]string{{"Set-Cookie", "leak-setcookie"}},
	}, &ack))

	recs := s.Requests()
	require.Len(t, recs, 3)
	assert.Equal(t, MatchUnique, recs[0].Response.Match, "redaction does not get in the way of matching")
	assert.Equal(t, OutcomeUpdated, recs[2].Outcome)
	assert.Contains(t, recs[2].Signals, "SQLI", "inspection saw the request as sent")
	assert.Equal(t, "/checkout?password=[redacted]&cc=[redacted]", recs[0].In.URI)
	assert.Equal(t, `{"user":"ann","password":"[redacted]","ssn":"[redacted]"}`, recs[0].In.PostBody)
	assert.Equal(t, len(in.PostBody), recs[0].BodySize, "the size is the size sent")

	_, served := httpGet(t, "http://"+s.AdminAddr()+"/requests")
	js, err := json.Marshal(recs)
	require.NoError(t, err)
	require.Contains(t, logs.String(), "msg=PreRequest")
	require.Contains(t, logs.String(), "msg=PostRequest")
	for name, text := range map[string]string{"records": string(js), "/requests": served, "logs": logs.String()} {
		for _, leak := range leaks {
			assert.NotContains(t, text, leak, name)
		}
	}
}

func TestRecordRawKeepsEverything(t *testing.T) {
	s := Start(t, WithRecordRaw())
	cl := dial(t, s)
	in := leaky()
	pre(t, cl, in)
	rec := recordOf(t, s)
	assert.Equal(t, in.URI, rec.In.URI)
	assert.Equal(t, in.PostBody, rec.In.PostBody)
	assert.Equal(t, in.HeadersIn, rec.In.HeadersIn)
}

func TestRedactionCutsTheBodyAfterRedacting(t *testing.T) {
	// A card number straddling the 8 KiB cut is still redacted.
	body := strings.Repeat("a", recordBodyLimit-8) + " " + visa + " tail"
	in := request("POST", "/upload")
	in.HeadersIn = append(in.HeadersIn, [2]string{"Content-Type", "text/plain"})
	in.PostBody = body
	kept := redactIn(in, false)
	assert.LessOrEqual(t, len(kept.PostBody), recordBodyLimit)
	assert.NotContains(t, kept.PostBody, visa[:7])
	assert.True(t, strings.HasSuffix(kept.PostBody, " [redact"), kept.PostBody[len(kept.PostBody)-20:])
}

// BenchmarkRedactIn measures the copy of a message that is recorded: a
// benign request, and one with a form body and sensitive headers.
func BenchmarkRedactIn(b *testing.B) {
	b.Run("benign", func(b *testing.B) {
		in := benign()
		b.ReportAllocs()
		for b.Loop() {
			_ = redactIn(in, false)
		}
	})
	b.Run("sensitive", func(b *testing.B) {
		in := leaky()
		b.ReportAllocs()
		for b.Loop() {
			_ = redactIn(in, false)
		}
	})
	b.Run("raw", func(b *testing.B) {
		in := leaky()
		b.ReportAllocs()
		for b.Loop() {
			_ = redactIn(in, true)
		}
	})
}
