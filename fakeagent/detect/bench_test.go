package detect

import (
	"strings"
	"testing"
)

// typicalRequest is an ordinary API call: 10 headers, a query with 3
// parameters and a 1 KB JSON body.
func typicalRequest() *Request {
	body := `{"order":{"id":"123e4567-e89b-12d3-a456-426614174000","customer":{"name":"Jane O'Brien",` +
		`"email":"jane.obrien@example.com","phone":"+1 (555) 123-4567","address":{"street":"221B Baker St.",` +
		`"city":"London","zip":"NW1 6XE","country":"GB"}},"items":[{"sku":"A-1001","title":"Select a plan: Pro",` +
		`"qty":2,"price":19.99},{"sku":"B-2002","title":"Union Station poster","qty":1,"price":5.5},` +
		`{"sku":"C-3003","title":"Drop me a line card set","qty":3,"price":12}],"coupon":"SPRING-24",` +
		`"notes":"Please leave it at the door -- thanks! It's \"fine\" if it's late.","gift":false,` +
		`"tags":["express","fragile","weekend"],"payment":{"method":"card","last4":"4242","token":` +
		`"tok_1NqYJ2eZvKYlo2C0aBcDeFgH"},"metadata":{"source":"web","campaign":"newsletter","ref":` +
		`"https://example.com/landing?utm_source=mail"},"created":"2024-01-15T10:30:00Z"}}`
	body += strings.Repeat(" ", max(0, 1024-len(body)))
	return &Request{
		Method:     "POST",
		URI:        "/api/v1/orders?expand=items&currency=EUR&preview=false",
		RemoteAddr: "203.0.113.7",
		Headers: [][2]string{
			{"Host", "shop.example.com"},
			{"User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"},
			{"Accept", "application/json"},
			{"Accept-Language", "en-US,en;q=0.9"},
			{"Accept-Encoding", "gzip, deflate, br"},
			{"Content-Type", "application/json"},
			{"Content-Length", "1024"},
			{"Referer", "https://shop.example.com/cart?step=2"},
			{"Cookie", "session=eyJhbGciOiJIUzI1NiJ9.eyJ1aWQiOjQyfQ.abc123; theme=dark; _ga=GA1.2.1234567890.1700000000"},
			{"X-Request-Id", "7f3c9a2e-1b4d-4c6e-9f8a-2d3e4f5a6b7c"},
		},
		Body: body,
	}
}

func BenchmarkDecideTypical(b *testing.B) {
	e := NewEngine(ModeBlocking, nil)
	req := typicalRequest()
	if d := e.Decide(req); len(d.Signals) != 0 {
		b.Fatalf("typical request has signals %v", d.Signals)
	}
	b.ReportAllocs()
	for b.Loop() {
		e.Decide(req)
	}
}

// attackRequest is typicalRequest carrying SQL injection in the query, an
// attack tool's User-Agent and XSS in the body.
func attackRequest() *Request {
	req := typicalRequest()
	req.URI = "/api/v1/orders?expand=items&currency=EUR&q=1'+UNION+SELECT+username,password+FROM+users--"
	req.Headers[1][1] = "sqlmap/1.7.2#stable (https://sqlmap.org)"
	req.Body = strings.Replace(req.Body, `"SPRING-24"`, `"<script>alert(document.cookie)</script>"`, 1)
	return req
}

func BenchmarkDecideAttack(b *testing.B) {
	e := NewEngine(ModeBlocking, nil)
	req := attackRequest()
	if d := e.Decide(req); d.WAFResponse != 406 {
		b.Fatalf("attack request not blocked: %+v", d)
	}
	b.ReportAllocs()
	for b.Loop() {
		e.Decide(req)
	}
}

// BenchmarkDecideTypicalWithRules is the typical request against the
// example rules file (10 rules: prefixes, regex, CIDR, header, body).
func BenchmarkDecideTypicalWithRules(b *testing.B) {
	rules, err := LoadRules("testdata/rules.yaml")
	if err != nil {
		b.Fatal(err)
	}
	e := NewEngine(ModeBlocking, rules)
	req := typicalRequest()
	b.ReportAllocs()
	for b.Loop() {
		e.Decide(req)
	}
}
