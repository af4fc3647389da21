package conformance

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// EchoApp returns an application that answers the suite's contract, for
// a Go module under test to wrap (and for the suite's own tests): on any
// path, upstream mtest's query parameters response_code, response_time
// (milliseconds), size and echo; GET /headers answers the X-Sigsci-*
// request headers as a JSON object. It trusts its client: serve it to the
// suite only.
func EchoApp() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/headers" {
			serveHeaders(w, r)
			return
		}
		q := r.URL.Query()
		body := []byte("OK")
		if n, err := strconv.Atoi(q.Get("size")); err == nil && n >= 0 {
			body = bytes.Repeat([]byte{'a'}, n)
		}
		if q.Get("echo") != "" {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
				return
			}
			body = b
		}
		if n, err := strconv.Atoi(q.Get("response_time")); err == nil && n > 0 {
			t := time.NewTimer(time.Duration(n) * time.Millisecond)
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			}
		}
		code := http.StatusOK
		if n, err := strconv.Atoi(q.Get("response_code")); err == nil && n >= 200 && n <= 599 {
			code = n
		}
		if code >= 300 && code < 400 {
			w.Header().Set("Location", "/")
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(code)
		_, _ = w.Write(body)
	})
}

func serveHeaders(w http.ResponseWriter, r *http.Request) {
	keys := make([]string, 0)
	for k := range r.Header {
		if strings.HasPrefix(k, "X-Sigsci-") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		out[k] = strings.Join(r.Header.Values(k), ", ")
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
