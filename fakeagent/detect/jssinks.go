package detect

import "strings"

// Script injection beyond markup: what runs once a value lands in a page
// or a script, whatever the tag around it.

// jsSinks are the JavaScript properties and calls an injected script
// reaches for, matched in jsForm (lower-case, comments and whitespace
// removed, so that "document /**/ . cookie" reads "document.cookie").
var jsSinks = []string{"document.cookie", "document.domain", "document.write", "document.location",
	"document.body", "document.createelement", "document.forms", "document.referrer", "window.location",
	"window.open(", "window.name", "top.location", "parent.location", "opener.location", "location.href=",
	"location.replace(", "location.assign(", ".innerhtml", ".outerhtml", ".insertadjacenthtml",
	"string.fromcharcode", ".constructor(", "newfunction(", "xmlhttprequest", ".call`", ".apply`", ".bind`", "reflect.apply", "reflect.construct",
	"navigation.navigate", "-moz-binding", "localstorage.", "sessionstorage.", "document[", "window[", "self[", "top[", "parent[",
	"globalthis[", "frames[", "content[", "${alert", "${eval", "${prompt", "${confirm"}

// xssTags are elements that run or load script, or change where the page
// goes, on their own.
var xssTags = []string{"<script", "<iframe", "<frame", "<object", "<embed", "<applet", "<svg",
	"<math", "<base", "<meta", "<link", "<style", "<isindex", "<xss", "<v:", "<xi:include",
	"<import", "<?import", "<xml", "<vmlframe", "<bgsound", "<layer", "<ilayer", "<portal", "<animate",
	"<set", "<handler", "<listener", "<html", "<body", "<marquee", "<template", "<xmp", "<noscript"}

// jsForm removes comments and whitespace and lower-cases ASCII.
func jsForm(lv string, c charClass) string {
	s := stripComments(lv, c)
	if !strings.ContainsAny(s, " \t\r\n\v\f") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\r', '\n', '\v', '\f':
		default:
			b = append(b, s[i])
		}
	}
	return ownString(b)
}

// isScriptInjection reports XSS evidence libinjection does not give: a
// script element or sink, an event handler attribute after a break-out, a
// script URL after whitespace tricks, a template literal call, UTF-7.
func isScriptInjection(lv string, c charClass) bool {
	if c.any(ccMarkup) {
		for _, t := range xssTags {
			if i := strings.Index(lv, t); i >= 0 {
				end := i + len(t)
				if end == len(lv) || !isWordByte(lv[end]) || t == "<v:" || t == "<xi:include" {
					return true
				}
			}
		}
	}
	if c.any(ccPlus) && (strings.Contains(lv, "+adw-") || strings.Contains(lv, "+ad4-")) {
		return true // UTF-7 '<' and '>'
	}
	if c.any(ccAngle) && strings.IndexByte(lv, '<') >= 0 && spacedTag(lv) {
		return true
	}
	if c.any(ccParen) && strings.Contains(lv, "url(") && (strings.Contains(lv, "url(javascript") || strings.Contains(lv, "url(vbscript")) {
		return true
	}
	eq := c.any(ccEquals)
	if eq && c.any(ccSpace|ccQuote|ccSlash) && scriptAttr(lv) {
		return true
	}
	if eq && c.any(ccSpace|ccQuote|ccSlash) && eventHandlerAttr(lv) {
		return true
	}
	if !c.any(ccParen | ccQuote | ccLBracket | ccDot | ccDollar | ccColon) {
		return false
	}
	if c.any(ccColon) && scriptScheme(lv) {
		return true
	}
	if c.any(ccParen|ccBacktick) && jsCall(lv, c) {
		return true
	}
	// The other sinks name one of these objects: values with none skip
	// the list.
	if !c.any(ccDot|ccLBracket|ccDash|ccParen|ccBacktick|ccDollar) && (strings.IndexByte(lv, 'x') < 0 || strings.IndexByte(lv, 'q') < 0) {
		return false // every sink but xmlhttprequest has one of . [ - ( ` $
	}
	if !c.any(ccDollar) && !jsObjectWord(lv) {
		return false
	}
	js := jsForm(lv, c)
	for _, s := range jsSinks {
		i := strings.Index(js, s)
		if i < 0 {
			continue
		}
		if s[len(s)-1] == '[' {
			// Bracket access by string ("window['alert']"), not an array index.
			if rest := js[i+len(s):]; rest == "" || rest[0] != '"' && rest[0] != '\'' && rest[0] != '`' {
				continue
			}
		}
		if (s[0] != '.' && s[0] != '-' && s[0] != '$') && i > 0 && isWordByte(js[i-1]) {
			continue // "myalert(" is not alert(
		}
		return true
	}
	return false
}

// jsCallSinks are the global functions an injected script calls.
var jsCallSinks = setOf("alert", "prompt", "confirm", "eval", "atob", "btoa", "fetch", "settimeout",
	"setinterval", "importscripts", "postmessage", "expression")

// jsCall finds a call of a jsCallSinks function, by '(' or a tagged
// template ('`'), spaces and comments allowed before it; a method of
// something else ("x.alert(") counts, a longer name ("myalert(") does not.
func jsCall(lv string, c charClass) bool {
	for i := 0; i < len(lv); i++ {
		if !c.any(ccBacktick) {
			// Only parentheses to look at: jump to the next.
			j := strings.IndexByte(lv[i:], '(')
			if j < 0 {
				return false
			}
			i += j
		} else if lv[i] != '(' && lv[i] != '`' {
			continue
		}
		end := i
		for end > 0 && (lv[end-1] == ' ' || lv[end-1] == '\t' || lv[end-1] == '\n' || lv[end-1] == '/' || lv[end-1] == '*') {
			end--
		}
		start := end
		for start > 0 && isWordByte(lv[start-1]) {
			start--
		}
		if start < end && jsCallSinkWords.has(lv[start:end]) {
			return true
		}
	}
	return false
}

