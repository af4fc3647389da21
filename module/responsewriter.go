package module

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// responseWriter records the status and size of the application's response
// and applies the agent's RespActions to the response headers just before
// they are written. It keeps the optional interfaces of the writer it wraps:
// Flush, Hijack and ReadFrom delegate to it, and Unwrap lets
// http.ResponseController reach it.
type responseWriter struct {
	w           http.ResponseWriter
	actions     []Action
	status      int
	size        int64
	wroteHeader bool
	hijacked    bool
}

var (
	_ http.Flusher  = (*responseWriter)(nil)
	_ http.Hijacker = (*responseWriter)(nil)
	_ io.ReaderFrom = (*responseWriter)(nil)
)

func (rw *responseWriter) Header() http.Header { return rw.w.Header() }

func (rw *responseWriter) WriteHeader(code int) {
	if rw.wroteHeader || rw.hijacked {
		rw.w.WriteHeader(code) // let net/http report the superfluous call
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// Informational responses (103 Early Hints) precede the real one.
		rw.w.WriteHeader(code)
		return
	}
	rw.wroteHeader = true
	rw.status = code
	applyActions(rw.w.Header(), rw.actions)
	rw.w.WriteHeader(code)
}

func (rw *responseWriter) Write(b []byte) (int, error) {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	n, err := rw.w.Write(b)
	rw.size += int64(n)
	return n, err
}

// ReadFrom keeps sendfile and splice paths of the underlying writer.
func (rw *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	var n int64
	var err error
	if rf, ok := rw.w.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(writerOnly{rw.w}, r)
	}
	rw.size += n
	return n, err
}

// Flush sends buffered data to the client, so streaming handlers stream.
func (rw *responseWriter) Flush() {
	_ = rw.FlushError()
}

// FlushError is Flush reporting failure; http.ResponseController uses it.
func (rw *responseWriter) FlushError() error {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(rw.w).Flush()
}

// Hijack hands the connection over, e.g. for WebSockets.
func (rw *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(rw.w).Hijack()
	if err == nil {
		rw.hijacked = true
		if !rw.wroteHeader {
			rw.status = http.StatusSwitchingProtocols
		}
	}
	return c, brw, err
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (rw *responseWriter) Unwrap() http.ResponseWriter { return rw.w }

// BaseResponseWriter returns the wrapped writer (upstream's ResponseWriter).
func (rw *responseWriter) BaseResponseWriter() http.ResponseWriter { return rw.w }

// StatusCode is the status written so far: 200 until the handler writes
// another (upstream's ResponseWriter).
func (rw *responseWriter) StatusCode() int {
	if rw.status == 0 {
		return http.StatusOK
	}
	return rw.status
}

// BytesWritten counts the body bytes written (upstream's ResponseWriter).
func (rw *responseWriter) BytesWritten() int64 { return rw.size }

// finish makes sure the actions apply when the handler wrote nothing.
func (rw *responseWriter) finish() {
	if !rw.wroteHeader && !rw.hijacked {
		rw.WriteHeader(http.StatusOK)
	}
}

type writerOnly struct{ io.Writer }

// applyActions edits response headers as the agent asked.
func applyActions(h http.Header, actions []Action) {
	for _, a := range actions {
		if len(a.Args) == 0 {
			continue
		}
		name := a.Args[0]
		value := ""
		if len(a.Args) > 1 {
			value = a.Args[1]
		}
		switch a.Code {
		case AddHdr:
			h.Add(name, value)
		case SetHdr:
			h.Set(name, value)
		case SetNEHdr:
			if h.Get(name) == "" {
				h.Set(name, value)
			}
		case DelHdr:
			h.Del(name)
		}
	}
}
