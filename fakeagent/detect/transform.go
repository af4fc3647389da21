package detect

import (
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Transformations: small pure functions from a value to its normalised
// form, each doing one thing (the model is Coraza's t: functions). Each
// returns its input unchanged, without allocating, when there is nothing
// to do, so that ordinary values cost nothing. normalize chains them the
// way attacks layer encodings.

// maxDecodeRounds bounds repeated percent-decoding (%25252e ...).
const maxDecodeRounds = 4

// urlDecodeUni percent-decodes s once, including IIS's %uXXXX form;
// malformed escapes are kept. '+' is left alone: values reach it already
// form-decoded where '+' means a space.
func urlDecodeUni(s string) string { return percentDecode(s, false, true) }

// urlDecodeRepeated decodes s until it no longer changes, at most
// maxDecodeRounds times.
func urlDecodeRepeated(s string) string {
	for range maxDecodeRounds {
		d := urlDecodeUni(s)
		if d == s {
			break
		}
		s = d
	}
	return s
}

// htmlEntities are the named entities attacks use to hide syntax; the
// numeric forms are decoded whatever the code point.
var htmlEntities = map[string]string{
	"lt": "<", "gt": ">", "amp": "&", "quot": `"`, "apos": "'", "colon": ":", "tab": "\t",
	"newline": "\n", "nbsp": " ", "lpar": "(", "rpar": ")", "sol": "/", "bsol": `\`,
	"semi": ";", "comma": ",", "period": ".", "equals": "=", "excl": "!", "num": "#",
	"dollar": "$", "percnt": "%", "lsqb": "[", "rsqb": "]", "lbrack": "[", "rbrack": "]",
	"lcub": "{", "rcub": "}", "lbrace": "{", "rbrace": "}", "grave": "`", "quest": "?",
	"plus": "+", "ast": "*", "vert": "|", "hat": "^", "commat": "@", "lowbar": "_",
}

// htmlEntityDecode decodes named, decimal and hex character references,
// with or without the closing ';' (browsers accept both).
func htmlEntityDecode(s string) string {
	i := strings.IndexByte(s, '&')
	if i < 0 {
		return s
	}
	var b []byte
	last := 0
	for ; i < len(s); i++ {
		if s[i] != '&' {
			continue
		}
		r, n := entityAt(s[i+1:])
		if n == 0 {
			continue
		}
		if b == nil {
			b = make([]byte, 0, len(s))
		}
		b = append(b, s[last:i]...)
		b = append(b, r...)
		i += n
		last = i + 1
	}
	if b == nil {
		return s
	}
	return string(append(b, s[last:]...))
}

// entityAt decodes the character reference after an '&': what it stands
// for and how many bytes it used (0: not a reference).
func entityAt(s string) (string, int) {
	if len(s) > 1 && s[0] == '#' {
		hex := s[1] == 'x' || s[1] == 'X'
		j := 1
		if hex {
			j = 2
		}
		start := j
		var r rune
		for j < len(s) && j-start < 8 && (hex && isHex(s[j]) || !hex && '0' <= s[j] && s[j] <= '9') {
			if hex {
				r = r<<4 | rune(unhex(s[j]))
			} else {
				r = r*10 + rune(s[j]-'0')
			}
			j++
		}
		if j == start {
			return "", 0
		}
		if j < len(s) && s[j] == ';' {
			j++
		}
		if r > utf8.MaxRune {
			r = utf8.RuneError
		}
		return string(r), j
	}
	j := 0
	for j < len(s) && j < 10 && ('a' <= s[j] && s[j] <= 'z' || 'A' <= s[j] && s[j] <= 'Z') {
		j++
	}
	if j == 0 {
		return "", 0
	}
	name := strings.ToLower(s[:j])
	d, ok := htmlEntities[name]
	if !ok {
		return "", 0
	}
	if j < len(s) && s[j] == ';' {
		j++
	}
	return d, j
}

// escapeDecode decodes the backslash escapes of C, JavaScript and PHP
// strings (\xNN, \uNNNN, \u{N...}, octal \NNN) and the 0xNN byte notation
// used to hide path characters ("0x2e0x2e/"). Other backslashes stay.
func escapeDecode(s string) string {
	if strings.IndexByte(s, '\\') < 0 && !strings.Contains(s, "0x") {
		return s
	}
	var b []byte
	last := 0
	for i := 0; i < len(s); i++ {
		var r rune
		n := 0
		switch {
		case s[i] == '\\' && i+1 < len(s):
			r, n = backslashEscape(s[i+1:])
			if n > 0 {
				n++
			}
		case s[i] == '0' && i+3 < len(s) && (s[i+1] == 'x' || s[i+1] == 'X') && isHex(s[i+2]) && isHex(s[i+3]) &&
			(i+4 == len(s) || !isHex(s[i+4]) || s[i+4] == '0' && i+5 < len(s) && (s[i+5] == 'x' || s[i+5] == 'X')):
			r, n = rune(unhex(s[i+2])<<4|unhex(s[i+3])), 4
		}
		if n == 0 {
			continue
		}
		if b == nil {
			b = make([]byte, 0, len(s))
		}
		b = append(b, s[last:i]...)
		if r < 0x80 {
			b = append(b, byte(r))
		} else {
			b = utf8.AppendRune(b, r)
		}
		i += n - 1
		last = i + 1
	}
	if b == nil {
		return s
	}
	return string(append(b, s[last:]...))
}

// backslashEscape decodes the escape after a backslash; n is the bytes
// used after it (0: not an escape this decodes).
func backslashEscape(s string) (rune, int) {
	switch {
	case len(s) >= 3 && (s[0] == 'x' || s[0] == 'X') && isHex(s[1]) && isHex(s[2]):
		return rune(unhex(s[1])<<4 | unhex(s[2])), 3
	case len(s) >= 5 && s[0] == 'u' && isHex(s[1]) && isHex(s[2]) && isHex(s[3]) && isHex(s[4]):
		return rune(unhex(s[1]))<<12 | rune(unhex(s[2]))<<8 | rune(unhex(s[3]))<<4 | rune(unhex(s[4])), 5
	case len(s) >= 3 && s[0] == 'u' && s[1] == '{':
		var r rune
		j := 2
		for j < len(s) && j < 9 && isHex(s[j]) {
			r = r<<4 | rune(unhex(s[j]))
			j++
		}
		if j > 2 && j < len(s) && s[j] == '}' && r <= utf8.MaxRune {
			return r, j + 1
		}
	case len(s) >= 3 && '0' <= s[0] && s[0] <= '3' && '0' <= s[1] && s[1] <= '7' && '0' <= s[2] && s[2] <= '7':
		return rune(s[0]-'0')<<6 | rune(s[1]-'0')<<3 | rune(s[2]-'0'), 3
	}
	return 0, 0
}

// fullWidthToASCII maps the Unicode full-width forms (U+FF01 to U+FF5E,
// which some back ends fold to ASCII) and a few look-alike quotes and
// brackets to their ASCII characters.
func fullWidthToASCII(s string) string {
	if !hasHighByte(s) {
		return s
	}
	var b []byte
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		var a byte
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			a = byte(r - 0xFF01 + '!')
		case r == 0x2018 || r == 0x2019 || r == 0x02BC:
			a = '\''
		case r == 0x201C || r == 0x201D:
			a = '"'
		case r == 0x2039 || r == 0x3008:
			a = '<'
		case r == 0x203A || r == 0x3009:
			a = '>'
		}
		if a != 0 && b == nil {
			b = make([]byte, 0, len(s))
			b = append(b, s[:i]...)
		}
		if b != nil {
			if a != 0 {
				b = append(b, a)
			} else {
				b = append(b, s[i:i+n]...)
			}
		}
		i += n
	}
	if b == nil {
		return s
	}
	return ownString(b)
}