// eventHandlerAttr finds an "on<name>=" attribute after whitespace, a
// quote or a slash, as injected into a tag: `" onload=`, `/onerror=`.
func eventHandlerAttr(lv string) bool {
	for i := 0; ; {
		j := strings.Index(lv[i:], "on")
		if j < 0 {
			return false
		}
		j += i
		i = j + 2
		if j == 0 || !strings.ContainsRune(" \t\n\r\f\"'/;`", rune(lv[j-1])) {
			continue
		}
		k := i
		for k < len(lv) && 'a' <= lv[k] && lv[k] <= 'z' {
			k++
		}
		if k-i < 3 {
			continue
		}
		for k < len(lv) && (lv[k] == ' ' || lv[k] == '\t' || lv[k] == '\n') {
			k++
		}
		if k < len(lv) && lv[k] == '=' {
			return true
		}
	}
}

// scriptScheme finds a javascript:, vbscript: or livescript: URL anywhere
// in lv, tabs, newlines and control characters inside the scheme ignored
// as browsers ignore them, followed by code rather than prose: not "a
// word and a space" ("JavaScript: The Good Parts").
func scriptScheme(lv string) bool {
	s := lv
	if hasControl(lv) {
		var b [512]byte
		n := 0
		for i := 0; i < len(lv) && n < len(b); i++ {
			if c := lv[i]; c >= ' ' {
				b[n] = c
				n++
			}
		}
		s = string(b[:n])
	}
	if !strings.Contains(s, "script:") {
		return false
	}
	for _, scheme := range []string{"javascript:", "vbscript:", "livescript:"} {
		for i := 0; ; {
			j := strings.Index(s[i:], scheme)
			if j < 0 {
				break
			}
			rest := strings.TrimLeft(s[i+j+len(scheme):], " ")
			i += j + len(scheme)
			if rest == "" {
				continue
			}
			k := 0
			for k < len(rest) && isWordByte(rest[k]) {
				k++
			}
			if k == 0 || k < len(rest) && rest[k] != ' ' && rest[k] != ',' {
				return true
			}
		}
	}
	return false
}

// spacedTags are the elements whose names browsers of old read with
// spaces between the letters ("<f o r m"), or that some filters let pass
// spelled that way.
var spacedTags = setOf("form", "script", "iframe", "frame", "object", "embed", "svg", "img",
	"image", "input", "button", "dialog", "details", "style", "video", "audio", "body", "link",
	"meta", "base", "math", "marquee", "applet", "textarea", "select", "isindex")

// spacedTag finds '<' followed by an element name spelled one letter at a
// time with whitespace between ("<f o r m").
func spacedTag(lv string) bool {
	for i := strings.IndexByte(lv, '<'); i >= 0 && i < len(lv); {
		var name [16]byte
		n, j := 0, i+1
		for j < len(lv) && n < len(name) && 'a' <= lv[j] && lv[j] <= 'z' && (j+1 == len(lv) || !isLetter(lv[j+1])) {
			name[n] = lv[j]
			n++
			j++
			for j < len(lv) && (lv[j] == ' ' || lv[j] == '\t' || lv[j] == '\n') {
				j++
			}
		}
		if n >= 3 && spacedTags[string(name[:n])] {
			return true
		}
		k := strings.IndexByte(lv[i+1:], '<')
		if k < 0 {
			return false
		}
		i += k + 1
	}
	return false
}

// scriptAttrs are attributes that load or run script without an event
// handler, injected after a break-out (a quote, a space or a slash).
var scriptAttrs = []string{"formaction", "srcdoc", "xlink:href", "xmlns:xlink", "xmlns:xi"}

func scriptAttr(lv string) bool {
	for _, a := range scriptAttrs {
		for i := 0; ; {
			j := strings.Index(lv[i:], a)
			if j < 0 {
				break
			}
			j += i
			i = j + len(a)
			if j > 0 && strings.IndexByte(" \t\n\"'/`", lv[j-1]) < 0 {
				continue
			}
			rest := strings.TrimLeft(lv[i:], " \t\n")
			if strings.HasPrefix(rest, "=") {
				return true
			}
		}
	}
	return false
}

// hasControl reports whether s holds an ASCII control character.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' {
			return true
		}
	}
	return false
}

// jsObjectWord reports whether lv holds one of the words the property
// sinks of jsSinks start from, in one pass over its words.
func jsObjectWord(lv string) bool {
	for i := 0; i < len(lv); {
		for i < len(lv) && !isLetter(lv[i]) {
			i++
		}
		start := i
		for i < len(lv) && isLetter(lv[i]) {
			i++
		}
		if jsObjectWords.has(lv[start:i]) {
			return true
		}
	}
	return false
}

// jsObjectWords are the words the property sinks of jsSinks start from.
var jsObjectWords = newVocab(nil, "document", "window", "location", "localstorage", "sessionstorage", "innerhtml", "outerhtml",
	"insertadjacenthtml", "moz", "xmlhttprequest", "reflect", "navigation", "self", "top", "parent",
	"frames", "globalthis", "content", "constructor", "fromcharcode", "call", "apply", "bind",
	"function", "opener", "string")

var jsCallSinkWords = newVocab([]map[string]bool{jsCallSinks})
