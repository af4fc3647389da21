package module

import (
	"bytes"
	"errors"
	"io"
	"net/http"
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

	want := r.ContentLength
	if want < 0 {
		want = limit + 1
	}
	buf := make([]byte, want)
	n, err := io.ReadFull(r.Body, buf)
	buf = buf[:n]
	orig := r.Body
	switch {
	case err == nil && r.ContentLength < 0:
		// Unknown length and more than the limit: too large to inspect.
		r.Body = &replayBody{Reader: io.MultiReader(bytes.NewReader(buf), orig), closer: orig}
		return ""
	case err == nil, errors.Is(err, io.ErrUnexpectedEOF) && r.ContentLength < 0, errors.Is(err, io.EOF) && r.ContentLength < 0:
		// The whole body is in buf. Keep the original for Close only.
		r.Body = &replayBody{Reader: bytes.NewReader(buf), closer: orig}
		if n == 0 {
			return ""
		}
		// buf is never written again; the string shares its memory
		// rather than copy up to MaxContentLength bytes.
		return unsafe.String(unsafe.SliceData(buf), len(buf))
	default:
		// The client went away or sent less than it declared: the handler
		// sees the same bytes, then the same error.
		r.Body = &replayBody{Reader: io.MultiReader(bytes.NewReader(buf), errReader{err}), closer: orig}
		return ""
	}
}

// replayBody serves bytes already read, then the rest of the original body.
type replayBody struct {
	io.Reader
	closer io.Closer
}

func (b *replayBody) Close() error { return b.closer.Close() }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
