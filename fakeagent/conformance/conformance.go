// Package conformance is a conformance suite for Next-Gen WAF (Signal
// Sciences) modules, in any language: it runs a fake agent, drives an
// application wrapped by the module under test over HTTP, and reports
// check by check what the module does with the agent's answers (allow,
// block, redirect, request headers, RespActions), which request bodies it
// sends, which background calls it makes after the response, and whether
// it fails open when the agent hangs, errors, drops the connection or is
// down.
//
// The application must be configured to dial the suite's agent address,
// and must answer the echo routes of upstream's mtest example:
//
//   - any path takes the query parameters response_code (answer with this
//     status; a 3xx also sets a Location header), response_time (answer
//     after this many milliseconds), size (answer this many bytes) and
//     echo (answer the request body itself); without them it answers 200;
//   - GET /headers answers a JSON object of the X-Sigsci-* request headers
//     the application received from the module (name to value), so that
//     the suite can see what the module told the application.
//
// Run returns a Report: text (WriteText) or JSON (WriteJSON). It passes
// when every required check passes; informational checks describe what
// the module does where the protocol leaves a choice.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent"
)

// Defaults of Config.
const (
	// DefaultAgentAddress is the real agent's rpc-address in its
	// container image (and the fake agent's).
	DefaultAgentAddress = fakeagent.DefaultAddress
	// DefaultRequestTimeout bounds each request to the application.
	DefaultRequestTimeout = 10 * time.Second
	// DefaultSettle is how long the suite waits for a module's background
	// call (UpdateRequest, PostRequest) after the response.
	DefaultSettle = 5 * time.Second
	// DefaultAppWait is how long the suite waits, once its agent is up,
	// for the application to answer and its module to call the agent.
	DefaultAppWait = 30 * time.Second
)

// Config configures a run of the suite.
type Config struct {
	// App is the application's base URL, e.g. http://127.0.0.1:8000.
	App string
	// AgentAddress is where the suite's fake agent listens, and so where
	// the application's module must dial: "/path", "unix:/path",
	// "host:port" or "tcp:host:port". Default DefaultAgentAddress.
	AgentAddress string
	// RequestTimeout bounds each request to the application. Default
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Settle bounds the wait for each background call. Default
	// DefaultSettle.
	Settle time.Duration
	// AppWait bounds the wait for the application at the start. Default
	// DefaultAppWait.
	AppWait time.Duration
	// Logger receives the fake agent's logs. Default: discard.
	Logger *slog.Logger
	// Client sends the requests; its CheckRedirect and Timeout are
	// replaced. Default: a client of its own.
	Client *http.Client
}

// Run runs the suite against cfg.App. The error is for a run that could
// not take place (a bad configuration, an address already in use, an
// application that never answered or whose module never called the
// agent); a module that fails checks is a Report with Passed false.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	s, err := newSuite(cfg)
	if err != nil {
		return nil, err
	}
	defer s.close()
	if err := s.agent.start(fakeagent.Faults{}); err != nil {
		return nil, err
	}
	if err := s.waitForApp(ctx); err != nil {
		return nil, err
	}
	for _, c := range checks {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("conformance: %w", ctx.Err())
		}
		res := c.run(ctx, s)
		res.ID, res.Title, res.Required = c.id, c.title, c.required
		if res.Status == "" {
			res.Status = StatusInfo
		}
		s.report.Checks = append(s.report.Checks, res)
	}
	s.report.Duration = time.Since(s.report.Started)
	s.report.Passed = true
	for _, r := range s.report.Checks {
		if r.Required && r.Status != StatusPass {
			s.report.Passed = false
		}
	}
	return s.report, nil
}

// suite is the state of one run.
type suite struct {
	cfg    Config
	app    *url.URL
	client *http.Client
	agent  *agent
	report *Report
	seq    int

	// Tokens of earlier checks that later ones look at.
	tokens map[string]string
	// main is the agent of the first phase (no faults), for the checks
	// that look at everything it saw.
	main *fakeagent.Server
}

