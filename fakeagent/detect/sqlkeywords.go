package detect

import "strings"

// SQL keyword evidence: what libinjection misses because the value is a
// fragment of a query rather than a break-out (a stacked statement, a
// function call, a UNION, a PostgreSQL cast, a NoSQL operator). It works
// on the value lower-cased, with comments removed and whitespace
// compressed (see sqlForm), and looks at words, not substrings: "selection"
// is not "select".

// sqlIdentifiers are names only databases use: system schemas, tables,
// procedures and packages.
var sqlIdentifiers = setOf("information_schema", "sysobjects", "syscolumns", "sysdatabases",
	"sysusers", "pg_catalog", "pg_shadow", "pg_user", "pg_database", "pg_namespace", "pg_tables",
	"pg_sleep", "xp_cmdshell", "xp_regread", "xp_dirtree", "xp_fileexist", "sp_executesql",
	"sp_oacreate", "sp_makewebtask", "sp_password", "sp_configure", "tempdb", "msdb",
	"mysql.user", "mysql.db", "sqlite_master", "sqlite_schema", "sqlite_version",
	"sqlite_compileoption_used", "dbms_pipe", "dbms_lock", "utl_http", "utl_inaddr",
	"all_tables", "user_tables", "v$version", "master..sysdatabases", "@@version", "@@datadir",
	"@@hostname", "@@basedir", "@@servername", "pg_read_file", "pg_ls_dir", "lo_import", "lo_export",
	"waitfor", "dumpfile", "outfile", "sys.tables", "sys.objects", "sys.databases", "sys.columns")

// sqlFunctions are functions of SQL dialects that ordinary text does not
// call; a '(' after the name (spaces and comments allowed) makes a call.
var sqlFunctions = setOf("benchmark", "sleep", "pg_sleep", "extractvalue", "updatexml",
	"group_concat", "concat_ws", "make_set", "find_in_set", "load_file", "unhex", "substring",
	"substr", "ascii", "concat", "compress", "uncompress", "current_user", "session_user",
	"system_user", "db_name", "object_id", "object_name", "schema_name", "xmltype", "json_extract",
	"json_keys", "jsonb_pretty", "jsonb_set", "to_jsonb", "lo_get", "lo_put", "unistr", "strcmp",
	"sysdate", "name_const", "geometrycollection", "multipoint", "multipolygon", "multilinestring",
	"polygon", "linestring", "regexp_substr", "regexp_like", "ifnull", "nullif", "iif",
	"is_srvrolemember", "has_dbaccess", "suser_name", "user_name", "host_name", "char_length",
	"bit_length", "octet_length", "instr", "locate", "position", "elt", "export_set", "md5",
	"sha1", "sha2", "crc32", "from_base64", "to_base64", "aes_decrypt", "aes_encrypt",
	"utl_inaddr.get_host_name", "dbms_pipe.receive_message", "ctxsys.drithsx.sn", "randomblob",
	"zeroblob", "sqlite_compileoption_used", "last_insert_rowid", "procedure", "analyse",
	"row_count", "found_rows", "connection_id", "pg_read_file", "current_database", "uuid_short")

// sqlGluedFunctions are SQL functions named by ordinary words: they count
// only with the '(' glued to the name ("version()", not "Version (2)").
var sqlGluedFunctions = setOf("user", "version", "database", "schema", "char", "chr", "hex",
	"mid", "ord", "rand", "left", "right", "now", "cast", "convert", "exec", "execute", "count",
	"length", "lower", "upper", "reverse", "replace", "coalesce", "if", "floor", "exp", "pow",
	"least", "greatest", "row", "repeat", "space", "trim", "ltrim", "rtrim", "lpad", "rpad", "field")

// sqlStatementStart are the words that start a stacked statement after a
// ';' or a quote break-out.
var sqlStatementStart = setOf("select", "insert", "update", "delete", "drop", "truncate",
	"declare", "exec", "execute", "shutdown", "create", "alter", "replace", "union", "waitfor",
	"grant", "revoke", "rename", "handler", "load", "call", "set", "merge", "copy")

