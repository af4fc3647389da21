package loadcompare

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestDashboardClientCountsEventsAndResumes(t *testing.T) {
	lastIDs := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/events" {
			http.NotFound(w, r)
			return
		}
		lastIDs <- r.Header.Get("Last-Event-ID")
		w.Header().Set("Content-Type", "text/event-stream")
		if r.Header.Get("Last-Event-ID") == "" {
			// The first stream: two records, a gap, one more, then it ends.
			fmt.Fprint(w, "retry: 2000\n\nevent: hello\ndata: {}\n\nevent: stats\ndata: {}\n\n"+
				"event: record\nid: 1\ndata: {\"seq\":1}\n\nevent: record\nid: 2\ndata: {\"seq\":2}\n\n"+
				"event: dropped\ndata: {\"missed\":3,\"resume\":6}\n\nevent: record\nid: 6\ndata: {\"seq\":6}\n\n")
			return
		}
		fmt.Fprint(w, "event: hello\ndata: {}\n\nevent: record\nid: 7\ndata: {\"seq\":7}\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()

	c, err := startDashboardClient(context.Background(), strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"", "6"} {
		select {
		case got := <-lastIDs:
			if got != want {
				t.Errorf("Last-Event-ID %q, want %q", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no request with Last-Event-ID %q", want)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.counts().Records < 4 && time.Now().Before(deadline) {
		pause(context.Background(), 10*time.Millisecond)
	}
	err = c.stop()
	got := c.counts()
	want := DashboardCounts{Records: 4, Missed: 3, Stats: 1, Reconnects: 1}
	if got != want {
		t.Errorf("counts %+v, want %+v", got, want)
	}
	if err == nil {
		t.Error("the end of the first stream was not reported")
	}
}

func TestDashboardClientFailsWhenThereIsNoFeed(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	if _, err := startDashboardClient(context.Background(), strings.TrimPrefix(srv.URL, "http://")); err == nil ||
		!strings.Contains(err.Error(), "404") {
		t.Errorf("got %v, want a 404 error", err)
	}
}
