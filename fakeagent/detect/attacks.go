package detect

import (
	"net/netip"
	"strings"

	"github.com/corazawaf/libinjection-go"
)

// The attack detectors. Each takes a decoded value v, its ASCII-lower-cased
// form lv (same byte offsets) and its character classes, and is written so
// that ordinary text does not match: see testdata/corpus/benign.txt.

// sqlIgnoredFingerprints are libinjection fingerprints that carry no
// injected logic and show up in plain text, e.g. "50% off -- today only"
// (a number followed by a comment).
var sqlIgnoredFingerprints = map[string]bool{"1c": true}

// sqlWords are SQL keywords that prose seldom holds.
var sqlWords = setOf("union", "select", "waitfor", "xp_cmdshell", "information_schema", "outfile",
	"dumpfile", "sysobjects", "pg_sleep", "extractvalue", "updatexml", "load_file")

func isSQLWord(w string) bool { return sqlWords[w] }

// sqlPairNext returns the word that makes w SQL when it comes next ("order
// by"), or "(" for SQL functions named by ordinary words, which count only
// glued to their parenthesis ("version()", not "Version (Windows)"); ""
// when w is not one of them.
func sqlPairNext(w string) string { return sqlPairs[w] }

var sqlPairs = map[string]string{"order": "by", "group": "by", "drop": "table", "insert": "into",
	"delete": "from", "or": "true", "and": "true", "user": "(", "version": "(", "database": "(",
	"char": "(", "chr": "(", "concat": "(", "ascii": "(", "substring": "(", "convert": "(",
	"sleep": "(", "benchmark": "(", "exec": "(", "cast": "("}

func isSQLi(v, lv string, c charClass) bool {
	// SQL injection needs whitespace, a quote, SQL punctuation or a comment
	// to get out of its context; a value with none of them is a token.
	if !c.any(ccSpace|ccQuote|ccSQLPunct|ccDashDash) || !sqlEvidence(lv, c) {
		return false
	}
	ok, fp := libinjection.IsSQLi(v)
	return ok && !sqlIgnoredFingerprints[fp]
}

// sqlEvidence reports whether a value carries what an injection needs to
// do something: a quote breaking out within the value's first word
// ("admin'...", "'-'", "1'||'"; prose quotes words further on), a comment
// to cut the query, a comparison for a tautology, or SQL keywords and
// functions (which also cover stacked statements). libinjection alone
// flags about 1 in 400 lines of technical prose, mostly quoted words ("use
// of hyphens ('-') in") and parentheses; asking it only about values with
// evidence removes most of those and keeps real payloads. It is also far
// cheaper than libinjection, so it runs first.
func sqlEvidence(lv string, c charClass) bool {
	if i := quoteIndex(lv, c); i >= 0 && !strings.ContainsAny(lv[:i], " \t\r\n") && !proseQuote(lv, i) {
		return true
	}
	if c.any(ccDashDash) && sqlComment(lv) || c.any(ccSlash) && strings.Contains(lv, "/*") || c.any(ccAt) && strings.Contains(lv, "@@") || c.any(ccZeroX) && strings.Contains(lv, "0x") {
		return true
	}
	// An '=' is a comparison when something can end the value's context
	// around it: "key=value" and "dGVzdA==" are not.
	eqCompares := c.any(ccSpace | ccQuote | ccParen | ccShell | ccAngle | ccHash)
	for i := 0; (c.any(ccHash|ccAngle) || eqCompares && c.any(ccEquals)) && i < len(lv); i++ {
		switch lv[i] {
		case '#':
			// A MySQL comment ("1=1#", "admin'#"), not "#8157" or "C#".
			if (i+1 == len(lv) || !isWordByte(lv[i+1])) && (i == 0 || !isLetter(lv[i-1])) {
				return true
			}
		case '=':
			if eqCompares {
				return true
			}
		case '<':
			// "<command>" is a placeholder or a tag, not a comparison.
			if i+1 < len(lv) && ('a' <= lv[i+1] && lv[i+1] <= 'z' || lv[i+1] == '/') {
				continue
			}
			return true
		case '>':
			if i > 0 && ('a' <= lv[i-1] && lv[i-1] <= 'z' || lv[i-1] == '/') {
				continue
			}
			return true
		}
	}
	// prev is the word before, when it is one of sqlEvidenceWords and only
	// whitespace separates it from the next.
	prev := ""
	for i := 0; i < len(lv); {
		for i < len(lv) && !isWordByte(lv[i]) {
			if lv[i] != ' ' && lv[i] != '\t' {
				prev = ""
			}
			i++
		}
		start := i
		for i < len(lv) && isWordByte(lv[i]) {
			i++
		}
		if start == i {
			break
		}
		w := lv[start:i]
		if prev != "" && sqlPairNext(prev) == w {
			return true
		}
		if prev = ""; !sqlEvidenceWords.has(w) {
			continue
		}
		if isSQLWord(w) && sqlWordUsed(w, lv[i:]) || i < len(lv) && lv[i] == '(' && sqlPairNext(w) == "(" {
			return true
		}
		prev = w
	}
	return false
}

