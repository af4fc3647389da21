package detect

import "strings"

// crlfInjection reports CR/LF injection in a decoded value: a CRLF pair, or
// a lone CR or LF followed by something shaped like a header ("\nSet-Cookie:").
func crlfInjection(v string, c charClass) bool {
	if !c.any(ccCRLF) {
		return false
	}
	if strings.Contains(v, "\r\n") {
		return true
	}
	for i := 0; i < len(v); i++ {
		if v[i] != '\r' && v[i] != '\n' {
			continue
		}
		j := i + 1
		for j < len(v) && (isWordByte(v[j]) || v[j] == '-') {
			j++
		}
		if j > i+1 && j < len(v) && v[j] == ':' {
			return true
		}
	}
	return false
}

// encodedCRLF reports %0d/%0a in a raw header value followed by what reads
// as an injected header.
func encodedCRLF(raw string) bool {
	if !strings.Contains(raw, "%0") {
		return false
	}
	d := unescape(raw, false)
	return crlfInjection(d, classify(d))
}

// privateFiles are file and directory names that are never meant to be
// served: server configuration, version control, secrets and keys.
var privateFiles = setOf(".htaccess", ".htpasswd", ".git", ".gitconfig", ".git-credentials",
	".svn", ".hg", ".bzr", ".cvs", ".ds_store", ".env", "id_rsa", "id_dsa", "id_ecdsa",
	"id_ed25519", "web.config", ".bash_history", ".zsh_history", ".ssh", ".aws", ".npmrc",
	".pgpass", ".my.cnf", ".netrc", ".docker", ".kube", "wp-config.php.bak", "wp-config.php~",
	".idea", ".vscode", "authorized_keys", "known_hosts", ".boto", ".s3cfg")

// isPrivateFile looks for a private file name among the path segments of
// lv (split on / and \). ".env.local" and the like count as ".env".
func isPrivateFile(lv string, c charClass) bool {
	if !c.any(ccDot) && (!c.any(ccUnderscore) || !strings.Contains(lv, "id_") && !strings.Contains(lv, "_keys") && !strings.Contains(lv, "_hosts")) {
		return false
	}
	for len(lv) > 0 {
		i := strings.IndexAny(lv, "/\\")
		seg := lv
		if i >= 0 {
			seg, lv = lv[:i], lv[i+1:]
		} else {
			lv = ""
		}
		if privateFiles[seg] || strings.HasPrefix(seg, ".env.") {
			return true
		}
	}
	return false
}
