package fakeagent

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// Redaction follows what the real agent documents it redacts before
// anything leaves it ("Redacting data" in the Next-Gen WAF docs): the
// values of sensitive headers (authorization, x-auth-token, cookie,
// set-cookie, and names containing token, auth, key, sess, pass or
// secret), the query strings of Referer and Location, the values of
// parameters with such names (query, form and JSON bodies, multipart
// fields), and card and social security numbers wherever they appear.
// It applies to what the fake agent records, serves on /requests and logs;
// the inspection engine always sees the request as sent.

// redactedValue replaces every redacted value.
const redactedValue = redacted

// sensitiveWords are the parts of a header or parameter name that make
// its value sensitive.
var sensitiveWords = []string{"token", "auth", "key", "sess", "pass", "secret"}

// sensitiveHeaders are redacted by their exact (lower-case) name.
var sensitiveHeaders = map[string]bool{
	"authorization": true, "proxy-authorization": true, "x-auth-token": true,
	"cookie": true, "set-cookie": true,
}

// isSensitiveName reports whether a header or parameter named name has a
// value that is redacted.
func isSensitiveName(name string) bool {
	// Lower-cased on the stack: this runs for every header of every
	// recorded request.
	var buf [64]byte
	var n []byte
	if len(name) <= len(buf) {
		n = buf[:len(name)]
		for i := 0; i < len(name); i++ {
			c := name[i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			n[i] = c
		}
	} else {
		n = []byte(strings.ToLower(name))
	}
	if sensitiveHeaders[string(n)] {
		return true
	}
	for _, w := range sensitiveWordBytes {
		if bytes.Contains(n, w) {
			return true
		}
	}
	return false
}

var sensitiveWordBytes = func() [][]byte {
	out := make([][]byte, len(sensitiveWords))
	for i, w := range sensitiveWords {
		out[i] = []byte(w)
	}
	return out
}()

// redactOverlap is how far past recordBodyLimit a body is redacted before
// it is cut, so that a number straddling the cut is still recognised.
const redactOverlap = 64

// redactIn returns the copy of a request message kept in a Record:
// AccessKeyID hidden, PostBody cut to recordBodyLimit, and, unless raw,
// everything sensitive redacted.
func redactIn(in *wire.RPCMsgIn, raw bool) wire.RPCMsgIn {
	c := *in
	if c.AccessKeyID != "" {
		c.AccessKeyID = redacted
	}
	if raw {
		if len(c.PostBody) > recordBodyLimit {
			c.PostBody = c.PostBody[:recordBodyLimit]
		}
		return c
	}
	body := c.PostBody
	if len(body) > recordBodyLimit+redactOverlap {
		body = body[:recordBodyLimit+redactOverlap]
	}
	body = redactBody(body, headerValue(in.HeadersIn, "Content-Type"))
	if len(body) > recordBodyLimit {
		body = body[:recordBodyLimit]
	}
	c.PostBody = body
	c.URI = redactURI(c.URI)
	c.ServerName = redactNumbers(c.ServerName)
	c.HeadersIn = redactHeaders(c.HeadersIn)
	c.HeadersOut = redactHeaders(c.HeadersOut)
	return c
}

// redactHeaders returns h with sensitive values redacted; h is not
// changed.
func redactHeaders(h [][2]string) [][2]string {
	if h == nil {
		return nil
	}
	out := make([][2]string, len(h))
	for i, kv := range h {
		out[i] = [2]string{kv[0], redactHeaderValue(kv[0], kv[1])}
	}
	return out
}

func redactHeaderValue(name, value string) string {
	if value == "" {
		return ""
	}
	if isSensitiveName(name) {
		return redactedValue
	}
	switch strings.ToLower(name) {
	case "referer", "location", "content-location":
		if i := strings.IndexByte(value, '?'); i >= 0 {
			value = value[:i+1] + redactedValue
		}
	}
	return redactNumbers(value)
}

// redactURI redacts the values of sensitive query parameters and any card
// or social security number in uri.
func redactURI(uri string) string {
	path, query, ok := strings.Cut(uri, "?")
	if ok {
		query = redactForm(query)
		return redactNumbers(path) + "?" + redactNumbers(query)
	}
	return redactNumbers(path)
}

// redactForm redacts the values of sensitive parameters in a
// query-string-shaped text, keeping its encoding otherwise.
func redactForm(form string) string {
	if !strings.Contains(form, "=") || !hasSensitiveParam(form) {
		return form
	}
	parts := strings.Split(form, "&")
	for i, p := range parts {
		name, _, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		decoded, err := url.QueryUnescape(name)
		if err != nil {
			decoded = name
		}
		if isSensitiveName(decoded) {
			parts[i] = name + "=" + redactedValue
		}
	}
	return strings.Join(parts, "&")
}

// hasSensitiveParam reports whether a query-string-shaped text has a
// parameter with a sensitive name, without allocating for the usual one
// that has none.
func hasSensitiveParam(form string) bool {
	for p := range strings.SplitSeq(form, "&") {
		name, _, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		if strings.IndexByte(name, '%') >= 0 || strings.IndexByte(name, '+') >= 0 {
			if decoded, err := url.QueryUnescape(name); err == nil {
				name = decoded
			}
		}
		if isSensitiveName(name) {
			return true
		}
	}
	return false
}

// redactBody redacts a request body of the given content type.
func redactBody(body, contentType string) string {
	if body == "" {
		return ""
	}
	ct := strings.ToLower(contentType)
	trimmed := strings.TrimLeft(body, " \t\r\n")
	switch {
	case strings.Contains(ct, "x-www-form-urlencoded"):
		body = redactForm(body)
	case strings.Contains(ct, "multipart/"):
		body = redactMultipart(body)
	case strings.Contains(ct, "json") || strings.Contains(ct, "javascript") ||
		strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "["):
		body = redactJSON(body)
	}
	return redactNumbers(body)
}

