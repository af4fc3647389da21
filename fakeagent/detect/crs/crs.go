// Package crs is the fake agent's second inspection engine: the OWASP Core
// Rule Set v4 (github.com/corazawaf/coraza-coreruleset) evaluated by Coraza
// (github.com/corazawaf/coraza/v3), behind detect.Detector. A request is
// blocked when CRS's inbound anomaly score reaches the threshold (or Coraza
// refuses its body), and every matched rule is reported as the Next-Gen WAF
// signal its family stands for (see Signal).
//
// Building the rule set takes about a second and tens of megabytes, so a
// Detector is built once and shared; each request gets its own Coraza
// transaction.
package crs

import (
	"fmt"
	"strings"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect"
)

// Defaults and bounds of the options.
const (
	DefaultParanoia  = 1 // CRS's own default: the fewest false positives
	DefaultThreshold = 5 // CRS's default inbound anomaly threshold: one critical rule
	MaxParanoia      = 4
)

// Config selects how strict CRS is.
type Config struct {
	// Paranoia is CRS's blocking paranoia level, 1 to 4; 0 means
	// DefaultParanoia.
	Paranoia int
	// Threshold is the inbound anomaly score at or above which a request is
	// blocked; 0 means DefaultThreshold. A critical rule scores 5, an error
	// 4, a warning 3, a notice 2.
	Threshold int
}

// Detector runs CRS on requests. It is safe for concurrent use.
type Detector struct {
	waf coraza.WAF
	cfg Config
}

// New builds the rule set once for cfg.
func New(cfg Config) (*Detector, error) {
	if cfg.Paranoia == 0 {
		cfg.Paranoia = DefaultParanoia
	}
	if cfg.Threshold == 0 {
		cfg.Threshold = DefaultThreshold
	}
	if cfg.Paranoia < 1 || cfg.Paranoia > MaxParanoia {
		return nil, fmt.Errorf("crs: paranoia level %d is out of range (1 to %d)", cfg.Paranoia, MaxParanoia)
	}
	if cfg.Threshold < 1 {
		return nil, fmt.Errorf("crs: anomaly threshold %d must be at least 1", cfg.Threshold)
	}
	// Coraza's recommended base (body processors by content type), then our
	// overrides: the engine always enforces (detect's mode decides what
	// the agent answers), no response inspection, no audit log, and the
	// paranoia level and threshold before CRS's initialization reads them.
	directives := fmt.Sprintf(`Include @coraza.conf-recommended
SecRuleEngine On
SecResponseBodyAccess Off
SecAuditEngine Off
SecRequestBodyLimitAction ProcessPartial
Include @crs-setup.conf.example
SecAction "id:900000,phase:1,pass,nolog,setvar:tx.blocking_paranoia_level=%d"
SecAction "id:900110,phase:1,pass,nolog,setvar:tx.inbound_anomaly_score_threshold=%d,setvar:tx.outbound_anomaly_score_threshold=4"
Include @owasp_crs/*.conf
`, cfg.Paranoia, cfg.Threshold)
	waf, err := coraza.NewWAF(coraza.NewWAFConfig().WithRootFS(coreruleset.FS).WithDirectives(directives))
	if err != nil {
		return nil, fmt.Errorf("crs: building the rule set (paranoia %d, threshold %d): %w", cfg.Paranoia, cfg.Threshold, err)
	}
	return &Detector{waf: waf, cfg: cfg}, nil
}

// Config reports the detector's configuration, defaults filled in.
func (d *Detector) Config() Config { return d.cfg }

