package fakeagent

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Start starts a fake agent for a test and shuts it down when the test
// ends, like httptest.NewServer. By default it listens on a Unix socket in
// a fresh temporary directory (WithTCP for TCP), logs warnings and errors
// to the test's output, and is serving when Start returns; the rules are
// loaded as soon as the server runs unless WithStartupDelay says otherwise.
// Any error fails the test.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	// Not t.TempDir(): a Unix socket path must stay under about 100 bytes,
	// and test names make t.TempDir() paths long.
	dir, err := os.MkdirTemp("", "fakeagent-")
	if err != nil {
		t.Fatalf("fakeagent: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })

	cfg := Config{
		Network: "unix",
		Address: filepath.Join(dir, "sigsci.sock"),
		Logger:  slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("fakeagent: %v", err)
	}
	acceptErr, err := s.start()
	if err != nil {
		t.Fatalf("fakeagent: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- s.wait(context.Background(), acceptErr) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if s.stopCtx.Err() == nil { // the test did not shut it down itself
			if err := s.Shutdown(ctx); err != nil {
				t.Errorf("fakeagent: shutdown: %v", err)
			}
		}
		if err := <-served; err != nil {
			t.Errorf("fakeagent: serve: %v", err)
		}
	})
	return s
}
