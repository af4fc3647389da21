package detect

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// FuzzDecide checks that Decide never panics on arbitrary input and that
// its decisions stay well-formed.
func FuzzDecide(f *testing.F) {
	f.Add("GET", "/search?q=1%27+or+%271%27%3D%271", "User-Agent", browserUA, "", "")
	f.Add("POST", "/api/items", "Cookie", "a=b; c=%2527", "application/json", `{"a":["x",{"b":"\u00e9\ud83c"}]}`)
	f.Add("POST", "/upload", "X", "${${lower:j}ndi:x}", "multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n\r\n<?php\r\n--b--\r\n")
	f.Add("PUT", "http://h/%zz%0d%0a?x=%", "Referer", "http://[::ffff:a9fe:a9fe]/?q=<svg onload=1>", "application/xml", "<a><!DOCTYPE x><?php x?></a>")
	f.Add("", "", "", "", "application/x-www-form-urlencoded", "a=%&b==&&=c")
	f.Add("get", "/?x=${${::-j}${", "User-Agent", "", "text/json", `{"a":`)
	rules, err := LoadRules("testdata/rules.yaml")
	if err != nil {
		f.Fatal(err)
	}
	e := NewEngine(ModeBlocking, rules)

	f.Fuzz(func(t *testing.T, method, uri, name, value, contentType, body string) {
		req := &Request{Method: method, URI: uri, RemoteAddr: "10.20.1.1", Body: body,
			Headers: [][2]string{{name, value}, {"Content-Type", contentType}, {"X-Scanner-Token", "let-me-in"}}}
		d := e.Decide(req)
		if !slices.IsSorted(d.Signals) || len(slices.Compact(slices.Clone(d.Signals))) != len(d.Signals) {
			t.Fatalf("signals not sorted and unique: %q", d.Signals)
		}
		if w := d.WAFResponse; w != 200 && (w < 300 || w > 599) {
			t.Fatalf("WAFResponse %d", w)
		}
		if len(d.Signals) > 0 && (len(d.RequestHeaders) == 0 || d.RequestHeaders[0] != [2]string{HeaderTags, strings.Join(d.Signals, ",")}) {
			t.Fatalf("tags %q for signals %q", d.RequestHeaders, d.Signals)
		}
		if got := e.Signals(req); !slices.Equal(got, slices.DeleteFunc(slices.Clone(d.Signals), func(s string) bool {
			return strings.HasPrefix(s, SitePrefix)
		})) {
			t.Fatalf("Signals %q, Decide %q", got, d.Signals)
		}
	})
}