// sqlEvidenceWords are the words isSQLWord or sqlPairNext know: the
// others are skipped at the cost of a filter lookup.
var sqlEvidenceWords = func() *vocab {
	pairs := map[string]bool{}
	for w := range sqlPairs {
		pairs[w] = true
	}
	return newVocab([]map[string]bool{sqlWords, pairs})
}()

// sqlComment reports a "--" that can end a query: glued to what precedes
// it ("admin'--", "1--", ")--") or ending the value, not a dash pair
// between words of prose ("the door -- thanks").
func sqlComment(lv string) bool {
	for j := range occurrences(lv, "--") {
		if j == 0 || lv[j-1] != ' ' || strings.TrimRight(lv[j:], "- \t\r\n") == "" {
			return true
		}
	}
	return false
}

// sqlWordUsed reports whether the SQL word w, followed by rest, is used
// as SQL: UNION needs its SELECT, SELECT a column list (a call, '*', '@',
// a number, a list) or a FROM. "Union Station" and "Select a plan" are
// names.
func sqlWordUsed(w, rest string) bool {
	switch w {
	case "union":
		return strings.Contains(rest, "select")
	case "select":
		return strings.ContainsAny(rest, "(*@,0123456789") || strings.Contains(rest, "from")
	}
	return true
}

// quoteIndex is the index of the first quote of lv, of class c, or -1.
func quoteIndex(lv string, c charClass) int {
	if !c.any(ccQuote) {
		return -1
	}
	for i := 0; i < len(lv); i++ {
		if b := lv[i]; b == '\'' || b == '"' || b == '`' {
			return i
		}
	}
	return -1
}

// proseQuote reports whether the quote at lv[i], in the value's first word,
// is prose: a closing quote after a word ("software\" and ...") or a word
// quoted whole ("\"You\" is ..."), as opposed to a break-out ("'-'",
// "1'||'", "' or ...").
func proseQuote(lv string, i int) bool {
	q := lv[i]
	if i > 0 {
		return isLetter(lv[i-1]) && (i+1 == len(lv) || strings.IndexByte(" ,.;:!?)", lv[i+1]) >= 0)
	}
	j := 1
	for j < len(lv) && isLetter(lv[j]) {
		j++
	}
	return j > 1 && j < len(lv) && lv[j] == q
}

func isLetter(b byte) bool { return 'a' <= b && b <= 'z' }

func isXSS(v, lv string, c charClass) bool {
	if c.any(ccColon) && scriptURL(lv) {
		return true
	}
	// libinjection's XSS detector is only asked about values that hold
	// markup or an attribute break-out with an event handler: plain text
	// with '<' ("a < b", "<3") never reaches it.
	if c.any(ccMarkup) || c.any(ccQuote|ccSpace) && strings.IndexByte(lv, '=') >= 0 && hasEventHandler(lv) {
		return libinjection.IsXSS(v)
	}
	return false
}

