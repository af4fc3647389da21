package module

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// ResponseWriter is an http.ResponseWriter that records what inspection
// needs to know of the response. The writer a Module hands its handler is
// one (and an http.Flusher); NewResponseWriter makes one for middleware
// that drives an Inspector itself.
type ResponseWriter interface {
	http.ResponseWriter
	// BaseResponseWriter returns the wrapped writer.
	BaseResponseWriter() http.ResponseWriter
	// StatusCode is the status written so far, 200 until another is.
	StatusCode() int
	// BytesWritten counts the body bytes written.
	BytesWritten() int64
}

// ResponseWriterFlusher is a ResponseWriter that can flush, as
// NewResponseWriter returns when the wrapped writer can.
type ResponseWriterFlusher interface {
	ResponseWriter
	http.Flusher
}

// NewResponseWriter wraps base to record the status and size of what is
// written through it. The result is a ResponseWriterFlusher when base is
// an http.Flusher, and passes Hijack, ReadFrom and CloseNotify through to
// base when base has them (Hijack fails otherwise); http.ResponseController
// reaches base through Unwrap.
func NewResponseWriter(base http.ResponseWriter) ResponseWriter {
	r := recorder{rw: &responseWriter{w: base}}
	if _, ok := base.(http.Flusher); ok {
		return flushingRecorder{r}
	}
	return r
}

// recorder is NewResponseWriter's writer for a base that cannot flush: it
// forwards to a responseWriter without its Flush.
type recorder struct{ rw *responseWriter }

var (
	_ ResponseWriter                            = recorder{}
	_ ResponseWriterFlusher                     = flushingRecorder{}
	_ ResponseWriterFlusher                     = (*responseWriter)(nil)
	_ http.Hijacker                             = recorder{}
	_ io.ReaderFrom                             = recorder{}
	_ http.CloseNotifier                        = recorder{} //lint:ignore SA1019 upstream's writer passes CloseNotify through
	_ interface{ Unwrap() http.ResponseWriter } = recorder{}
)

func (r recorder) Header() http.Header                          { return r.rw.Header() }
func (r recorder) WriteHeader(code int)                         { r.rw.WriteHeader(code) }
func (r recorder) Write(b []byte) (int, error)                  { return r.rw.Write(b) }
func (r recorder) ReadFrom(src io.Reader) (int64, error)        { return r.rw.ReadFrom(src) }
func (r recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) { return r.rw.Hijack() }

// Unwrap returns the wrapped writer, for http.ResponseController.
func (r recorder) Unwrap() http.ResponseWriter { return r.rw.w }

// BaseResponseWriter returns the wrapped writer.
func (r recorder) BaseResponseWriter() http.ResponseWriter { return r.rw.w }

// StatusCode is the status written so far, 200 until another is.
func (r recorder) StatusCode() int { return r.rw.StatusCode() }

// BytesWritten counts the body bytes written.
func (r recorder) BytesWritten() int64 { return r.rw.size }

// CloseNotify passes the wrapped writer's CloseNotify through, or returns
// a channel that never fires when it has none.
func (r recorder) CloseNotify() <-chan bool {
	//lint:ignore SA1019 kept for upstream's API
	if cn, ok := r.rw.w.(http.CloseNotifier); ok {
		return cn.CloseNotify()
	}
	return make(chan bool)
}

// flushingRecorder is NewResponseWriter's writer for a base that can flush.
type flushingRecorder struct{ recorder }

// Flush sends what was written so far to the client.
func (f flushingRecorder) Flush() { f.rw.Flush() }

// FlushError is Flush reporting failure; http.ResponseController uses it.
func (f flushingRecorder) FlushError() error { return f.rw.FlushError() }
