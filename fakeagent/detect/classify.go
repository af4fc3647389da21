package detect

// charClass records, from one scan over a value, which kinds of characters
// it holds, so that detectors that cannot match are skipped for free. Most
// benign values (IDs, words, numbers, emails, tokens) skip every detector.
type charClass uint16

const (
	ccSpace    charClass = 1 << iota // whitespace, CR and LF included
	ccQuote                          // ' " `
	ccSQLPunct                       // ; # ( ) = < > | & ! * ,
	ccMarkup                         // '<' followed by a letter, '/', '!' or '?'
	ccUpper                          // an ASCII upper-case letter
	ccSlash                          // / or \
	ccDollar                         // $
	ccShell                          // ; | & ` CR LF
	ccParen                          // (
	ccColon                          // :
	ccPercent                        // %
	ccCRLF                           // CR or LF
	ccNUL                            // NUL
	ccHigh                           // a byte >= 0x80
	ccDashDash                       // --
	ccDotDot                         // ..
)

func classify(s string) charClass {
	var c charClass
	for i := 0; i < len(s); i++ {
		switch b := s[i]; b {
		case ' ', '\t', '\v', '\f':
			c |= ccSpace
		case '\r', '\n':
			c |= ccSpace | ccCRLF | ccShell
		case '\'', '"':
			c |= ccQuote
		case '`':
			c |= ccQuote | ccShell
		case ';', '|', '&':
			c |= ccSQLPunct | ccShell
		case '(':
			c |= ccSQLPunct | ccParen
		case '#', ')', '=', '>', '!', '*', ',':
			c |= ccSQLPunct
		case '<':
			c |= ccSQLPunct
			if i+1 < len(s) {
				if n := s[i+1] | 0x20; 'a' <= n && n <= 'z' || s[i+1] == '/' || s[i+1] == '!' || s[i+1] == '?' {
					c |= ccMarkup
				}
			}
		case '/', '\\':
			c |= ccSlash
		case '$':
			c |= ccDollar
		case ':':
			c |= ccColon
		case '%':
			c |= ccPercent
		case '-':
			if i+1 < len(s) && s[i+1] == '-' {
				c |= ccDashDash
			}
		case '.':
			if i+1 < len(s) && s[i+1] == '.' {
				c |= ccDotDot
			}
		case 0:
			c |= ccNUL
		default:
			if 'A' <= b && b <= 'Z' {
				c |= ccUpper
			} else if b >= 0x80 {
				c |= ccHigh
			}
		}
	}
	return c
}

func (c charClass) any(m charClass) bool { return c&m != 0 }

// lowerASCII lower-cases the ASCII letters of s, keeping byte offsets, and
// allocates only when s has an upper-case ASCII letter.
func lowerASCII(s string, c charClass) string {
	if !c.any(ccUpper) {
		return s
	}
	b := []byte(s)
	for i, x := range b {
		if 'A' <= x && x <= 'Z' {
			b[i] = x + 'a' - 'A'
		}
	}
	return string(b)
}
