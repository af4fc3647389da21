// Package detect is the inspection engine of the fake agent: it turns a
// request as a module describes it (method, URI, client IP, headers, body)
// into the Next-Gen WAF signals a real agent would tag it with, applies
// custom rules, and decides whether to allow, block or redirect it.
//
// Detection is real inspection, not keyword matching: SQL injection and
// XSS through libinjection, and purpose-built detectors for command
// injection, traversal, PHP code injection, Log4Shell (with lookup
// obfuscation resolved), web shell probes, attack tool user agents and
// cloud metadata SSRF (including numeric IPv4 forms), plus the anomaly
// signals NOUA, NULLBYTE, DOUBLEENCODING, NOTUTF8, PRIVATEFILE,
// RESPONSESPLIT, NO-CONTENT-TYPE, JSON-ERROR and XML-ERROR. False positives
// matter as much as detection; testdata/corpus holds the attack and benign
// corpora the tests measure both on.
//
// Where it looks: the path (decoded once), each query parameter name and
// value (decoded once; a second layer of encoding is DOUBLEENCODING), the
// User-Agent, Referer (its path and query parameters), each Cookie value
// and X-Forwarded-For headers (every header for Log4Shell and CR/LF
// injection), and the body according to its content type: form fields, JSON
// strings (keys too), multipart field names, values and file names (file
// contents only for PHP code), XML text and attributes, the raw body
// otherwise.
//
// The work per request is bounded: at most 512 values are inspected, each
// up to its first 8 KiB, and at most 128 KiB of body is parsed.
package detect