// sqlObjects follow drop/create/alter/truncate in DDL.
var sqlObjects = setOf("table", "database", "view", "procedure", "function", "index", "schema",
	"trigger", "user", "tablespace", "temporary", "or")

// pgCastTypes are PostgreSQL types an injection casts to ("password::int").
var pgCastTypes = setOf("int", "int2", "int4", "int8", "integer", "bigint", "bool", "boolean",
	"text", "varchar", "char", "json", "jsonb", "numeric", "float", "bytea", "regclass", "oid", "xml", "date")

// nosqlOperators are MongoDB query operators, as keys ({"$ne": 1}) or in
// bracket parameter names (u[$ne]=1).
var nosqlOperators = setOf("$ne", "$eq", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$regex",
	"$where", "$exists", "$not", "$nor", "$or", "$and", "$expr", "$elemmatch", "$type", "$all",
	"$size", "$mod", "$text", "$jsonschema", "$function", "$accumulator")

// sqlForm is the value (of class c) as sqlKeywords reads it.
func sqlForm(lv string, c charClass) string {
	s := stripComments(lv, c)
	if c.any(ccSpace|ccHigh) || s != lv {
		s = compressWhitespace(s)
	}
	return s
}

// sqlWord is one word of a value and what follows it.
type sqlWord struct {
	w     string
	start int
	end   int
}

func isSQLWordByte(b byte) bool { return isWordByte(b) || b == '@' || b == '$' || b == '.' }

// sqlKeywords reports SQL (or NoSQL) injection evidence in s, a value
// already in sqlForm, whose characters other than whitespace are of class
// c (the class of the value before sqlForm will do).
func sqlKeywords(s string, c charClass) bool {
	if c.any(ccDollar) && s != "" && s[0] == '$' && nosqlOperators[s] || c.any(ccLBracket) && strings.Contains(s, "[$") && nosqlBracket(s) {
		return true
	}
	// sqlWordEvidence's checks start from a word of sqlVocab, but for the
	// PostgreSQL cast ("x::int").
	if (c.any(ccColon) && strings.Contains(s, "::") || sqlWordIn(s)) && sqlWordEvidence(s) {
		return true
	}
	return sqlQuoteEvidence(s, c)
}

// sqlWordIn reports whether one of the words sqlWordEvidence reads is in
// sqlVocab and stands where one of its checks could match: a function
// before its '(', a statement after a ';', a keyword with what its check
// needs after it (a necessary condition of each check, not the check).
func sqlWordIn(s string) bool {
	for i := 0; i < len(s); {
		for i < len(s) && !isSQLWordByte(s[i]) {
			i++
		}
		start := i
		for i < len(s) && isSQLWordByte(s[i]) {
			i++
		}
		if start == i {
			continue
		}
		w := trimDots(s[start:i])
		if !sqlVocab.has(w) {
			continue
		}
		if sqlWordMay(w, sqlVocab.tag(w), s, start, i) {
			return true
		}
	}
	return false
}

// sqlWordMay reports whether the word w of sqlVocab, of tag t, at
// s[start:end], can meet one of sqlWordEvidence's checks.
func sqlWordMay(w string, t uint16, s string, start, end int) bool {
	after := s[end:]
	switch {
	case t&tagSQLIdentifier != 0,
		t&tagSQLFunction != 0 && strings.HasPrefix(strings.TrimLeft(after, " "), "("),
		t&tagSQLGlued != 0 && strings.HasPrefix(after, "("),
		t&tagSQLStatement != 0 && start > 0 && (s[start-1] == ';' || s[start-1] == ' ' && start > 1 && s[start-2] == ';'):
		return true
	case t&tagSQLKeywordCase == 0:
		return false
	}
	afterSp := strings.TrimLeft(after, " ")
	switch w {
	case "union":
		return strings.Contains(after, "select")
	case "select":
		return strings.Contains(after, "from") || strings.HasPrefix(afterSp, "if(") || strings.Contains(after, "sleep") ||
			strings.Contains(after, "benchmark") || strings.Contains(after, "char") || strings.Contains(after, "group_concat") ||
			strings.Contains(after, "load_file")
	case "insert":
		return strings.Contains(after, "into")
	case "delete", "as":
		return strings.Contains(after, "from")
	case "drop", "create", "alter", "truncate":
		return stmtStart(s, start)
	case "into":
		return strings.Contains(after, "outfile") || strings.Contains(after, "dumpfile")
	case "case":
		return strings.Contains(after, "when")
	case "order", "group":
		return strings.Contains(after, "by")
	case "or", "and", "xor", "where":
		return tautologyAfter(afterSp)
	}
	return true // exec, execute, having, procedure
}

