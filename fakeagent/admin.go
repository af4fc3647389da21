package fakeagent

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"strconv"
)

// dashboardFiles are the dashboard's page, style sheet and script.
//
//go:embed dashboard
var dashboardFiles embed.FS

// AdminHandler returns the admin HTTP API, which Config.AdminAddress
// serves:
//
//	GET /                 the dashboard (also /dashboard): a live view of the requests
//	                      and decisions, in a browser
//	GET /events           the dashboard's feed, server-sent events (see serveEvents)
//	GET /info             the agent's mode, engine, rules and uptime, as JSON (Info)
//	GET /metrics          Prometheus text format
//	GET /requests?limit=N the last N recorded requests (all when N is 0 or absent),
//	                      a JSON array of Record, oldest first
//	GET /stats            Stats as JSON: counters, the modules seen (with
//	                      whether they sent ModuleInit), the flagged IPs
//	GET /requests/{seq}   one recorded request, a Record, while it is kept
//	GET /healthz          200 while serving, 503 once shutting down
//	GET /startup          503 until the rules are loaded, 200 after
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	static, err := fs.Sub(dashboardFiles, "dashboard")
	if err != nil {
		panic(err) // the embedded directory is there, or this does not compile
	}
	page := dashboardHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, "index.html")
	}))
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /dashboard", page)
	mux.Handle("GET /dashboard/", dashboardHeaders(http.StripPrefix("/dashboard/", http.FileServerFS(static))))
	mux.HandleFunc("GET /events", s.serveEvents)
	mux.HandleFunc("GET /info", s.serveInfo)
	mux.Handle("GET /metrics", s.metricsHandler)
	mux.HandleFunc("GET /requests", s.serveRequests)
	mux.HandleFunc("GET /stats", s.serveStats)
	mux.HandleFunc("GET /requests/{seq}", s.serveRequest)
	mux.HandleFunc("GET /healthz", s.serveHealthz)
	mux.HandleFunc("GET /startup", s.serveStartup)
	return mux
}

// StartupHandler returns the startup probe API, which
// Config.StartupProbeListener serves: GET /startup answers 503 until the
// rules are loaded, then 200.
func (s *Server) StartupHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /startup", s.serveStartup)
	return mux
}

func (s *Server) serveStartup(w http.ResponseWriter, _ *http.Request) {
	if !s.Loaded() {
		http.Error(w, "starting: rules not loaded yet", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) serveHealthz(w http.ResponseWriter, _ *http.Request) {
	if s.stopCtx.Err() != nil {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) serveRequests(w http.ResponseWriter, r *http.Request) {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			http.Error(w, "limit: want a non-negative integer", http.StatusBadRequest)
			return
		}
		limit = n
	}
	recs := s.rec.snapshot(limit)
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(recs); err != nil {
		s.log.Debug("writing /requests", "error", err)
	}
}

func (s *Server) serveStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, s.Stats(), s)
}

// dashboardHeaders keeps the dashboard to its own files: no script, style
// or connection from anywhere else, no framing.
func dashboardHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy",
			"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

func (s *Server) serveInfo(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, s.info(), s)
}

func (s *Server) serveRequest(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		http.Error(w, "seq: want a positive integer", http.StatusBadRequest)
		return
	}
	rec, ok := s.rec.record(seq)
	if !ok {
		http.Error(w, "request "+strconv.FormatUint(seq, 10)+" is not (or no longer) recorded", http.StatusNotFound)
		return
	}
	writeJSON(w, rec, s)
}

func writeJSON(w http.ResponseWriter, v any, s *Server) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		s.log.Debug("writing a JSON reply", "error", err)
	}
}
