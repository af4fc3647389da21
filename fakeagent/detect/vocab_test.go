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
	for _, w := range []string{"", "ca", "cats", "Cat", "whoam", "ssh", "a-very-long-word-beyond-every-entry"} {
		assert.False(t, v.has(w), w)
	}
	assert.Len(t, v.words, 4, "the empty word is not added")
}

func TestSubstringsFindWhatContainsFinds(t *testing.T) {
	list := []string{"/bin/sh", "cmd.exe", "$ifs$", "~", "sh -c"}
	s := newSubstrings(list...)
	for _, v := range []string{"", "x", "/bin/s", "/bin/sh", "a;/bin/shop", "CMD.EXE", "xcmd.exe", "$ifs", "$ifs$",
		"home~", "sh-c", "bash -c id", "/bin/s/bin/sh"} {
		want := false
		for _, e := range list {
			want = want || strings.Contains(v, e)
		}
		assert.Equal(t, want, s.in(v), v)
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