func hasHighByte(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}

// stripComments is removeSQLComments for s of class c, skipped when s
// cannot hold a comment (every comment has '#', "--" or '*'; ccSlash is
// not asked, as callers may mask it).
func stripComments(s string, c charClass) string {
	if !c.any(ccHash | ccDashDash | ccGlob) {
		return s
	}
	return removeSQLComments(s)
}

// removeSQLComments replaces SQL comments (/* ... */, including MySQL's
// executable /*! ... */ whose content is kept, and -- or # to the end of
// the line) with a space, so that "UN/**/ION" reads "UN ION" and
// "SELECT/**/1" reads "SELECT 1".
func removeSQLComments(s string) string {
	r, _ := removeSQLCommentsTo(nil, s)
	return r
}

// removeSQLCommentsTo is removeSQLComments building its result in dst
// (from dst[:0]), which it returns grown; s itself, and dst, when s has no
// comment.
func removeSQLCommentsTo(dst []byte, s string) (string, []byte) {
	if !strings.Contains(s, "/*") && !strings.Contains(s, "--") && strings.IndexByte(s, '#') < 0 {
		return s, dst
	}
	b := slices.Grow(dst[:0], len(s))
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '/' && i+1 < len(s) && s[i+1] == '*':
			j := i + 2
			if j < len(s) && s[j] == '!' {
				// Executable comment: the version digits go, the code stays.
				j++
				for j < len(s) && '0' <= s[j] && s[j] <= '9' {
					j++
				}
				b = append(b, ' ')
				i = j - 1
				continue
			}
			end := strings.Index(s[j:], "*/")
			b = append(b, ' ')
			if end < 0 {
				return ownString(b), b
			}
			i = j + end + 1
		case s[i] == '*' && i+1 < len(s) && s[i+1] == '/':
			b = append(b, ' ')
			i++
		case s[i] == '-' && i+1 < len(s) && s[i+1] == '-', s[i] == '#':
			end := strings.IndexAny(s[i:], "\r\n")
			b = append(b, ' ')
			if end < 0 {
				return ownString(b), b
			}
			i += end - 1 // the line break itself stays
		default:
			b = append(b, s[i])
		}
	}
	return ownString(b), b
}

