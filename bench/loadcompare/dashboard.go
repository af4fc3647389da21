package loadcompare

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// VariantUDSDash is VariantUDS with the fake agent's dashboard open: a
// client follows GET /events for the whole run, reading every event, as
// a browser tab showing the dashboard does.
var VariantUDSDash = Variant{Name: "uds-dash", Transport: "unix", Dashboard: true,
	Description: "module, pooled connections, Unix socket, with a dashboard client streaming /events"}

// DashboardCounts are what a dashboard client received.
type DashboardCounts struct {
	Records    uint64 // record events
	Missed     uint64 // events the agent said the client missed (dropped events)
	Stats      uint64 // stats events
	Reconnects uint64
}

// dashboardClient follows an agent's /events like a browser's
// EventSource: it reads every event and reconnects with Last-Event-ID
// when the stream ends.
type dashboardClient struct {
	url    string
	cancel context.CancelFunc
	done   chan struct{}

	records, missed, stats, reconnects atomic.Uint64

	mu      sync.Mutex
	lastErr error
}

// startDashboardClient connects to the admin API at admin and returns once
// the stream has started.
func startDashboardClient(ctx context.Context, admin string) (*dashboardClient, error) {
	ctx, cancel := context.WithCancel(ctx)
	c := &dashboardClient{url: "http://" + admin + "/events", cancel: cancel, done: make(chan struct{})}
	started := make(chan error, 1)
	go c.run(ctx, started)
	select {
	case err := <-started:
		if err != nil {
			cancel()
			<-c.done
			return nil, fmt.Errorf("following %s: %w", c.url, err)
		}
		return c, nil
	case <-time.After(readyTimeout):
		cancel()
		<-c.done
		return nil, fmt.Errorf("following %s: no hello event within %v", c.url, readyTimeout)
	}
}

func (c *dashboardClient) run(ctx context.Context, started chan<- error) {
	defer close(c.done)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	var lastID string
	first := true
	for ctx.Err() == nil {
		err := c.follow(ctx, client, &lastID, func() {
			if first {
				first = false
				started <- nil
			}
		})
		if ctx.Err() != nil {
			return
		}
		if first {
			started <- err
			return
		}
		c.mu.Lock()
		c.lastErr = err
		c.mu.Unlock()
		c.reconnects.Add(1)
		pause(ctx, 100*time.Millisecond) // as EventSource's retry, shortened
	}
}

// follow reads one stream until it ends.
func (c *dashboardClient) follow(ctx context.Context, client *http.Client, lastID *string, onHello func()) error {
	req, err := http.NewRequestWithContext(ctx, "GET", c.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if *lastID != "" {
		req.Header.Set("Last-Event-ID", *lastID)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	var name, id, data string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			switch name {
			case "hello":
				onHello()
			case "record":
				c.records.Add(1)
			case "stats":
				c.stats.Add(1)
			case "dropped":
				var d struct {
					Missed uint64 `json:"missed"`
				}
				if err := json.Unmarshal([]byte(data), &d); err != nil {
					return fmt.Errorf("a dropped event %q: %w", data, err)
				}
				c.missed.Add(d.Missed)
			}
			if id != "" {
				*lastID = id
			}
			name, id, data = "", "", ""
		case strings.HasPrefix(line, "event: "):
			name = line[len("event: "):]
		case strings.HasPrefix(line, "id: "):
			id = line[len("id: "):]
		case strings.HasPrefix(line, "data: "):
			data = line[len("data: "):]
		}
	}
}

// counts returns what the client has received so far.
func (c *dashboardClient) counts() DashboardCounts {
	return DashboardCounts{
		Records:    c.records.Load(),
		Missed:     c.missed.Load(),
		Stats:      c.stats.Load(),
		Reconnects: c.reconnects.Load(),
	}
}

// stop disconnects and returns the last error that made the client
// reconnect, if any.
func (c *dashboardClient) stop() error {
	c.cancel()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}
