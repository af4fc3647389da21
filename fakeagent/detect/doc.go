// Package detect is the inspection engine of the fake agent: it turns a
// request as a module describes it (method, URI, client IP, headers, body;
// the package's own Request, which knows nothing of the wire protocol) into
// the Next-Gen WAF signals a real agent would tag it with, applies custom
// rules, and decides whether to allow, block or redirect it (a Decision,
// which the server maps back to the protocol).
//
// The engine is a pipeline:
//
//   - Locations (extract.go): the path and its segments, query and form
//     names and values, every request header name and value, cookie names
//     and values, the Referer's parts, JSON keys and values, XML text,
//     attributes and directives, multipart field names, values and raw file
//     names, file-name headers, and a body of unknown type as it is and as
//     the JSON or form fields it looks like.
//   - Transformations (transform.go): small pure functions, each tested
//     alone: percent-decoding (repeated, %uXXXX), HTML entities, backslash
//     and 0x escapes, full-width forms, SQL comments, whitespace, the
//     shell's quoting, paths. Each value is inspected as received and, when
//     decoding changes it, normalised.
//   - Detectors, per signal: SQL injection (libinjection and keyword
//     evidence, sqlkeywords.go), XSS (libinjection, script elements, sinks
//     and handlers, jssinks.go), command injection (attacks.go, shell.go),
//     traversal (attacks.go, paths.go), PHP code injection (attacks.go,
//     php.go), Log4Shell, web shells, attack tools and cloud metadata SSRF,
//     plus the anomaly signals NOUA, NULLBYTE, DOUBLEENCODING, NOTUTF8,
//     PRIVATEFILE, RESPONSESPLIT, NO-CONTENT-TYPE, JSON-ERROR and XML-ERROR.
//   - The decision policy (engine.go): mode, custom rules, then the
//     detector's verdict.
//
// The detector stage is behind the Detector interface: Native is the
// pipeline above; package crs runs the OWASP Core Rule Set on Coraza in its
// place, under the same policy. False positives matter as much as
// detection: testdata/corpus and ../shared/corpus hold the attack and
// benign corpora the tests measure both on, and testdata/useragents.txt.gz
// 56,000 real User-Agents that must carry no signal.
//
// Most values can match nothing, and finding that out is most of the cost
// of a request. So every detector first asks what the value holds: its
// character classes, from one table pass (classify.go), and, for word
// lists, a filtered word set or a one-pass substring list (vocab.go); the
// transformations skip values without their trigger bytes and hand over
// their buffer instead of copying it. Each shortcut answers what its plain
// definition answers, and FuzzShortcuts checks that on arbitrary input.
//
// The work per request is bounded: at most 512 values are inspected, each
// up to its first 8 KiB, and at most 128 KiB of body is parsed.
package detect