// FuzzWalkJSON checks walkJSON against encoding/json: the same verdict on
// validity, and the same strings.
func FuzzWalkJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[1,-0.5e+3,true,false,null,"x\u00e9\n"]}`, `"\/"`, `01`, `1.`,
		`{"a" 1}`, `[1,]`, `{"a":1,}`, `"\ud800"`, `"a` + "\x01" + `"`, ` [ ] `, `{"a":{"b":[{}]}}`, `-`, `1e`, `tru`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got []string
		ok := walkJSON(s, func(v string, escaped bool) {
			if escaped {
				v = jsonUnescape(v)
			}
			got = append(got, v)
		})
		if want := json.Valid([]byte(s)); ok != want {
			t.Fatalf("walkJSON(%q) = %v, json.Valid = %v", s, ok, want)
		}
		if !ok {
			return
		}
		var want []string
		var v any
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		// encoding/json replaces invalid UTF-8 and lone surrogates with
		// U+FFFD, and keeps one of duplicate keys: compare sets, and only
		// where no replacement happened.
		collectJSONStrings(v, &want)
		slices.Sort(got)
		slices.Sort(want)
		got, want = slices.Compact(got), slices.Compact(want)
		if !slices.Equal(got, want) && !strings.Contains(strings.Join(want, ""), "\uFFFD") {
			t.Fatalf("walkJSON(%q) strings %q, encoding/json %q", s, got, want)
		}
	})
}

func collectJSONStrings(v any, out *[]string) {
	switch v := v.(type) {
	case string:
		*out = append(*out, v)
	case []any:
		for _, e := range v {
			collectJSONStrings(e, out)
		}
	case map[string]any:
		for k, e := range v {
			*out = append(*out, k)
			collectJSONStrings(e, out)
		}
	}
}

// FuzzTransforms checks the transformations of the normalising pipeline
// on arbitrary input: none panics, none makes a value longer (decoding
// only shrinks, which bounds the work per request), and each returns its
// input untouched when it holds nothing to transform.
func FuzzTransforms(f *testing.F) {
	for _, s := range []string{"%252e%252e%252f", "%u002e%u2215", "&lt;script&gt;&#x3c;&#60&colon;&NewLine;",
		`\x73y\x73tem \u{61}lert \141 \u0027`, "0x2e0x2e0x5c", "\uff1cscript\uff1e", "UN/**/ION/*!50000SELECT*/ 1 -- x\n#y",
		"w'h'o\\am^i ${IFS}cat$IFS/etc/passwd {cat,/etc/passwd} $@x ${PATH#x}", `..\\.\\//./a//b`, "\t\n\v\f\xa0  x",
		"%", "&#", "&#x", "\\u{", "0x", "/*", "${", "%u", "&#99999999999;", "\\u{110000}"} {
		f.Add(s)
	}
	transforms := map[string]func(string) string{
		"urlDecodeUni": urlDecodeUni, "urlDecodeRepeated": urlDecodeRepeated, "htmlEntityDecode": htmlEntityDecode,
		"escapeDecode": escapeDecode, "fullWidthToASCII": fullWidthToASCII, "removeSQLComments": removeSQLComments,
		"compressWhitespace": compressWhitespace, "cmdLine": cmdLine, "normalizePath": normalizePath,
		"normalize": normalize,
		"jsForm":    func(s string) string { return jsForm(s, classify(s)) },
		"sqlForm":   func(s string) string { return sqlForm(s, classify(s)) },
	}
	f.Fuzz(func(t *testing.T, s string) {
		for name, tf := range transforms {
			out := tf(s)
			if len(out) > len(s) {
				t.Fatalf("%s(%q) = %q, longer than its input", name, s, out)
			}
		}
		if !strings.ContainsAny(s, "%") && urlDecodeUni(s) != s {
			t.Fatalf("urlDecodeUni changed %q, which has no escape", s)
		}
		if !strings.ContainsAny(s, "&") && htmlEntityDecode(s) != s {
			t.Fatalf("htmlEntityDecode changed %q, which has no reference", s)
		}
		if !strings.ContainsAny(s, "%&\\") && !strings.Contains(s, "0x") && !hasHighByte(s) && normalize(s) != s {
			t.Fatalf("normalize changed %q, which has nothing to decode", s)
		}
	})
}

