package fakeagent

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// AdminHandler returns the admin HTTP API, which Config.AdminAddress
// serves:
//
//	GET /metrics          Prometheus text format
//	GET /requests?limit=N the last N recorded requests (all when N is 0 or absent),
//	                      a JSON array of Record, oldest first
//	GET /stats            Stats as JSON: counters, the modules seen (with
//	                      whether they sent ModuleInit), the flagged IPs
//	GET /healthz          200 while serving, 503 once shutting down
//	GET /startup          503 until the rules are loaded, 200 after
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metricsHandler)
	mux.HandleFunc("GET /requests", s.serveRequests)
	mux.HandleFunc("GET /stats", s.serveStats)
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
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s.Stats()); err != nil {
		s.log.Debug("writing /stats", "error", err)
	}
}
