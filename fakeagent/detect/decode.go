package detect

import (
	"strings"
	"unicode/utf8"
)

// unescape percent-decodes s once; with plus, '+' also decodes to a space
// (query strings and form bodies). Malformed escapes are kept as they are,
// which is what servers that tolerate them see. It allocates only when s
// contains something to decode.
func unescape(s string, plus bool) string { return percentDecode(s, plus, false) }

// percentDecode is unescape, and with uni also IIS's %uXXXX form (as
// UTF-8).
func percentDecode(s string, plus, uni bool) string {
	i := strings.IndexByte(s, '%')
	if plus {
		if j := strings.IndexByte(s, '+'); j >= 0 && (i < 0 || j < i) {
			i = j
		}
	}
	if i < 0 {
		return s
	}
	b := make([]byte, i, len(s))
	copy(b, s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		case uni && c == '%' && i+5 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') && isHex(s[i+2]) && isHex(s[i+3]) && isHex(s[i+4]) && isHex(s[i+5]):
			r := rune(unhex(s[i+2]))<<12 | rune(unhex(s[i+3]))<<8 | rune(unhex(s[i+4]))<<4 | rune(unhex(s[i+5]))
			b = utf8.AppendRune(b, r)
			i += 5
		case c == '+' && plus:
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return ownString(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// doubleEncoded reports whether raw (as received, before any decoding)
// holds a %25XX sequence whose second decoding gives a character that
// matters to an attack: . / \ ' " < > ; ( ) ` % NUL CR LF. Characters that
// legitimately show up double-encoded in nested URLs (space, &, =, ?, #, +)
// are left alone so that redirect parameters are not flagged.
func doubleEncoded(raw string) bool {
	for {
		i := strings.Index(raw, "%25")
		if i < 0 || i+4 >= len(raw) {
			return false
		}
		if isHex(raw[i+3]) && isHex(raw[i+4]) {
			switch unhex(raw[i+3])<<4 | unhex(raw[i+4]) {
			case '.', '/', '\\', '\'', '"', '<', '>', ';', '(', ')', '`', '%', 0, '\r', '\n':
				return true
			}
		}
		raw = raw[i+3:]
	}
}

// cutRight returns s cut to at most n bytes.
func cutRight(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
