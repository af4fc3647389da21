package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"

	sigsci "github.com/seed-a2a44e50/ngwaf-helloworld/module"
)

// callKey carries, in a request's context, the gin call the Module lets
// through: one Module serves every route.
type callKey struct{}

type ginCall struct {
	c      *gin.Context
	passed bool // the Module let the request through to the handlers
}

// Middleware returns gin middleware that has the agent inspect every
// request before the handlers after it run, and the Module behind it, to
// Close when the server stops. A blocked request never reaches them (the
// chain is aborted); when the agent is down or slow the request goes
// through as if allowed.
//
// The handlers write through the Module, so the agent's response header
// actions apply and the Module reports the status and size the client got.
func Middleware(options ...sigsci.ModuleConfigOption) (gin.HandlerFunc, *sigsci.Module, error) {
	m, err := sigsci.NewModule(http.HandlerFunc(callNext), options...)
	if err != nil {
		return nil, nil, err
	}
	mw := func(c *gin.Context) {
		call := &ginCall{c: c}
		w := c.Writer
		m.ServeHTTP(w, c.Request.WithContext(context.WithValue(c.Request.Context(), callKey{}, call)))
		c.Writer = w
		if !call.passed {
			c.Abort()
		}
	}
	return mw, m, nil
}

// callNext is the Module's handler: the rest of gin's chain, with the
// request the Module hands it and a gin writer over the Module's writer.
func callNext(w http.ResponseWriter, r *http.Request) {
	call := r.Context().Value(callKey{}).(*ginCall)
	call.passed = true
	gw := &ginWriter{ResponseWriter: call.c.Writer, w: w, status: http.StatusOK, size: -1}
	call.c.Request, call.c.Writer = r, gw
	call.c.Next()
	gw.WriteHeaderNow() // a status without a body, e.g. c.Status(204)
}

// ginWriter is the gin.ResponseWriter the handlers after the middleware
// see: gin's deferred status (WriteHeader records it, the first write
// sends it) over the Module's writer. Pusher and CloseNotify are gin's own.
type ginWriter struct {
	gin.ResponseWriter
	w      http.ResponseWriter // the Module's
	status int
	size   int // -1 until the header is written
}

var errAlreadyWritten = errors.New("gin example: response already written")

func (g *ginWriter) Header() http.Header { return g.w.Header() }

func (g *ginWriter) WriteHeader(code int) {
	if code > 0 && !g.Written() {
		g.status = code
	}
}

func (g *ginWriter) WriteHeaderNow() {
	if !g.Written() {
		g.size = 0
		g.w.WriteHeader(g.status)
	}
}

func (g *ginWriter) Write(b []byte) (int, error) {
	g.WriteHeaderNow()
	n, err := g.w.Write(b)
	g.size += n
	return n, err
}

func (g *ginWriter) WriteString(s string) (int, error) { return g.Write([]byte(s)) }

func (g *ginWriter) ReadFrom(r io.Reader) (int64, error) {
	g.WriteHeaderNow()
	n, err := io.Copy(g.w, r)
	g.size += int(n)
	return n, err
}

func (g *ginWriter) Status() int   { return g.status }
func (g *ginWriter) Size() int     { return g.size }
func (g *ginWriter) Written() bool { return g.size != -1 }

func (g *ginWriter) Flush() {
	g.WriteHeaderNow()
	_ = http.NewResponseController(g.w).Flush()
}

func (g *ginWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if g.size > 0 {
		return nil, nil, errAlreadyWritten
	}
	g.size = 0
	return http.NewResponseController(g.w).Hijack()
}

// Unwrap returns the Module's writer, for http.ResponseController.
func (g *ginWriter) Unwrap() http.ResponseWriter { return g.w }
