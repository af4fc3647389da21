package detect

import (
	"bytes"
	"strings"
)

// Shell injection beyond a separator followed by a known command: the
// shell's own syntax (expansions, globbing, function definitions), cmd.exe
// control statements, PowerShell cmdlets, and a command at the very start
// of a value. All work on cmdLine's form of the value: quotes, escapes and
// $IFS resolved as the shell resolves them.

// moreCommands extends strongCommands: programs whose name is not an
// English word, from the Unix and Windows manuals (interpreters, network
// and system tools, remote administration, build tools).
var moreCommands = setOf("gawk", "mawk", "nawk", "lua", "luajit", "node", "nodejs", "deno",
	"irb", "jrunscript", "jjs", "tclsh", "wish", "gdb", "strace", "ltrace", "tcpdump", "tshark",
	"openssl", "ssh-keygen", "sshpass", "rsync", "sftp", "smbclient", "rpcclient", "psql",
	"sqlite3", "mysqldump", "redis-cli", "kubectl", "crictl", "systemctl", "journalctl", "dmesg",
	"lsmod", "insmod", "rmmod", "modprobe", "fdisk", "lsblk", "lsof", "traceroute", "tracepath",
	"whois", "getfacl", "setfacl", "chattr", "lsattr", "visudo", "doas", "pkexec", "setcap",
	"getcap", "ldd", "objdump", "readelf", "hexdump", "base32", "gunzip", "bzip2", "unxz",
	"unzip", "7z", "cpio", "shred", "mkfifo", "mknod", "setsid", "xargs", "ionice", "stdbuf",
	"chroot", "unshare", "nsenter", "capsh", "toybox", "dash", "rbash", "mksh", "pdksh", "yash",
	"hostnamectl", "lastlog", "lastb", "lastlogin", "usermod", "userdel", "adduser", "deluser",
	"groupadd", "chpasswd", "chsh", "sudoedit", "iwconfig", "ping6", "aria2c", "lwp-download",
	"lwp-request", "ansible", "ansible-playbook", "ansible-pull", "ansible-galaxy", "ansible-vault",
	"ansible-console", "ansible-inventory", "chef-shell", "chef-client", "knife", "puppet", "salt",
	"salt-call", "terraform", "cscli", "htop", "rmt", "c89", "c99", "gcc", "g++", "clang", "tcc",
	"cc", "make", "cmake", "ninja", "nasm", "pip", "pip3", "npm", "npx", "gem", "cargo", "composer",
	"schtasks", "regedit", "vssadmin", "bcdedit", "bcdboot", "bootcfg", "cacls", "icacls",
	"takeown", "cscript", "wscript", "msiexec", "msbuild", "installutil", "forfiles", "nltest",
	"dsquery", "netsh", "tracert", "pathping", "iwr", "iex", "irm", "cmdkey", "klist", "wevtutil",
	"fsutil", "diskpart", "reagentc", "sdbinst", "odbcconf", "cmstp", "esentutl", "expand",
	"makecab", "findstr", "ntdsutil", "qwinsta", "rwinsta", "quser", "net1", "sysctl", "nproc",
	"lscpu", "lspci", "lsusb", "uname", "getconf", "ulimit", "umask", "chgrp", "chmod", "sudo",
	"pgrep", "pidof", "nmap", "masscan", "hping3", "arping", "fping", "nping", "zcat", "bzcat",
	"xzcat", "zless", "zgrep", "base64", "uuencode", "uudecode", "ssh", "scp", "telnet", "nc",
	"ncat", "netcat", "socat", "wget", "curl", "tftp", "fetch", "links", "lynx", "w3m", "who",
	"w", "finger", "id", "groups", "env", "printenv", "set", "export", "ifconfig", "ip", "arp",
	"route", "ss", "netstat", "iptables", "nft", "ufw", "awk", "sed", "perl", "python", "ruby",
	"php", "bash", "sh", "zsh", "ksh", "csh", "tcsh", "fish", "ash", "busybox", "powershell",
	"pwsh", "cmd", "whoami", "hostname", "systeminfo", "tasklist", "taskkill", "wmic", "certutil",
	"bitsadmin", "mshta", "rundll32", "regsvr32", "reg", "sc", "crontab", "at", "nohup", "time",
	"cd", "fold", "comm", "perf", "tee", "chef-vault", "ansible-config", "ansible-doc", "iwmi", "gwmi",
	"icm", "saps", "sal", "strace", "ltrace", "timeout", "nice", "xargs", "watch")

