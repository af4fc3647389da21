package faults

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// attackQuery is the SQL injection that the fake agent blocks with 406.
var attackQuery = "/?q=" + url.QueryEscape("1' OR '1'='1")

// benignPaths are the requests that must always be answered 200.
var benignPaths = []string{"/", "/headers", "/?page=2"}

// loadConfig shapes a steady load. Every load is bounded both in time and
// in number of requests.
type loadConfig struct {
	workers       int           // concurrent keep-alive clients
	attackEvery   int           // one request in attackEvery is an attack
	pace          time.Duration // a worker starts a request at most this often; 0: back to back
	maxDuration   time.Duration
	maxRequests   int64
	clientTimeout time.Duration // a request taking longer counts as failed
	// formBody, if set, makes every request a POST of this form body to /
	// (attacks in the query string): a body the module sends the agent.
	formBody string
}

// faultLoad is the load of the fault suite: 16 workers, one attack in 10,
// each worker at most one request per 2ms so that the suite leaves CPU
// to the packages tested beside it.
var faultLoad = loadConfig{
	workers:       16,
	attackEvery:   10,
	pace:          2 * time.Millisecond,
	maxDuration:   60 * time.Second,
	maxRequests:   400_000,
	clientTimeout: 10 * time.Second,
}

// sample is one request's outcome, kept small: a soak keeps millions.
type sample struct {
	at      time.Duration // when it started, since the load started
	latency time.Duration
	status  int16 // 0 when no response came
	attack  bool
	errID   int32 // the transport error, an index into load.errTexts plus one
}

// load sends requests to an app from several workers until stopped.
type load struct {
	cfg       loadConfig
	start     time.Time
	transport *http.Transport
	client    *http.Client
	sent      atomic.Int64
	stopC     chan struct{}
	stopOnce  sync.Once
	wg        sync.WaitGroup
	done      chan struct{} // closed once every worker has returned

	mu       sync.Mutex
	samples  []sample
	errTexts []string         // distinct transport errors, by errID-1
	errIDs   map[string]int32 // errTexts' indexes plus one
}