// Detect evaluates req in a transaction of its own: connection, URI,
// headers, then body (phases 1 and 2; the response is never seen).
func (d *Detector) Detect(req *detect.Request) detect.Findings {
	tx := d.waf.NewTransaction()
	defer func() {
		tx.ProcessLogging()
		_ = tx.Close()
	}()
	tx.ProcessConnection(req.RemoteAddr, 0, "", 0)
	method := req.Method
	if method == "" {
		method = "GET"
	}
	tx.ProcessURI(req.URI, method, "HTTP/1.1")
	var contentType string
	for _, h := range req.Headers {
		tx.AddRequestHeader(h[0], h[1])
		if strings.EqualFold(h[0], "Host") {
			tx.SetServerName(h[1])
		}
		if contentType == "" && strings.EqualFold(h[0], "Content-Type") {
			contentType = h[1]
		}
	}
	it := tx.ProcessRequestHeaders()
	if it == nil && req.Body != "" {
		if it2, _, err := tx.WriteRequestBody([]byte(req.Body)); err == nil && it2 != nil {
			it = it2
		}
	}
	if it == nil {
		// An error here is a body Coraza could not process; rule 200002
		// reports it as REQBODY_ERROR in the same phase.
		it, _ = tx.ProcessRequestBody()
	}
	var f detect.Findings
	f.Block = it != nil
	for _, m := range tx.MatchedRules() {
		for _, s := range Signal(m.Rule().ID(), contentType) {
			f.Add(s)
		}
	}
	return f
}

// Signal returns the Next-Gen WAF signals a matched CRS rule stands for:
// by family (942 SQLI, 941 XSS, 932 CMDEXE, 930 TRAVERSAL, 933
// CODEINJECTION, 944 Java: LOG4J-JNDI for the Log4Shell rules,
// CODEINJECTION otherwise, 934 generic: AWS-SSRF for server-side request
// forgery, CODEINJECTION otherwise, 913 USERAGENT), and for the protocol
// rules that have an anomaly signal of their own (920, 921, and Coraza's
// body parser rule 200002: JSON-ERROR or XML-ERROR by contentType). CRS's
// bookkeeping rules (9xx0xx paranoia gates, 901 setup, 949 and 980
// evaluation) and rules without an equivalent signal (911, 922, 931, 943)
// give none.
func Signal(id int, contentType string) []string {
	if id == 200002 {
		media := strings.ToLower(contentType)
		switch {
		case strings.Contains(media, "json"):
			return []string{detect.SignalJSONError}
		case strings.Contains(media, "xml"):
			return []string{detect.SignalXMLError}
		}
		return nil
	}
	if id < 900000 || id > 999999 || id%1000 < 100 {
		return nil
	}
	switch id / 1000 {
	case 942:
		return []string{detect.SignalSQLI}
	case 941:
		return []string{detect.SignalXSS}
	case 932:
		return []string{detect.SignalCMDEXE}
	case 930:
		if id == 930130 {
			return []string{detect.SignalTraversal, detect.SignalPrivateFile}
		}
		return []string{detect.SignalTraversal}
	case 933:
		return []string{detect.SignalCodeInjection}
	case 944:
		switch id {
		case 944150, 944151, 944152:
			return []string{detect.SignalLog4JJNDI}
		}
		return []string{detect.SignalCodeInjection}
	case 934:
		switch id {
		case 934110, 934190:
			return []string{detect.SignalAWSSSRF}
		}
		return []string{detect.SignalCodeInjection}
	case 913:
		return []string{detect.SignalUserAgent}
	case 920:
		switch id {
		case 920270:
			return []string{detect.SignalNullByte}
		case 920250:
			return []string{detect.SignalNotUTF8}
		case 920230:
			return []string{detect.SignalDoubleEncoding}
		case 920320, 920330:
			return []string{detect.SignalNoUA}
		case 920340, 920640:
			return []string{detect.SignalNoContentType}
		case 920440, 920500:
			return []string{detect.SignalPrivateFile}
		}
	case 921:
		switch id {
		case 921120, 921130, 921140, 921150, 921151, 921160:
			return []string{detect.SignalResponseSplit}
		}
	}
	return nil
}

var _ detect.Detector = (*Detector)(nil)