// FuzzShortcuts checks that the engine's fast paths say what their plain
// definitions say: the character classes of a value against a per-byte
// reading, the one-pass substring lists against strings.Contains, the
// class-gated transformations against the ungated ones, and the word
// filters against their maps. A shortcut that disagreed would let an
// attack through uninspected.
func FuzzShortcuts(f *testing.F) {
	for _, s := range []string{"/bin/sh -c id", "cmd.exe /c dir", "a--b", "x/*y*/z", "#c", "0X41", "..\\..",
		"<svg onload=alert(1)>", "php://filter", "x://php://y", "${IFS}", "169.254.169.254", "ETC/PASSWD", "\xc0\xae",
		"it's \"fine\" -- ok", "Select a plan: Pro", "wHoAmI;", "{cat,/etc/passwd}",
		"http://x//etc/passwd", "file:///etc/shadow/.", "a://b/./web-inf/x", "x=/etc/hosts&y=z",
		"1 union all select 1", "x' or 1=1", "a;drop table b", "select * from t", "case when 1 then 2", "order by 1 desc",
		"exec master..xp_dirtree", "1 as \"a\" from t", "into outfile '/x'", "benchmark(1,2)", "if(1,2,3)", "; set @a=1"} {
		f.Add(s)
	}
	lists := []struct {
		name string
		set  *substrings
		list []string
	}{
		{"shellIndicators", shellIndicatorSet, shellIndicators},
		{"traversalFiles", traversalFiles, traversalFileList},
		{"overlongForms", overlongForms, overlongDotSlash},
		{"metadataLiterals", metadataLiterals, metadataLiteralList},
		{"attackToolPhrases", attackToolPhraseSet, attackToolPhrases},
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := classify(s)
		if want := classifyReference(s); c != want {
			t.Fatalf("classify(%q) = %b, per byte %b", s, c, want)
		}
		for _, l := range lists {
			want := false
			for _, e := range l.list {
				want = want || strings.Contains(s, e)
			}
			if got := l.set.in(s); got != want {
				t.Fatalf("%s.in(%q) = %v, strings.Contains says %v", l.name, s, got, want)
			}
		}
		for _, list := range [][]string{phpWrappers, phpSchemeMarkers} {
			want := false
			for _, w := range list {
				want = want || strings.Contains(s, w)
			}
			if got := schemeIn(s, list); got != want {
				t.Fatalf("schemeIn(%q, %v) = %v, strings.Contains says %v", s, list, got, want)
			}
		}
		if got, want := stripComments(s, c), removeSQLComments(s); got != want {
			t.Fatalf("stripComments(%q) = %q, removeSQLComments %q", s, got, want)
		}
		if got, want := compressWhitespace(s), func() string { r, _ := compressAll(nil, s); return r }(); got != want {
			t.Fatalf("compressWhitespace(%q) = %q, want %q", s, got, want)
		}
		if got, want := sqlForm(s, c), compressWhitespace(removeSQLComments(s)); got != want {
			t.Fatalf("sqlForm(%q) = %q, want %q", s, got, want)
		}
		// The inspector's forms, built in its scratch buffers, twice (the
		// second time over the first's bytes).
		var scratch inspector
		for range 2 {
			if got, want := scratch.sqlForm(s, c), sqlForm(s, c); got != want {
				t.Fatalf("inspector.sqlForm(%q) = %q, want %q", s, got, want)
			}
			if got, _ := cmdLineTo(scratch.scratch[bufCmdLine][:0], s); got != cmdLine(s) {
				t.Fatalf("cmdLineTo(%q) = %q, want %q", s, got, cmdLine(s))
			}
		}
		if got, want := isSensitivePath(s, c), isSensitivePathReference(s); got != want {
			t.Fatalf("isSensitivePath(%q) = %v, on normalizePath's form %v", s, got, want)
		}
		if got, want := normalizeClass(s, c), normalize(s); got != want {
			t.Fatalf("normalizeClass(%q) = %q, normalize %q", s, got, want)
		}
		lower := []byte(s)
		for i, b := range lower {
			if 'A' <= b && b <= 'Z' {
				lower[i] = b + 'a' - 'A'
			}
		}
		var in inspector
		if got := in.lowerForm(0, s, c); got != string(lower) {
			t.Fatalf("lowerForm(%q) = %q, want %q", s, got, lower)
		}
		// The word gates see every word their checks act on.
		lv := string(lower)
		command, windows := statementStarts(lv, true)
		if c2, w2 := statementStarts(lv, c.any(ccShell)); c2 != command || w2 != windows {
			t.Fatalf("statementStarts(%q) without separators = %v, %v; reading every statement %v, %v", lv, c2, w2, command, windows)
		}
		if cl := cmdLine(lv); cl != lv {
			c1, w1 := statementStarts(cl, true)
			if c2, w2 := statementStarts(cl, c.any(ccShell)); c2 != c1 || w2 != w1 {
				t.Fatalf("statementStarts(cmdLine(%q)) with the separators of its value = %v, %v; reading every statement %v, %v", lv, c2, w2, c1, w1)
			}
		}
		ws := compressWhitespace(lv)
		if !command && eachStatement(ws, func(stmt string, atStart bool) bool {
			return commandStatement(stmt, atStart) || commandStatement(stmt, !atStart)
		}) {
			t.Fatalf("statementStarts(%q) found no command, commandStatement does", lv)
		}
		if !command && !windows && windowsStatementIn(lv) {
			t.Fatalf("statementStarts(%q) found no for/if, windowsStatement does", lv)
		}
		if sf := sqlForm(lv, c); !strings.Contains(sf, "::") && !sqlWordIn(sf) && sqlWordEvidence(sf) {
			t.Fatalf("sqlWordIn(%q) found no SQL word, sqlWordEvidence does", sf)
		}
		path := unglob(nil, s)
		want := false
		for d := range systemDirs {
			want = want || bytes.Contains(path, []byte("/"+d+"/")) || bytes.HasSuffix(path, []byte("/"+d))
		}
		if got := systemDirIn(path); got != want {
			t.Fatalf("systemDirIn(%q) = %v, bytes.Contains says %v", path, got, want)
		}
		want = false
		for _, suf := range backupSuffixes {
			want = want || strings.HasSuffix(s, suf) && len(s) > len(suf)
		}
		if got := backupSuffix(s); got != want {
			t.Fatalf("backupSuffix(%q) = %v, strings.HasSuffix says %v", s, got, want)
		}
		if got, want := sqlVocab.tag(s), sqlTagOf(s); got != want {
			t.Fatalf("sqlVocab.tag(%q) = %b, its lists say %b", s, got, want)
		}
		for _, w := range []*vocab{shellWords, sqlVocab, attackToolWords, jsObjectWords, jsCallSinkWords, sqlEvidenceWords, sensitiveHeadWords, backdoorWords, structuredHeaderWords} {
			if _, want := w.words[s]; w.has(s) != want {
				t.Fatalf("vocab.has(%q) = %v, map says %v", s, !want, want)
			}
		}
	})
}

