package detect

import "strings"

// PHP code injection beyond an open tag or a known call: template tags,
// variable functions, superglobals, serialized objects, stream wrappers,
// ini directives and uploads of PHP files. The function lists are PHP's
// own, from its manual: execution, file system, network, encoding and
// reflection functions an attacker calls.

// phpMoreFuncs extend phpStrongFuncs: PHP functions whose names are not
// words, counted as calls with spaces or comments before the '('.
var phpMoreFuncs = setOf("bzdecompress", "gzdecode", "gzencode", "gzdeflate", "zlib_decode",
	"zlib_encode", "pfsockopen", "get_defined_vars", "get_defined_functions",
	"get_defined_constants", "strrev", "assert_options", "ini_set", "ini_get", "ini_get_all",
	"ini_restore", "ini_alter", "putenv", "getenv", "set_include_path", "posix_getpwuid",
	"posix_kill", "posix_mkfifo", "posix_setuid", "posix_uname", "escapeshellcmd",
	"escapeshellarg", "proc_close", "proc_get_status", "proc_nice", "proc_terminate",
	"pcntl_fork", "pcntl_signal", "array_map", "array_filter", "array_walk", "array_reduce",
	"usort", "uasort", "uksort", "preg_replace_callback", "register_shutdown_function",
	"register_tick_function", "ob_start", "parse_str", "unserialize", "var_dump", "print_r",
	"var_export", "debug_zval_dump", "phpversion", "getcwd", "scandir", "opendir", "readdir",
	"is_writable", "is_writeable", "file_exists", "fopen", "fwrite", "fputs", "fread", "fgets",
	"fpassthru", "readfile", "symlink", "tempnam", "tmpfile", "convert_uudecode", "hex2bin",
	"bin2hex", "mcrypt_decrypt", "openssl_decrypt", "curl_exec", "curl_init", "curl_setopt",
	"stream_get_contents", "stream_socket_client", "stream_socket_server", "socket_create",
	"socket_connect", "gethostbyname", "dns_get_record", "session_start", "setcookie",
	"forward_static_call", "forward_static_call_array", "func_get_args", "get_class_methods",
	"iterator_apply", "spl_autoload_register", "mb_ereg_replace", "mb_eregi_replace", "ereg_replace",
	"eregi_replace", "chroot", "chgrp", "lchown", "lchgrp", "link", "unlink", "rmdir", "mkdir",
	"touch", "chmod", "chown", "rename", "copy", "file", "glob", "dl", "mail", "header",
	"extract", "unpack", "chr", "ord", "intval", "strval", "settype", "constant", "apache_setenv",
	"virtual", "set_error_handler", "set_exception_handler", "serialize", "base64_encode",
	"urldecode", "rawurldecode", "htmlspecialchars_decode", "html_entity_decode", "stripslashes",
	"str_replace", "substr_replace", "implode", "explode", "sprintf", "vsprintf", "printf",
	"ucfirst", "strtolower", "strtoupper", "array_merge", "compact", "list", "print", "echo",
	"die", "exit", "fsockopen", "imap_open", "ldap_connect", "mysqli_query", "mysql_query",
	"pg_query", "sqlite_query", "simplexml_load_string", "libxml_disable_entity_loader",
	"xml_parse", "yaml_parse", "igbinary_unserialize", "msgpack_unpack", "fputcsv", "fgetcsv",
	"highlight_string", "php_strip_whitespace", "token_get_all", "get_cfg_var",
	"getmypid", "getmyuid", "getlastmod", "disk_free_space", "sys_get_temp_dir", "gethostname")

// phpWordFuncs are the PHP functions among phpMoreFuncs whose names are
// words: like phpWeakFuncs they need the '(' glued and an argument.
var phpWordFuncs = setOf("link", "unlink", "touch", "rename", "copy", "file", "glob", "mail",
	"header", "extract", "unpack", "chr", "ord", "constant", "virtual", "list", "print", "echo",
	"die", "exit", "implode", "explode", "compact", "sprintf", "printf", "intval", "strval", "usort",
	"settype", "serialize", "chmod", "chown", "mkdir", "rmdir", "chgrp", "dl", "ob_start", "symlink")

