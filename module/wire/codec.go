package wire

import (
	"errors"
	"fmt"
	"io"
	"net/rpc"
	"sync"

	"github.com/tinylib/msgp/msgp"
)

// ErrMalformed wraps every error about a frame that is complete but is not a
// valid msgpack-RPC envelope.
var ErrMalformed = errors.New("wire: malformed message")

func malformed(what string, err error) error {
	if err == nil {
		return fmt.Errorf("%w: %s", ErrMalformed, what)
	}
	return fmt.Errorf("%w: %s: %w", ErrMalformed, what, err)
}

// ClientCodec is a net/rpc ClientCodec speaking the agent's msgpack-RPC
// framing: requests [0, seq, method, [arg]], responses [1, seq, error, result].
type ClientCodec struct {
	rwc    io.ReadWriteCloser
	frames *frameReader
	wbuf   []byte // guarded by net/rpc's request mutex
	result []byte // the result of the last response header read
	closer sync.Once
}

// NewClientCodec returns a codec for one connection to an agent.
func NewClientCodec(rwc io.ReadWriteCloser, opts ...CodecOption) *ClientCodec {
	cfg := newCodecConfig(opts)
	return &ClientCodec{rwc: rwc, frames: newFrameReader(rwc, cfg.maxMessageSize)}
}

// WriteRequest encodes and writes one call in a single write.
func (c *ClientCodec) WriteRequest(r *rpc.Request, body any) error {
	b := msgp.AppendArrayHeader(c.wbuf[:0], 4)
	b = msgp.AppendInt(b, typeRequest)
	b = msgp.AppendUint64(b, r.Seq)
	b = msgp.AppendString(b, r.ServiceMethod)
	b = msgp.AppendArrayHeader(b, 1)
	b, err := appendBody(b, body)
	if err != nil {
		return err
	}
	c.wbuf = b
	_, err = c.rwc.Write(b)
	return err
}

// ReadResponseHeader reads the next response frame and fills r.
func (c *ClientCodec) ReadResponseHeader(r *rpc.Response) error {
	frame, err := c.frames.next()
	if err != nil {
		return err
	}
	n, b, err := msgp.ReadArrayHeaderBytes(frame)
	if err != nil {
		return malformed("response envelope", err)
	}
	if n != 4 {
		return malformed(fmt.Sprintf("response envelope has %d elements, want 4", n), nil)
	}
	typ, b, err := msgp.ReadInt64Bytes(b)
	if err != nil {
		return malformed("response type", err)
	}
	if typ != typeResponse {
		return malformed(fmt.Sprintf("message type %d, want %d (response)", typ, typeResponse), nil)
	}
	if r.Seq, b, err = msgp.ReadUint64Bytes(b); err != nil {
		return malformed("response sequence number", err)
	}
	r.Error = ""
	if msgp.IsNil(b) {
		b = b[1:]
	} else {
		var e string
		if e, b, err = msgp.ReadStringBytes(b); err != nil {
			return malformed("response error", err)
		}
		r.Error = e
		if e == "" {
			// net/rpc treats an empty error as success; the peer said
			// something went wrong, so keep that visible.
			r.Error = "unspecified error"
		}
	}
	c.result = b
	return nil
}

// ReadResponseBody decodes the result of the response read last.
func (c *ClientCodec) ReadResponseBody(body any) error {
	b := c.result
	c.result = nil
	if body == nil {
		return nil
	}
	rest, err := decodeBody(b, body)
	if err != nil {
		return malformed("response result", err)
	}
	if len(rest) != 0 {
		return malformed(fmt.Sprintf("%d trailing bytes after response", len(rest)), nil)
	}
	return nil
}

// Close closes the connection.
func (c *ClientCodec) Close() error {
	var err error
	c.closer.Do(func() { err = c.rwc.Close() })
	return err
}

// ServerCodec is a net/rpc ServerCodec speaking the agent's msgpack-RPC
// framing. The fake agent serves every connection with one.
type ServerCodec struct {
	rwc    io.ReadWriteCloser
	frames *frameReader
	mu     sync.Mutex // net/rpc serializes writes, but Close may race them
	wbuf   []byte
	params []byte // the [arg] array of the last request header read
	closer sync.Once
}

// NewServerCodec returns a codec for one accepted module connection.
func NewServerCodec(rwc io.ReadWriteCloser, opts ...CodecOption) *ServerCodec {
	cfg := newCodecConfig(opts)
	return &ServerCodec{rwc: rwc, frames: newFrameReader(rwc, cfg.maxMessageSize)}
}

// ReadRequestHeader reads the next request frame and fills r.
func (c *ServerCodec) ReadRequestHeader(r *rpc.Request) error {
	frame, err := c.frames.next()
	if err != nil {
		return err
	}
	n, b, err := msgp.ReadArrayHeaderBytes(frame)
	if err != nil {
		return malformed("request envelope", err)
	}
	if n != 4 {
		return malformed(fmt.Sprintf("request envelope has %d elements, want 4", n), nil)
	}
	typ, b, err := msgp.ReadInt64Bytes(b)
	if err != nil {
		return malformed("request type", err)
	}
	if typ != typeRequest {
		return malformed(fmt.Sprintf("message type %d, want %d (request)", typ, typeRequest), nil)
	}
	if r.Seq, b, err = msgp.ReadUint64Bytes(b); err != nil {
		return malformed("request sequence number", err)
	}
	if r.ServiceMethod, b, err = msgp.ReadStringBytes(b); err != nil {
		return malformed("request method", err)
	}
	c.params = b
	return nil
}

// ReadRequestBody decodes the single argument of the request read last.
func (c *ServerCodec) ReadRequestBody(body any) error {
	b := c.params
	c.params = nil
	n, b, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil {
		return malformed("request parameters", err)
	}
	if n != 1 {
		return malformed(fmt.Sprintf("request has %d parameters, want 1", n), nil)
	}
	if body == nil {
		return nil
	}
	rest, err := decodeBody(b, body)
	if err != nil {
		return malformed("request argument", err)
	}
	if len(rest) != 0 {
		return malformed(fmt.Sprintf("%d trailing bytes after request", len(rest)), nil)
	}
	return nil
}

// WriteResponse encodes and writes one reply in a single write. A reply with
// an error carries a nil result.
func (c *ServerCodec) WriteResponse(r *rpc.Response, body any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := msgp.AppendArrayHeader(c.wbuf[:0], 4)
	b = msgp.AppendInt(b, typeResponse)
	b = msgp.AppendUint64(b, r.Seq)
	head := len(b)
	if r.Error == "" {
		b = msgp.AppendNil(b)
		var err error
		if b, err = appendBody(b, body); err != nil {
			// Answer the call rather than leave the module waiting.
			b = msgp.AppendNil(msgp.AppendString(b[:head], err.Error()))
		}
	} else {
		b = msgp.AppendNil(msgp.AppendString(b, r.Error))
	}
	c.wbuf = b
	_, err := c.rwc.Write(b)
	return err
}

// Close closes the connection.
func (c *ServerCodec) Close() error {
	var err error
	c.closer.Do(func() { err = c.rwc.Close() })
	return err
}
