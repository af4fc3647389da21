package detect

import "strings"

// Test request builders: an ordinary browser request, then one change.

func get(uri string) *Request {
	return &Request{
		Method:     "GET",
		URI:        uri,
		RemoteAddr: "198.51.100.7",
		Headers: [][2]string{
			{"Host", "shop.example.com"},
			{"User-Agent", browserUA},
			{"Accept", "*/*"},
		},
	}
}

func post(uri, contentType, body string) *Request {
	r := get(uri)
	r.Method, r.Body = "POST", body
	if contentType != "" {
		r.Headers = append(r.Headers, [2]string{"Content-Type", contentType})
	}
	return r
}

// with sets header name (replacing it when present) and returns r.
func (r *Request) with(name, value string) *Request {
	for i, h := range r.Headers {
		if strings.EqualFold(h[0], name) {
			r.Headers[i][1] = value
			return r
		}
	}
	r.Headers = append(r.Headers, [2]string{name, value})
	return r
}

// without removes header name and returns r.
func (r *Request) without(name string) *Request {
	h := r.Headers[:0]
	for _, kv := range r.Headers {
		if !strings.EqualFold(kv[0], name) {
			h = append(h, kv)
		}
	}
	r.Headers = h
	return r
}

// from sets the client IP and returns r.
func (r *Request) from(ip string) *Request {
	r.RemoteAddr = ip
	return r
}

// multipartRequest posts one multipart field (a file when filename is set).
func multipartRequest(field, filename, content string) *Request {
	const boundary = "XyZzY"
	var b strings.Builder
	b.WriteString("--" + boundary + "\r\n")
	if filename != "" {
		b.WriteString(`Content-Disposition: form-data; name="` + field + `"; filename="` + filename + "\"\r\n")
		b.WriteString("Content-Type: application/octet-stream\r\n")
	} else {
		b.WriteString(`Content-Disposition: form-data; name="` + field + "\"\r\n")
	}
	b.WriteString("\r\n" + content + "\r\n--" + boundary + "--\r\n")
	return post("/upload", "multipart/form-data; boundary="+boundary, b.String())
}

// and appends header name (even when present) and returns r.
func (r *Request) and(name, value string) *Request {
	r.Headers = append(r.Headers, [2]string{name, value})
	return r
}
