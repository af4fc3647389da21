package detect

import (
	"encoding/binary"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Bounds on the work done for one request. A value or body beyond its cap
// is inspected up to the cap only; values beyond maxValues are not
// inspected at all (structural anomalies such as JSON-ERROR still are).
const (
	maxValues       = 512       // values (path, parameter names and values, header parts, body fields) per request
	maxValueLen     = 8 << 10   // bytes of one value
	maxBodyLen      = 128 << 10 // bytes of body parsed (the module sends at most 100000 by default)
	maxLookupDepth  = 16        // nesting levels of Log4j lookups resolved in one value
	maxURLsPerValue = 8         // URLs whose host is checked for AWS-SSRF in one value
)

// location says where a value came from; it selects the detectors run.
type location uint8

const (
	locPath      location = iota // the URL path
	locQuery                     // query parameter names and values
	locHeader                    // Referer parts, Cookie values, X-Forwarded-For
	locUserAgent                 // the User-Agent header
	locBody                      // form fields, JSON strings, multipart fields, XML text, raw body
	locFile                      // the content of an uploaded file
)

// inspector accumulates the signals of one request.
type inspector struct {
	sig    signalSet
	values int
	// lower holds the lower-cased forms value hands to the detectors:
	// [0] for the value, [1] for its normalised form. A form lives only
	// until value returns (no detector keeps a value), so the buffers are
	// reused from one value to the next.
	lower [2][]byte
	// scratch holds the other forms built while one value is inspected,
	// by what builds them (bufComments...); like lower, each lives only
	// until the next is built in the same buffer.
	scratch [scratchBufs][]byte
}

// The scratch buffers of an inspector.
const (
	bufComments = iota // sqlForm, comments removed
	bufSpaces          // sqlForm, whitespace compressed
	bufCmdLine         // isShellSyntax's cmdLine
	bufJSON            // a JSON string, unescaped
	scratchBufs
)

// sqlForm is sqlForm(lv, c) built in the inspector's scratch buffers.
func (in *inspector) sqlForm(lv string, c charClass) string {
	s := lv
	if c.any(ccHash | ccDashDash | ccGlob) {
		s, in.scratch[bufComments] = removeSQLCommentsTo(in.scratch[bufComments], lv)
	}
	if c.any(ccSpace|ccHigh) || s != lv {
		s, in.scratch[bufSpaces] = compressWhitespaceTo(in.scratch[bufSpaces], s)
	}
	return s
}

// lowerForm lower-cases the ASCII letters of s (of class c), keeping byte
// offsets, in the inspector's buffer k: the result is valid until the
// buffer is next used. s itself is returned when it has no upper-case
// letter.
func (in *inspector) lowerForm(k int, s string, c charClass) string {
	if !c.any(ccUpper) {
		return s
	}
	b := append(in.lower[k][:0], s...)
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], lower8(binary.LittleEndian.Uint64(b[i:])))
	}
	for ; i < len(b); i++ {
		if x := b[i]; 'A' <= x && x <= 'Z' {
			b[i] = x + 'a' - 'A'
		}
	}
	in.lower[k] = b
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// lower8 lower-cases the ASCII letters among the eight bytes of x. Each
// byte is tested on its own: its low seven bits plus a constant stay below
// 0x100, so no carry crosses into the next byte.
func lower8(x uint64) uint64 {
	const ones = 0x0101010101010101
	low := x & (0x7f * ones)
	geA := low + (0x80-'A')*ones // high bit set from 'A' up
	gtZ := low + (0x7f-'Z')*ones // high bit set above 'Z'
	upper := (geA ^ gtZ) &^ x & (0x80 * ones)
	return x | upper>>2 // 0x80>>2 is the 0x20 between the cases
}

func (in *inspector) full() bool { return in.values >= maxValues }

// value runs the detectors that apply at loc on one decoded value: the
// anomaly checks on the value as received, the attack detectors on it and,
// when decoding changes it, on its normalised form (see normalize).
func (in *inspector) value(v string, loc location) {
	if v == "" || in.full() {
		return
	}
	in.values++
	v = cutRight(v, maxValueLen)
	c := classify(v)
	lv := in.lowerForm(0, v, c)

	if loc == locFile {
		// Uploads are binary as often as not: only look for code.
		if isCodeInjection(lv, c&^ccParen) || c.any(ccMarkup) && phpOpenTag(lv) {
			in.sig.add(sigCodeInjection)
		}
		return
	}
	if c.any(ccNUL) {
		in.sig.add(sigNullByte)
	}
	if c.any(ccHigh) && !utf8.ValidString(v) && !latin1Text(v) {
		in.sig.add(sigNotUTF8)
	}
	switch loc {
	case locPath, locQuery, locHeader, locUserAgent:
		if crlfInjection(v, c) || loc == locPath && c.any(ccCRLF) {
			in.sig.add(sigResponseSplit)
		}
	}
	switch loc {
	case locPath:
		if isBackdoor(lv) {
			in.sig.add(sigBackdoor)
		}
		if isRestrictedPathFile(lv) {
			in.sig.add(sigPrivateFile)
			in.sig.add(sigTraversal)
		}
		fallthrough
	case locQuery:
		if isPrivateFile(lv, c) {
			in.sig.add(sigPrivateFile)
		}
	case locUserAgent:
		if isAttackTool(lv) {
			in.sig.add(sigUserAgent)
		}
	}
	in.attacks(v, lv, c, loc)
	if n := normalizeClass(v, c); n != v {
		nc := classify(n)
		in.attacks(n, in.lowerForm(1, n, nc), nc, loc)
	}
}

