package detect

import (
	"slices"
	"strings"
)

// Attack signals: a request carrying one of these is blocked in ModeBlocking.
const (
	SignalSQLI          = "SQLI"          // SQL injection (libinjection)
	SignalXSS           = "XSS"           // cross-site scripting (libinjection, javascript: URLs)
	SignalCMDEXE        = "CMDEXE"        // shell command injection
	SignalTraversal     = "TRAVERSAL"     // directory traversal, system file paths
	SignalCodeInjection = "CODEINJECTION" // PHP (and Java runtime) code injection
	SignalLog4JJNDI     = "LOG4J-JNDI"    // Log4Shell ${jndi:...} lookups, obfuscated or not
	SignalBackdoor      = "BACKDOOR"      // probes for known web shells
	SignalUserAgent     = "USERAGENT"     // attack tooling in User-Agent
	SignalAWSSSRF       = "AWS-SSRF"      // cloud metadata endpoints in URLs
)

// Anomaly signals: tagged, never blocking on their own.
const (
	SignalNoUA           = "NOUA"            // no or empty User-Agent
	SignalNullByte       = "NULLBYTE"        // NUL byte in a decoded value
	SignalDoubleEncoding = "DOUBLEENCODING"  // %25XX hiding a meaningful character
	SignalNotUTF8        = "NOTUTF8"         // invalid UTF-8 after decoding
	SignalPrivateFile    = "PRIVATEFILE"     // .htaccess, .git/, .env, id_rsa ...
	SignalResponseSplit  = "RESPONSESPLIT"   // CR/LF injection
	SignalNoContentType  = "NO-CONTENT-TYPE" // body on POST/PUT/PATCH without Content-Type
	SignalJSONError      = "JSON-ERROR"      // JSON content type, invalid JSON body
	SignalXMLError       = "XML-ERROR"       // XML content type, malformed XML body
)

// SitePrefix starts the name of every signal added by a rule (add-signal).
const SitePrefix = "SITE."

// signal is a bit index into signalSet. The constants are in alphabetical
// order of their names so that walking the bits yields sorted names.
type signal uint8

const (
	sigAWSSSRF signal = iota
	sigBackdoor
	sigCMDEXE
	sigCodeInjection
	sigDoubleEncoding
	sigJSONError
	sigLog4J
	sigNoContentType
	sigNotUTF8
	sigNoUA
	sigNullByte
	sigPrivateFile
	sigResponseSplit
	sigSQLI
	sigTraversal
	sigUserAgent
	sigXMLError
	sigXSS
	numSignals
)

var signalNames = [numSignals]string{
	sigAWSSSRF:        SignalAWSSSRF,
	sigBackdoor:       SignalBackdoor,
	sigCMDEXE:         SignalCMDEXE,
	sigCodeInjection:  SignalCodeInjection,
	sigDoubleEncoding: SignalDoubleEncoding,
	sigJSONError:      SignalJSONError,
	sigLog4J:          SignalLog4JJNDI,
	sigNoContentType:  SignalNoContentType,
	sigNotUTF8:        SignalNotUTF8,
	sigNoUA:           SignalNoUA,
	sigNullByte:       SignalNullByte,
	sigPrivateFile:    SignalPrivateFile,
	sigResponseSplit:  SignalResponseSplit,
	sigSQLI:           SignalSQLI,
	sigTraversal:      SignalTraversal,
	sigUserAgent:      SignalUserAgent,
	sigXMLError:       SignalXMLError,
	sigXSS:            SignalXSS,
}

// signalSet is a set of built-in signals; it keeps inspection allocation-free.
type signalSet uint32

const attackSignals = 1<<sigSQLI | 1<<sigXSS | 1<<sigCMDEXE | 1<<sigTraversal |
	1<<sigCodeInjection | 1<<sigLog4J | 1<<sigBackdoor | 1<<sigUserAgent | 1<<sigAWSSSRF

func (s *signalSet) add(sig signal)     { *s |= 1 << sig }
func (s signalSet) has(sig signal) bool { return s&(1<<sig) != 0 }
func (s signalSet) hasAttack() bool     { return s&attackSignals != 0 }

// names returns the set's names plus extra (already unique), sorted.
func (s signalSet) names(extra []string) []string {
	if s == 0 && len(extra) == 0 {
		return nil
	}
	out := make([]string, 0, popcount(uint32(s))+len(extra))
	for i := range numSignals {
		if s.has(i) {
			out = append(out, signalNames[i])
		}
	}
	if len(extra) > 0 {
		out = append(out, extra...)
		slices.Sort(out)
	}
	return out
}

func popcount(x uint32) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

// IsAttack reports whether signal is an attack signal (one that blocks in
// ModeBlocking), as opposed to an anomaly, site or response signal.
func IsAttack(signal string) bool {
	for i := range numSignals {
		if signalNames[i] == signal {
			return attackSignals&(1<<i) != 0
		}
	}
	return false
}

// ResponseSignals returns the response-side signals for the status the
// application answered with, as known from PostRequest/UpdateRequest:
// every 4xx gives HTTP4XX and every 5xx HTTP5XX, and the statuses that have
// a signal of their own (403, 404, 429, 500) add it, e.g. 404 -> [HTTP404
// HTTP4XX], 503 -> [HTTP5XX]. Other statuses give nil.
func ResponseSignals(status int) []string {
	var class string
	switch {
	case status >= 400 && status <= 499:
		class = "HTTP4XX"
	case status >= 500 && status <= 599:
		class = "HTTP5XX"
	default:
		return nil
	}
	switch status {
	case 403, 404, 429, 500:
		return []string{"HTTP" + itoa3(status), class}
	}
	return []string{class}
}

func itoa3(n int) string {
	return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
}

// normalizeSiteSignal turns a rule's signal name into SITE.<NAME>.
func normalizeSiteSignal(name string) string {
	name = strings.ToUpper(strings.TrimSpace(name))
	if strings.HasPrefix(name, SitePrefix) {
		return name
	}
	return SitePrefix + name
}
