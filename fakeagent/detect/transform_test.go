package detect

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

type transformCase struct {
	name, in, want string
}

func checkTransform(t *testing.T, tf func(string) string, cases []transformCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, tf(c.in))
		})
	}
}

func TestURLDecodeUni(t *testing.T) {
	checkTransform(t, urlDecodeUni, []transformCase{
		{"percent escapes decode once", "%2e%2E%252f", "..%2f"},
		{"IIS %u escapes decode to UTF-8", "%u002e%u2215", ".\u2215"},
		{"malformed escapes stay", "100%%zz%u12", "100%%zz%u12"},
		{"plus stays a plus", "a+b", "a+b"},
	})
	checkTransform(t, urlDecodeRepeated, []transformCase{
		{"repeated encoding decodes fully", "%25252e%25252e", ".."},
		{"plain text is unchanged", "shoes", "shoes"},
	})
}

func TestHTMLEntityDecode(t *testing.T) {
	checkTransform(t, htmlEntityDecode, []transformCase{
		{"named entities decode", "&lt;script&gt;", "<script>"},
		{"names are case-insensitive and need no semicolon", "&LT&colon;&NewLine", "<:\n"},
		{"decimal and hex references decode with or without semicolon", "&#60;&#x3C&#X3c;&#0000060", "<<<<"},
		{"unknown names stay", "&copy; Tom &amp Jerry", "&copy; Tom & Jerry"},
		{"a bare ampersand stays", "a & b", "a & b"},
	})
}

func TestEscapeDecode(t *testing.T) {
	checkTransform(t, escapeDecode, []transformCase{
		{"hex escapes decode", `\x73y\x73tem`, "system"},
		{"unicode escapes decode", `\u0061lert \u{61}`, "alert a"},
		{"octal escapes decode", `\141\142`, "ab"},
		{"0x bytes decode, also run together", "0x2e0x2e0x5c", `..\`},
		{"a longer hex number is not a byte", "0x2e2e", "0x2e2e"},
		{"other backslashes stay", `C:\Users\n`, `C:\Users\n`},
	})
}

func TestFullWidthToASCII(t *testing.T) {
	checkTransform(t, fullWidthToASCII, []transformCase{
		{"full-width forms fold to ASCII", "\uff1cscript\uff1e", "<script>"},
		{"typographic quotes fold to ASCII", "\u2019 or \u201c1\u201d", `' or "1"`},
		{"other text is unchanged", "café 日本", "café 日本"},
	})
}

func TestRemoveSQLComments(t *testing.T) {
	checkTransform(t, removeSQLComments, []transformCase{
		{"block comments become a space", "UN/**/ION/*x*/SELECT", "UN ION SELECT"},
		{"executable comments keep their code", "/*!50000select*/1", " select 1"},
		{"line comments run to the end of the line", "1 -- x\n2 #y", "1  \n2  "},
		{"an unclosed comment ends the value", "a/*b", "a "},
	})
}

func TestCompressWhitespace(t *testing.T) {
	checkTransform(t, compressWhitespace, []transformCase{
		{"runs of any whitespace become one space", "a \t\n\v\f\xa0 b", "a b"},
		{"single spaces are unchanged", "a b c", "a b c"},
	})
}

func TestCmdLine(t *testing.T) {
	checkTransform(t, cmdLine, []transformCase{
		{"quotes and backslashes vanish", `w'h'o\am"i"`, "whoami"},
		{"cmd.exe carets vanish", "who^ami", "whoami"},
		{"IFS becomes a space", "cat${IFS}/etc/passwd$IFS-x", "cat /etc/passwd -x"},
		{"brace lists become words", "{cat,/etc/passwd}", "cat /etc/passwd "},
		{"empty expansions vanish", "c$@a$*t ${x}", "cat "},
		{"expansions with operators stay", "${PATH#x}", "${path#x}"},
		{"braces of code stay", "{ var x; }", "{ var x; }"},
	})
}

func TestNormalizePath(t *testing.T) {
	checkTransform(t, normalizePath, []transformCase{
		{"backslashes become slashes and runs collapse", `..\\..//etc`, "../../etc"},
		{"dot steps go, dot-dot steps stay", "/a/./b/../c/.", "/a/b/../c/"},
	})
}

func TestNormalize(t *testing.T) {
	checkTransform(t, normalize, []transformCase{
		{"layers of encodings come off", "%26lt%3Bscript%26gt%3B", "<script>"},
		{"an escape hiding a percent escape decodes both", `\x252e`, "."},
		{"plain values are returned as they are", "plain value", "plain value"},
	})
}