// attacks runs the attack detectors on one form of a value.
func (in *inspector) attacks(v, lv string, c charClass, loc location) {
	if loc == locUserAgent {
		// A device User-Agent is full of tokens that read as shell ("Touch;",
		// "; id)") or SQL ("BlackBerry8500/..."): only code and markup that
		// no device sends count there.
		in.userAgentAttacks(v, lv, c)
		return
	}
	if !c.any(ccSpace | ccQuote | ccSQLPunct | ccMarkup | ccSlash | ccDollar | ccShell | ccParen | ccColon | ccPercent | ccDotDot | ccNUL) {
		// A token (an ID, a word, a number, an e-mail address): only a
		// database's own names are an attack on their own.
		if !in.sig.has(sigSQLI) && (c.any(ccUnderscore|ccDot) || strings.HasSuffix(lv, "db")) && sqlKeywords(lv, c) {
			in.sig.add(sigSQLI)
		}
		if !in.sig.has(sigXSS) && (c.any(ccDot) || c.any(ccPlus) && strings.Contains(lv, "+ad")) && isScriptInjection(lv, c) {
			in.sig.add(sigXSS)
		}
		return
	}
	if !in.sig.has(sigSQLI) && (isSQLi(v, lv, c) || sqlGate(lv, c) && sqlKeywords(in.sqlForm(lv, c), c)) {
		in.sig.add(sigSQLI)
	}
	if !in.sig.has(sigXSS) && (isXSS(v, lv, c) || isScriptInjection(lv, c)) {
		in.sig.add(sigXSS)
	}
	if !in.sig.has(sigCMDEXE) && (isCmdExe(v, lv, c) || c.any(ccShell|ccDollar|ccSlash|ccSpace|ccQuote|ccSQLPunct|ccLBrace|ccTilde|ccLBracket) && isShellSyntax(lv, c, &in.scratch[bufCmdLine])) {
		in.sig.add(sigCMDEXE)
	}
	if !in.sig.has(sigTraversal) && (isTraversal(lv, c) || isSensitivePath(lv, c)) {
		in.sig.add(sigTraversal)
	}
	if !in.sig.has(sigCodeInjection) && (isCodeInjection(lv, c) || isPHPInjection(lv, c)) {
		in.sig.add(sigCodeInjection)
	}
	if !in.sig.has(sigLog4J) && isLog4JJNDI(lv, c) {
		in.sig.add(sigLog4J)
	}
	if !in.sig.has(sigAWSSSRF) && isAWSSSRF(lv, c) {
		in.sig.add(sigAWSSSRF)
	}
}

// userAgentAttacks is attacks for a User-Agent value.
func (in *inspector) userAgentAttacks(v, lv string, c charClass) {
	if !in.sig.has(sigSQLI) && c.any(ccQuote) && isSQLi(v, lv, c) {
		in.sig.add(sigSQLI)
	}
	if !in.sig.has(sigXSS) && (c.any(ccMarkup) && isXSS(v, lv, c) || isScriptInjection(lv, c&^(ccSpace|ccSlash))) {
		in.sig.add(sigXSS)
	}
	if !in.sig.has(sigCMDEXE) && (c.any(ccParen) && c.any(ccLBrace) && strings.Contains(lv, "() {") || c.any(ccDollar) && (strings.Contains(lv, "$(") || strings.Contains(lv, "${ifs}")) || c.any(ccSlash) && strings.Contains(lv, "/bin/")) {
		in.sig.add(sigCMDEXE)
	}
	if !in.sig.has(sigTraversal) && isTraversal(lv, c) {
		in.sig.add(sigTraversal)
	}
	if !in.sig.has(sigCodeInjection) && (c.any(ccMarkup) && phpOpenTag(lv) || isCodeInjection(lv, c)) {
		in.sig.add(sigCodeInjection)
	}
	if !in.sig.has(sigLog4J) && isLog4JJNDI(lv, c) {
		in.sig.add(sigLog4J)
	}
}

// sqlGate reports whether lv can hold what sqlKeywords looks for, so that
// plain words skip it.
func sqlGate(lv string, c charClass) bool {
	return c.any(ccSpace|ccParen|ccQuote|ccSQLPunct|ccColon|ccDollar) || strings.ContainsAny(lv, "_@.[") ||
		strings.Contains(lv, "tempdb") || strings.Contains(lv, "msdb") || strings.Contains(lv, "waitfor")
}

// latin1Text reports whether v, not valid UTF-8, reads as ISO-8859-1 text
// (what older sites and forms send: "camb%EDn"): every byte above 0x7F is
// a printable Latin-1 character, and none starts an overlong UTF-8 form of
// an ASCII character (C0 or C1 followed by a continuation byte), which is
// an evasion, not text.
func latin1Text(v string) bool {
	for i := 0; i < len(v); i++ {
		b := v[i]
		if b < 0x80 {
			continue
		}
		if b < 0xa0 {
			return false
		}
		if (b == 0xc0 || b == 0xc1 || b == 0xe0) && i+1 < len(v) && v[i+1] >= 0x80 && v[i+1] < 0xc0 {
			return false
		}
	}
	return true
}