// wrapperCommands run their first argument as a command.
var wrapperCommands = setOf("strace", "ltrace", "nohup", "time", "sudo", "doas", "env", "xargs",
	"timeout", "nice", "ionice", "stdbuf", "setsid", "chroot", "watch", "exec", "command", "busybox")

// englishCommands are command names that are also words or names: they
// need a shell-shaped argument wherever they stand ("rock & salt").
var englishCommands = setOf("time", "salt", "make", "fetch", "links", "expand", "knife", "puppet",
	"groups", "export", "route", "who", "w", "at", "set", "id", "env", "gem", "cargo", "composer",
	"node", "wish", "ash", "dash", "fish", "lynx", "finger", "ninja", "ip", "ss", "cc", "reg", "sc",
	"expect", "host", "mail", "more", "less", "type", "find", "kill", "head", "tail", "touch", "sleep",
	"echo", "dir", "net", "cat", "ls", "ps", "rm", "cp", "mv", "nc", "dig", "ping", "pip", "npm", "make",
	"cd", "fold", "comm", "tee", "nice", "watch", "timeout", "perf")

// powershellCmdlets are the cmdlets that download, run code or change the
// system (Verb-Noun, lower-case).
var powershellCmdlets = setOf("invoke-webrequest", "invoke-restmethod", "invoke-expression",
	"invoke-command", "invoke-item", "invoke-wmimethod", "invoke-cimmethod", "start-process",
	"start-job", "start-bitstransfer", "get-content", "set-content", "add-content", "new-object",
	"get-childitem", "get-process", "stop-process", "get-wmiobject", "get-ciminstance",
	"set-executionpolicy", "add-mppreference", "set-mppreference", "out-file", "copy-item",
	"remove-item", "move-item", "new-item", "test-connection", "resolve-dnsname",
	"get-itemproperty", "set-itemproperty", "new-itemproperty", "get-service", "new-service",
	"set-service", "get-localuser", "new-localuser", "add-localgroupmember", "get-acl", "set-acl",
	"convertto-securestring", "get-credential", "import-module", "export-clixml", "import-clixml",
	"get-eventlog", "clear-eventlog", "get-winevent", "register-scheduledtask", "new-scheduledtask",
	"new-scheduledtaskaction", "get-nettcpconnection", "test-netconnection", "get-hotfix",
	"get-computerinfo", "restart-computer", "stop-computer", "expand-archive", "compress-archive")

// windowsConditions are what follows "if" in a cmd.exe IF statement.
var windowsConditions = setOf("exist", "defined", "errorlevel", "cmdextversion")

// windowsCompare are cmd.exe's comparison operators.
var windowsCompare = setOf("equ", "neq", "lss", "leq", "gtr", "geq")

// shellWords are the words commandStatement acts on: every command name
// and cmdlet.
var shellWords = newVocab([]map[string]bool{strongCommands, moreCommands, weakCommands, powershellCmdlets}, "alias")