func newSuite(cfg Config) (*suite, error) {
	if cfg.App == "" {
		return nil, errors.New("conformance: no application URL")
	}
	app, err := url.Parse(strings.TrimRight(cfg.App, "/"))
	if err != nil || (app.Scheme != "http" && app.Scheme != "https") || app.Host == "" {
		return nil, fmt.Errorf("conformance: application URL %q: want http://host:port", cfg.App)
	}
	if cfg.AgentAddress == "" {
		cfg.AgentAddress = DefaultAgentAddress
	}
	network, address, err := fakeagent.ParseAddress(cfg.AgentAddress)
	if err != nil {
		return nil, fmt.Errorf("conformance: agent address: %w", err)
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Settle <= 0 {
		cfg.Settle = DefaultSettle
	}
	if cfg.AppWait <= 0 {
		cfg.AppWait = DefaultAppWait
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	if cfg.Client != nil {
		c := *cfg.Client
		client = &c
	}
	client.Timeout = cfg.RequestTimeout
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s := &suite{
		cfg:    cfg,
		app:    app,
		client: client,
		agent:  &agent{network: network, address: address, rules: rules(), log: cfg.Logger},
		report: &Report{App: app.String(), Started: time.Now()},
		tokens: make(map[string]string),
	}
	return s, nil
}

func (s *suite) close() {
	_ = s.agent.stop()
	s.client.CloseIdleConnections()
}

// token returns a new token for a request of case c.
func (s *suite) token(c string) string {
	s.seq++
	return c + "." + strconv.Itoa(s.seq)
}

// waitForApp waits until the application answers and its module has
// called the agent: the checks then start from a module that inspects.
func (s *suite) waitForApp(ctx context.Context) error {
	s.report.Agent = s.agent.String()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.AppWait)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	answered := false
	for {
		tok := s.token("ready")
		ex := s.send(ctx, request{path: "/response", token: tok, query: url.Values{"response_code": {"200"}}})
		if ex.err == nil {
			answered = true
			if rec := s.find(tok); rec != nil {
				s.main = s.agent.srv
				s.report.Agent = s.agent.String()
				s.report.ModuleVersion = rec.In.ModuleVersion
				s.report.ServerVersion = rec.In.ServerVersion
				return nil
			}
		} else {
			lastErr = ex.err
		}
		select {
		case <-ctx.Done():
			if !answered {
				return fmt.Errorf("conformance: the application at %s did not answer within %v: %w", s.app, s.cfg.AppWait, lastErr)
			}
			return fmt.Errorf("conformance: the application at %s answers, but its module sent no PreRequest to %s within %v: is the module configured with that agent address?",
				s.app, s.agent, s.cfg.AppWait)
		case <-tick.C:
		}
	}
}

// request is one request the suite sends to the application.
type request struct {
	method      string // default GET
	path        string // default /response
	token       string // set as the conformance query parameter
	query       url.Values
	header      http.Header
	body        []byte
	contentType string
	chunked     bool // send the body without a Content-Length
}

// exchange is a request's outcome.
type exchange struct {
	status  int
	header  http.Header
	body    []byte
	elapsed time.Duration
	err     error
}

func (s *suite) url(r request) string {
	q := url.Values{}
	for k, v := range r.query {
		q[k] = v
	}
	if r.token != "" {
		q.Set(tokenParam, r.token)
	}
	path := r.path
	if path == "" {
		path = "/response"
	}
	u := s.app.String() + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// send sends r and reads the whole answer.
func (s *suite) send(ctx context.Context, r request) exchange {
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if r.body != nil {
		body = strings.NewReader(string(r.body))
		if r.chunked {
			body = io.MultiReader(body) // hides the length
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url(r), body)
	if err != nil {
		return exchange{err: err}
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		return exchange{err: err, elapsed: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return exchange{status: resp.StatusCode, header: resp.Header, body: b, elapsed: time.Since(start), err: err}
}

// find returns the running agent's record of the request with token tok:
// its PreRequest (with whatever came after it), or else a PostRequest the
// agent could not match to one; nil when there is none.
func (s *suite) find(tok string) *fakeagent.Record {
	return findIn(s.agent.requests(), tok)
}

func findIn(recs []fakeagent.Record, tok string) *fakeagent.Record {
	var post *fakeagent.Record
	for i := range recs {
		if tokenOf(recs[i].In.URI) != tok {
			continue
		}
		if recs[i].Pre {
			return &recs[i]
		}
		post = &recs[i]
	}
	return post
}

// findPost returns the PostRequest or UpdateRequest of the request with
// token tok: on its PreRequest's record when the agent matched them, else
// on a record of its own (matched false).
func (s *suite) findPost(tok string) (resp *fakeagent.Response, matched bool) {
	recs := s.agent.requests()
	for i := range recs {
		r := &recs[i]
		if tokenOf(r.In.URI) != tok || r.Response == nil {
			continue
		}
		if r.Pre {
			return r.Response, true
		}
		resp = r.Response
	}
	return resp, false
}

// tokenOf returns the conformance parameter of a request URI.
func tokenOf(uri string) string {
	_, query, ok := strings.Cut(uri, "?")
	if !ok {
		return ""
	}
	q, _ := url.ParseQuery(query) // a partly malformed query still has our parameter
	return q.Get(tokenParam)
}

// waitFor polls cond until it holds or the settle time is over, and
// reports whether it held.
func (s *suite) waitFor(ctx context.Context, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Settle)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return cond()
		case <-tick.C:
		}
	}
}
