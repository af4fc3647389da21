// Command loadgen sends steady HTTP load to one URL until SIGTERM or
// SIGINT, then prints a JSON summary of what it got. The Kubernetes node
// suite (deploy/k8s) runs it as a second process while it restarts the
// app, to count failed requests.
//
//	loadgen -url http://127.0.0.1:30080/ -rate 50
//
// It prints "ready" on stdout after its first good response, and the
// summary ({"total":...,"failed":...}) when stopped.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// summary is what loadgen prints when it stops.
type summary struct {
	URL      string         `json:"url"`
	Rate     int            `json:"rate"`
	Seconds  float64        `json:"seconds"`
	Total    int            `json:"total"`
	Failed   int            `json:"failed"`
	Statuses map[string]int `json:"statuses"`
	Errors   []string       `json:"errors,omitempty"` // the first few
	MaxMs    float64        `json:"max_ms"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	url := fs.String("url", "", "`URL` to GET")
	rate := fs.Int("rate", 50, "requests per second")
	want := fs.Int("want", http.StatusOK, "the status that counts as success")
	timeout := fs.Duration("timeout", 5*time.Second, "per-request timeout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" || *rate < 1 {
		return fmt.Errorf("-url is required and -rate must be positive (got %q, %d)", *url, *rate)
	}
	client := &http.Client{Timeout: *timeout}
	s := summary{URL: *url, Rate: *rate, Statuses: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var ready sync.Once
	record := func(status string, err error, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		s.Total++
		s.Statuses[status]++
		if ms := float64(d.Microseconds()) / 1000; ms > s.MaxMs {
			s.MaxMs = ms
		}
		if err != nil {
			s.Failed++
			if len(s.Errors) < 10 {
				s.Errors = append(s.Errors, fmt.Sprintf("%s: %v", time.Now().UTC().Format(time.RFC3339Nano), err))
			}
			return
		}
		ready.Do(func() { fmt.Fprintln(stdout, "ready") })
	}
	one := func() {
		defer wg.Done()
		start := time.Now()
		resp, err := client.Get(*url)
		if err != nil {
			record("error", err, time.Since(start))
			return
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		status := fmt.Sprint(resp.StatusCode)
		if err == nil && resp.StatusCode != *want {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		record(status, err, time.Since(start))
	}
	began := time.Now()
	tick := time.NewTicker(time.Second / time.Duration(*rate))
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
			wg.Add(1)
			go one()
		}
	}
	wg.Wait()
	s.Seconds = time.Since(began).Seconds()
	if err := json.NewEncoder(stdout).Encode(s); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("printing the summary: %w", err)
	}
	return nil
}