// statementStarts reads the word (a run of commandWordByte) at each
// place of s where eachStatement starts a statement, and at a few more (s
// is not whitespace-compressed): command reports one of shellWords, read
// as commandStatement reads it; windows a "for" or "if". seps is false
// when s holds none of statementSeparator (no ccShell byte in its class):
// then only the first statement is read.
func statementStarts(s string, seps bool) (command, windows bool) {
	for i := 0; i < len(s); {
		for i < len(s) && statementSkip[s[i]] {
			i++
		}
		start := i
		for i < len(s) && commandWordByte[s[i]] {
			i++
		}
		word := s[start:i]
		windows = windows || word == "for" || word == "if"
		for k := len(word) - 1; k >= 0; k-- {
			if word[k] == '/' {
				word = word[k+1:]
				break
			}
		}
		if len(word) > 4 && word[len(word)-4:] == ".exe" {
			word = word[:len(word)-4]
		}
		if shellWords.has(word) {
			return true, windows
		}
		if !seps {
			break
		}
		for i < len(s) && !statementSeparator[s[i]] {
			i++
		}
	}
	return false, windows
}

var (
	statementSkip      = bytesOf(";|&(`' \t\n\r\v\f\xa0")
	statementSeparator = bytesOf(";|&`\n")
	commandWordByte    = bytesOf(wordBytes, "-./+")
)

// isShellSyntax reports shell-only syntax and commands in lv (lower-case,
// of class c); buf is where its cmdLine form is built.
func isShellSyntax(lv string, c charClass, buf *[]byte) bool {
	cl := lv
	if c.any(ccQuote | ccBackslash | ccCaret | ccDollar | ccLBrace) {
		cl, *buf = cmdLineTo(*buf, lv) // lv has no upper-case letter: nothing else to undo
	}
	if cl != lv && isCmdExe(cl, cl, classify(cl)) {
		return true
	}
	if !c.any(ccDollar|ccLBrace|ccTilde|ccAngle) && (lv == "" || lv[0] != '\\') && !(c.any(ccDash) && strings.Contains(cl, "-c")) {
		// cmdLine only takes bytes out or makes them spaces: cl has no
		// separator lv has not.
		command, windows := statementStarts(cl, c.any(ccShell))
		if !command {
			// No expansion, redirection, function syntax or "-c", and no
			// statement starting with a command: only a globbed path or
			// a cmd.exe statement is left to find.
			if c.any(ccLBracket|ccGlob) && globbedSystemPath(lv) {
				return true
			}
			if cl != lv {
				_, windows = statementStarts(lv, c.any(ccShell))
			}
			return windows && windowsStatementIn(lv)
		}
	}
	s := compressWhitespace(cl)
	if strings.Contains(s, "() { :;") || strings.Contains(s, "(){ :;") || strings.Contains(s, "(){:;") ||
		strings.HasPrefix(strings.TrimSpace(s), "() {") {
		return true // a Bash function definition, as in Shellshock
	}
	if c.any(ccDollar|ccLBrace|ccTilde) && shellExpansion(lv) || c.any(ccLBracket|ccGlob) && globbedSystemPath(lv) ||
		c.any(ccAngle) && processSubstitution(s) || strings.Contains(s, " -c ") && shellDashC(s) {
		return true
	}
	// A leading backslash runs a command past its alias ("\ls").
	if strings.HasPrefix(lv, "\\") && commandName(strings.TrimLeft(lv, "\\")) {
		return true
	}
	if eachStatement(s, func(stmt string, atStart bool) bool { return commandStatement(stmt, atStart) }) {
		return true
	}
	return windowsStatements(lv, c)
}

// windowsStatements reports a cmd.exe FOR or IF statement in lv, of class
// c. cmd.exe statements keep their quotes: they are read before cmdLine.
func windowsStatements(lv string, c charClass) bool {
	if _, windows := statementStarts(lv, c.any(ccShell)); !windows {
		return false
	}
	return windowsStatementIn(lv)
}

func windowsStatementIn(lv string) bool {
	return eachStatement(compressWhitespace(lv), func(stmt string, _ bool) bool { return windowsStatement(stmt) })
}

