package detect

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
	ccComma                            // ,
	ccPlus                             // +
)

// byteClass is the class of each byte on its own; classify adds the
// classes that depend on the next byte (ccMarkup, ccDashDash, ccDotDot,
// ccZeroX) for the bytes marked ccContext.
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
	t[','] = ccSQLPunct | ccComma
	t['<'], t['>'] = ccSQLPunct|ccAngle, ccSQLPunct|ccAngle
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
	return t
}()

func classify(s string) charClass {
	var c charClass
	for i := 0; i < len(s); i++ {
		b := s[i]
		c |= byteClass[b]
		if i+1 == len(s) {
			break
		}
		switch n := s[i+1]; b {
		case '<':
			if l := n | 0x20; 'a' <= l && l <= 'z' || n == '/' || n == '!' || n == '?' {
				c |= ccMarkup
			}
		case '-':
			if n == '-' {
				c |= ccDashDash
			}
		case '.':
			if n == '.' {
				c |= ccDotDot
			}
		case '0':
			if n|0x20 == 'x' {
				c |= ccZeroX
			}
		}
	}
	return c
}

func (c charClass) any(m charClass) bool { return c&m != 0 }
