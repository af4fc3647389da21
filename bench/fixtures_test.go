package bench

import (
	"bytes"
	"github.com/seed-a2a44e50/ngwaf-helloworld/bench/loadcompare"
	"net/http"
	"strings"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect"
	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// jsonBody is an ordinary 1 KB JSON API body that no detector flags: the
// load comparison's, so both measure the same request.
var jsonBody = string(loadcompare.JSONBody)

// typicalHeaders are the 10 request headers of a browser's API call.
func typicalHeaders(withBody bool) [][2]string {
	h := [][2]string{
		{"Host", "shop.example.org"},
		{"User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
		{"Accept", "application/json, text/plain, */*"},
		{"Accept-Language", "en-GB,en;q=0.8"},
		{"Accept-Encoding", "gzip, deflate, br"},
		{"Referer", "https://shop.example.org/basket?step=2"},
		{"Cookie", "sid=Zm9vYmFyYmF6cXV4; theme=light; consent=analytics"},
		{"X-Request-Id", "0b6f3f5e-3f0a-4c1e-8d0e-6a9b1b2c3d4e"},
		{"Connection", "keep-alive"},
		{"Cache-Control", "no-cache"},
	}
	if withBody {
		h[8] = [2]string{"Content-Type", "application/json"}
		h[9] = [2]string{"Content-Length", "1024"}
	}
	return h
}

const typicalURI = "/api/v2/orders?expand=lines&currency=GBP&preview=false"

// typicalMsgIn is a PreRequest as the module sends it for a typical POST:
// 10 headers, a query with 3 parameters, a 1 KB JSON body.
func typicalMsgIn() *wire.RPCMsgIn {
	return &wire.RPCMsgIn{
		ModuleVersion: "ngwaf-helloworld-module-golang 0.1.0",
		ServerVersion: "go1.27.3",
		ServerFlavor:  "bench",
		ServerName:    "shop.example.org",
		Timestamp:     1730000000,
		NowMillis:     1730000000123,
		RemoteAddr:    "203.0.113.42",
		Method:        "POST",
		Scheme:        "http",
		URI:           typicalURI,
		Protocol:      "HTTP/1.1",
		ResponseCode:  -1,
		ResponseSize:  -1,
		HeadersIn:     typicalHeaders(true),
		PostBody:      jsonBody,
	}
}

// typicalDetectRequest is typicalMsgIn as the inspection engine sees it.
func typicalDetectRequest() *detect.Request {
	in := typicalMsgIn()
	return &detect.Request{Method: in.Method, URI: in.URI, RemoteAddr: in.RemoteAddr, Headers: in.HeadersIn, Body: in.PostBody}
}

// attackDetectRequest is typicalDetectRequest carrying SQL injection in the
// query, an attack tool's User-Agent and XSS in the body.
func attackDetectRequest() *detect.Request {
	r := typicalDetectRequest()
	r.URI = "/api/v2/orders?expand=lines&currency=GBP&q=1%27%20UNION%20SELECT%20username,password%20FROM%20users--"
	r.Headers = append([][2]string(nil), r.Headers...)
	r.Headers[1][1] = "sqlmap/1.8.2#stable (https://sqlmap.org)"
	r.Body = strings.Replace(r.Body, `"Fountain pen"`, `"<script>alert(document.cookie)</script>"`, 1)
	return r
}

// newHTTPRequest builds the GET or the POST (1 KB JSON) the ServeHTTP
// benchmarks serve, with the typical headers.
func newHTTPRequest(method string) *http.Request {
	var body *bytes.Reader
	if method == http.MethodPost {
		body = bytes.NewReader([]byte(jsonBody))
	} else {
		body = bytes.NewReader(nil)
	}
	r, err := http.NewRequest(method, "http://shop.example.org"+typicalURI, body)
	if err != nil {
		panic(err)
	}
	for _, kv := range typicalHeaders(method == http.MethodPost) {
		if kv[0] == "Host" {
			continue
		}
		r.Header.Set(kv[0], kv[1])
	}
	r.RemoteAddr = "203.0.113.42:51234"
	return r
}