// eachStatement calls fn on each statement of s: at its start, after a
// separator, or after a redirection; it stops at the first true.
func eachStatement(s string, fn func(stmt string, atStart bool) bool) bool {
	for i := 0; i < len(s); {
		for i < len(s) && strings.IndexByte(";|&\n(`' ", s[i]) >= 0 {
			i++
		}
		if i >= len(s) {
			break
		}
		stmt := s[i:]
		if i == 0 || strings.IndexByte(";|&\n(`", s[i-1]) >= 0 || s[i-1] == ' ' && i >= 2 && strings.IndexByte(";|&", s[i-2]) >= 0 {
			if fn(stmt, i == 0) {
				return true
			}
		}
		j := strings.IndexAny(stmt, ";|&\n`")
		if j < 0 {
			break
		}
		i += j
	}
	return false
}

// commandName reports whether s starts with a known command name followed
// by nothing, a space or a separator.
func commandName(s string) bool {
	i := 0
	for i < len(s) && (isWordByte(s[i]) || s[i] == '-') {
		i++
	}
	w := s[:i]
	if i < len(s) && strings.IndexByte(" ;|&", s[i]) < 0 {
		return false
	}
	return strongCommands[w] || moreCommands[w] || weakCommands[w]
}

// processSubstitution finds <(cmd) and >(cmd) with a known command.
func processSubstitution(s string) bool {
	for i := 1; i < len(s); i++ {
		if s[i] == '(' && (s[i-1] == '<' || s[i-1] == '>') && commandName(strings.TrimLeft(s[i+1:], " ")) {
			return true
		}
		if s[i] == '(' && (s[i-1] == '<' || s[i-1] == '>') {
			rest := strings.TrimLeft(s[i+1:], " ")
			j := 0
			for j < len(rest) && (isWordByte(rest[j]) || rest[j] == '-') {
				j++
			}
			if j > 0 && j < len(rest) && rest[j] == ')' && (strongCommands[rest[:j]] || moreCommands[rest[:j]] || weakCommands[rest[:j]]) {
				return true
			}
		}
	}
	return false
}

// shellDashC finds a shell started with a command string: "sh -c",
// "${SHELL} -c", "bash -c" as a word.
func shellDashC(s string) bool {
	for _, sh := range []string{"sh -c ", "bash -c ", "zsh -c ", "dash -c ", "ksh -c ", "$shell -c ", "${shell} -c ", "${shell}  -c "} {
		i := strings.Index(s, sh)
		if i >= 0 && (i == 0 || strings.IndexByte(" /;|&(`'\"", s[i-1]) >= 0) {
			return true
		}
	}
	return false
}

// commandStatement reports a statement starting with a command. At the
// value's start (atStart) a command also needs an argument shaped like
// shell (a flag, a path, a redirection) or nothing at all: a lone "whoami"
// is a probe; "cat lovers" is not.
func commandStatement(stmt string, atStart bool) bool {
	i := 0
	for i < len(stmt) && (isWordByte(stmt[i]) || stmt[i] == '-' || stmt[i] == '.' || stmt[i] == '/' || stmt[i] == '+') {
		i++
	}
	word := stmt[:i]
	qualified := strings.HasPrefix(word, "/bin/") || strings.HasPrefix(word, "/usr/") || strings.HasPrefix(word, "/sbin/") || strings.HasPrefix(word, "bin/")
	if k := strings.LastIndexByte(word, '/'); k >= 0 {
		word = word[k+1:]
	}
	word = strings.TrimSuffix(word, ".exe")
	if !shellWords.has(word) {
		return false // every check below is about a command, a cmdlet or alias
	}
	atStart = atStart || englishCommands[word]
	if powershellCmdlets[word] {
		return true
	}
	if word == "alias" && i < len(stmt) && stmt[i] == ' ' && strings.IndexByte(stmt[i:], '=') > 0 {
		return true
	}
	if !moreCommands[word] && !strongCommands[word] && !weakCommands[word] {
		return false
	}
	rest := stmt[i:]
	if qualified {
		return true
	}
	// A command that runs the next word as a command ("strace ifconfig",
	// "nohup sh").
	if wrapperCommands[word] && strings.HasPrefix(rest, " ") {
		if next := strings.TrimLeft(rest, " "); next != "" && commandName(next) {
			n := 0
			for n < len(next) && (isWordByte(next[n]) || next[n] == '-') {
				n++
			}
			if w := next[:n]; !englishCommands[w] && !weakCommands[w] {
				return true
			}
		}
	}
	if rest != "" && strings.IndexByte(";|&", rest[0]) >= 0 && (strongCommands[word] || moreCommands[word] && !englishCommands[word]) {
		return true // "whoami;", "uname|"
	}
	if strings.TrimSpace(rest) == "" {
		// A bare command name: only the ones that are not words.
		return !weakCommands[word] && len(word) > 2 && !atStart || strongCommands[word] || atStart && (word == "whoami" || word == "uname" || word == "ifconfig" || word == "ipconfig" || word == "systeminfo" || word == "netstat")
	}
	if rest[0] != ' ' {
		return !atStart && strings.IndexByte(";|&<>'", rest[0]) >= 0
	}
	arg := strings.TrimLeft(rest, " ")
	switch b := arg[0]; {
	case b == '-' && len(arg) > 1 && (isWordByte(arg[1]) || arg[1] == '-'):
		return true
	case b == '/' && (len(arg) == 1 || isWordByte(arg[1]) || strings.IndexByte(";|&", arg[1]) >= 0), b == '~', b == '<', b == '>', b == '$':
		return true
	case strings.HasPrefix(arg, "http://") || strings.HasPrefix(arg, "https://"):
		return true
	}
	if atStart {
		return false
	}
	// After a separator any known command with an argument is enough.
	return !weakCommands[word] || shellArgument(stmt, i, word, false)
}

