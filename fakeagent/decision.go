package fakeagent

import (
	"container/list"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect"
)

// DecisionMode is how attack signals become blocks (Config.Decision).
type DecisionMode string

// The decision modes.
const (
	// DecisionImmediate blocks every request with an attack signal at once
	// (in blocking mode), as the real agent does for attack signals set to
	// block immediately. The default.
	DecisionImmediate DecisionMode = "immediate"
	// DecisionThreshold blocks like the real agent's attack thresholds: a
	// client IP is flagged once its requests with attack signals reach a
	// threshold within its interval (Config.Thresholds); from the next
	// request on, for Config.FlagDuration, its requests carry
	// SignalFlaggedIP and those with attack signals are blocked (in
	// blocking mode; logged in not-blocking mode). Before that, attacks
	// are tagged and let through.
	DecisionThreshold DecisionMode = "threshold"
)

// ParseDecisionMode accepts "immediate" or "threshold"; "" is
// DecisionImmediate.
func ParseDecisionMode(s string) (DecisionMode, error) {
	switch DecisionMode(s) {
	case "", DecisionImmediate:
		return DecisionImmediate, nil
	case DecisionThreshold:
		return DecisionThreshold, nil
	}
	return "", fmt.Errorf("unknown decision mode %q (valid: immediate, threshold)", s)
}

// Threshold flags a client IP whose requests with attack signals reach
// Limit within Interval (a sliding window).
type Threshold struct {
	Interval time.Duration `json:"interval_ns"`
	Limit    int           `json:"limit"`
}

// String returns "1m0s:50".
func (t Threshold) String() string { return fmt.Sprintf("%v:%d", t.Interval, t.Limit) }

// DefaultThresholds are the real agent's default attack thresholds ("Configuring attack
// thresholds" in the Next-Gen WAF docs): 50 in 1 minute, 350 in 10 minutes, 1,800 in 1 hour.
// Requests count once however many attack signals they carry; anomaly and custom signals alone
// do not count.
var DefaultThresholds = []Threshold{
	{Interval: time.Minute, Limit: 50},
	{Interval: 10 * time.Minute, Limit: 350},
	{Interval: time.Hour, Limit: 1800},
}

// DefaultFlagDuration is how long the real agent keeps an IP flagged by
// default: 24 hours.
const DefaultFlagDuration = 24 * time.Hour

// SignalFlaggedIP is the signal the requests of a flagged IP carry (the
// real agent's "Site Flagged IP" anomaly signal).
const SignalFlaggedIP = "SITE-FLAGGED-IP"

// DefaultClientIPHeader is the header the real agent takes the client IP
// from by default (client-ip-header).
const DefaultClientIPHeader = "X-Forwarded-For"

// NoClientIPHeader, as Config.ClientIPHeader, takes the client IP from
// RemoteAddr alone.
const NoClientIPHeader = "-"

// DefaultMaxTrackedIPs bounds the client IPs whose counts are kept for
// thresholds and rate limits; the least recently seen is forgotten first.
const DefaultMaxTrackedIPs = 10000

// clientIP returns the client IP for rules and thresholds: the first
// address in the header named header when it holds a valid one (the
// leftmost X-Forwarded-For entry is the original client), else
// RemoteAddr; a port is dropped either way.
func clientIP(headers [][2]string, header, remoteAddr string) string {
	if header != "" && header != NoClientIPHeader {
		for _, kv := range headers {
			if !strings.EqualFold(kv[0], header) {
				continue
			}
			first, _, _ := strings.Cut(kv[1], ",")
			if ip, ok := parseIP(first); ok {
				return ip
			}
			break
		}
	}
	if ip, ok := parseIP(remoteAddr); ok {
		return ip
	}
	return remoteAddr
}

// parseIP reads an IP, with or without a port, IPv6 with or without
// brackets; it returns the IP in canonical form.
func parseIP(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", false
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		if a.Is4() && s[0] != '[' {
			return s, true // already canonical; saves an allocation per request
		}
		return a.Unmap().String(), true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.Unmap().String(), true
		}
	}
	return "", false
}