// scriptURL reports a javascript:/vbscript:/data:text/html URL with code
// after the scheme. Browsers ignore leading control characters and tabs or
// newlines inside the scheme, so they are skipped here too.
func scriptURL(lv string) bool {
	var head [24]byte
	n, i := 0, 0
	for ; i < len(lv) && n < len(head); i++ {
		b := lv[i]
		if b <= ' ' && (n == 0 || b == '\t' || b == '\n' || b == '\r') {
			continue
		}
		head[n] = b
		n++
		if b == ':' {
			break
		}
	}
	scheme := string(head[:n])
	switch scheme {
	case "javascript:", "vbscript:", "livescript:":
		return strings.ContainsAny(lv[min(i+1, len(lv)):], "(`=/%")
	case "data:":
		return strings.HasPrefix(lv[min(i+1, len(lv)):], "text/html")
	}
	return false
}

// hasEventHandler finds "on<letters>=" starting a word, as in
// `" onmouseover="alert(1)`.
func hasEventHandler(lv string) bool {
	for i := 0; ; {
		j := strings.Index(lv[i:], "on")
		if j < 0 {
			return false
		}
		j += i
		i = j + 2
		if j > 0 && isWordByte(lv[j-1]) {
			continue
		}
		k := i
		for k < len(lv) && 'a' <= lv[k] && lv[k] <= 'z' {
			k++
		}
		if k-i < 3 {
			continue
		}
		for k < len(lv) && (lv[k] == ' ' || lv[k] == '\t' || lv[k] == '\n' || lv[k] == '/') {
			k++
		}
		if k < len(lv) && lv[k] == '=' {
			return true
		}
	}
}

// isWordByte reports an ASCII letter, digit or underscore.
func isWordByte(b byte) bool { return wordByteSet[b] }

var wordByteSet = bytesOf(wordBytes)

// Shell commands, split by how sure their name alone makes us.
// strongCommands are not English words: any of them right after a shell
// separator is an injection. weakCommands are (cat, id, find, ...), so they
// also need an argument that looks like shell: see shellArgument.
var (
	strongCommands = setOf("whoami", "uname", "ifconfig", "ipconfig", "netstat", "nslookup",
		"wget", "bash", "sh", "zsh", "ksh", "csh", "tcsh", "python", "python2", "python3",
		"perl", "ruby", "php", "ncat", "netcat", "telnet", "powershell", "pwsh", "cmd",
		"chmod", "chown", "systeminfo", "tasklist", "taskkill", "busybox", "socat", "xterm",
		"certutil", "bitsadmin", "mshta", "rundll32", "regsvr32", "wmic", "crontab",
		"useradd", "sudo", "nohup", "tftp", "base64", "xxd", "printenv", "getent",
		"iptables", "killall", "pkill", "passwd", "uptime", "lsb_release", "hostname")
	weakCommands = setOf("cat", "id", "ls", "dir", "echo", "ping", "sleep", "rm", "cp", "mv",
		"touch", "head", "tail", "more", "less", "type", "find", "kill", "ps", "pwd", "curl",
		"nc", "dig", "env", "set", "net", "timeout", "expr", "ftp", "ssh", "scp", "grep", "awk", "sed")
	// numericArgCommands take a number as a typical first argument.
	numericArgCommands = setOf("sleep", "ping", "timeout", "kill", "nc", "head", "tail")
	// networkCommands take a host as a typical first argument.
	networkCommands = setOf("curl", "nc", "ping", "dig", "ftp", "ssh", "scp", "net")

	// shellIndicators are command-injection payload fragments on their own.
	shellIndicators = []string{"/bin/sh", "/bin/bash", "/bin/zsh", "/bin/busybox", "/dev/tcp/",
		"/dev/udp/", "cmd.exe", "cmd /c", "cmd /k", "powershell -", "powershell.exe", "pwsh -",
		"nc -e ", "ncat -e", "bash -i", "bash -c", "${ifs}", "$ifs$"}
	shellIndicatorSet = newSubstrings(shellIndicators...)
)

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

