package detect

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// parsedURI is the request target split the way rules and inspection use it.
type parsedURI struct {
	path    string // as received
	query   string // as received, without the '?'
	decoded string // path, percent-decoded once
}

func parseURI(uri string) parsedURI {
	// An absolute-form target (proxy requests) carries scheme and host.
	if i := strings.Index(uri, "://"); i > 0 && !strings.ContainsAny(uri[:i], "/?") {
		rest := uri[i+3:]
		if j := strings.IndexAny(rest, "/?"); j >= 0 {
			uri = rest[j:]
		} else {
			uri = "/"
		}
	}
	var p parsedURI
	p.path, p.query, _ = strings.Cut(uri, "?")
	p.decoded = unescape(p.path, false)
	return p
}

// inspect walks everything the engine looks at in req: the path, each query
// parameter, selected headers, and the body according to its content type.
func (in *inspector) inspect(req *Request, u *parsedURI) {
	if doubleEncoded(u.path) || doubleEncoded(u.query) {
		in.sig.add(sigDoubleEncoding)
	}
	in.value(u.decoded, locPath)
	in.pairs(u.query, locQuery)

	var contentType string
	hasType, hasUA := false, false
	for _, h := range req.Headers {
		name, v := h[0], h[1]
		switch {
		case strings.EqualFold(name, "User-Agent"):
			if strings.TrimSpace(v) != "" {
				hasUA = true
			}
			in.value(v, locUserAgent)
		case strings.EqualFold(name, "Referer"):
			in.url(v)
		case strings.EqualFold(name, "Cookie"):
			in.cookies(v)
		case strings.EqualFold(name, "X-Forwarded-For"):
			in.value(v, locHeader)
		case strings.EqualFold(name, "Content-Type"):
			if !hasType {
				contentType, hasType = v, strings.TrimSpace(v) != ""
			}
		}
		// Log4Shell payloads come in any header; so do CRLF injections.
		if !in.sig.has(sigLog4J) && (strings.Contains(v, "${") || strings.Contains(v, "%24%7")) {
			if isLog4JJNDI(strings.ToLower(v), ccDollar|ccPercent) {
				in.sig.add(sigLog4J)
			}
		}
		if strings.ContainsAny(v, "\r\n") || encodedCRLF(v) {
			in.sig.add(sigResponseSplit)
		}
	}
	if !hasUA {
		in.sig.add(sigNoUA)
	}
	if req.Body != "" {
		if !hasType && isBodyMethod(req.Method) {
			in.sig.add(sigNoContentType)
		}
		in.body(req.Body, contentType)
	}
}

func isBodyMethod(m string) bool {
	return strings.EqualFold(m, "POST") || strings.EqualFold(m, "PUT") || strings.EqualFold(m, "PATCH")
}

// pairs inspects the names and values of a query string or form body,
// each decoded once.
func (in *inspector) pairs(s string, loc location) {
	for s != "" && !in.full() {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		name, value, _ := strings.Cut(pair, "=")
		in.value(unescape(name, true), loc)
		in.value(unescape(value, true), loc)
	}
}

// url inspects a URL-valued header (Referer): the part before the query as
// one value, then each query parameter.
func (in *inspector) url(v string) {
	base, query, _ := strings.Cut(v, "?")
	if doubleEncoded(query) {
		in.sig.add(sigDoubleEncoding)
	}
	in.value(unescape(base, false), locHeader)
	in.pairs(query, locHeader)
}

// cookies inspects each cookie value of a Cookie header, decoded once.
func (in *inspector) cookies(v string) {
	for v != "" && !in.full() {
		var c string
		c, v, _ = strings.Cut(v, ";")
		_, value, _ := strings.Cut(c, "=")
		value = strings.Trim(strings.TrimSpace(value), `"`)
		if doubleEncoded(value) {
			in.sig.add(sigDoubleEncoding)
		}
		in.value(unescape(value, false), locHeader)
	}
}

