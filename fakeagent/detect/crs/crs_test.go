package crs

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect"
)

func TestSignal(t *testing.T) {
	for _, c := range []struct {
		name  string
		id    int
		ctype string
		want  []string
	}{
		{"an SQL injection rule is SQLI", 942100, "", []string{detect.SignalSQLI}},
		{"an XSS rule is XSS", 941100, "", []string{detect.SignalXSS}},
		{"a command execution rule is CMDEXE", 932230, "", []string{detect.SignalCMDEXE}},
		{"a file inclusion rule is TRAVERSAL", 930100, "", []string{detect.SignalTraversal}},
		{"the restricted file rule is TRAVERSAL and PRIVATEFILE", 930130, "", []string{detect.SignalTraversal, detect.SignalPrivateFile}},
		{"a PHP rule is CODEINJECTION", 933160, "", []string{detect.SignalCodeInjection}},
		{"a Log4Shell rule is LOG4J-JNDI", 944150, "", []string{detect.SignalLog4JJNDI}},
		{"another Java rule is CODEINJECTION", 944100, "", []string{detect.SignalCodeInjection}},
		{"the SSRF rule is AWS-SSRF", 934110, "", []string{detect.SignalAWSSSRF}},
		{"the scanner rule is USERAGENT", 913100, "", []string{detect.SignalUserAgent}},
		{"the NUL character rule is NULLBYTE", 920270, "", []string{detect.SignalNullByte}},
		{"the empty User-Agent rule is NOUA", 920330, "", []string{detect.SignalNoUA}},
		{"a response splitting rule is RESPONSESPLIT", 921120, "", []string{detect.SignalResponseSplit}},
		{"a JSON body that does not parse is JSON-ERROR", 200002, "application/json", []string{detect.SignalJSONError}},
		{"an XML body that does not parse is XML-ERROR", 200002, "text/xml; charset=utf-8", []string{detect.SignalXMLError}},
		{"a paranoia gate gives nothing", 942011, "", nil},
		{"the blocking evaluation gives nothing", 949110, "", nil},
		{"an RFI rule has no signal of its own", 931100, "", nil},
		{"a rule outside CRS gives nothing", 12345, "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, Signal(c.id, c.ctype))
		})
	}
}

func TestNew(t *testing.T) {
	t.Run("defaults are filled in", func(t *testing.T) {
		d, err := New(Config{})
		require.NoError(t, err)
		assert.Equal(t, Config{Paranoia: DefaultParanoia, Threshold: DefaultThreshold}, d.Config())
	})
	t.Run("a paranoia level out of range is an error", func(t *testing.T) {
		_, err := New(Config{Paranoia: 5})
		require.ErrorContains(t, err, "paranoia level 5")
	})
	t.Run("a negative threshold is an error", func(t *testing.T) {
		_, err := New(Config{Threshold: -1})
		require.ErrorContains(t, err, "threshold -1")
	})
}

func TestDetect(t *testing.T) {
	d, err := New(Config{})
	require.NoError(t, err)
	req := func(uri string) *detect.Request {
		return &detect.Request{Method: "GET", URI: uri, RemoteAddr: "203.0.113.7", Headers: [][2]string{
			{"Host", "shop.example.com"},
			{"User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"},
			{"Accept", "text/html"},
		}}
	}
	t.Run("an SQL injection is SQLI and blocks", func(t *testing.T) {
		f := d.Detect(req("/search?q=1'+UNION+SELECT+password+FROM+users--"))
		assert.True(t, f.Block)
		assert.Contains(t, f.Signals(), detect.SignalSQLI)
	})
	t.Run("a benign request has no signal and passes", func(t *testing.T) {
		f := d.Detect(req("/products?id=42&sort=price"))
		assert.False(t, f.Block)
		assert.Empty(t, f.Signals())
	})
	t.Run("a threshold above the score tags without blocking", func(t *testing.T) {
		lax, err := New(Config{Threshold: 1000})
		require.NoError(t, err)
		f := lax.Detect(req("/search?q=%3Cscript%3Ealert(1)%3C/script%3E"))
		assert.False(t, f.Block)
		assert.Contains(t, f.Signals(), detect.SignalXSS)
	})
}