func isCmdExe(v, lv string, c charClass) bool {
	if !c.any(ccShell | ccDollar | ccSlash) {
		// Of shellIndicators, only those with " -" or ".exe" can be in a
		// value without these characters.
		if !c.any(ccSpace) || !(c.any(ccDash) && strings.Contains(lv, " -")) && !(c.any(ccDot) && strings.Contains(lv, ".exe")) {
			return false
		}
	}
	if c.any(ccSlash|ccSpace|ccDollar) && shellIndicatorSet.in(lv) {
		return true
	}
	if !c.any(ccShell | ccDollar) {
		return false
	}
	for i := 0; i < len(lv); i++ {
		var substitution bool
		switch lv[i] {
		case ';', '|', '&', '\n', '\r':
		case '`':
			end := strings.IndexByte(lv[i+1:], '`')
			if end >= 0 {
				end += i + 1
				if markdownCode(lv, i, end) {
					i = end
					continue
				}
				substitution = true
			}
		case '$':
			if i+1 >= len(lv) || lv[i+1] != '(' {
				continue
			}
			substitution = true
			i++
		default:
			continue
		}
		if commandAfter(v, lv, i+1, substitution) {
			return true
		}
	}
	return false
}

// markdownCode reports whether the backticks at lv[open] and lv[end] read
// as markdown inline code ("run `ls` to list", "`sudo` is not needed")
// rather than a shell command substitution ("`id`" as the whole value,
// "127.0.0.1`id`"): opened at the start or after whitespace, '(', '[' or
// '|', and closed before whitespace, punctuation, a letter (plurals) or the
// end of the value; a span that is the whole value is a substitution.
func markdownCode(lv string, open, end int) bool {
	if open > 0 && !strings.ContainsRune(" \t\n([|", rune(lv[open-1])) {
		return false
	}
	if end+1 == len(lv) {
		return open > 0
	}
	next := lv[end+1]
	return 'a' <= next && next <= 'z' || strings.ContainsRune(" \t\n.,;:!?)]|/'\"", rune(next))
}

// commandAfter reports a shell command starting at lv[i:], just after a
// separator. Inside a substitution ($(...) or backticks) any command
// counts. v is the value before lower-casing: an all-capitals word ("ID",
// "CMD") is not a Unix command.
func commandAfter(v, lv string, i int, substitution bool) bool {
	for i < len(lv) && (lv[i] == ';' || lv[i] == '|' || lv[i] == '&') {
		i++
	}
	i = skipShellSpace(lv, i)
	brace := false
	for i < len(lv) && (lv[i] == '{' || lv[i] == '(') {
		brace = brace || lv[i] == '{'
		i++
	}
	start := i
	for i < len(lv) && (isWordByte(lv[i]) || lv[i] == '/' || lv[i] == '.' || lv[i] == '-') {
		i++
	}
	word := lv[start:i]
	if word == "" || strings.ToUpper(v[start:i]) == v[start:i] && strings.ContainsAny(v[start:i], "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		return false
	}
	qualified := false
	if k := strings.LastIndexByte(word, '/'); k >= 0 {
		qualified = strings.HasPrefix(word, "/bin/") || strings.HasPrefix(word, "/usr/") || strings.HasPrefix(word, "/sbin/")
		word = word[k+1:]
	}
	word = strings.TrimSuffix(word, ".exe")
	if strongCommands[word] {
		return true
	}
	if !weakCommands[word] {
		return false
	}
	if qualified || substitution {
		return true
	}
	return shellArgument(lv, i, word, brace)
}

func skipShellSpace(lv string, i int) int {
	for i < len(lv) {
		switch {
		case lv[i] == ' ' || lv[i] == '\t':
			i++
		case strings.HasPrefix(lv[i:], "${ifs}"):
			i += 6
		case strings.HasPrefix(lv[i:], "$ifs"):
			i += 4
		default:
			return i
		}
	}
	return i
}