// sqlWordEvidence is sqlKeywords's reading of the words of s: calls, casts,
// UNION SELECT, stacked statements and the like.
func sqlWordEvidence(s string) bool {
	var words [64]sqlWord
	n := 0
	for i := 0; i < len(s) && n < len(words); {
		for i < len(s) && !isSQLWordByte(s[i]) {
			i++
		}
		start := i
		for i < len(s) && isSQLWordByte(s[i]) {
			i++
		}
		if start < i {
			w := trimDots(s[start:i])
			words[n] = sqlWord{w: w, start: start, end: i}
			n++
		}
	}
	ws := words[:n]
	for k, w := range ws {
		after := s[w.end:]
		if strings.HasPrefix(after, "::") && k+1 < len(ws) && ws[k+1].start == w.end+2 && pgCastTypes[ws[k+1].w] {
			return true
		}
		if !sqlVocab.has(w.w) {
			continue // none of the checks below is about this word
		}
		t := sqlVocab.tag(w.w)
		if t&tagSQLIdentifier != 0 {
			return true
		}
		afterSp := strings.TrimLeft(after, " ")
		if strings.HasPrefix(afterSp, "(") && t&tagSQLFunction != 0 || strings.HasPrefix(after, "(") && t&tagSQLGlued != 0 && gluedCallArg(after[1:]) {
			return true
		}
		next := ""
		if k+1 < len(ws) {
			next = ws[k+1].w
		}
		between := ""
		if k+1 < len(ws) {
			between = s[w.end:ws[k+1].start]
		}
		switch w.w {
		case "union":
			if next == "select" || (next == "all" || next == "distinct" || next == "distinctrow") && k+2 < len(ws) && ws[k+2].w == "select" {
				return true
			}
		case "select":
			// select <columns> from, within a few words, in a value that
			// breaks out of something (a quote, a statement end, a comment,
			// a call): "select * from users" alone is a search for it.
			for j := k + 1; j < len(ws) && j <= k+8 && breaksOut(s); j++ {
				if ws[j].w == "from" && j > k+1 || ws[j].w == "from" && strings.ContainsAny(s[w.end:ws[j].start], "*`") {
					return true
				}
			}
			if strings.HasPrefix(afterSp, "if(") || next == "sleep" || next == "benchmark" || next == "pg_sleep" || next == "char" || next == "group_concat" || next == "load_file" {
				return true
			}
		case "insert":
			if next == "into" {
				return true
			}
		case "delete":
			if next == "from" {
				return true
			}
		case "drop", "create", "alter", "truncate":
			if sqlObjects[next] && between == " " && stmtStart(s, w.start) {
				return true
			}
		case "into":
			if next == "outfile" || next == "dumpfile" {
				return true
			}
		case "exec", "execute":
			if next == "master" || strings.HasPrefix(next, "master.") || strings.HasPrefix(next, "xp_") || strings.HasPrefix(next, "sp_") || strings.HasPrefix(afterSp, "(@") {
				return true
			}
		case "case":
			if next == "when" {
				for j := k + 2; j < len(ws) && j <= k+10; j++ {
					if ws[j].w == "then" {
						return true
					}
				}
			}
		case "order", "group":
			if next == "by" && k+2 < len(ws) && (isDigits(ws[k+2].w) || k+3 < len(ws) && (ws[k+3].w == "having" || ws[k+3].w == "asc" || ws[k+3].w == "desc") || strings.ContainsAny(s[ws[k+1].end:ws[k+2].start], "`")) {
				return true
			}
		case "having":
			if k+1 < len(ws) && strings.ContainsAny(s[ws[k+1].end:], "=<>") && strings.ContainsAny(s[w.end:ws[k+1].start], "`(") {
				return true
			}
		case "procedure":
			if next == "analyse" {
				return true
			}
		case "as":
			// "1234 AS "alias" FROM t", "` AS `x` FROM".
			if k+2 < len(ws) && ws[k+2].w == "from" && strings.ContainsAny(s[w.end:ws[k+2].start], "\"`'") {
				return true
			}
		case "or", "and", "xor", "where":
			if tautologyAfter(afterSp) {
				return true
			}
		}
		// A stacked statement: "; select ..." or a quote break-out "';select".
		if w.start > 0 && k+1 < len(ws) && (s[w.start-1] == ';' || s[w.start-1] == ' ' && w.start > 1 && s[w.start-2] == ';') && t&tagSQLStatement != 0 {
			if next != "" && (w.w != "set" && w.w != "call" && w.w != "load" && w.w != "copy" || strings.ContainsAny(s[w.end:], "=@(")) {
				return true
			}
		}
	}
	return false
}

