package detect

import "strings"

// charClass records, from one scan over a value, which kinds of characters
// it holds, so that detectors that cannot match are skipped for free. Most
// benign values (IDs, words, numbers, emails, tokens) skip every detector.
type charClass uint64

const (
	ccSpace      charClass = 1 << iota // whitespace, CR and LF included
	ccQuote                            // ' " `
	ccSQLPunct                         // ; # ( ) = < > | & ! * ,
	ccMarkup                           // '<' followed by a letter, '/', '!' or '?'
	ccUpper                            // an ASCII upper-case letter
	ccSlash                            // / or \
	ccDollar                           // $
	ccShell                            // ; | & ` CR LF
	ccParen                            // (
	ccColon                            // :
	ccPercent                          // %
	ccCRLF                             // CR or LF
	ccNUL                              // NUL
	ccHigh                             // a byte >= 0x80
	ccDashDash                         // --
	ccDotDot                           // ..
	ccAmp                              // &
	ccBackslash                        // \
	ccLBrace                           // {
	ccTilde                            // ~
	ccLBracket                         // [
	ccGlob                             // ? or *
	ccAngle                            // < or >
	ccUnderscore                       // _
	ccDot                              // .
	ccAt                               // @
	ccEquals                           // =
	ccCaret                            // ^
	ccZeroX                            // 0 followed by x or X
	ccHash                             // #
	ccBacktick                         // `
	ccPlus                             // +
	ccDash                             // -
)

// Classes of single bytes that classify uses to find the classes of
// pairs; they are not asked by detectors.
const (
	ccZero    charClass = 1 << (iota + 48) // 0
	ccLess                                 // <
	ccLetterX                              // x or X
)

// byteClass is the class of each byte on its own; classify adds the
// classes of pairs (ccMarkup, ccDashDash, ccDotDot, ccZeroX) after.
var byteClass = func() (t [256]charClass) {
	for b := 'A'; b <= 'Z'; b++ {
		t[b] = ccUpper
	}
	for b := 0x80; b < 0x100; b++ {
		t[b] = ccHigh
	}
	t[' '], t['\t'], t['\v'], t['\f'] = ccSpace, ccSpace, ccSpace, ccSpace
	t['\r'], t['\n'] = ccSpace|ccCRLF|ccShell, ccSpace|ccCRLF|ccShell
	t['\''], t['"'] = ccQuote, ccQuote
	t['`'] = ccQuote | ccShell | ccBacktick
	t[';'], t['|'] = ccSQLPunct|ccShell, ccSQLPunct|ccShell
	t['&'] = ccSQLPunct | ccShell | ccAmp
	t['('] = ccSQLPunct | ccParen
	t[')'], t['!'] = ccSQLPunct, ccSQLPunct
	t['#'] = ccSQLPunct | ccHash
	t['='] = ccSQLPunct | ccEquals
	t['*'] = ccSQLPunct | ccGlob
	t[','] = ccSQLPunct
	t['<'], t['>'] = ccSQLPunct|ccAngle|ccLess, ccSQLPunct|ccAngle
	t['/'] = ccSlash
	t['\\'] = ccSlash | ccBackslash
	t['$'] = ccDollar
	t[':'] = ccColon
	t['%'] = ccPercent
	t['.'] = ccDot
	t[0] = ccNUL
	t['{'] = ccLBrace
	t['~'] = ccTilde
	t['['] = ccLBracket
	t['?'] = ccGlob
	t['_'] = ccUnderscore
	t['@'] = ccAt
	t['^'] = ccCaret
	t['+'] = ccPlus
	t['-'] = ccDash
	t['0'] = ccZero
	t['x'], t['X'] = ccLetterX, ccUpper|ccLetterX
	return t
}()

func classify(s string) charClass {
	var c charClass
	i := 0
	for ; i+8 <= len(s); i += 8 {
		b := s[i : i+8]
		c |= byteClass[b[0]] | byteClass[b[1]] | byteClass[b[2]] | byteClass[b[3]] |
			byteClass[b[4]] | byteClass[b[5]] | byteClass[b[6]] | byteClass[b[7]]
	}
	if i+4 <= len(s) {
		b := s[i : i+4]
		c |= byteClass[b[0]] | byteClass[b[1]] | byteClass[b[2]] | byteClass[b[3]]
		i += 4
	}
	for ; i < len(s); i++ {
		c |= byteClass[s[i]]
	}
	if c&ccDash != 0 && strings.Contains(s, "--") {
		c |= ccDashDash
	}
	if c&ccDot != 0 && strings.Contains(s, "..") {
		c |= ccDotDot
	}
	if c&(ccZero|ccLetterX) == ccZero|ccLetterX && zeroX(s) {
		c |= ccZeroX
	}
	if c&ccLess != 0 && markupIn(s) {
		c |= ccMarkup
	}
	return c &^ (ccZero | ccLess | ccLetterX)
}

// zeroX reports a '0' followed by 'x' or 'X'.
func zeroX(s string) bool {
	for _, x := range [2]byte{'x', 'X'} {
		for i := 1; i < len(s); i++ {
			j := strings.IndexByte(s[i:], x)
			if j < 0 {
				break
			}
			if i += j; s[i-1] == '0' {
				return true
			}
		}
	}
	return false
}

// markupIn reports a '<' followed by a letter, '/', '!' or '?'.
func markupIn(s string) bool {
	for i := strings.IndexByte(s, '<'); i >= 0 && i+1 < len(s); {
		if n := s[i+1]; 'a' <= n|0x20 && n|0x20 <= 'z' || n == '/' || n == '!' || n == '?' {
			return true
		}
		j := strings.IndexByte(s[i+1:], '<')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

func (c charClass) any(m charClass) bool { return c&m != 0 }
