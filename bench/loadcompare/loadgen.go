package loadcompare

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Request is the HTTP request a load run sends again and again.
type Request struct {
	Method string
	Path   string
	Header [][2]string // besides Host (and Content-Length with a body)
	Body   []byte
}

// wire returns r as HTTP/1.1 bytes for host, ready to write as is.
func (r Request) wire(host string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", r.Method, r.Path, host)
	for _, kv := range r.Header {
		fmt.Fprintf(&b, "%s: %s\r\n", kv[0], kv[1])
	}
	if len(r.Body) > 0 || r.Method == http.MethodPost || r.Method == http.MethodPut {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(r.Body))
	}
	b.WriteString("\r\n")
	b.Write(r.Body)
	return b.Bytes()
}

// Load generator clients.
const (
	// ClientRaw writes pre-encoded HTTP/1.1 requests on persistent
	// connections and parses just enough of each response (status,
	// Content-Length or chunked framing) to find its end: a cheap client,
	// so that as much of the machine as possible is left to the server.
	ClientRaw = "raw"
	// ClientNetHTTP uses net/http's client with keep-alive.
	ClientNetHTTP = "nethttp"
)

// LoadConfig is one closed-loop load run: Conns workers, each with its own
// persistent connection, send a request, wait for the whole response and
// send the next one, until Duration has passed or MaxRequests were sent.
type LoadConfig struct {
	Addr        string // host:port of the server (loopback)
	Request     Request
	Conns       int
	Duration    time.Duration
	MaxRequests uint64        // bound on requests sent in the run, all workers together
	Timeout     time.Duration // bound on one request; default 10s
	Client      string        // ClientRaw (default) or ClientNetHTTP
}

// LoadResult is what a load run measured.
type LoadResult struct {
	Requests        uint64        // requests that got a complete response or failed
	OK              uint64        // responses with status 200
	Non200          uint64        // complete responses with another status
	TransportErrors uint64        // dial, write, read or framing failures
	Elapsed         time.Duration // from the first request to the last response
	Latency         *hdrhistogram.Histogram
	FirstError      string // the first transport error or unexpected status, for the log
}

// Errors is the number of requests that did not get a 200.
func (r *LoadResult) Errors() uint64 { return r.Non200 + r.TransportErrors }

// Throughput is requests per second.
func (r *LoadResult) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// newLatencyHistogram records from 1µs to 60s in nanoseconds, 3
// significant digits.
func newLatencyHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1_000, 60_000_000_000, 3)
}

// recordLatency records d, clamped to the histogram's range.
func recordLatency(h *hdrhistogram.Histogram, d time.Duration) {
	v := max(int64(d), h.LowestTrackableValue())
	v = min(v, h.HighestTrackableValue())
	_ = h.RecordValue(v) // within range: cannot fail
}

// roundTripper is one worker's connection to the server.
type roundTripper interface {
	roundTrip(ctx context.Context) (status int, err error)
	close()
}

// RunLoad runs one load run. It stops by itself after Duration (requests
// in flight then are completed, bounded by Timeout) or MaxRequests, or
// when ctx is done.
func RunLoad(ctx context.Context, cfg LoadConfig) (*LoadResult, error) {
	if cfg.Conns < 1 {
		return nil, fmt.Errorf("load: %d connections: want at least 1", cfg.Conns)
	}
	if cfg.Duration <= 0 {
		return nil, fmt.Errorf("load: duration %v: must be positive", cfg.Duration)
	}
	if cfg.MaxRequests == 0 {
		cfg.MaxRequests = 50_000_000
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	var newRT func() roundTripper
	switch cfg.Client {
	case "", ClientRaw:
		wire := cfg.Request.wire(cfg.Addr)
		newRT = func() roundTripper { return &rawConn{addr: cfg.Addr, req: wire, timeout: cfg.Timeout} }
	case ClientNetHTTP:
		tr := &http.Transport{
			MaxIdleConns:        cfg.Conns,
			MaxIdleConnsPerHost: cfg.Conns,
			MaxConnsPerHost:     cfg.Conns,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr, Timeout: cfg.Timeout}
		newRT = func() roundTripper { return &netHTTPConn{client: client, addr: cfg.Addr, req: cfg.Request} }
	default:
		return nil, fmt.Errorf("load: client %q: want %q or %q", cfg.Client, ClientRaw, ClientNetHTTP)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		sent     atomic.Uint64
		wg       sync.WaitGroup
		results  = make([]LoadResult, cfg.Conns)
		start    = time.Now()
		deadline = start.Add(cfg.Duration)
		endNanos atomic.Int64
	)
	for i := range cfg.Conns {
		wg.Add(1)
		go func(res *LoadResult) {
			defer wg.Done()
			res.Latency = newLatencyHistogram()
			rt := newRT()
			defer rt.close()
			for ctx.Err() == nil && time.Now().Before(deadline) && sent.Add(1) <= cfg.MaxRequests {
				t0 := time.Now()
				status, err := rt.roundTrip(ctx)
				t1 := time.Now()
				res.Requests++
				switch {
				case err != nil:
					res.TransportErrors++
					if res.FirstError == "" {
						res.FirstError = err.Error()
					}
					if ctx.Err() == nil && time.Now().Before(deadline) {
						// Don't spin on a server that refuses connections.
						pause(ctx, time.Millisecond)
					}
					continue
				case status == http.StatusOK:
					res.OK++
				default:
					res.Non200++
					if res.FirstError == "" {
						res.FirstError = fmt.Sprintf("status %d", status)
					}
				}
				recordLatency(res.Latency, t1.Sub(t0))
				for { // the run ends with its last response
					e := endNanos.Load()
					if t1.UnixNano() <= e || endNanos.CompareAndSwap(e, t1.UnixNano()) {
						break
					}
				}
			}
		}(&results[i])
	}
	wg.Wait()

	total := &LoadResult{Latency: newLatencyHistogram()}
	for i := range results {
		r := &results[i]
		total.Requests += r.Requests
		total.OK += r.OK
		total.Non200 += r.Non200
		total.TransportErrors += r.TransportErrors
		if total.FirstError == "" {
			total.FirstError = r.FirstError
		}
		total.Latency.Merge(r.Latency)
	}
	total.Elapsed = time.Since(start)
	if e := endNanos.Load(); e > 0 {
		total.Elapsed = time.Unix(0, e).Sub(start)
	}
	return total, ctx.Err()
}

// pause waits d or until ctx is done.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// rawConn is the ClientRaw round tripper: one persistent connection,
// redialed after an error or a "Connection: close".
type rawConn struct {
	addr    string
	req     []byte
	timeout time.Duration
	conn    net.Conn
	br      *bufio.Reader
}

func (c *rawConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

func (c *rawConn) roundTrip(ctx context.Context) (int, error) {
	if c.conn == nil {
		d := net.Dialer{Timeout: c.timeout}
		conn, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return 0, err
		}
		c.conn = conn
		if c.br == nil {
			c.br = bufio.NewReaderSize(conn, 16<<10)
		} else {
			c.br.Reset(conn)
		}
	}
	if err := c.conn.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		c.close()
		return 0, err
	}
	if _, err := c.conn.Write(c.req); err != nil {
		c.close()
		return 0, fmt.Errorf("writing request: %w", err)
	}
	status, keepAlive, err := readResponse(c.br)
	if err != nil {
		c.close()
		return 0, err
	}
	if !keepAlive {
		c.close()
	}
	return status, nil
}