// sqlQuoteEvidence is sqlKeywords's reading of the quotes and casts of s.
func sqlQuoteEvidence(s string, c charClass) bool {
	if !c.any(ccQuote | ccColon) {
		return false
	}
	// A quote breaking out straight into a statement: "'select ...".
	if len(s) > 1 && (s[0] == '\'' || s[0] == '"') {
		w := s[1:]
		if j := strings.IndexAny(w, " (;"); j > 0 {
			w = w[:j]
		}
		if sqlStatementStart[w] && w != "set" && w != "call" && w != "load" && w != "copy" && w != "replace" && len(s) > len(w)+1 && s[len(w)+1] != s[0] {
			return true
		}
	}
	// A PostgreSQL cast of a quoted or parenthesised value: "'[1]'::json".
	for i := strings.Index(s, "::"); c.any(ccColon) && i > 0; {
		if b := s[i-1]; b == '\'' || b == ')' || b == '"' {
			j := i + 2
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			if pgCastTypes[s[i+2:j]] {
				return true
			}
		}
		k := strings.Index(s[i+2:], "::")
		if k < 0 {
			break
		}
		i += 2 + k
	}
	// A quote closed and the statement ended or a comparison of strings:
	// "admin@x.com';", "'x'!='y'".
	if !c.any(ccQuote) {
		return false
	}
	if q := strings.IndexAny(s, "'\"`"); q >= 0 {
		rest := s[q:]
		if strings.HasSuffix(strings.TrimRight(rest, " "), "';") || strings.HasSuffix(strings.TrimRight(rest, " "), `";`) {
			return true
		}
		if strings.Contains(rest, "'!='") || strings.Contains(rest, "'<>'") || strings.Contains(rest, `"!="`) {
			return true
		}
		if strings.Contains(rest, "' regexp ") || strings.Contains(rest, "` regexp ") || strings.Contains(rest, "' like ") {
			return true
		}
		// PostgreSQL JSON operators between quoted operands.
		if strings.Contains(rest, "' ") {
			for _, op := range pgJSONOperators {
				if strings.Contains(rest, op) {
					return true
				}
			}
		}
	}
	return false
}

// pgJSONOperators are PostgreSQL JSON operators after a quoted operand.
var pgJSONOperators = []string{"' @> '", "' <@ '", "' ?| ", "' ?& ", "' #> '", "' #>> '", "' #- '", "' ->> ", "' -> ", "' @? '", "' @@ '", "' || '"}

// sqlKeywordCases are the words sqlKeywords's word checks start from,
// besides its lists.
var sqlKeywordCases = setOf("union", "select", "insert", "delete", "drop", "create", "alter",
	"truncate", "into", "exec", "execute", "case", "order", "group", "having", "procedure", "as",
	"or", "and", "xor", "where")

// sqlVocab is every word sqlKeywords looks at as a word, tagged with the
// lists it is in.
var sqlVocab = newVocab([]map[string]bool{sqlIdentifiers, sqlFunctions, sqlGluedFunctions, sqlStatementStart, sqlKeywordCases})

