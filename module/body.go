package module

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"time"
	"unsafe"
)

// readBody returns the request body to send to the agent ("" when the rules
// say not to), and leaves r.Body able to replay every byte to the handler,
// including a read error at the same point.
//
// A body is sent when its length is known and between 1 and
// MaxContentLength, or unknown and allowed, and then found to fit; and when
// its Content-Type is one the agent inspects, or is missing, repeated, a
// list or unparseable. At most MaxContentLength
// bytes (plus one, to tell that an unknown length is over the limit) are
// ever buffered.
func (m *Module) readBody(r *http.Request) string {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return ""
	}
	limit := m.config.maxContentLength
	switch {
	case r.ContentLength > limit:
		return ""
	case r.ContentLength < 0 && !m.config.allowUnknownContentLength:
		return ""
	case !m.config.inspectableTypes(r.Header.Values("Content-Type")):
		return ""
	}

	if r.ContentLength < 0 || r.ProtoMajor >= 2 {
		return m.prefetchBody(r, limit)
	}
	buf := make([]byte, r.ContentLength)
	n, err := io.ReadFull(r.Body, buf)
	buf = buf[:n]
	orig := r.Body
	if err != nil {
		// The client went away or sent less than it declared: the handler
		// sees the same bytes, then the same error.
		r.Body = &replayBody{Reader: io.MultiReader(bytes.NewReader(buf), errReader{err}), closer: orig}
		return ""
	}
	// The whole body is in buf. Keep the original for Close only.
	r.Body = &replayBody{Reader: bytes.NewReader(buf), closer: orig}
	// buf is never written again; the string shares its memory rather
	// than copy up to MaxContentLength bytes.
	return unsafe.String(unsafe.SliceData(buf), len(buf))
}

// prefetchBody reads a body of unknown length, or one on an HTTP/2 stream,
// for at most the module's timeout. Such a body may never end on its own:
// a streaming client (gRPC, a bidirectional stream) can wait for the
// response before it sends more. The body goes to the agent only when it
// ended within the timeout and within limit; the handler gets every byte
// either way, those read so far and then the rest of the stream.
func (m *Module) prefetchBody(r *http.Request, limit int64) string {
	want := r.ContentLength
	if want < 0 {
		want = limit + 1
	}
	pb := newPrefetch(r.Body, int(want))
	r.Body = pb
	t := time.NewTimer(m.config.timeout)
	defer t.Stop()
	select {
	case <-pb.done:
	case <-t.C:
		m.stats.bodyTimeouts.Add(1)
		return ""
	}
	if pb.err != nil && pb.err != io.EOF || int64(len(pb.buf)) > limit || r.ContentLength >= 0 && int64(len(pb.buf)) != r.ContentLength {
		return ""
	}
	// The prefetcher is done and buf is never written again.
	return unsafe.String(unsafe.SliceData(pb.buf), len(pb.buf))
}

// prefetch reads up to max bytes of a body on its own goroutine while the
// handler reads from it: the handler gets the bytes read so far, waits for
// more while the prefetcher runs, and then reads the original body.
type prefetch struct {
	orig io.ReadCloser
	done chan struct{} // closed when the prefetcher stops; then err is set

	mu   sync.Mutex
	cond sync.Cond
	buf  []byte // read by the prefetcher; written only before done
	off  int    // consumed by the handler
	stop bool   // the prefetcher reads no more
	err  error  // why it stopped: io.EOF, a read error, or nil at max
}

func newPrefetch(orig io.ReadCloser, max int) *prefetch {
	pb := &prefetch{orig: orig, done: make(chan struct{}), buf: make([]byte, 0, min(max, 32<<10))}
	pb.cond.L = &pb.mu
	go pb.run(max)
	return pb
}

func (pb *prefetch) run(max int) {
	defer close(pb.done)
	chunk := make([]byte, min(max, 32<<10))
	for {
		n, err := pb.orig.Read(chunk[:min(len(chunk), max-len(pb.buf))])
		pb.mu.Lock()
		pb.buf = append(pb.buf, chunk[:n]...)
		pb.err = err
		pb.stop = err != nil || len(pb.buf) >= max
		stop := pb.stop
		pb.cond.Broadcast()
		pb.mu.Unlock()
		if stop {
			return
		}
	}
}

// Read serves the prefetched bytes, waiting for the prefetcher when it has
// none yet, then the prefetcher's error, or the original body once the
// prefetcher stopped at its limit.
func (pb *prefetch) Read(p []byte) (int, error) {
	pb.mu.Lock()
	for pb.off == len(pb.buf) && !pb.stop {
		pb.cond.Wait()
	}
	if pb.off < len(pb.buf) {
		n := copy(p, pb.buf[pb.off:])
		pb.off += n
		pb.mu.Unlock()
		return n, nil
	}
	err := pb.err
	pb.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return pb.orig.Read(p)
}

// Close closes the original body, which also ends a prefetcher still
// waiting on it.
func (pb *prefetch) Close() error { return pb.orig.Close() }

// replayBody serves bytes already read, then the rest of the original body.
type replayBody struct {
	io.Reader
	closer io.Closer
}

func (b *replayBody) Close() error { return b.closer.Close() }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