var errMalformedResponse = errors.New("malformed HTTP response")

// readResponse reads one HTTP/1.x response from br and discards its body.
// keepAlive is false when the server will close the connection.
func readResponse(br *bufio.Reader) (status int, keepAlive bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, false, fmt.Errorf("reading status line: %w", err)
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, fmt.Errorf("%w: status line %q", errMalformedResponse, line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("%w: status line %q", errMalformedResponse, line)
	}
	keepAlive = line[7] == '1' // HTTP/1.1 defaults to keep-alive
	contentLength, chunked := int64(-1), false
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, false, fmt.Errorf("reading headers: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, fmt.Errorf("%w: header line %q", errMalformedResponse, line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if contentLength, err = strconv.ParseInt(string(value), 10, 64); err != nil || contentLength < 0 {
				return 0, false, fmt.Errorf("%w: Content-Length %q", errMalformedResponse, value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keepAlive = false
			} else if bytes.EqualFold(value, []byte("keep-alive")) {
				keepAlive = true
			}
		}
	}
	switch {
	case status/100 == 1 || status == http.StatusNoContent || status == http.StatusNotModified:
		return status, keepAlive, nil
	case chunked:
		return status, keepAlive, discardChunked(br)
	case contentLength >= 0:
		if _, err := br.Discard(int(contentLength)); err != nil {
			return 0, false, fmt.Errorf("reading body: %w", err)
		}
		return status, keepAlive, nil
	default: // the body runs until the server closes the connection
		if _, err := io.Copy(io.Discard, br); err != nil {
			return 0, false, fmt.Errorf("reading body: %w", err)
		}
		return status, false, nil
	}
}

// discardChunked reads and drops a chunked body and its trailers.
func discardChunked(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("reading chunk size: %w", err)
		}
		sizeText, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		size, err := strconv.ParseInt(string(bytes.TrimSpace(sizeText)), 16, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("%w: chunk size %q", errMalformedResponse, line)
		}
		if size == 0 {
			for { // trailers, up to the empty line
				line, err := br.ReadSlice('\n')
				if err != nil {
					return fmt.Errorf("reading trailers: %w", err)
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err := br.Discard(int(size) + 2); err != nil { // data and CRLF
			return fmt.Errorf("reading chunk: %w", err)
		}
	}
}

// netHTTPConn is the ClientNetHTTP round tripper; the shared transport
// keeps up to Conns connections alive.
type netHTTPConn struct {
	client *http.Client
	addr   string
	req    Request
}

func (c *netHTTPConn) close() {}

func (c *netHTTPConn) roundTrip(ctx context.Context) (int, error) {
	var body io.Reader
	if len(c.req.Body) > 0 {
		body = bytes.NewReader(c.req.Body)
	}
	req, err := http.NewRequestWithContext(ctx, c.req.Method, "http://"+c.addr+c.req.Path, body)
	if err != nil {
		return 0, err
	}
	for _, kv := range c.req.Header {
		req.Header.Add(kv[0], kv[1])
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, fmt.Errorf("reading body: %w", err)
	}
	return resp.StatusCode, nil
}