// phpWrappers are the stream wrappers of PHP and its extensions.
var phpWrappers = []string{"php://", "phar://", "expect://", "data://", "zlib://", "zip://",
	"glob://", "rar://", "ogg://", "ssh2.shell://", "ssh2.exec://", "ssh2.tunnel://", "ssh2.sftp://",
	"ssh2.scp://", "compress.zlib://", "compress.bzip2://"}

// phpSuperglobals are PHP's request and environment variables.
var phpSuperglobals = []string{"$_get", "$_post", "$_server", "$_cookie", "$_request", "$_files",
	"$_env", "$_session", "$globals", "$http_get_vars", "$http_post_vars", "$http_cookie_vars",
	"$http_server_vars", "$http_env_vars", "$http_raw_post_data", "$php_self", "$argv"}

// phpIniDirectives are php.ini settings an injection sets ("-d
// allow_url_include=1", a .user.ini upload); phpIniPrefixes are whole
// sections of them.
var (
	phpIniDirectives = setOf("allow_url_include", "allow_url_fopen", "auto_prepend_file",
		"auto_append_file", "disable_functions", "disable_classes", "open_basedir", "extension_dir",
		"extension", "zend_extension", "safe_mode", "register_globals", "unserialize_max_depth",
		"include_path", "display_errors", "log_errors", "error_log", "short_open_tag", "file_uploads",
		"upload_tmp_dir", "max_execution_time", "memory_limit", "doc_root", "user_dir", "sendmail_path",
		"cgi.force_redirect", "enable_dl", "expose_php", "html_errors", "error_reporting",
		"output_handler", "variables_order", "request_order", "magic_quotes_gpc", "post_max_size",
		"upload_max_filesize", "default_charset", "input_encoding", "internal_encoding")
	phpIniPrefixes = []string{"mbstring.", "session.", "opcache.", "pcre.", "zend.", "xdebug.",
		"phar.", "assert.", "mail.", "date.", "curl.", "openssl.", "filter.", "iconv."}
)

// isPHPInjection reports PHP code in lv (lower-case, decoded).
func isPHPInjection(lv string, c charClass) bool {
	if c.any(ccAngle) && c.any(ccGlob) && phpOpenTag(lv) {
		return true
	}
	if c.any(ccLBracket) && (strings.Contains(lv, "[php]") || strings.Contains(lv, "[/php]")) || c.any(ccLBrace) && (strings.Contains(lv, "{php}") || strings.Contains(lv, "{/php}")) {
		return true
	}
	if c.any(ccColon) && schemeIn(lv, phpWrappers) {
		return true
	}
	if c.any(ccDollar) && (phpVariableCode(lv) || phpSuperglobal(lv)) {
		return true
	}
	if c.any(ccColon) && phpSerialized(lv) || c.any(ccEquals) && phpIniSetting(lv) {
		return true
	}
	if c.any(ccParen) {
		if stripped := stripComments(lv, c); phpCalls(stripped, stripped != lv) {
			return true
		}
	}
	return false
}

// phpOpenTag finds "<?php" (any whitespace inside), "<?=" and a short
// "<? " tag followed by code; "<?xml" is XML unless followed by code.
func phpOpenTag(lv string) bool {
	for i := 0; ; {
		j := strings.Index(lv[i:], "<?")
		if j < 0 {
			return false
		}
		j += i + 2
		i = j
		k := j
		for k < len(lv) && (lv[k] == ' ' || lv[k] == '\t' || lv[k] == '\n' || lv[k] == '\r') {
			k++
		}
		rest := lv[k:]
		switch {
		case strings.HasPrefix(rest, "php"), j < len(lv) && lv[j] == '=':
			return true
		case strings.HasPrefix(rest, "xml"):
			r := rest[3:]
			if !strings.HasPrefix(strings.TrimLeft(r, " \t"), "version") && !strings.HasPrefix(r, "-stylesheet") && strings.ContainsAny(r, ";:") {
				return true
			}
		case k > j && (strings.Contains(rest, ";") || strings.Contains(rest, "?>")) && !strings.HasPrefix(rest, "xml"):
			return true
		}
	}
}