// body inspects a request body according to its content type.
func (in *inspector) body(body, contentType string) {
	truncated := len(body) > maxBodyLen
	if truncated {
		body = body[:maxBodyLen]
	}
	media, _, _ := strings.Cut(contentType, ";")
	media = strings.ToLower(strings.TrimSpace(media))
	switch {
	case media == "application/x-www-form-urlencoded":
		if doubleEncoded(body) {
			in.sig.add(sigDoubleEncoding)
		}
		in.pairs(body, locBody)
	case isJSONType(media):
		if truncated {
			in.jsonStrings(body)
			return
		}
		visit := func(s string, escaped bool) {
			if escaped {
				s = jsonUnescape(s)
			}
			in.value(s, locBody)
		}
		if !walkJSON(body, visit) {
			// Whatever made it invalid, the content is still inspected.
			in.sig.add(sigJSONError)
			in.value(body, locBody)
		}
	case strings.HasPrefix(media, "multipart/"):
		in.multipart(body, contentType)
	case media == "application/xml" || media == "text/xml" || strings.HasSuffix(media, "+xml"):
		in.xml(body, truncated)
	default:
		in.value(body, locBody)
	}
}

func isJSONType(media string) bool {
	return media == "application/json" || media == "text/json" || strings.HasSuffix(media, "+json") ||
		media == "application/x-json" || media == "application/jsonl"
}

// jsonStrings inspects every string of a JSON text cut short at
// maxBodyLen, keys included: the text is a prefix of JSON, so every '"'
// outside a string opens one.
func (in *inspector) jsonStrings(b string) {
	for i := 0; i < len(b) && !in.full(); i++ {
		if b[i] != '"' {
			continue
		}
		j, escaped := i+1, false
		for j < len(b) && b[j] != '"' {
			if b[j] == '\\' {
				escaped = true
				j++
			}
			j++
		}
		s := b[i+1 : min(j, len(b))]
		if escaped {
			s = jsonUnescape(s)
		}
		in.value(s, locBody)
		i = j
	}
}

// jsonUnescape decodes the escapes of a JSON string body.
func jsonUnescape(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b = append(b, c)
			continue
		}
		i++
		switch s[i] {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, n := jsonRune(s[i+1:])
			if n == 0 {
				b = append(b, '\\', 'u')
				continue
			}
			b = utf8.AppendRune(b, r)
			i += n
		default: // " \ / and anything else stand for themselves
			b = append(b, s[i])
		}
	}
	return string(b)
}

// jsonRune decodes the hex digits after \u (and a following \uXXXX low
// surrogate); n is the number of bytes used, 0 when malformed.
func jsonRune(s string) (r rune, n int) {
	hex4 := func(s string) (rune, bool) {
		if len(s) < 4 {
			return 0, false
		}
		var r rune
		for i := range 4 {
			if !isHex(s[i]) {
				return 0, false
			}
			r = r<<4 | rune(unhex(s[i]))
		}
		return r, true
	}
	r, ok := hex4(s)
	if !ok {
		return 0, 0
	}
	if utf16.IsSurrogate(r) && len(s) >= 10 && s[4] == '\\' && s[5] == 'u' {
		if r2, ok := hex4(s[6:]); ok {
			if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
				return d, 10
			}
		}
	}
	return r, 4
}

// multipart inspects the field names, values and file names of a multipart
// body; file contents are only checked for code (see locFile).
func (in *inspector) multipart(body, contentType string) {
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil || params["boundary"] == "" {
		in.value(body, locBody)
		return
	}
	r := multipart.NewReader(strings.NewReader(body), params["boundary"])
	buf := make([]byte, maxValueLen)
	for !in.full() {
		part, err := r.NextPart()
		if err != nil {
			return
		}
		n, _ := io.ReadFull(part, buf)
		in.value(part.FormName(), locBody)
		if name := part.FileName(); name != "" {
			in.value(name, locBody)
			in.value(string(buf[:n]), locFile)
		} else {
			in.value(string(buf[:n]), locBody)
		}
		part.Close()
	}
}

// xml inspects the text, attribute values, processing instructions and
// directives (DOCTYPE, entities) of an XML body; malformed XML is XML-ERROR.
func (in *inspector) xml(body string, truncated bool) {
	d := xml.NewDecoder(strings.NewReader(body))
	for !in.full() {
		tok, err := d.Token()
		if err != nil {
			if !errors.Is(err, io.EOF) && !truncated {
				in.sig.add(sigXMLError)
			}
			return
		}
		switch t := tok.(type) {
		case xml.StartElement:
			for _, a := range t.Attr {
				in.value(a.Value, locBody)
			}
		case xml.CharData:
			in.value(string(bytes.TrimSpace(t)), locBody)
		case xml.ProcInst:
			if t.Target != "xml" {
				in.value("<?"+t.Target+" "+string(t.Inst), locBody)
			}
		case xml.Directive:
			in.value(string(t), locBody)
		}
	}
}
