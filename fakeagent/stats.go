package fakeagent

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/module/wire"
)

// Stats are the server's counters since it was created.
type Stats struct {
	// Calls counts RPC calls by method ("ModuleInit", "PreRequest",
	// "PostRequest", "UpdateRequest").
	Calls map[string]uint64 `json:"calls"`
	// Faults counts injected faults by kind ("latency", "error", "drop",
	// "hang").
	Faults map[string]uint64 `json:"faults"`
	// Decisions counts PreRequest replies by WAFResponse.
	Decisions map[int32]uint64 `json:"decisions"`
	// Deviations counts protocol deviations by kind.
	Deviations map[Deviation]uint64 `json:"deviations"`
	// FrameErrors counts connections closed for a bad or missing frame,
	// by kind ("too_large", "truncated", "malformed", "idle_timeout",
	// "read_error").
	FrameErrors map[string]uint64 `json:"frame_errors"`

	Connections         uint64 `json:"connections"` // accepted
	OpenConnections     int    `json:"open_connections"`
	RejectedConnections uint64 `json:"rejected_connections"` // over the limit

	Pending uint64 `json:"pending"` // RequestIDs waiting for UpdateRequest
	Updated uint64 `json:"updated"` // UpdateRequests matched to a RequestID
	Posted  uint64 `json:"posted"`  // PostRequests
	Expired uint64 `json:"expired"` // RequestIDs never updated
	Evicted uint64 `json:"evicted"` // RequestIDs dropped from the pending set

	// Modules lists the modules seen, by their ModuleInit or their
	// PreRequests, in order of first appearance.
	Modules []ModuleInfo `json:"modules"`
	// FlaggedIPs lists the client IPs flagged by the attack thresholds
	// (DecisionThreshold) when the stats were taken.
	FlaggedIPs []FlaggedIP `json:"flagged_ips"`
}

// ModuleInfo describes a module, told apart by its ModuleVersion,
// ServerVersion and ServerFlavor.
type ModuleInfo struct {
	ModuleVersion string `json:"module_version"`
	ServerVersion string `json:"server_version"`
	ServerFlavor  string `json:"server_flavor"`
	// Inits counts its ModuleInit calls. 0 is normal: only the Go modules
	// send ModuleInit; the Node.js, Python and PHP modules never do.
	Inits uint64 `json:"inits"`
	// SentModuleInit reports Inits > 0, for readers of the JSON.
	SentModuleInit bool `json:"sent_module_init"`
	// PreRequests counts its PreRequest calls.
	PreRequests uint64    `json:"pre_requests"`
	First       time.Time `json:"first"`
	Last        time.Time `json:"last"`
}

// maxModules bounds the distinct modules remembered; calls from further
// modules are not described.
const maxModules = 256

type counters struct {
	calls       map[string]uint64
	faults      map[string]uint64
	decisions   map[int32]uint64
	deviations  map[Deviation]uint64
	frameErrors map[string]uint64
	accepted    uint64
	open        int
	rejected    uint64
	updated     uint64
	posted      uint64
	expired     uint64
	evicted     uint64

	modules []*ModuleInfo
}

func newCounters() counters {
	return counters{
		calls:       make(map[string]uint64),
		faults:      make(map[string]uint64),
		decisions:   make(map[int32]uint64),
		deviations:  make(map[Deviation]uint64),
		frameErrors: make(map[string]uint64),
	}
}

func (r *recorder) countCall(method string) {
	r.m.calls.WithLabelValues(method).Inc()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[method]++
}

func (r *recorder) countFault(kind string) {
	r.m.faults.WithLabelValues(kind).Inc()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults[kind]++
}

func (r *recorder) countFrameError(kind string) {
	r.m.frameErrors.WithLabelValues(kind).Inc()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frameErrors[kind]++
}

// connOpened counts a new connection unless limit (> 0) connections are
// already open, in which case it counts a rejection and reports false.
func (r *recorder) connOpened(limit int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if limit > 0 && r.open >= limit {
		r.rejected++
		r.m.connsRej.Inc()
		return false
	}
	r.accepted++
	r.open++
	r.m.connsTotal.Inc()
	r.m.openConns.Set(float64(r.open))
	return true
}

func (r *recorder) connClosed() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.open--
	r.m.openConns.Set(float64(r.open))
}

// moduleInit remembers the module that sent in, a ModuleInit.
func (r *recorder) moduleInit(in *wire.RPCMsgIn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.noteModuleLocked(in, true, r.clock.Now())
}

// noteModuleLocked counts a ModuleInit (init) or a PreRequest from the
// module that sent in.
func (r *recorder) noteModuleLocked(in *wire.RPCMsgIn, init bool, now time.Time) {
	var m *ModuleInfo
	for _, mi := range r.modules {
		if mi.ModuleVersion == in.ModuleVersion && mi.ServerVersion == in.ServerVersion && mi.ServerFlavor == in.ServerFlavor {
			m = mi
			break
		}
	}
	if m == nil {
		if len(r.modules) >= maxModules {
			return
		}
		m = &ModuleInfo{ModuleVersion: in.ModuleVersion, ServerVersion: in.ServerVersion, ServerFlavor: in.ServerFlavor, First: now}
		r.modules = append(r.modules, m)
	}
	if init {
		m.Inits++
		m.SentModuleInit = true
	} else {
		m.PreRequests++
	}
	m.Last = now
}

func (r *recorder) stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweepLocked(r.clock.Now())
	s := Stats{
		Calls:               maps.Clone(r.calls),
		Faults:              maps.Clone(r.faults),
		Decisions:           maps.Clone(r.decisions),
		Deviations:          maps.Clone(r.deviations),
		FrameErrors:         maps.Clone(r.frameErrors),
		Connections:         r.accepted,
		OpenConnections:     r.open,
		RejectedConnections: r.rejected,
		Pending:             uint64(len(r.pending)),
		Updated:             r.updated,
		Posted:              r.posted,
		Expired:             r.expired,
		Evicted:             r.evicted,
		Modules:             make([]ModuleInfo, 0, len(r.modules)),
	}
	for _, m := range r.modules {
		s.Modules = append(s.Modules, *m)
	}
	return s
}

// deviationSummary lists the deviations seen, e.g.
// "missing_host=2 remote_addr_with_port=1", for the shutdown log line.
func (s Stats) deviationSummary() string {
	var parts []string
	for _, d := range slices.Sorted(maps.Keys(s.Deviations)) {
		parts = append(parts, string(d)+"="+strconv.FormatUint(s.Deviations[d], 10))
	}
	return strings.Join(parts, " ")
}
