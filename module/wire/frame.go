package wire

import (
	"errors"
	"fmt"
	"io"

	"github.com/tinylib/msgp/msgp"
)

// DefaultMaxMessageSize bounds one encoded message (request or response
// frame). A peer that declares or sends more is cut off with ErrTooLarge
// before the excess is buffered.
const DefaultMaxMessageSize = 4 << 20

// maxNesting bounds how deeply arrays and maps may nest in one frame; the
// protocol itself never nests deeper than 4.
const maxNesting = 32

// ErrTooLarge is returned when a frame exceeds the codec's maximum size.
var ErrTooLarge = errors.New("wire: message exceeds maximum size")

// Message types of the msgpack-RPC envelope.
const (
	typeRequest  = 0
	typeResponse = 1
)

// CodecOption configures a ClientCodec or ServerCodec.
type CodecOption func(*codecConfig)

type codecConfig struct {
	maxMessageSize int
}

// MaxMessageSize sets the largest frame the codec accepts, in bytes.
// Values below 64 are raised to 64.
func MaxMessageSize(n int) CodecOption {
	return func(c *codecConfig) { c.maxMessageSize = max(n, 64) }
}

func newCodecConfig(opts []CodecOption) codecConfig {
	c := codecConfig{maxMessageSize: DefaultMaxMessageSize}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// frameReader reads whole msgpack objects off a stream without decoding
// them, so that a frame can be decoded from memory once it is complete and
// known to be within the size limit.
type frameReader struct {
	r   *msgp.Reader
	buf limitedBuffer
}

func newFrameReader(r io.Reader, limit int) *frameReader {
	mr := msgp.NewReader(r)
	mr.SetMaxRecursionDepth(maxNesting)
	return &frameReader{r: mr, buf: limitedBuffer{limit: limit}}
}

// next returns the next complete frame. The returned slice is valid until
// the following call. A stream that ends cleanly between frames gives
// io.EOF; one that ends inside a frame gives io.ErrUnexpectedEOF.
func (f *frameReader) next() ([]byte, error) {
	f.buf.b = f.buf.b[:0]
	if _, err := f.r.CopyNext(&f.buf); err != nil {
		switch {
		case errors.Is(err, ErrTooLarge):
			return nil, fmt.Errorf("%w (limit %d bytes)", ErrTooLarge, f.buf.limit)
		case errors.Is(err, io.EOF) && len(f.buf.b) == 0 && f.r.Buffered() == 0:
			return nil, io.EOF
		case errors.Is(err, io.EOF), errors.Is(err, msgp.ErrShortBytes), errors.Is(err, io.ErrUnexpectedEOF):
			return nil, fmt.Errorf("wire: truncated frame: %w", io.ErrUnexpectedEOF)
		default:
			return nil, fmt.Errorf("wire: reading frame: %w", err)
		}
	}
	frame := f.buf.b
	// Don't let one huge (but allowed) frame pin its buffer forever: a
	// small frame after it gets its own buffer next time.
	if cap(frame) > 64<<10 && len(frame) < 4<<10 {
		f.buf.b = nil
	}
	return frame, nil
}

// limitedBuffer is an io.Writer that appends into b and fails with
// ErrTooLarge instead of growing past limit.
type limitedBuffer struct {
	b     []byte
	limit int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if len(l.b)+len(p) > l.limit {
		return 0, ErrTooLarge
	}
	l.b = append(l.b, p...)
	return len(p), nil
}

// appendBody encodes an RPC argument or result. Generated message types
// carry their own marshalling; plain integers are the results of
// PostRequest and UpdateRequest.
func appendBody(b []byte, body any) ([]byte, error) {
	switch v := body.(type) {
	case nil:
		return msgp.AppendNil(b), nil
	case msgp.Marshaler:
		return v.MarshalMsg(b)
	case int:
		return msgp.AppendInt(b, v), nil
	case *int:
		return msgp.AppendInt(b, *v), nil
	default:
		return b, fmt.Errorf("wire: cannot encode %T", body)
	}
}

// decodeBody decodes one msgpack object from b into body (a pointer), or
// skips it when body is nil.
func decodeBody(b []byte, body any) ([]byte, error) {
	switch v := body.(type) {
	case nil:
		return msgp.Skip(b)
	case msgp.Unmarshaler:
		if msgp.IsNil(b) {
			return b[1:], nil
		}
		return v.UnmarshalMsg(b)
	case *int:
		if msgp.IsNil(b) {
			*v = 0
			return b[1:], nil
		}
		n, rest, err := msgp.ReadInt64Bytes(b)
		*v = int(n)
		return rest, err
	default:
		return b, fmt.Errorf("wire: cannot decode into %T", body)
	}
}
