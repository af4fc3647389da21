// Package loadcompare measures what inspection costs a real deployment:
// it builds helloworld and the fake agent, runs them as separate processes
// (helloworld bare, and with the module over a Unix socket and over TCP,
// pooled and with a connection per call), drives each with a closed-loop
// HTTP load generator on loopback in interleaved, repeated rounds, and
// reports throughput, latency percentiles, CPU per request, TIME_WAIT
// sockets and agent calls per variant, as Markdown, JSON and a chart.
package loadcompare

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Variant is one way of running helloworld.
type Variant struct {
	Name        string
	Transport   string // "", "unix" or "tcp": the agent's network; "" is bare
	ConnPerCall bool
	Agent       string // AgentNative (""), AgentZero or AgentCRS
	Dashboard   bool   // a client follows the fake agent's /events during the run (see VariantUDSDash)
	Description string
}

// The agents a variant can run against.
const (
	AgentNative = ""     // the fake agent with its native engine
	AgentZero   = "zero" // the zero-cost agent (ServeZeroAgent): the floor
	AgentCRS    = "crs"  // the fake agent with -fake-engine crs: the real agent's cost profile
)

// Bare reports whether the variant runs without the module.
func (v Variant) Bare() bool { return v.Transport == "" }

// The variants, in report order.
var (
	VariantBare   = Variant{Name: "bare", Description: "helloworld without the module"}
	VariantUDS    = Variant{Name: "uds", Transport: "unix", Description: "module, pooled connections, Unix socket"}
	VariantTCP    = Variant{Name: "tcp", Transport: "tcp", Description: "module, pooled connections, TCP loopback"}
	VariantUDSCPC = Variant{Name: "uds-cpc", Transport: "unix", ConnPerCall: true, Description: "module, a connection per call (upstream's way), Unix socket"}
	VariantTCPCPC = Variant{Name: "tcp-cpc", Transport: "tcp", ConnPerCall: true, Description: "module, a connection per call (upstream's way), TCP loopback"}
	VariantZero   = Variant{Name: "uds-zero", Transport: "unix", Agent: AgentZero, Description: "module, pooled, Unix socket, against a zero-cost agent (no inspection: the module's own cost)"}
	VariantCRS    = Variant{Name: "uds-crs", Transport: "unix", Agent: AgentCRS, Description: "module, pooled, Unix socket, against the fake agent's CRS engine (Coraza)"}

	AllVariants = []Variant{VariantBare, VariantUDS, VariantTCP, VariantUDSCPC, VariantTCPCPC, VariantZero, VariantCRS, VariantUDSDash}
)

// ParseVariants parses a comma-separated list of variant names, keeping
// the report order.
func ParseVariants(s string) ([]Variant, error) {
	want := map[string]bool{}
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.ContainsFunc(AllVariants, func(v Variant) bool { return v.Name == name }) {
			return nil, fmt.Errorf("variant %q: want one of %s", name, variantNames(AllVariants))
		}
		want[name] = true
	}
	var vs []Variant
	for _, v := range AllVariants {
		if want[v.Name] {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("no variants in %q", s)
	}
	return vs, nil
}

func variantNames(vs []Variant) string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.Name
	}
	return strings.Join(names, ",")
}

// Request kinds the load generator can send.
const (
	RequestGet  = "get"  // GET / with a few browser-like headers
	RequestPost = "post" // POST / with a 1 KB JSON body
)

// Config is one load comparison.
type Config struct {
	OutDir      string        // where report.md, results.json and the charts go
	Variants    []Variant     // default AllVariants
	Conns       []int         // concurrent connections; default 1 and 32
	Rounds      int           // default 3
	Duration    time.Duration // measured time per variant, connection count and round; default 5s
	Warmup      time.Duration // unmeasured load before each measurement; default 500ms
	MaxRequests uint64        // bound on the requests of one measurement; default 5,000,000
	Client      string        // ClientRaw (default) or ClientNetHTTP
	Request     string        // RequestGet (default) or RequestPost

	AgentTimeout time.Duration // helloworld -timeout; 0: its default
	MaxConns     int           // helloworld -max-conns; 0: its default

	// RPCDuration is how long each PreRequest round trip measurement
	// (sequential calls from this process to the agent process) runs;
	// 0 skips them.
	RPCDuration time.Duration

	// QuietThreshold, when positive, is the quiet gate: a measurement
	// during which the rest of the machine used more than this share of a
	// core (percent) is measured again, up to QuietRetries times, after
	// waiting for quiet; the waiting adds up to at most QuietBudget over the
	// whole run (default 15 minutes). Before the round trip measurements
	// the comparison also waits for quiet.
	QuietThreshold float64
	QuietRetries   int
	QuietBudget    time.Duration

	// EchoArgv runs an echo server (see RunEchoMain) for the raw
	// ping-pong floor measured next to the PreRequest round trips; nil
	// skips it.
	EchoArgv []string

	// ZeroAgentArgv runs the zero-cost agent (see RunZeroAgentMain) for
	// the variants with AgentZero; it must be set when they are compared.
	ZeroAgentArgv []string

	// HelloworldBin and FakeAgentBin, when set, are used instead of
	// building the commands: to compare a prototype or another branch.
	HelloworldBin, FakeAgentBin string

	GoCmd       string // go command; default GoCommand()
	Root        string // the project's root; default FindRoot()
	CommandLine string // how the comparison was started, for the report
}

