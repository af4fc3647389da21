package module

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// h2Server serves h over HTTP/2 (TLS), with a client for it.
func h2Server(t *testing.T, h http.Handler) (*httptest.Server, *http.Client) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, srv.Client()
}

func TestAStreamingBodyIsNeverHeldPastTheTimeout(t *testing.T) {
	a := startAgent(t, "unix")
	// The handler answers at once, then echoes the whole request body.
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("handler reading the body: %v", err)
		}
		w.Write(b)
	})
	for _, tc := range []struct {
		name   string
		length int64 // -1: unknown
	}{
		{"a stream of unknown length", -1},
		{"a stream with a declared length", int64(len("first part;second part"))},
	} {
		t.Run(tc.name+" reaches the handler whole, and the agent without its body", func(t *testing.T) {
			m := a.module(t, echo, AllowUnknownContentLength(true), Timeout(50*time.Millisecond))
			srv, client := h2Server(t, m)

			// Fail rather than hang if the module waits for the body.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			pr, pw := io.Pipe()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/stream", pr)
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/grpc")
			req.ContentLength = tc.length
			go pw.Write([]byte("first part;"))

			resp, err := client.Do(req) // returns once the handler answered
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, "HTTP/2.0", resp.Proto)

			in := <-a.pres
			assert.Empty(t, in.PostBody, "the body had not ended within the timeout")
			assert.Equal(t, uint64(1), m.Stats().BodyTimeouts)

			go func() {
				pw.Write([]byte("second part"))
				pw.Close()
			}()
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, "first part;second part", string(b), "the handler saw every byte in order")
		})
	}
	t.Run("a short HTTP/2 body that ends in time is inspected", func(t *testing.T) {
		m := a.module(t, echo, AllowUnknownContentLength(true))
		srv, client := h2Server(t, m)
		const body = "q=1' OR '1'='1"
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/form", io.NopCloser(strings.NewReader(body)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, body, (<-a.pres).PostBody)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, body, string(b))
		assert.Zero(t, m.Stats().BodyTimeouts)
	})
	t.Run("an unknown length over MaxContentLength is passed through", func(t *testing.T) {
		m := a.module(t, echo, AllowUnknownContentLength(true), MaxContentLength(8))
		srv, client := h2Server(t, m)
		body := strings.Repeat("x", 100_000)
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/big", io.NopCloser(strings.NewReader(body)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Empty(t, (<-a.pres).PostBody)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, len(body), len(b))
		assert.True(t, string(b) == body)
	})
}
