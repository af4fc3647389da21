package detect

import "strings"

// Traversal beyond dot-dot steps: the sensitive files and directories of
// Unix and Windows systems and of applications, in any value, and hidden
// or backup files requested in the URL path.

// sensitivePaths are system and application paths a request has no
// business naming (matched on normalizePath's form, lower-case). Each
// needs its leading directory so that a word alone does not match.
var sensitivePaths = []string{"etc/passwd", "etc/shadow", "etc/group", "etc/gshadow", "etc/hosts",
	"etc/issue", "etc/master.passwd", "etc/subuid", "etc/subgid", "etc/sudoers", "etc/crontab",
	"etc/fstab", "etc/mtab", "etc/motd", "etc/profile", "etc/bashrc", "etc/hostname",
	"etc/resolv.conf", "etc/ssh/", "etc/nginx/", "etc/apache2/", "etc/httpd/", "etc/mysql/",
	"etc/security/", "etc/pam.d/", "etc/cron.d/", "etc/init.d/", "etc/environment", "etc/os-release",
	"etc/lsb-release", "etc/redhat-release", "etc/debian_version", "etc/inittab", "etc/exports",
	"etc/ld.so", "etc/modules", "etc/network/", "etc/sysconfig/", "etc/kubernetes/", "etc/docker/",
	"proc/self/", "proc/version", "proc/cmdline", "proc/environ", "proc/interrupts",
	"proc/cpuinfo", "proc/meminfo", "proc/mounts", "proc/net/", "proc/sched_debug", "proc/kcore",
	"proc/partitions", "proc/modules", "proc/stat", "proc/uptime", "proc/loadavg", "proc/1/",
	"sys/class/", "sys/kernel/", "sys/devices/", "sys/block/", "sys/bus/", "sys/firmware/",
	"sys/module/", "sys/power/", "sys/fs/", "var/log/", "var/lib/mysql", "var/run/secrets",
	"var/mail/", "var/spool/", "root/.", ".ssh/id_", ".ssh/authorized_keys",
	".ssh/known_hosts", ".bash_history", ".aws/credentials", ".docker/config.json", ".kube/config",
	".git/config", ".git/head", ".gitconfig", ".npmrc", ".pgpass", ".my.cnf", ".netrc",
	"wp-config.php", "web-inf/", "meta-inf/", "win.ini", "boot.ini", "system.ini",
	"windows/system32", "windows/win.ini", "winnt/", "inetpub/", "pagefile.sys", "hiberfil.sys",
	"system32/config/", "system32/drivers/etc", "repair/sam", "boot/grub/", "usr/local/etc/",
	"usr/pkg/etc/", "opt/lampp/", "xampp/", "apache/conf", "apache2/conf", "nginx/conf",
	"php.ini", "httpd.conf", "my.ini", "my.cnf", "server.xml", "tomcat-users.xml", "web.config"}

// sensitiveHeads are the first segments of the entries of sensitivePaths
// that start with a directory; the list is searched only from a segment
// that is one of them, or that starts with '.' or ends in a known file.
var sensitiveHeads = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range sensitivePaths {
		if head, _, ok := strings.Cut(p, "/"); ok && head != "" && head[0] != '.' {
			m[head] = true
		}
	}
	return m
}()

// sensitiveHeadWords is sensitiveHeads as a vocab, asked about every
// segment.
var sensitiveHeadWords = newVocab([]map[string]bool{sensitiveHeads})

// A segment is compared with the entries of sensitivePaths that can match
// it only: an entry with a '/' matches only a segment that is its first
// one (segments end at '/'), sensitiveByHead; the others, by first byte,
// sensitiveByFirst.
var sensitiveByHead, sensitiveByFirst = func() (byHead map[string][]string, byFirst [256][]string) {
	byHead = map[string][]string{}
	for _, p := range sensitivePaths {
		if head, _, ok := strings.Cut(p, "/"); ok {
			byHead[head] = append(byHead[head], p)
		} else {
			byFirst[p[0]] = append(byFirst[p[0]], p)
		}
	}
	return byHead, byFirst
}()