// compressWhitespace turns every run of whitespace (vertical tab, form
// feed, NBSP and the like included) into one space.
func compressWhitespace(s string) string {
	r, _ := compressWhitespaceTo(nil, s)
	return r
}

// compressWhitespaceTo is compressWhitespace building its result in dst
// (from dst[:0]), which it returns grown; s itself, and dst, when nothing
// changes.
func compressWhitespaceTo(dst []byte, s string) (string, []byte) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c > ' ' && c != 0xa0 {
			continue // most bytes: one comparison
		}
		if c == ' ' && (i+1 == len(s) || s[i+1] != ' ') {
			continue // a single space stays
		}
		if c == ' ' || c == 0xa0 || '\t' <= c && c <= '\r' {
			return compressAll(dst, s)
		}
	}
	return s, dst
}

// compressAll is compressWhitespaceTo building its result whatever s
// holds.
func compressAll(dst []byte, s string) (string, []byte) {
	b := slices.Grow(dst[:0], len(s))
	space := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r', '\v', '\f', 0xa0:
			if !space {
				b = append(b, ' ')
			}
			space = true
		default:
			b = append(b, s[i])
			space = false
		}
	}
	return ownString(b), b
}

// cmdLineSpecial are the bytes cmdLine changes or looks at.
var cmdLineSpecial = bytesOf("'\"\\^${ABCDEFGHIJKLMNOPQRSTUVWXYZ")

// cmdLine undoes the shell's quoting tricks the way the shell itself
// would before running a word: quotes and backslashes disappear
// ("w'h'o\ami" is whoami), ^ (cmd.exe's escape) too, $IFS and ${IFS}
// become spaces, brace lists separate words ("{cat,/etc/passwd}"), and
// empty expansions ($@, $*, ${x}) vanish. Letters are lower-cased.
func cmdLine(s string) string {
	r, _ := cmdLineTo(nil, s)
	return r
}

