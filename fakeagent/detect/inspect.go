package detect

import "unicode/utf8"

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
}

func (in *inspector) full() bool { return in.values >= maxValues }

// value runs the detectors that apply at loc on one decoded value.
func (in *inspector) value(v string, loc location) {
	if v == "" || in.full() {
		return
	}
	in.values++
	v = cutRight(v, maxValueLen)
	c := classify(v)
	lv := lowerASCII(v, c)

	if loc == locFile {
		// Uploads are binary as often as not: only look for code.
		if isCodeInjection(lv, c&^ccParen) {
			in.sig.add(sigCodeInjection)
		}
		return
	}
	if c.any(ccNUL) {
		in.sig.add(sigNullByte)
	}
	if c.any(ccHigh) && !utf8.ValidString(v) {
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
		fallthrough
	case locQuery:
		if isPrivateFile(lv) {
			in.sig.add(sigPrivateFile)
		}
	case locUserAgent:
		if isAttackTool(lv) {
			in.sig.add(sigUserAgent)
		}
	}
	if !in.sig.has(sigSQLI) && isSQLi(v, lv, c) {
		in.sig.add(sigSQLI)
	}
	if !in.sig.has(sigXSS) && isXSS(v, lv, c) {
		in.sig.add(sigXSS)
	}
	if !in.sig.has(sigCMDEXE) && isCmdExe(v, lv, c) {
		in.sig.add(sigCMDEXE)
	}
	if !in.sig.has(sigTraversal) && isTraversal(lv, c) {
		in.sig.add(sigTraversal)
	}
	if !in.sig.has(sigCodeInjection) && isCodeInjection(lv, c) {
		in.sig.add(sigCodeInjection)
	}
	if !in.sig.has(sigLog4J) && isLog4JJNDI(lv, c) {
		in.sig.add(sigLog4J)
	}
	if !in.sig.has(sigAWSSSRF) && isAWSSSRF(lv, c) {
		in.sig.add(sigAWSSSRF)
	}
}
