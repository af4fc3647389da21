package main

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v5"

	sigsci "github.com/seed-a2a44e50/ngwaf-helloworld/module"
)

// callKey carries, in a request's context, the echo call the Module lets
// through: one Module serves every route.
type callKey struct{}

type echoCall struct {
	c    *echo.Context
	next echo.HandlerFunc
}

// Middleware returns echo middleware that has the agent inspect every
// request before the handler runs, and the Module behind it, to Close when
// the server stops. A blocked request never reaches the handler; when the
// agent is down or slow the request goes through as if allowed.
//
// The handler's error, if any, is rendered by echo's HTTPErrorHandler
// inside the Module, so that the agent's response header actions apply to
// error pages too and the Module reports the status the client got.
func Middleware(options ...sigsci.ModuleConfigOption) (echo.MiddlewareFunc, *sigsci.Module, error) {
	m, err := sigsci.NewModule(http.HandlerFunc(callNext), options...)
	if err != nil {
		return nil, nil, err
	}
	mw := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			res, req := c.Response(), c.Request()
			m.ServeHTTP(res, req.WithContext(context.WithValue(req.Context(), callKey{}, &echoCall{c: c, next: next})))
			c.SetResponse(res) // what the server wrote to, for middleware before this one
			return nil
		}
	}
	return mw, m, nil
}

// callNext is the Module's handler: the echo handler, with the request and
// writer the Module hands it.
func callNext(w http.ResponseWriter, r *http.Request) {
	call := r.Context().Value(callKey{}).(*echoCall)
	call.c.SetRequest(r)
	call.c.SetResponse(echo.NewResponse(w, call.c.Echo().Logger))
	if err := call.next(call.c); err != nil {
		call.c.Echo().HTTPErrorHandler(call.c, err)
	}
}