// cmdLineTo is cmdLine building its result in dst (from dst[:0]), which it
// returns grown; s itself, and dst, when there is nothing to undo.
func cmdLineTo(dst []byte, s string) (string, []byte) {
	first := 0
	for first < len(s) && !cmdLineSpecial[s[first]] {
		first++
	}
	if first == len(s) {
		return s, dst // nothing to undo
	}
	b := append(slices.Grow(dst[:0], len(s)), s[:first]...)
	for i := first; i < len(s); i++ {
		// Copy the run of bytes that stay as they are in one go.
		j := i
		for j < len(s) && !cmdLineSpecial[s[j]] {
			j++
		}
		b = append(b, s[i:j]...)
		if i = j; i == len(s) {
			break
		}
		c := s[i]
		switch {
		case c == '\'' || c == '"' || c == '\\' || c == '^':
		case c == '$' && i+1 < len(s) && (s[i+1] == '@' || s[i+1] == '*'):
			i++
		case c == '$' && hasPrefixFold(s[i+1:], "{ifs}"):
			b = append(b, ' ')
			i += 5
		case c == '$' && hasPrefixFold(s[i+1:], "ifs"):
			b = append(b, ' ')
			i += 3
		case c == '$' && i+2 < len(s) && s[i+1] == '{' && strings.IndexByte(s[i+2:], '}') >= 0 && isWordByte(s[i+2]):
			end := i + 2 + strings.IndexByte(s[i+2:], '}')
			name := s[i+2 : end]
			if strings.ContainsAny(name, ":#%/") {
				// A parameter expansion with an operator: keep it whole.
				for _, x := range []byte(s[i : end+1]) {
					if 'A' <= x && x <= 'Z' {
						x += 'a' - 'A'
					}
					b = append(b, x)
				}
			}
			i = end
		case c == '{' && braceList(s[i+1:]):
			// {cat,/etc/passwd} runs "cat /etc/passwd".
			end := i + 1 + strings.IndexByte(s[i+1:], '}')
			for _, x := range []byte(s[i+1 : end]) {
				if x == ',' {
					x = ' '
				}
				b = append(b, x)
			}
			b = append(b, ' ')
			i = end
		case 'A' <= c && c <= 'Z':
			b = append(b, c+'a'-'A')
		default:
			b = append(b, c)
		}
	}
	return ownString(b), b
}

// braceList reports whether s, what follows a '{', is a brace expansion
// list: items separated by commas, no spaces, closed by '}'.
func braceList(s string) bool {
	end := strings.IndexByte(s, '}')
	return end > 0 && strings.IndexByte(s[:end], ',') >= 0 && !strings.ContainsAny(s[:end], " \t{")
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// normalizePath resolves backslashes to slashes and collapses repeated
// slashes and "/./" steps, keeping "..": traversal detection wants to see
// the dot-dot steps, not their result.
func normalizePath(s string) string {
	if !strings.ContainsAny(s, `\`) && !strings.Contains(s, "//") && !strings.Contains(s, "/./") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' {
			c = '/'
		}
		if c == '/' && len(b) > 0 && b[len(b)-1] == '/' {
			continue
		}
		if c == '.' && len(b) > 0 && b[len(b)-1] == '/' && (i+1 == len(s) || s[i+1] == '/' || s[i+1] == '\\') {
			i++
			continue
		}
		b = append(b, c)
	}
	return ownString(b)
}

// normalize is the decoding chain every value goes through before the
// detectors: percent (repeated, %u), HTML entities, backslash and 0x
// escapes, full-width forms; once more percent-decoding in case an escape
// produced one. It returns v itself when nothing applies.
func normalize(v string) string { return normalizeClass(v, classify(v)) }

// normalizeClass is normalize for a value of class c.
func normalizeClass(v string, c charClass) string {
	if !c.any(ccPercent|ccAmp|ccBackslash|ccHigh) && (!c.any(ccZeroX) || !strings.Contains(v, "0x")) {
		return v
	}
	d := urlDecodeRepeated(v)
	d = htmlEntityDecode(d)
	d = escapeDecode(d)
	d = fullWidthToASCII(d)
	if strings.IndexByte(d, '%') >= 0 {
		d = urlDecodeRepeated(d)
	}
	return d
}

// ownString returns the bytes of b as a string without copying them: the
// transformations build a value in a buffer of their own and hand it over
// once built; b must not be written while the string is in use (the
// inspector's scratch buffers are written again only for the next value).
func ownString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