// FlaggedIP is a client IP flagged by the attack thresholds.
type FlaggedIP struct {
	IP        string    `json:"ip"`
	Flagged   time.Time `json:"flagged"`
	Until     time.Time `json:"until"`
	Threshold Threshold `json:"threshold"` // the one it reached
}

// policy turns the engine's verdict into the agent's answer where that
// takes state: attack thresholds and rate limits, per client IP. The
// engine stays stateless.
type policy struct {
	mode         DecisionMode
	blocking     bool // the engine runs in blocking mode
	thresholds   []Threshold
	flagDuration time.Duration
	rateLimits   []RateLimit
	maxIPs       int

	mu    sync.Mutex
	ips   map[string]*list.Element // client IP -> *ipState in lru
	lru   list.List                // least recently seen first
	flags uint64
}

// ipState is what is counted for one client IP.
type ipState struct {
	ip      string
	attacks window // requests with attack signals
	flagged *FlaggedIP
	limits  []rateState // one per RateLimit
}

type rateState struct {
	hits  window
	until time.Time // limited before this time
}

func newPolicy(cfg *Config) *policy {
	p := &policy{
		mode:         cfg.Decision,
		blocking:     cfg.Mode == detect.ModeBlocking,
		thresholds:   cfg.Thresholds,
		flagDuration: cfg.FlagDuration,
		rateLimits:   cfg.RateLimits,
		maxIPs:       cfg.MaxTrackedIPs,
		ips:          make(map[string]*list.Element),
	}
	return p
}

// verdict is a decision the policy may change.
type verdict struct {
	WAFResponse int32
	Signals     []string // sorted, unique
	RuleDecided bool     // a block, allow or redirect rule decided: the policy does not overrule it
	Note        string   // what the policy did, for the record
}

// apply applies thresholds and rate limits to v, the engine's verdict on
// a request from ip at now.
func (p *policy) apply(ip string, now time.Time, v *verdict) {
	if p.mode != DecisionThreshold && len(p.rateLimits) == 0 {
		return
	}
	attack := slices.ContainsFunc(v.Signals, detect.IsAttack)
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.stateLocked(ip)
	var notes []string

	if p.mode == DecisionThreshold {
		if st.flagged != nil && !now.Before(st.flagged.Until) {
			st.flagged = nil
		}
		wasFlagged := st.flagged != nil
		if attack {
			st.attacks.add(now, p.maxLimit())
			if !wasFlagged {
				for _, t := range p.thresholds {
					if n := st.attacks.count(now, t.Interval); n >= t.Limit {
						st.flagged = &FlaggedIP{IP: ip, Flagged: now, Until: now.Add(p.flagDuration), Threshold: t}
						p.flags++
						notes = append(notes, fmt.Sprintf("threshold: %s flagged: %d requests with attack signals in %v (limit %d), until %s",
							ip, n, t.Interval, t.Limit, st.flagged.Until.UTC().Format(time.RFC3339)))
						break
					}
				}
			}
		}
		if st.flagged != nil {
			v.Signals = addSignal(v.Signals, SignalFlaggedIP)
		}
		switch {
		case v.RuleDecided:
		case wasFlagged && attack && p.blocking:
			v.WAFResponse = 406
			notes = append(notes, fmt.Sprintf("threshold: blocked: %s is flagged until %s",
				ip, st.flagged.Until.UTC().Format(time.RFC3339)))
		case attack && v.WAFResponse != 200:
			// Below the thresholds an attack is tagged, not blocked.
			v.WAFResponse = 200
			if len(notes) == 0 {
				notes = append(notes, fmt.Sprintf("threshold: allowed: %s is not flagged", ip))
			}
		}
	}

	for i, rl := range p.rateLimits {
		rs := &st.limits[i]
		counts := rl.Signal == "" || slices.Contains(v.Signals, rl.Signal)
		limited := now.Before(rs.until)
		if counts && !limited {
			rs.hits.add(now, rl.Threshold+1)
			if n := rs.hits.count(now, rl.Interval); n > rl.Threshold {
				rs.until = now.Add(rl.Duration)
				limited = true
				notes = append(notes, fmt.Sprintf("rate limit %s: %s limited: %d requests in %v (limit %d), until %s",
					rl.ID, ip, n, rl.Interval, rl.Threshold, rs.until.UTC().Format(time.RFC3339)))
			}
		}
		if !limited || (rl.Block != RateLimitBlockAll && !counts) {
			continue
		}
		switch {
		case rl.Action == RateLimitLog || !p.blocking:
			notes = append(notes, fmt.Sprintf("rate limit %s: logged", rl.ID))
		case v.RuleDecided:
			notes = append(notes, fmt.Sprintf("rate limit %s: not applied, a rule decided", rl.ID))
		case v.WAFResponse != 200:
			notes = append(notes, fmt.Sprintf("rate limit %s: already blocked", rl.ID))
		default:
			v.WAFResponse = int32(rl.Code)
			notes = append(notes, fmt.Sprintf("rate limit %s: blocked with %d until %s", rl.ID, rl.Code, rs.until.UTC().Format(time.RFC3339)))
		}
	}
	v.Note = strings.Join(notes, "; ")
}