// shellArgument reports whether what follows a weak command name at lv[i:]
// reads as shell rather than prose: nothing (the command ends the value),
// a separator or redirection glued to it, or an argument that is a flag, a
// path, a variable, a quoted string, a number (for sleep, ping ...) or a
// host (for curl, nc ...). A comma counts only in brace expansion
// ("{cat,/etc/passwd}").
func shellArgument(lv string, i int, cmd string, brace bool) bool {
	if i >= len(lv) {
		return true
	}
	switch lv[i] {
	case ';', '|', '&', '`', ')', '<', '>', '\n', '\r':
		return true
	case ',':
		return brace
	case ' ', '\t', '$':
	default:
		return false
	}
	i = skipShellSpace(lv, i)
	if i >= len(lv) {
		return true
	}
	switch b := lv[i]; {
	case b == '-' || b == '/' || b == '.' || b == '~' || b == '$' || b == '\'' || b == '"' || b == '%' || b == '\\' || b == '<' || b == '>':
		return true
	case '0' <= b && b <= '9':
		return numericArgCommands[cmd] || networkCommands[cmd]
	case strings.HasPrefix(lv[i:], "http"):
		return true
	}
	if networkCommands[cmd] {
		arg := lv[i:]
		if k := strings.IndexAny(arg, " \t;|&"); k >= 0 {
			arg = arg[:k]
		}
		if k := strings.IndexByte(arg, '.'); k > 0 && k+1 < len(arg) && isWordByte(arg[k+1]) {
			return true
		}
	}
	return false
}

// traversalFileList are system files that traversal payloads reach for,
// and overlong UTF-8 encodings of '.' and '/'. isTraversal looks for them
// (traversalFiles, in one pass) in values with a slash or a byte >= 0x80
// ("win.ini" alone is isSensitivePath's).
var traversalFileList = []string{"etc/passwd", "etc/shadow", "etc/group",
	"etc/issue", "proc/self/", "proc/version", "win.ini", "boot.ini", "system.ini",
	"windows/system32", "windows\\system32", "c:\\windows", "c:/windows", "web-inf/web.xml",
	"var/log/"}

// overlongDotSlash are overlong UTF-8 forms of '.', '/' and '\', which
// decoders that accept them turn into a traversal; kept apart from
// traversalFiles, whose search skips by the length of its shortest entry.
var overlongDotSlash = []string{"\xc0\xae", "\xc0\xaf", "\xc1\x9c", "\xe0\x80\xae"}

var (
	traversalFiles = newSubstrings(traversalFileList...)
	overlongForms  = newSubstrings(overlongDotSlash...)
)

func isTraversal(lv string, c charClass) bool {
	if c.any(ccDotDot) && dotDotSegment(lv) {
		return true
	}
	if c.any(ccHigh|ccSlash) && traversalFiles.in(lv) || c.any(ccHigh) && overlongForms.in(lv) {
		return true
	}
	if c.any(ccPercent) {
		// Encoded once more than what the server decodes (%252e%252e%252f
		// arrives here as %2e%2e%2f): decode again and look.
		if d := unescape(lv, false); d != lv {
			return isTraversal(strings.ToLower(d), classify(d)&^ccPercent)
		}
	}
	return false
}

// dotDotSegment finds ".." used as a path step: a run of exactly two dots
// (or four and more, as in "....//") followed by / or \ or ending a path.
// An ellipsis ("wait.../") is three dots and is not a step.
func dotDotSegment(lv string) bool {
	for i := 0; i < len(lv); {
		j := strings.Index(lv[i:], "..")
		if j < 0 {
			return false
		}
		start := i + j
		end := start
		for end < len(lv) && lv[end] == '.' {
			end++
		}
		i = end
		if n := end - start; n == 3 {
			continue
		}
		if end < len(lv) && (lv[end] == '/' || lv[end] == '\\' || lv[end] == ';') {
			return true
		}
		if end == len(lv) && start > 0 && (lv[start-1] == '/' || lv[start-1] == '\\') {
			return true
		}
	}
	return false
}

