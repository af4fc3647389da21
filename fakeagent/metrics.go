package fakeagent

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus series, in a registry of its own so
// that several servers can live in one process (as in tests).
type metrics struct {
	reg *prometheus.Registry

	calls       *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	faults      *prometheus.CounterVec
	decisions   *prometheus.CounterVec
	signals     *prometheus.CounterVec
	deviations  *prometheus.CounterVec
	frameErrors *prometheus.CounterVec
	openConns   prometheus.Gauge
	connsTotal  prometheus.Counter
	connsRej    prometheus.Counter
	pending     prometheus.Gauge
	expired     prometheus.Counter
	evicted     prometheus.Counter
	loaded      prometheus.Gauge
}

// rpcDurationBuckets resolve the sub-millisecond handling times of the
// fake agent as well as injected latency up to a module's timeout and past.
var rpcDurationBuckets = []float64{
	0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
}

// Frame error kinds, the "kind" label of fakeagent_frame_errors_total.
const (
	frameTooLarge    = "too_large"
	frameTruncated   = "truncated"
	frameMalformed   = "malformed"
	frameIdleTimeout = "idle_timeout"
	frameReadError   = "read_error"
)

var frameErrorKinds = []string{frameTooLarge, frameTruncated, frameMalformed, frameIdleTimeout, frameReadError}

func newMetrics(version string, mode string) *metrics {
	const ns = "fakeagent"
	m := &metrics{
		reg: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "rpc_calls_total",
			Help: "RPC calls received, by method.",
		}, []string{"method"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "rpc_duration_seconds",
			Help:    "Time from an RPC call being decoded to its reply being ready, injected latency included, by method.",
			Buckets: rpcDurationBuckets,
		}, []string{"method"}),
		faults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "injected_faults_total",
			Help: "Faults injected into RPC calls, by kind (latency, error, drop, hang).",
		}, []string{"fault"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "decisions_total",
			Help: "PreRequest decisions, by the WAFResponse returned.",
		}, []string{"waf_response"}),
		signals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "signals_total",
			Help: "Signals found, by name (request signals from PreRequest, response signals from PostRequest and UpdateRequest).",
		}, []string{"signal"}),
		deviations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "deviations_total",
			Help: "Protocol deviations made by modules, by kind.",
		}, []string{"kind"}),
		frameErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "frame_errors_total",
			Help: "Connections closed because of a bad or missing request frame, by kind.",
		}, []string{"kind"}),
		openConns: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "open_connections",
			Help: "Module connections currently open.",
		}),
		connsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "connections_total",
			Help: "Module connections accepted.",
		}),
		connsRej: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "connections_rejected_total",
			Help: "Module connections closed on accept because the connection limit was reached.",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "pending_updates",
			Help: "Requests given a RequestID and still waiting for their UpdateRequest.",
		}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "expired_updates_total",
			Help: "RequestIDs that got no UpdateRequest within the update expiry.",
		}),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "evicted_updates_total",
			Help: "Pending RequestIDs dropped because too many were pending.",
		}),
		loaded: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "rules_loaded",
			Help: "1 once rules and configuration are loaded (the startup probe answers 200), else 0.",
		}),
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: ns, Name: "info",
		Help:        "Always 1; labels describe the fake agent.",
		ConstLabels: prometheus.Labels{"version": version, "mode": mode},
	})
	info.Set(1)
	m.reg.MustRegister(m.calls, m.duration, m.faults, m.decisions, m.signals, m.deviations,
		m.frameErrors, m.openConns, m.connsTotal, m.connsRej, m.pending, m.expired, m.evicted,
		m.loaded, info,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// Show every known series from the start, so that dashboards and
	// tests see zeros rather than absent series.
	for _, name := range methodNames {
		m.calls.WithLabelValues(name)
		m.duration.WithLabelValues(name)
	}
	for _, f := range []string{"latency", "error", "drop", "hang"} {
		m.faults.WithLabelValues(f)
	}
	for _, d := range allDeviations {
		m.deviations.WithLabelValues(string(d))
	}
	for _, k := range frameErrorKinds {
		m.frameErrors.WithLabelValues(k)
	}
	return m
}

func (m *metrics) observeCall(method string, start time.Time) {
	m.duration.WithLabelValues(method).Observe(time.Since(start).Seconds())
}

func (m *metrics) decision(wafResponse int32, signals []string) {
	m.decisions.WithLabelValues(strconv.Itoa(int(wafResponse))).Inc()
	m.countSignals(signals)
}

func (m *metrics) countSignals(signals []string) {
	for _, s := range signals {
		m.signals.WithLabelValues(s).Inc()
	}
}

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler(log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError),
	})
}