func (p *policy) maxLimit() int {
	n := 1
	for _, t := range p.thresholds {
		n = max(n, t.Limit)
	}
	return n
}

// stateLocked returns the state of ip, making it the most recently seen
// and forgetting the least recently seen beyond maxIPs.
func (p *policy) stateLocked(ip string) *ipState {
	if el, ok := p.ips[ip]; ok {
		p.lru.MoveToBack(el)
		return el.Value.(*ipState)
	}
	for len(p.ips) >= p.maxIPs {
		old := p.lru.Remove(p.lru.Front()).(*ipState)
		delete(p.ips, old.ip)
	}
	st := &ipState{ip: ip, limits: make([]rateState, len(p.rateLimits))}
	p.ips[ip] = p.lru.PushBack(st)
	return st
}

// flagged lists the IPs flagged at now, in order of flagging.
func (p *policy) flagged(now time.Time) []FlaggedIP {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []FlaggedIP
	for el := p.lru.Front(); el != nil; el = el.Next() {
		if f := el.Value.(*ipState).flagged; f != nil && now.Before(f.Until) {
			out = append(out, *f)
		}
	}
	slices.SortFunc(out, func(a, b FlaggedIP) int { return a.Flagged.Compare(b.Flagged) })
	return out
}

// window holds the times of the last events, at most a cap of them, for
// counting those within a sliding interval.
type window struct {
	times []time.Time // oldest first
}

// add records an event at now, keeping at most keep events.
func (w *window) add(now time.Time, keep int) {
	if len(w.times) >= keep {
		w.times = slices.Delete(w.times, 0, len(w.times)-keep+1)
	}
	w.times = append(w.times, now)
}

// count returns how many events happened in (now-interval, now].
func (w *window) count(now time.Time, interval time.Duration) int {
	from := now.Add(-interval)
	i, _ := slices.BinarySearchFunc(w.times, from, func(t, target time.Time) int {
		if !t.After(target) {
			return -1
		}
		return 1
	})
	return len(w.times) - i
}

// addSignal inserts s into the sorted, unique signals.
func addSignal(signals []string, s string) []string {
	i, found := slices.BinarySearch(signals, s)
	if found {
		return signals
	}
	return slices.Insert(slices.Clone(signals), i, s)
}

// FlaggedIPs returns the client IPs flagged by the attack thresholds now
// (DecisionThreshold), in order of flagging.
func (s *Server) FlaggedIPs() []FlaggedIP { return s.policy.flagged(s.clock.Now()) }