// phpVariableCode finds a variable function call ("$a(1)", "$_[0](2)",
// "${@a}(3)", "$GLOBALS['x'](4)", "Foo::$v()") or a variable-variable
// ("${'x'}", "${$a}").
func phpVariableCode(lv string) bool {
	s := removeSQLComments(lv)
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			continue
		}
		j := i + 1
		for j < len(s) && s[j] == ' ' {
			j++
		}
		if j < len(s) && s[j] == '{' {
			k := j + 1
			for k < len(s) && s[k] == ' ' {
				k++
			}
			if k < len(s) && (s[k] == '\'' || s[k] == '"' || s[k] == '$' || s[k] == '@') {
				return true
			}
		}
		// The variable with its subscripts, then '('.
		depth := 0
		k := j
		for k < len(s) && k-j < 64 {
			b := s[k]
			if b == '[' {
				depth++
				k++
				continue
			}
			if isWordByte(b) || b == '{' || b == '}' || b == '@' || b == '.' || b == '!' || b == '+' || b == ' ' ||
				b == '\'' || b == '"' || depth > 0 && b != ']' {
				k++
				continue
			}
			if b == ']' && depth > 0 {
				depth--
				k++
				continue
			}
			break
		}
		if k > j && k+1 < len(s) && s[k] == ')' && s[k+1] == '(' && depth == 0 && i > 0 && s[i-1] == '(' {
			return true // ($f)('id')
		}
		if k > j && k < len(s) && s[k] == '(' && depth == 0 && (isWordByte(s[j]) || s[j] == '{') {
			// "$5 (tax incl.)" is a price: a variable starts with a letter
			// or _, or is ${...}.
			if first := s[j]; first == '{' || first == '_' || 'a' <= first && first <= 'z' {
				return true
			}
		}
	}
	return false
}

func phpSuperglobal(lv string) bool {
	for _, g := range phpSuperglobals {
		if i := strings.Index(lv, g); i >= 0 {
			rest := strings.TrimLeft(lv[i+len(g):], " ")
			if rest == "" || rest[0] == '[' || rest[0] == ';' || rest[0] == ')' || rest[0] == '.' || rest[0] == ',' {
				return true
			}
		}
	}
	return false
}

// phpSerialized finds a serialized PHP object, array or custom object
// ("O:8:\"stdClass\":1:{", "a:2:{", "C:11:\"ArrayObject\":").
func phpSerialized(lv string) bool {
	for i := 0; i+3 < len(lv); i++ {
		b := lv[i]
		if b != 'o' && b != 'a' && b != 'c' || lv[i+1] != ':' || i > 0 && isWordByte(lv[i-1]) {
			continue
		}
		j := i + 2
		for j < len(lv) && isDigitByte(lv[j]) {
			j++
		}
		if j == i+2 || j+1 >= len(lv) || lv[j] != ':' {
			continue
		}
		if b == 'a' && lv[j+1] == '{' || b != 'a' && lv[j+1] == '"' && strings.Contains(lv[j:], "\":") {
			return true
		}
	}
	return false
}

// phpIniSetting finds "directive=value" (optionally after -d) for a php.ini
// directive.
func phpIniSetting(lv string) bool {
	eq := strings.IndexByte(lv, '=')
	if eq <= 0 {
		return false
	}
	name := strings.TrimSpace(lv[:eq])
	name = strings.TrimPrefix(name, "-d ")
	name = strings.TrimSpace(name)
	if phpIniDirectives[name] {
		return true
	}
	if strings.ContainsAny(name, " /&?") {
		return false
	}
	for _, p := range phpIniPrefixes {
		if strings.HasPrefix(name, p) && len(name) > len(p) {
			return true
		}
	}
	return false
}