// windowsStatement reports a cmd.exe FOR loop or IF statement.
func windowsStatement(stmt string) bool {
	switch {
	case strings.HasPrefix(stmt, "for "):
		// for [/d|/r [path]|/l|/f ["options"]] %x in (set) do command
		rest := stmt[4:]
		pct := strings.IndexByte(rest, '%')
		if pct < 0 || pct > 80 {
			return false
		}
		v := rest[pct:]
		in := strings.Index(v, " in")
		if in < 0 || in > 40 || strings.Contains(v[:in], " ") {
			return false
		}
		after := strings.TrimLeft(v[in+3:], " ")
		if !strings.HasPrefix(after, "(") {
			return false
		}
		end := strings.LastIndexByte(after, ')')
		return end > 0 && strings.HasPrefix(strings.TrimLeft(after[end+1:], " "), "do")
	case strings.HasPrefix(stmt, "if "):
		rest := strings.TrimPrefix(stmt[3:], "/i ")
		rest = strings.TrimPrefix(rest, "not ")
		word, after, _ := strings.Cut(rest, " ")
		if windowsConditions[word] {
			_, cmd, ok := strings.Cut(strings.TrimLeft(after, " "), " ")
			return ok && windowsCommand(cmd)
		}
		// Comparisons: a==b, "a" == "b", %x% gtr 2.
		if strings.Contains(word, "==") {
			return windowsCommand(after)
		}
		op, tail, _ := strings.Cut(strings.TrimLeft(after, " "), " ")
		if op == "==" || windowsCompare[op] {
			_, cmd, _ := strings.Cut(strings.TrimLeft(tail, " "), " ")
			return windowsCommand(cmd) || windowsCommand(tail)
		}
		if strings.HasPrefix(op, "==") {
			return windowsCommand(tail)
		}
		return false
	}
	return false
}