// redactJSON redacts the values of sensitive keys in a JSON text, which
// may be cut short or invalid: it only tokenises strings.
func redactJSON(s string) string {
	var b strings.Builder
	i := 0
	for i < len(s) {
		if s[i] != '"' {
			i++
			continue
		}
		end := jsonStringEnd(s, i)
		key := s[i+1 : max(i+1, end-1)]
		j := end
		for j < len(s) && isJSONSpace(s[j]) {
			j++
		}
		if j >= len(s) || s[j] != ':' || !isSensitiveName(jsonUnescapeKey(key)) {
			i = end
			continue
		}
		j++
		for j < len(s) && isJSONSpace(s[j]) {
			j++
		}
		if j >= len(s) {
			break
		}
		var vEnd int
		switch c := s[j]; {
		case c == '"':
			vEnd = jsonStringEnd(s, j)
		case c == '{' || c == '[':
			// Nested keys are looked at on their own.
			i = j
			continue
		default:
			vEnd = j
			for vEnd < len(s) && !strings.ContainsRune(",}] \t\r\n", rune(s[vEnd])) {
				vEnd++
			}
		}
		b.WriteString(s[:j])
		b.WriteString(`"` + redactedValue + `"`)
		s, i = s[vEnd:], 0
	}
	b.WriteString(s)
	return b.String()
}