var (
	// phpStrongFuncs are only ever calls in code; whitespace before the '('
	// is allowed.
	phpStrongFuncs = setOf("base64_decode", "shell_exec", "phpinfo", "passthru", "proc_open",
		"popen", "pcntl_exec", "file_put_contents", "file_get_contents", "create_function",
		"call_user_func", "call_user_func_array", "gzinflate", "gzuncompress", "str_rot13",
		"move_uploaded_file", "fsockopen", "show_source", "highlight_file", "php_uname",
		"preg_replace", "getruntime", "processbuilder")
	// phpWeakFuncs are words too ("system (of units)"): the '(' must follow
	// directly, and a method call (".exec(" in JavaScript) does not count.
	phpWeakFuncs = setOf("eval", "system", "exec", "assert", "include", "require",
		"include_once", "require_once")
	// phpSchemeMarkers are the stream wrappers isCodeInjection knows
	// without isPHPInjection (which knows more, see phpWrappers); the open
	// tags "<?php" and "<?=" go with them.
	phpSchemeMarkers = []string{"php://", "phar://", "expect://", "data://", "zlib://"}
)

func isCodeInjection(lv string, c charClass) bool {
	if c.any(ccMarkup) && c.any(ccGlob) && (strings.Contains(lv, "<?php") || strings.Contains(lv, "<?=")) || c.any(ccColon) && schemeIn(lv, phpSchemeMarkers) {
		return true
	}
	if !c.any(ccParen) {
		return false
	}
	for i := 0; i < len(lv); i++ {
		j := strings.IndexByte(lv[i:], '(')
		if j < 0 {
			break
		}
		i += j
		end := i
		for end > 0 && (lv[end-1] == ' ' || lv[end-1] == '\t') {
			end--
		}
		start := end
		for start > 0 && isWordByte(lv[start-1]) {
			start--
		}
		name := lv[start:end]
		if name == "" {
			continue
		}
		if phpStrongFuncs[name] {
			return true
		}
		if phpWeakFuncs[name] && end == i && (start == 0 || !strings.ContainsRune(".$>:", rune(lv[start-1]))) && phpArgument(lv[i+1:]) {
			return true
		}
	}
	return false
}

// phpArgument reports whether s, what follows "name(", starts like a PHP
// argument worth calling with: a variable, a string, a backtick command,
// @-suppression or another call ("eval(base64_decode(...")). Prose such as
// "exec(argv0, argv)" or "assert(pred)" passes bare words.
func phpArgument(s string) bool {
	s = strings.TrimLeft(s, " \t")
	if s == "" {
		return false
	}
	switch s[0] {
	case '$', '\'', '"', '`', '@':
		return true
	}
	i := 0
	for i < len(s) && (isWordByte(s[i]) || s[i] == '.' || s[i] == ':' || s[i] == '\\') {
		i++
	}
	return i > 0 && i < len(s) && s[i] == '('
}

// isLog4JJNDI resolves Log4j lookups the way Log4j does, innermost first,
// so that obfuscations ("${${lower:j}ndi:", "${${::-j}${::-n}di:",
// "${${env:X:-j}ndi:") collapse to the "${jndi:" they spell. Each pass
// resolves every innermost lookup, so the work is bounded by the nesting
// depth (maxLookupDepth), not by the number of lookups.
func isLog4JJNDI(lv string, c charClass) bool {
	if !c.any(ccDollar) && !c.any(ccPercent) {
		return false
	}
	if c.any(ccPercent) && (strings.Contains(lv, "%24%7b") || strings.Contains(lv, "$%7b") || strings.Contains(lv, "%24{")) {
		lv = unescape(lv, false)
	}
	if !strings.Contains(lv, "${") {
		return false
	}
	s := lv
	for range maxLookupDepth {
		var b strings.Builder
		last, open := 0, -1
		for i := 0; i < len(s); i++ {
			switch {
			case s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
				open = i
				i++
			case s[i] == '}' && open >= 0:
				inner := strings.TrimLeft(s[open+2:i], " \t")
				if strings.HasPrefix(inner, "jndi:") {
					return true
				}
				b.WriteString(s[last:open])
				b.WriteString(resolveLookup(inner))
				last, open = i+1, -1
			}
		}
		if last == 0 {
			return false
		}
		b.WriteString(s[last:])
		s = b.String()
	}
	return false
}

