package detect

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"slices"
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
	in.pathSegments(u.decoded)
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
		case strings.EqualFold(name, "Content-Type"):
			if !hasType {
				contentType, hasType = v, strings.TrimSpace(v) != ""
			}
		case structuredHeader(name):
		default:
			if !headerToken(name) {
				in.value(name, locHeader)
			}
			if fileNameHeader(name) && phpUploadName(strings.ToLower(v)) {
				in.sig.add(sigCodeInjection)
			}
			in.value(v, locHeader)
		}
		// Log4Shell payloads come in any header; so do CRLF injections.
		if !in.sig.has(sigLog4J) && (strings.IndexByte(v, '$') >= 0 && strings.Contains(v, "${") || strings.IndexByte(v, '%') >= 0 && strings.Contains(v, "%24%7")) {
			if isLog4JJNDI(strings.ToLower(v), ccDollar|ccPercent) {
				in.sig.add(sigLog4J)
			}
		}
		if strings.IndexByte(v, '\r') >= 0 || strings.IndexByte(v, '\n') >= 0 || encodedCRLF(v) {
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

// structuredHeader reports the standard request headers whose values have
// a fixed syntax (content negotiation, caching, connection management,
// client hints): they are checked for CR/LF and Log4Shell only.
func structuredHeader(name string) bool {
	if len(name) > 4 && strings.EqualFold(name[:4], "sec-") {
		return true
	}
	var b [32]byte
	if len(name) > len(b) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	return structuredHeaderWords.has(string(b[:len(name)]))
}

// structuredHeaderWords is structuredHeaders as a vocab.
var structuredHeaderWords = newVocab([]map[string]bool{structuredHeaders})

// structuredHeaders are structuredHeader's names, lower-case.
var structuredHeaders = setOf("host", "accept", "accept-encoding", "accept-language", "accept-charset", "connection",
	"content-length", "cache-control", "pragma", "keep-alive", "upgrade-insecure-requests",
	"if-modified-since", "if-unmodified-since", "if-none-match", "if-match", "dnt", "te",
	"priority", "date", "upgrade", "proxy-connection", "transfer-encoding", "range", "if-range",
	"max-forwards", "content-encoding", "accept-datetime", "save-data", "downlink", "ect", "rtt",
	"viewport-width", "device-memory", "dpr", "width", "purpose", "sec-purpose")

// headerToken reports whether a header name is an ordinary HTTP token of
// letters, digits and - _ . (nothing to inspect in it).
func headerToken(name string) bool {
	for i := 0; i < len(name); i++ {
		if b := name[i]; !isWordByte(b) && b != '-' && b != '.' {
			return false
		}
	}
	return true
}

// fileNameHeader reports headers that carry the name of an uploaded file
// (X-Filename, X-File-Name, X_Filename ...).
func fileNameHeader(name string) bool {
	var b [32]byte
	n := 0
	for i := 0; i < len(name) && n < len(b); i++ {
		c := name[i] | 0x20
		if 'a' <= c && c <= 'z' {
			b[n] = c
			n++
		}
	}
	s := string(b[:n])
	return strings.HasSuffix(s, "filename") || strings.HasSuffix(s, "uploadname")
}

// pathSegments inspects each segment of a decoded path that holds more
// than name characters, so that detectors anchored at a value's start see
// it there.
func (in *inspector) pathSegments(p string) {
	plain := true
	for i := 0; i < len(p); i++ {
		if b := p[i]; !isWordByte(b) && b != '/' && b != '-' && b != '.' && b != '~' {
			plain = false
			break
		}
	}
	if plain {
		return
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg != "" && seg != p {
			in.value(seg, locPath)
		}
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
		name, value, _ := strings.Cut(c, "=")
		if name = strings.TrimSpace(name); !headerToken(name) {
			in.value(unescape(name, false), locHeader)
		}
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
				s, in.scratch[bufJSON] = jsonUnescapeTo(in.scratch[bufJSON], s)
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
		// Of unknown type: as it is and, where it has their shape, as the
		// JSON or form fields an application may parse it as anyway.
		in.value(body, locBody)
		if t := strings.TrimSpace(body); t != "" && (t[0] == '{' || t[0] == '[') {
			walkJSON(body, func(s string, escaped bool) {
				if escaped {
					s, in.scratch[bufJSON] = jsonUnescapeTo(in.scratch[bufJSON], s)
				}
				in.value(s, locBody)
			})
		} else if strings.ContainsAny(body, "=%+") {
			in.pairs(body, locBody)
		}
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
			s, in.scratch[bufJSON] = jsonUnescapeTo(in.scratch[bufJSON], s)
		}
		in.value(s, locBody)
		i = j
	}
}

// jsonUnescape decodes the escapes of a JSON string body.
func jsonUnescape(s string) string {
	r, _ := jsonUnescapeTo(nil, s)
	return r
}

// jsonUnescapeTo is jsonUnescape building its result in dst (from
// dst[:0]), which it returns grown.
func jsonUnescapeTo(dst []byte, s string) (string, []byte) {
	b := slices.Grow(dst[:0], len(s))
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
	return ownString(b), b
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
		if name := rawFileName(part.Header.Get("Content-Disposition")); name != "" {
			// The name as sent: Part.FileName strips the directories that
			// traversal payloads are made of.
			in.value(name, locBody)
			if phpUploadName(strings.ToLower(name)) {
				in.sig.add(sigCodeInjection)
			}
			in.value(string(buf[:n]), locFile)
		} else {
			in.value(string(buf[:n]), locBody)
		}
		part.Close()
	}
}

// rawFileName returns the filename parameter of a Content-Disposition
// header as sent, directories included.
func rawFileName(cd string) string {
	if _, params, err := mime.ParseMediaType(cd); err == nil {
		return params["filename"]
	}
	return ""
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