// isSensitivePath reports a sensitive path among the parts of lv, of
// class c.
func isSensitivePath(lv string, c charClass) bool {
	if !c.any(ccSlash) && (!c.any(ccDot) || !strings.HasSuffix(lv, ".ini") && !strings.HasSuffix(lv, ".sys")) {
		return false
	}
	p := lv
	if c.any(ccBackslash) || strings.Contains(lv, "/./") || strings.HasSuffix(lv, "/.") || doubleSlash(lv) {
		// A URL's "://" alone changes no segment: only then is the
		// value read as it is.
		p = normalizePath(lv)
	}
	for i := 0; i < len(p); i++ {
		// Segment starts: the value's start, after '/', ':', '=' or ' '.
		if i > 0 && p[i-1] != '/' && p[i-1] != ':' && p[i-1] != '=' && p[i-1] != ' ' {
			continue
		}
		end := i
		for end < len(p) && p[end] != '/' && p[end] != ' ' && p[end] != '?' && p[end] != '&' {
			end++
		}
		seg := p[i:end]
		if seg == "" || seg[0] != '.' && strings.IndexByte(seg, '.') < 0 && !sensitiveHeadWords.has(seg) {
			continue
		}
		rest := p[i:]
		for _, s := range sensitiveByHead[seg] {
			if strings.HasPrefix(rest, s) {
				return true
			}
		}
		for _, s := range sensitiveByFirst[rest[0]] {
			if strings.HasPrefix(rest, s) {
				return true
			}
		}
	}
	return false
}

// doubleSlash reports a "//" other than a URL scheme's "://".
func doubleSlash(s string) bool {
	for j := range occurrences(s, "//") {
		if j == 0 || s[j-1] != ':' || j+2 < len(s) && s[j+2] == '/' {
			return true
		}
	}
	return false
}

// backupSuffixes are the endings of backup, dump, log and editor files.
var backupSuffixes = []string{".bak", ".old", ".orig", ".save", ".swp", ".swo", ".tmp", "~",
	".sql", ".sql.gz", ".sql.zip", ".sql.bz2", ".sql.xz", ".sql.tar", ".dump", ".log", ".db",
	".sqlite", ".sqlite3", ".mdb", ".pem", ".key", ".p12", ".pfx", ".jks", ".kdbx", ".ovpn"}

// backupSuffixSet is backupSuffixes as a set; every entry but "~" starts
// with '.'.
var backupSuffixSet = setOf(backupSuffixes...)

// backupSuffix reports whether seg ends with one of backupSuffixes and has
// more before it, as a strings.HasSuffix loop would: a suffix starting with
// '.' is seg from one of its dots on.
func backupSuffix(seg string) bool {
	if len(seg) > 1 && seg[len(seg)-1] == '~' {
		return true
	}
	for k := len(seg) - 1; k > 0; k-- {
		if seg[k] == '.' && backupSuffixSet[seg[k:]] {
			return true
		}
	}
	return false
}

// isRestrictedPathFile reports, for the URL path (lower-case, decoded), a
// hidden file or directory (a segment starting with '.', except
// .well-known) or a backup, dump, log or key file.
func isRestrictedPathFile(lpath string) bool {
	segs := lpath
	for segs != "" {
		var seg string
		i := strings.IndexAny(segs, `/\`)
		if i >= 0 {
			seg, segs = segs[:i], segs[i+1:]
		} else {
			seg, segs = segs, ""
		}
		if len(seg) > 1 && seg[0] == '.' && seg != ".." && seg != ".well-known" && isWordByte(seg[1]) {
			return true
		}
		if i < 0 && seg != "" && backupSuffix(seg) {
			return true
		}
	}
	return false
}