// resolveLookup gives what a Log4j lookup expands to, as far as it matters
// for spelling "jndi": a default value (${x:-j} -> j), a case change
// (${lower:J} -> j), a date pattern literal (${date:'j'} -> j). Anything
// else becomes a placeholder that cannot be part of a word.
func resolveLookup(inner string) string {
	if i := strings.Index(inner, ":-"); i >= 0 {
		return inner[i+2:]
	}
	if rest, ok := strings.CutPrefix(inner, "lower:"); ok {
		return rest
	}
	if rest, ok := strings.CutPrefix(inner, "upper:"); ok {
		return rest
	}
	if rest, ok := strings.CutPrefix(inner, "date:"); ok {
		return strings.Trim(rest, "'")
	}
	return "\x01"
}

// Cloud metadata endpoints (AWS, ECS, GCP, Alibaba).
var (
	metadataLiteralList = []string{"169.254.169.254", "169.254.170.2", "fd00:ec2::254",
		"metadata.google.internal", "100.100.100.200"}
	metadataLiterals = newSubstrings(metadataLiteralList...)
	metadataAnchors  = newSubstrings("169.254.", "100.100.", "metadata")
	metadataHosts    = setOf("metadata", "metadata.google.internal", "instance-data",
		"instance-data.ec2.internal")
	metadataIPv4 = map[uint32]bool{0xa9fea9fe: true, 0xa9feaa02: true, 0x646464c8: true}
	metadataIPv6 = netip.MustParseAddr("fd00:ec2::254")
)

func isAWSSSRF(lv string, c charClass) bool {
	if !c.any(ccColon | ccSlash | ccDot) {
		return false // every literal has ':' or '.', every URL '/'
	}
	if !c.any(ccColon) && !strings.HasPrefix(lv, "//") && !metadataAnchors.in(lv) {
		return false
	}
	if metadataLiterals.in(lv) {
		return true
	}
	if !c.any(ccSlash) {
		return false
	}
	// Hosts of URL-like values, where decimal/hex/octal IPv4 forms
	// (2852039166, 0xa9fea9fe, 0251.0376.0251.0376) and IPv6-mapped forms
	// are meaningful.
	rest := lv
	if strings.HasPrefix(rest, "//") {
		if metadataHost(rest[2:]) {
			return true
		}
	}
	for range maxURLsPerValue {
		i := strings.Index(rest, "://")
		if i < 0 {
			return false
		}
		rest = rest[i+3:]
		if metadataHost(rest) {
			return true
		}
	}
	return false
}

// metadataHost reports whether the authority at the start of s names a
// metadata endpoint.
func metadataHost(s string) bool {
	if i := strings.IndexAny(s, "/?#\\ "); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s = s[i+1:]
	}
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		a, err := netip.ParseAddr(s[1:end])
		if err != nil {
			return false
		}
		if a == metadataIPv6 {
			return true
		}
		if a = a.Unmap(); a.Is4() {
			b := a.As4()
			return metadataIPv4[uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3])]
		}
		return false
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSuffix(s, ".")
	if metadataHosts[s] {
		return true
	}
	ip, ok := parseInetAton(s)
	return ok && metadataIPv4[ip]
}

// parseInetAton parses the IPv4 forms inet_aton(3) accepts, which HTTP
// clients built on it resolve: 1 to 4 dot-separated parts, each decimal,
// octal (leading 0) or hex (0x), the last part filling the remaining bytes.
func parseInetAton(s string) (uint32, bool) {
	var parts [4]uint64
	n := 0
	for {
		if n == 4 || s == "" {
			return 0, false
		}
		part, rest, more := strings.Cut(s, ".")
		v, ok := parseAtonPart(part)
		if !ok {
			return 0, false
		}
		parts[n] = v
		n++
		if !more {
			break
		}
		s = rest
	}
	var ip uint64
	for i := 0; i < n-1; i++ {
		if parts[i] > 0xff {
			return 0, false
		}
		ip |= parts[i] << (24 - 8*i)
	}
	if last := parts[n-1]; last >= 1<<(8*(5-n)) {
		return 0, false
	} else {
		ip |= last
	}
	return uint32(ip), true
}