// shellExpansion finds expansions only a shell performs: arithmetic
// ($[...], $((...))), parameter expansion with an operator
// (${PATH#...}, ${x%...}, ${x/a/b}), brace expansion with an empty first
// item ({,ip,a}) and tilde-dash (~-).
func shellExpansion(lv string) bool {
	for i := 0; i < len(lv); i++ {
		switch lv[i] {
		case '$':
			if i+1 >= len(lv) {
				continue
			}
			switch lv[i+1] {
			case '[':
				return true
			case '(':
				if i+2 < len(lv) && lv[i+2] == '(' {
					return true
				}
			case '{':
				j := i + 2
				for j < len(lv) && isWordByte(lv[j]) {
					j++
				}
				if j > i+2 && j < len(lv) && strings.IndexByte("#%/^,", lv[j]) >= 0 && strings.IndexByte(lv[j:], '}') > 0 {
					return true
				}
			}
		case '{':
			if i+1 < len(lv) && lv[i+1] == ',' && strings.IndexByte(lv[i+1:], '}') > 0 {
				return true
			}
			// {word,}: a command spelled as a brace list with an empty item.
			if end := strings.IndexByte(lv[i:], '}'); end > 2 && lv[i+end-1] == ',' && !strings.ContainsAny(lv[i:i+end], " {") && i+end == len(lv) {
				return commandName(lv[i+1 : i+end-1])
			}
		case '~':
			if i+1 < len(lv) && (lv[i+1] == '-' || lv[i+1] == '+') && (i+2 == len(lv) || lv[i+2] == '/' || lv[i+2] == ' ') && (i == 0 || lv[i-1] == ' ') {
				return true
			}
		}
	}
	return false
}

// globbedSystemPath finds a path into a system directory spelled with
// glob characters ("/etc/pas[s]wd", "/[e]tc/", "/bi?/c*t"): only a shell
// expands those.
func globbedSystemPath(lv string) bool {
	if !strings.ContainsAny(lv, "[?*") || strings.IndexByte(lv, '/') < 0 {
		return false
	}
	var buf [256]byte // most values fit: no allocation
	return systemDirIn(unglob(buf[:0], lv))
}

// unglob appends to dst lv with its glob characters taken out, a class
// standing for its first character that is not a slash ("/[e//]tc" is
// "/etc"), and runs of slashes made one.
func unglob(dst []byte, lv string) []byte {
	for i := 0; i < len(lv); i++ {
		switch c := lv[i]; c {
		case '[':
			end := strings.IndexByte(lv[i:], ']')
			if end < 0 {
				continue
			}
			for _, x := range []byte(lv[i+1 : i+end]) {
				if x != '/' {
					dst = append(dst, x)
					break
				}
			}
			i += end
		case ']', '?', '*':
		case '/':
			if len(dst) == 0 || dst[len(dst)-1] != '/' {
				dst = append(dst, c)
			}
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// systemDirIn reports whether a segment of path (after a slash, up to the
// next slash or the end) is one of systemDirs.
func systemDirIn(path []byte) bool {
	for k := bytes.IndexByte(path, '/'); k >= 0; {
		seg := path[k+1:]
		next := bytes.IndexByte(seg, '/')
		if next >= 0 {
			seg = seg[:next]
		}
		if systemDirs[string(seg)] {
			return true
		}
		if next < 0 {
			return false
		}
		k += 1 + next
	}
	return false
}

// systemDirs are the directories globbedSystemPath looks for.
var systemDirs = setOf("etc", "bin", "usr", "dev", "proc", "tmp", "var", "sbin")

// cmdBuiltins are cmd.exe's internal commands.
var cmdBuiltins = setOf("echo", "@echo", "set", "goto", "call", "type", "copy", "del", "erase",
	"exit", "start", "cmd", "dir", "md", "mkdir", "rd", "rmdir", "ren", "rename", "move", "pushd",
	"popd", "setlocal", "endlocal", "shift", "pause", "cls", "title", "ver", "vol", "for", "if", "(")

// windowsCommand reports whether s starts with a command cmd.exe runs: a
// builtin or a known program.
func windowsCommand(s string) bool {
	s = strings.TrimLeft(s, " ")
	w, _, _ := strings.Cut(s, " ")
	w = strings.TrimPrefix(w, "@")
	return w != "" && (cmdBuiltins[w] || cmdBuiltins["@"+w] || strongCommands[w] || moreCommands[w] && !englishCommands[w] || w[0] == '(')
}