// The tags of sqlVocab, in the order of its sets.
const (
	tagSQLIdentifier uint16 = 1 << iota
	tagSQLFunction
	tagSQLGlued
	tagSQLStatement
	tagSQLKeywordCase
)

// trimDots is strings.Trim(w, ".").
func trimDots(w string) string {
	for w != "" && w[0] == '.' {
		w = w[1:]
	}
	for w != "" && w[len(w)-1] == '.' {
		w = w[:len(w)-1]
	}
	return w
}

// stmtStart reports whether the word at s[i:] starts a statement: the
// value's start or after ';' or a quote.
func stmtStart(s string, i int) bool {
	before := strings.TrimRight(s[:i], " ")
	return before == "" || strings.HasSuffix(before, ";") || strings.HasSuffix(before, "'") || strings.HasSuffix(before, `"`)
}

// gluedCallArg reports whether what follows "name(" reads as an SQL call
// rather than prose in parentheses: it closes at once, or holds a number,
// a quote, a nested call, @, or a SQL keyword.
func gluedCallArg(s string) bool {
	s = strings.TrimLeft(s, " ")
	if s == "" {
		return true
	}
	switch b := s[0]; {
	case b == ')' || b == '\'' || b == '"' || b == '(' || b == '@' || b == '`' || '0' <= b && b <= '9':
		return true
	}
	i := 0
	for i < len(s) && isWordByte(s[i]) {
		i++
	}
	w := s[:i]
	if w == "select" || w == "sleep" || w == "now" || w == "user" || w == "version" || w == "database" || w == "char" || sqlFunctions[w] {
		return true
	}
	return i > 0 && i < len(s) && (s[i] == '(' || s[i] == '=' || s[i] == ',' && strings.Contains(s[i:], "0x"))
}

// tautologyAfter reports an always-true or always-false comparison after
// or/and: "1=1", "'a'='a", "2>1", "true", "not null", "exists(", "(select".
func tautologyAfter(s string) bool {
	if s == "" {
		return false
	}
	if strings.HasPrefix(s, "true") || strings.HasPrefix(s, "false") || strings.HasPrefix(s, "null") ||
		strings.HasPrefix(s, "exists") || strings.HasPrefix(s, "(select") || strings.HasPrefix(s, "sleep(") ||
		strings.HasPrefix(s, "not ") || strings.HasPrefix(s, "json_") || strings.HasPrefix(s, "{if") || strings.HasPrefix(s, "'{") {
		return true
	}
	i := 0
	if s[0] == '\'' || s[0] == '"' {
		q := s[0]
		j := strings.IndexByte(s[1:], q)
		if j < 0 {
			return false
		}
		i = j + 2
	} else {
		for i < len(s) && (isWordByte(s[i]) || s[i] == '.') {
			i++
		}
		if i == 0 {
			return false
		}
	}
	rest := strings.TrimLeft(s[i:], " ")
	return rest != "" && strings.ContainsRune("=<>!", rune(rest[0])) && (isDigitByte(s[0]) || s[0] == '\'' || s[0] == '"' || len(rest) > 1 && (rest[1] == '\'' || isDigitByte(rest[1])))
}

func isDigitByte(b byte) bool { return '0' <= b && b <= '9' }

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigitByte(s[i]) {
			return false
		}
	}
	return true
}

// nosqlBracket finds "[$op]" with a MongoDB operator, as PHP and Express
// turn u[$ne]=1 into {u: {$ne: 1}}.
func nosqlBracket(s string) bool {
	for {
		i := strings.Index(s, "[$")
		if i < 0 {
			return false
		}
		s = s[i+1:]
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		if nosqlOperators[s[:end]] {
			return true
		}
	}
}

// breaksOut reports the characters an injected query fragment needs to
// leave its context or hide: quotes, ;, parentheses, comments.
func breaksOut(s string) bool {
	return strings.ContainsAny(s, "'\"`;()#") || strings.Contains(s, "/*") || strings.Contains(s, "--")
}