func parseAtonPart(p string) (uint64, bool) {
	base := uint64(10)
	switch {
	case strings.HasPrefix(p, "0x"):
		base, p = 16, p[2:]
	case len(p) > 1 && p[0] == '0':
		base, p = 8, p[1:]
	}
	if p == "" || len(p) > 12 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(p); i++ {
		var d uint64
		switch b := p[i]; {
		case '0' <= b && b <= '9':
			d = uint64(b - '0')
		case 'a' <= b && b <= 'f':
			d = uint64(b-'a') + 10
		default:
			return 0, false
		}
		if d >= base {
			return 0, false
		}
		v = v*base + d
	}
	return v, true
}

// backdoorFiles are the file names of well-known web shells.
var backdoorFiles = setOf("c99.php", "c99shell.php", "c100.php", "r57.php", "r57shell.php",
	"shell.php", "shell.jsp", "shell.jspx", "shell.asp", "shell.aspx", "shell.cgi",
	"webshell.php", "wso.php", "wso2.php", "wso25.php", "b374k.php", "cmd.php", "cmd.jsp",
	"cmd.asp", "cmd.aspx", "cmdjsp.jsp", "jspshell.jsp", "alfa.php", "alfashell.php",
	"indoxploit.php", "phpspy.php", "priv8.php", "k2ll33d.php", "c99.txt", "r57.txt",
	"phpshell.php", "simple-backdoor.php", "backdoor.php", "fx29.php", "c999.php")

// isBackdoor looks for a web shell file name among the path's segments.
func isBackdoor(lpath string) bool {
	for seg := range strings.SplitSeq(lpath, "/") {
		if backdoorWords.has(seg) {
			return true
		}
	}
	return false
}

// backdoorWords is backdoorFiles as a vocab, asked about every segment.
var backdoorWords = newVocab([]map[string]bool{backdoorFiles})

// attackTools are the names attack and scanning tools put in User-Agent,
// matched as whole words; attackToolPhrases are matched as substrings.
var (
	attackTools = setOf("sqlmap", "nikto", "nmap", "masscan", "zgrab", "wpscan", "dirbuster",
		"gobuster", "nuclei", "acunetix", "w3af", "havij", "hydra", "netsparker", "openvas",
		"nessus", "arachni", "skipfish", "wfuzz", "ffuf", "feroxbuster", "commix", "jaeles",
		"xsstrike", "dirb", "zaproxy", "paros", "webinspect", "appscan", "whatweb", "fimap",
		"morfeus", "zmeu", "jorgee", "bsqlbf", "pangolin", "sqlninja", "webshag", "dotdotpwn",
		"brutus", "wapiti", "burpcollaborator", "interactsh", "httpx", "naabu", "katana")
	attackToolPhrases = []string{"fuzz faster u fool", "log4j-scan", "owasp zap"}

	attackToolWords     = newVocab([]map[string]bool{attackTools})
	attackToolPhraseSet = newSubstrings(attackToolPhrases...)
)

// isAttackTool looks for an attack tool's name as a product token of the
// User-Agent: a word starting the value or after a space, '(' or ';', not
// part of a longer name ("python-httpx" is a library, "com.facebook.katana"
// an app ID).
func isAttackTool(lua string) bool {
	for i := 0; i < len(lua); {
		for i < len(lua) && !isAlnum(lua[i]) {
			i++
		}
		start := i
		for i < len(lua) && isAlnum(lua[i]) {
			i++
		}
		if start == i || !attackToolWords.has(lua[start:i]) {
			continue
		}
		if start > 0 && !strings.ContainsRune(" (;+,", rune(lua[start-1])) {
			continue
		}
		if i < len(lua) && !strings.ContainsRune("/ );,", rune(lua[i])) {
			continue
		}
		return true
	}
	return attackToolPhraseSet.in(lua)
}

func isAlnum(b byte) bool { return 'a' <= b && b <= 'z' || '0' <= b && b <= '9' }