// jsonStringEnd returns the index just past the string starting at s[i]
// (a quote), or len(s) when it is not closed.
func jsonStringEnd(s string, i int) int {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(s)
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// jsonUnescapeKey decodes the escapes in a JSON key, so that
// "s\u0065cret" is matched as "secret".
func jsonUnescapeKey(k string) string {
	if !strings.Contains(k, `\`) {
		return k
	}
	var decoded string
	if err := json.Unmarshal([]byte(`"`+k+`"`), &decoded); err != nil {
		return strings.ReplaceAll(k, `\`, "")
	}
	return decoded
}

// redactMultipart redacts the values of sensitive multipart/form-data
// fields: a part whose Content-Disposition names a sensitive field keeps
// its headers and loses its content.
func redactMultipart(s string) string {
	const marker = "name=\""
	var b strings.Builder
	for {
		i := strings.Index(s, marker)
		if i < 0 {
			break
		}
		nameStart := i + len(marker)
		nameLen := strings.IndexByte(s[nameStart:], '"')
		if nameLen < 0 {
			break
		}
		name := s[nameStart : nameStart+nameLen]
		// The content starts after the blank line ending the part's
		// headers and ends at the next line starting with the boundary.
		hdrEnd := strings.Index(s[nameStart:], "\r\n\r\n")
		sep := 4
		if alt := strings.Index(s[nameStart:], "\n\n"); alt >= 0 && (hdrEnd < 0 || alt < hdrEnd) {
			hdrEnd, sep = alt, 2
		}
		if hdrEnd < 0 || !isSensitiveName(name) || strings.HasPrefix(s[i-min(i, 4):i], "file") {
			b.WriteString(s[:nameStart+nameLen])
			s = s[nameStart+nameLen:]
			continue
		}
		contentStart := nameStart + hdrEnd + sep
		contentLen := strings.Index(s[contentStart:], "\n--")
		if contentLen < 0 {
			contentLen = len(s) - contentStart
		} else if contentLen > 0 && s[contentStart+contentLen-1] == '\r' {
			contentLen--
		}
		b.WriteString(s[:contentStart])
		b.WriteString(redactedValue)
		s = s[contentStart+contentLen:]
	}
	b.WriteString(s)
	return b.String()
}

// maxNumberGroups bounds the digit groups examined in one run, so that a
// long run of digits and separators costs linear time.
const maxNumberGroups = 64

// redactNumbers replaces card numbers (13 to 19 digits passing the Luhn
// check, starting with a card network's digit 2 to 6, optionally grouped
// with spaces, dashes, '+' or %20) and social security numbers
// (NNN-NN-NNNN, with a valid area, group and serial) with "[redacted]".
func redactNumbers(s string) string {
	var b strings.Builder
	last := 0 // s[:last] is written, or to be written unchanged
	for i := 0; i < len(s); {
		if !isDigit(s[i]) || (i > 0 && isDigit(s[i-1])) {
			i++
			continue
		}
		if end, n := runDigits(s, i); n < 9 {
			// Too few digits for a social security number (9) or a card
			// number (13): skip without allocating.
			i = end
			continue
		}
		groups := digitGroups(s, i)
		end := groups[len(groups)-1].end
		spans := sensitiveSpans(s, groups)
		for _, sp := range spans {
			if b.Len() == 0 && last == 0 {
				b.Grow(len(s))
			}
			b.WriteString(s[last:sp.start])
			b.WriteString(redactedValue)
			last = sp.end
		}
		i = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// runDigits returns the end of the run of digits and separators starting
// at s[i] (as digitGroups reads it) and how many digits it holds.
func runDigits(s string, i int) (end, digits int) {
	for groups := 0; ; groups++ {
		for i < len(s) && isDigit(s[i]) {
			i++
			digits++
		}
		sep := separatorAt(s, i)
		if sep == "" || i+len(sep) >= len(s) || !isDigit(s[i+len(sep)]) || groups == maxNumberGroups-1 {
			return i, digits
		}
		i += len(sep)
	}
}

// digitGroup is a maximal run of digits s[start:end]; sep is the
// separator that followed it ("" for the last group).
type digitGroup struct {
	start, end int
	sep        string
}

// digitGroups returns the digit groups of the run starting at s[i]:
// digits separated by single separators.
func digitGroups(s string, i int) []digitGroup {
	var groups []digitGroup
	for {
		g := digitGroup{start: i}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		g.end = i
		sep := separatorAt(s, i)
		if sep == "" || i+len(sep) >= len(s) || !isDigit(s[i+len(sep)]) || len(groups) == maxNumberGroups-1 {
			groups = append(groups, g)
			return groups
		}
		g.sep = sep
		groups = append(groups, g)
		i += len(sep)
	}
}

func separatorAt(s string, i int) string {
	switch {
	case i >= len(s):
		return ""
	case s[i] == ' ' || s[i] == '-' || s[i] == '+':
		return s[i : i+1]
	case strings.HasPrefix(s[i:], "%20"):
		return "%20"
	}
	return ""
}

type span struct{ start, end int }

// sensitiveSpans returns the card and social security numbers among the
// consecutive groups, left to right, not overlapping.
func sensitiveSpans(s string, groups []digitGroup) []span {
	var spans []span
	for a := 0; a < len(groups); a++ {
		if (a == 0 || groups[a-1].sep != "-") && isSSN(s, groups[a:]) {
			spans = append(spans, span{groups[a].start, groups[a+2].end})
			a += 2
			continue
		}
		// The longest card number starting at group a. A grouped number
		// uses one separator throughout, and groups of at least 4 digits
		// before the last (4-4-4-4, 4-6-5), which keeps runs of unrelated
		// short numbers from adding up to one.
		best := -1
		var digits []byte
		for z := a; z < len(groups); z++ {
			digits = append(digits, s[groups[z].start:groups[z].end]...)
			if len(digits) > 19 {
				break
			}
			if len(digits) >= 13 && isCardNumber(digits) {
				best = z
			}
			if groups[z].sep == "" || groups[z].end-groups[z].start < 4 ||
				(z > a && groups[z].sep != groups[a].sep) {
				break
			}
		}
		if best >= 0 {
			spans = append(spans, span{groups[a].start, groups[best].end})
			a = best
		}
	}
	return spans
}

// isSSN reports whether the first three groups read NNN-NN-NNNN with a
// valid area (not 000, 666 or 9xx), group (not 00) and serial (not 0000),
// and no further dash and digits follow.
func isSSN(s string, g []digitGroup) bool {
	if len(g) < 3 || g[0].sep != "-" || g[1].sep != "-" || g[2].sep == "-" {
		return false
	}
	area, group, serial := s[g[0].start:g[0].end], s[g[1].start:g[1].end], s[g[2].start:g[2].end]
	if len(area) != 3 || len(group) != 2 || len(serial) != 4 {
		return false
	}
	return area != "000" && area != "666" && area[0] != '9' && group != "00" && serial != "0000"
}

// isCardNumber reports whether digits start like a card network's number
// (2 to 6) and pass the Luhn check.
func isCardNumber(digits []byte) bool {
	if digits[0] < '2' || digits[0] > '6' {
		return false
	}
	sum := 0
	for i := range digits {
		d := int(digits[len(digits)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// headerValue returns the first value of the header name (any case).
func headerValue(h [][2]string, name string) string {
	for _, kv := range h {
		if strings.EqualFold(kv[0], name) {
			return kv[1]
		}
	}
	return ""
}