// phpCalls finds calls of PHP functions: by name ("gzdecode (x)"), and by
// a string or parenthesised name ("('system')('id')", "(string)\"system\"(",
// "(system)(ls)").
func phpCalls(s string, commented bool) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '(' {
			continue
		}
		end := i
		for end > 0 && (s[end-1] == ' ' || s[end-1] == '\t' || s[end-1] == '\n' || s[end-1] == '\r') {
			end--
		}
		glued := end == i
		// Tabs, line breaks or a comment between a name and its '(' are
		// code formatting, not prose: "exec\t(", "exec /**/ (".
		codeGap := !glued && (commented || strings.ContainsAny(s[end:i], "\t\r\n"))
		quoted := false
		if end > 0 && (s[end-1] == '\'' || s[end-1] == '"' || s[end-1] == ')') {
			quoted = true
			end--
			if s[end] == ')' && end > 0 && (s[end-1] == '\'' || s[end-1] == '"') {
				end-- // ("system")(...)
			}
			for end > 0 && s[end-1] == ' ' {
				end-- // ("system  ")(...), (/**/system)(...)
			}
		}
		start := end
		for start > 0 && isWordByte(s[start-1]) {
			start--
		}
		name := s[start:end]
		if name == "" {
			continue
		}
		if quoted {
			before := strings.TrimRight(s[:start], " ")
			if before != "" && strings.IndexByte("'\"(", before[len(before)-1]) >= 0 && (phpStrongFuncs[name] || phpWeakFuncs[name] || phpMoreFuncs[name]) {
				return true
			}
			continue
		}
		if start > 0 && strings.IndexByte(".>:", s[start-1]) >= 0 {
			continue // a method call in JavaScript, Java or PHP itself
		}
		if phpMoreFuncs[name] && !phpWordFuncs[name] {
			return true
		}
		if (phpWordFuncs[name] || phpWeakFuncs[name]) && (glued && phpCallArgument(s[i+1:]) || codeGap) {
			return true
		}
		// A PHP function glued to the end of a longer word ("FOOgzdecode()"):
		// only names long and odd enough not to end ordinary words.
		if glued && len(name) > 8 && phpSuffixCall(name) {
			return true
		}
	}
	return false
}

// phpSuffixCall reports whether name ends with a PHP function name of 8
// bytes or more that is not a word.
func phpSuffixCall(name string) bool {
	for j := 1; j+8 <= len(name); j++ {
		if tail := name[j:]; (phpMoreFuncs[tail] || phpStrongFuncs[tail]) && !phpWordFuncs[tail] {
			return true
		}
	}
	return false
}

// phpCallArgument is phpArgument, plus an immediately closed call and a
// number ("chr(123)", "unpack()").
func phpCallArgument(s string) bool {
	t := strings.TrimLeft(s, " ")
	if t != "" && (t[0] == ')' || isDigitByte(t[0])) {
		return true
	}
	return phpArgument(s)
}

// phpUploadName reports a file name PHP would run or load: a PHP
// extension (.php, .php5, .phtml, .phar, .phpt, .pht, .phps, maybe with
// trailing dots, spaces or digits), .user.ini and .htaccess, or a session
// file (sess_...).
func phpUploadName(lname string) bool {
	name := strings.TrimRight(strings.ReplaceAll(lname, " ", ""), ".\t")
	if k := strings.LastIndexAny(name, `/\`); k >= 0 {
		name = name[k+1:]
	}
	if strings.HasPrefix(name, "sess_") && len(name) > 10 || name == ".user.ini" || name == ".htaccess" {
		return true
	}
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 {
		return false
	}
	ext := name[dot+1:]
	ext = strings.TrimRight(ext, "0123456789")
	switch ext {
	case "php", "phtml", "phar", "phpt", "pht", "phps", "pgif", "inc":
		return ext != "inc" || strings.Contains(name, ".php")
	}
	return false
}

// schemeIn reports whether lv holds one of the "name://" URL prefixes of
// schemes anywhere, as strings.Contains would, by looking only before each
// "://" of lv.
func schemeIn(lv string, schemes []string) bool {
	for j := range occurrences(lv, "://") {
		for _, s := range schemes {
			// Compared from the last letter of the name, which rules out
			// most at once ("https" is no wrapper).
			if name := s[:len(s)-3]; j > 0 && lv[j-1] == name[len(name)-1] && strings.HasSuffix(lv[:j], name) {
				return true
			}
		}
	}
	return false
}