// classifyReference is classify spelled out byte by byte, as its comments
// define the classes.
func classifyReference(s string) charClass {
	var c charClass
	for i := 0; i < len(s); i++ {
		b := s[i]
		next := byte(0)
		if i+1 < len(s) {
			next = s[i+1]
		}
		set := func(cond bool, cc charClass) {
			if cond {
				c |= cc
			}
		}
		set(b == ' ' || b == '\t' || b == '\v' || b == '\f' || b == '\r' || b == '\n', ccSpace)
		set(b == '\'' || b == '"' || b == '`', ccQuote)
		set(strings.IndexByte(";#()=<>|&!*,", b) >= 0, ccSQLPunct)
		set(b == '<' && i+1 < len(s) && ('a' <= next|0x20 && next|0x20 <= 'z' || next == '/' || next == '!' || next == '?'), ccMarkup)
		set('A' <= b && b <= 'Z', ccUpper)
		set(b == '/' || b == '\\', ccSlash)
		set(b == '$', ccDollar)
		set(strings.IndexByte(";|&`\r\n", b) >= 0, ccShell)
		set(b == '(', ccParen)
		set(b == ':', ccColon)
		set(b == '%', ccPercent)
		set(b == '\r' || b == '\n', ccCRLF)
		set(b == 0, ccNUL)
		set(b >= 0x80, ccHigh)
		set(b == '-' && next == '-' && i+1 < len(s), ccDashDash)
		set(b == '.' && next == '.' && i+1 < len(s), ccDotDot)
		set(b == '&', ccAmp)
		set(b == '\\', ccBackslash)
		set(b == '{', ccLBrace)
		set(b == '~', ccTilde)
		set(b == '[', ccLBracket)
		set(b == '?' || b == '*', ccGlob)
		set(b == '<' || b == '>', ccAngle)
		set(b == '_', ccUnderscore)
		set(b == '.', ccDot)
		set(b == '@', ccAt)
		set(b == '=', ccEquals)
		set(b == '^', ccCaret)
		set(b == '0' && (next == 'x' || next == 'X') && i+1 < len(s), ccZeroX)
		set(b == '#', ccHash)
		set(b == '`', ccBacktick)
		set(b == '+', ccPlus)
		set(b == '-', ccDash)
	}
	return c
}

// isSensitivePathReference is isSensitivePath reading every value in
// normalizePath's form.
func isSensitivePathReference(lv string) bool {
	if !strings.ContainsAny(lv, `/\\`) && !strings.HasSuffix(lv, ".ini") && !strings.HasSuffix(lv, ".sys") {
		return false
	}
	p := normalizePath(lv)
	for i := 0; i < len(p); i++ {
		if i > 0 && p[i-1] != '/' && p[i-1] != ':' && p[i-1] != '=' && p[i-1] != ' ' {
			continue
		}
		end := i
		for end < len(p) && p[end] != '/' && p[end] != ' ' && p[end] != '?' && p[end] != '&' {
			end++
		}
		seg := p[i:end]
		if seg == "" || !sensitiveHeads[seg] && seg[0] != '.' && !strings.Contains(seg, ".") {
			continue
		}
		for _, s := range sensitivePaths {
			if strings.HasPrefix(p[i:], s) {
				return true
			}
		}
	}
	return false
}
