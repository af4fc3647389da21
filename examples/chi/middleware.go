package main

import (
	"context"
	"net/http"

	sigsci "github.com/seed-a2a44e50/ngwaf-helloworld/module"
)

// nextKey carries, in a request's context, the handler chi's middleware
// chain continues with: one Module serves every route it wraps.
type nextKey struct{}

// Middleware returns chi middleware that has the agent inspect every
// request before the routes after it run, and the Module behind it, to
// Close when the server stops. A blocked request never reaches them; when
// the agent is down or slow the request goes through as if allowed.
func Middleware(options ...sigsci.ModuleConfigOption) (func(http.Handler) http.Handler, *sigsci.Module, error) {
	m, err := sigsci.NewModule(http.HandlerFunc(callNext), options...)
	if err != nil {
		return nil, nil, err
	}
	mw := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), nextKey{}, next)))
		})
	}
	return mw, m, nil
}

// callNext is the Module's handler: the rest of the chain, with the
// request and writer the Module hands it.
func callNext(w http.ResponseWriter, r *http.Request) {
	r.Context().Value(nextKey{}).(http.Handler).ServeHTTP(w, r)
}
