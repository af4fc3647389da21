package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The echo parameters are those of upstream's mtest example, which the
// vendor's module tests drive: any request may carry them in its query.
const (
	paramResponseCode = "response_code" // answer with this status (200-599)
	paramResponseTime = "response_time" // answer after this many milliseconds
	paramSize         = "size"          // answer this many bytes of 'a'
	paramEcho         = "echo"          // answer the request body itself (any non-empty value)
)

// Bounds on the echo parameters, so that a client cannot hold a request
// past the server's write timeout or make it allocate without limit.
const (
	maxResponseTime = 10 * time.Second
	maxSize         = 16 << 20
	maxEchoBody     = 16 << 20
)

// echoParams are the echo parameters of one request; zero fields are
// unset.
type echoParams struct {
	code  int
	delay time.Duration
	size  int
	sized bool
	echo  bool
}

// set reports whether any echo parameter was given.
func (p echoParams) set() bool { return p.code != 0 || p.delay != 0 || p.sized || p.echo }

// parseEcho reads the echo parameters from a query; a malformed or
// out-of-range value is an error naming the parameter and its range.
func parseEcho(q url.Values) (echoParams, error) {
	var p echoParams
	num := func(name string, lo, hi int) (int, bool, error) {
		v := q.Get(name)
		if v == "" {
			return 0, false, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return 0, false, fmt.Errorf("%s %q: want an integer from %d to %d", name, v, lo, hi)
		}
		return n, true, nil
	}
	var err error
	if p.code, _, err = num(paramResponseCode, 200, 599); err != nil {
		return p, err
	}
	ms, _, err := num(paramResponseTime, 0, int(maxResponseTime/time.Millisecond))
	if err != nil {
		return p, err
	}
	p.delay = time.Duration(ms) * time.Millisecond
	if p.size, p.sized, err = num(paramSize, 0, maxSize); err != nil {
		return p, err
	}
	p.echo = q.Get(paramEcho) != ""
	return p, nil
}

// serve answers r as mtest does: after the delay, with the status (a 3xx
// gets a Location), and with the body asked for ("OK" by default).
func (p echoParams) serve(w http.ResponseWriter, r *http.Request) {
	body := []byte("OK")
	switch {
	case p.echo:
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEchoBody))
		if err != nil {
			http.Error(w, "reading the request body to echo: "+err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		body = b
	case p.sized:
		body = bytes.Repeat([]byte{'a'}, p.size)
	}
	if p.delay > 0 {
		t := time.NewTimer(p.delay)
		select {
		case <-t.C:
		case <-r.Context().Done(): // the client went away
			t.Stop()
			return
		}
	}
	code := http.StatusOK
	if p.code != 0 {
		code = p.code
	}
	if code >= 300 && code < 400 {
		w.Header().Set("Location", "/")
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
