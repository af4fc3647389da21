package detect

import (
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
		"normalize": normalize, "jsForm": jsForm, "sqlForm": sqlForm,
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