// startLoad starts cfg.workers workers sending to baseURL.
func startLoad(baseURL string, cfg loadConfig) *load {
	tr := &http.Transport{
		MaxIdleConns:        cfg.workers,
		MaxIdleConnsPerHost: cfg.workers,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	l := &load{
		cfg:       cfg,
		start:     time.Now(),
		transport: tr,
		client:    &http.Client{Transport: tr, Timeout: cfg.clientTimeout},
		stopC:     make(chan struct{}),
		done:      make(chan struct{}),
		errIDs:    make(map[string]int32),
	}
	for w := range cfg.workers {
		l.wg.Add(1)
		go l.work(baseURL, w)
	}
	go func() {
		l.wg.Wait()
		close(l.done)
	}()
	return l
}

// elapsed is the time since the load started: the clock of samples.
func (l *load) elapsed() time.Duration { return time.Since(l.start) }

func (l *load) work(baseURL string, worker int) {
	defer l.wg.Done()
	deadline := l.start.Add(l.cfg.maxDuration)
	var own []sample
	defer func() {
		l.mu.Lock()
		l.samples = append(l.samples, own...)
		l.mu.Unlock()
	}()
	next := time.Now()
	for i := worker; ; i++ {
		select {
		case <-l.stopC:
			return
		default:
		}
		if time.Now().After(deadline) || l.sent.Add(1) > l.cfg.maxRequests {
			return
		}
		attack := l.cfg.attackEvery > 0 && i%l.cfg.attackEvery == 0
		path := benignPaths[i%len(benignPaths)]
		if l.cfg.formBody != "" {
			path = "/" // the only route that takes a POST
		}
		if attack {
			path = attackQuery
		}
		own = append(own, l.do(baseURL+path, attack))

		if l.cfg.pace > 0 {
			next = next.Add(l.cfg.pace)
			wait := time.Until(next)
			if wait <= 0 {
				next = time.Now() // behind: don't burst to catch up
				continue
			}
			t := time.NewTimer(wait)
			select {
			case <-l.stopC:
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// do sends one request and reads the whole answer.
func (l *load) do(u string, attack bool) sample {
	s := sample{at: l.elapsed(), attack: attack}
	start := time.Now()
	var resp *http.Response
	var err error
	if l.cfg.formBody != "" {
		resp, err = l.client.Post(u, "application/x-www-form-urlencoded", strings.NewReader(l.cfg.formBody))
	} else {
		resp, err = l.client.Get(u)
	}
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		s.status = int16(resp.StatusCode)
	}
	s.latency = time.Since(start)
	if err != nil {
		s.status, s.errID = 0, l.errID(err.Error())
	}
	return s
}

// errID numbers a distinct transport error.
func (l *load) errID(text string) int32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	id, ok := l.errIDs[text]
	if !ok {
		l.errTexts = append(l.errTexts, text)
		id = int32(len(l.errTexts))
		l.errIDs[text] = id
	}
	return id
}

// samples are a load's outcomes, in the order the requests started.
type samples struct {
	list     []sample
	errTexts []string
}

// stop ends the load, waits for the requests in flight and returns every
// sample. The clients' idle connections are closed, so that the app can
// be measured at rest.
func (l *load) stop() samples {
	l.stopOnce.Do(func() { close(l.stopC) })
	<-l.done
	l.transport.CloseIdleConnections()
	l.mu.Lock()
	defer l.mu.Unlock()
	slices.SortFunc(l.samples, func(a, b sample) int { return int(a.at - b.at) })
	return samples{list: l.samples, errTexts: slices.Clone(l.errTexts)}
}

// runFor lets the load run for d, or less if it reaches its own bounds.
// It is the length of a load phase, not a wait for some state.
func (l *load) runFor(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-l.done:
	}
}

// tally counts the samples started in [from, to).
type tally struct {
	sent, ok, blocked, failed int
	attacks, attacksBlocked   int
	benignBlocked             int // benign requests answered 406: never right
	fast                      int // answered within the fast threshold
	p50, p90, p99, max        time.Duration
	failures                  map[string]int // what the failed requests got
}

// everything is a window that holds every sample.
const everything = time.Duration(1<<63 - 1)

// tallyOf counts the samples that started in [from, to); fast is the
// latency under which a request counts as fast.
func tallyOf(ss samples, from, to, fast time.Duration) tally {
	t := tally{failures: make(map[string]int)}
	var lat []time.Duration
	for _, s := range ss.list {
		if s.at < from || s.at >= to {
			continue
		}
		t.sent++
		lat = append(lat, s.latency)
		if s.latency < fast {
			t.fast++
		}
		if s.attack {
			t.attacks++
		}
		switch {
		case s.status == http.StatusOK:
			t.ok++
		case s.status == http.StatusNotAcceptable && s.attack:
			t.blocked++
			t.attacksBlocked++
		case s.status == http.StatusNotAcceptable:
			t.blocked++
			t.benignBlocked++
			t.failed++
			t.failures["benign request answered 406"]++
		case s.status == 0:
			t.failed++
			t.failures[ss.errTexts[s.errID-1]]++
		default:
			t.failed++
			t.failures[fmt.Sprintf("status %d", s.status)]++
		}
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		at := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
		t.p50, t.p90, t.p99, t.max = at(0.50), at(0.90), at(0.99), lat[len(lat)-1]
	}
	return t
}

// String is the tally on one line, for logs.
func (t tally) String() string {
	s := fmt.Sprintf("sent %d, 200: %d, 406: %d (attacks %d of %d), failed %d; latency p50 %v p90 %v p99 %v max %v",
		t.sent, t.ok, t.blocked, t.attacksBlocked, t.attacks, t.failed,
		round(t.p50), round(t.p90), round(t.p99), round(t.max))
	if len(t.failures) > 0 {
		s += "; failures: " + t.failureSummary()
	}
	return s
}

// failureSummary lists the commonest failures first, at most five.
func (t tally) failureSummary() string {
	kinds := make([]string, 0, len(t.failures))
	for k := range t.failures {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return t.failures[kinds[i]] > t.failures[kinds[j]] })
	var parts []string
	for _, k := range kinds[:min(5, len(kinds))] {
		parts = append(parts, fmt.Sprintf("%d× %s", t.failures[k], k))
	}
	return strings.Join(parts, "; ")
}

// round shortens a latency for display.
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
