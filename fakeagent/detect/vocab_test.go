package detect

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestVocabAnswersAsItsMap(t *testing.T) {
	v := newVocab([]map[string]bool{setOf("cat", "whoami", "g++")}, "ssh-keygen", "")
	for _, w := range []string{"cat", "whoami", "g++", "ssh-keygen"} {
		assert.True(t, v.has(w), w)
	}
	for _, w := range []string{"", "ca", "cats", "Cat", "whoam", "ssh", "a-very-long-word-beyond-every-entry", "c" + strings.Repeat("a", 62) + "t", "c" + strings.Repeat("a", 63) + "t"} {
		assert.False(t, v.has(w), w)
	}
	assert.Len(t, v.words, 4, "the empty word is not added")
}

// sqlTagOf is the tag sqlVocab should give w, from its lists.
func sqlTagOf(w string) uint16 {
	var tag uint16
	for i, set := range []map[string]bool{sqlIdentifiers, sqlFunctions, sqlGluedFunctions, sqlStatementStart, sqlKeywordCases} {
		if set[w] {
			tag |= 1 << i
		}
	}
	return tag
}

func TestVocabTagsAreTheListsOfTheWord(t *testing.T) {
	for w := range sqlVocab.words {
		assert.Equal(t, sqlTagOf(w), sqlVocab.tag(w), w)
	}
	assert.Equal(t, tagSQLFunction|tagSQLIdentifier, sqlVocab.tag("pg_sleep"))
	assert.Equal(t, tagSQLStatement|tagSQLKeywordCase, sqlVocab.tag("union"))
	for _, w := range []string{"", "selection", "unio", "x"} {
		assert.Zero(t, sqlVocab.tag(w), w)
	}
}

func TestSubstringsFindWhatContainsFinds(t *testing.T) {
	list := []string{"/bin/sh", "cmd.exe", "$ifs$", "~", "sh -c"}
	long := newSubstrings("/bin/sh", "cmd.exe", "$ifs$", "sh -c")
	assert.Equal(t, 5, long.m, "the window is the shortest entry")
	s := newSubstrings(list...)
	for _, v := range []string{"", "x", "/bin/s", "/bin/sh", "a;/bin/shop", "CMD.EXE", "xcmd.exe", "$ifs", "$ifs$",
		"home~", "sh-c", "bash -c id", "/bin/s/bin/sh", "x/bin/sh", "xx/bin/sh", "xxx/bin/sh", "/bin/shx", "$ifs$ifs$",
		"a long value with none of them: /bin/s, cmd.ex, $ifs, sh -", "a long value that ends with cmd.exe"} {
		want := false
		for _, e := range list {
			want = want || strings.Contains(v, e)
		}
		assert.Equal(t, want, s.in(v), v)
		if !strings.Contains(v, "~") {
			assert.Equal(t, want, long.in(v), v)
		}
	}
}

func TestSchemeInIsContainsOfTheList(t *testing.T) {
	for v, want := range map[string]bool{
		"php://filter/resource=x": true, "xphp://y": true, "https://x": false, "phar:/x": false,
		"a://b php://c": true, "compress.zlib://x": true, "zlib://": true, "://": false, "": false,
	} {
		assert.Equal(t, want, schemeIn(v, phpWrappers), v)
	}
}

func TestBackupSuffix(t *testing.T) {
	for seg, want := range map[string]bool{
		"db.sql": true, ".sql": false, "x.sql.gz": true, "backup~": true, "~": false, "index.php": false,
		"a.b.bak": true, "key": false, "site.pem": true, "x.": false,
	} {
		assert.Equal(t, want, backupSuffix(seg), seg)
	}
}

// isScriptInjection skips the sink list for values without any of these
// bytes: every sink must have one, but xmlhttprequest (which needs an x
// and a q).
func TestEverySinkHasAByteTheSkipLooksFor(t *testing.T) {
	for _, s := range jsSinks {
		assert.True(t, strings.ContainsAny(s, ".[-(`$") || s == "xmlhttprequest", s)
	}
}