func (c *Config) setDefaults() error {
	if len(c.Variants) == 0 {
		c.Variants = AllVariants
	}
	if len(c.Conns) == 0 {
		c.Conns = []int{1, 32}
	}
	for _, n := range c.Conns {
		if n < 1 {
			return fmt.Errorf("connection count %d: must be at least 1", n)
		}
	}
	if c.Rounds == 0 {
		c.Rounds = 3
	}
	if c.Rounds < 1 {
		return fmt.Errorf("rounds %d: must be at least 1", c.Rounds)
	}
	if c.Duration == 0 {
		c.Duration = 5 * time.Second
	}
	if c.Duration < 0 || c.Warmup < 0 || c.RPCDuration < 0 {
		return fmt.Errorf("durations must not be negative")
	}
	if c.QuietThreshold < 0 || c.QuietRetries < 0 || c.QuietBudget < 0 {
		return fmt.Errorf("the quiet gate's settings must not be negative")
	}
	if c.QuietThreshold > 0 && c.QuietBudget == 0 {
		c.QuietBudget = 15 * time.Minute
	}
	if c.MaxRequests == 0 {
		c.MaxRequests = 5_000_000
	}
	if c.Client == "" {
		c.Client = ClientRaw
	}
	if c.Client != ClientRaw && c.Client != ClientNetHTTP {
		return fmt.Errorf("client %q: want %q or %q", c.Client, ClientRaw, ClientNetHTTP)
	}
	if c.Request == "" {
		c.Request = RequestGet
	}
	if c.Request != RequestGet && c.Request != RequestPost {
		return fmt.Errorf("request %q: want %q or %q", c.Request, RequestGet, RequestPost)
	}
	for _, v := range c.Variants {
		if v.Agent == AgentZero && len(c.ZeroAgentArgv) == 0 {
			return fmt.Errorf("variant %s needs the zero-cost agent, and ZeroAgentArgv is not set", v.Name)
		}
	}
	if c.GoCmd == "" {
		c.GoCmd = GoCommand()
	}
	if c.OutDir == "" {
		return fmt.Errorf("no output directory")
	}
	return nil
}

// JSONBody is the 1 KB JSON body of RequestPost: an ordinary API call,
// nothing the agent should flag.
var JSONBody = func() []byte {
	s := `{"order":{"id":"6f1c2a7e-4b1d-4e0a-9d3c-2f9b8e7a1c55","customer":{"name":"Ada Lovelace",` +
		`"email":"ada@example.org","phone":"+44 20 7946 0958","address":{"street":"12 St James's Square",` +
		`"city":"London","postcode":"SW1Y 4JH","country":"GB"}},"lines":[{"sku":"BK-0042","title":"Notes on ` +
		`the Analytical Engine","qty":1,"price":24.5},{"sku":"PN-0007","title":"Fountain pen","qty":2,` +
		`"price":12.75},{"sku":"NB-0100","title":"Squared notebook, A5","qty":5,"price":3.2}],"currency":"GBP",` +
		`"delivery":{"method":"standard","instructions":"Leave with the concierge if nobody answers."},` +
		`"payment":{"method":"card","last4":"1881","token":"tok_9xQ2mB7vL4kP1sT6"},"marketing":{"source":` +
		`"newsletter","campaign":"autumn","consent":true},"created":"2024-10-01T09:15:00Z"}}`
	for len(s) < 1024 {
		s += " "
	}
	return []byte(s)
}()

// loadRequest is the request the load generator sends for kind.
func loadRequest(kind string) Request {
	h := [][2]string{
		{"User-Agent", "loadcompare/1 (ngwaf-helloworld bench)"},
		{"Accept", "text/plain, */*"},
		{"Accept-Encoding", "identity"},
	}
	if kind == RequestPost {
		h = append(h, [2]string{"Content-Type", "application/json"})
		return Request{Method: "POST", Path: "/", Header: h, Body: JSONBody}
	}
	return Request{Method: "GET", Path: "/", Header: h}
}
