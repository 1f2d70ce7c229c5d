// Package metrics is Slipway's Prometheus instrumentation: one registry per
// process (not the global one), the metrics the parts of Slipway report
// into, and a store wrapper that times transactions.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/slipway-dev/slipway/internal/store"
)

// Metrics holds a process's metrics.
type Metrics struct {
	reg *prometheus.Registry

	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	engineItems     *prometheus.CounterVec
	reclaims        prometheus.Counter
	outcomes        *prometheus.CounterVec
	sftpSessions    prometheus.Gauge
	sftpBytes       *prometheus.CounterVec
	txDuration      *prometheus.HistogramVec
}

// New returns the metrics, registered with a fresh registry. gauges are
// read at each scrape (queue depth, waiting steps, ...).
func New(gauges map[string]func() float64) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "slipway_requests_total",
		Help: "AWS API requests by service, operation and HTTP status."}, []string{"service", "operation", "status"})
	m.requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "slipway_request_duration_seconds",
		Help: "AWS API request latency.", Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16)}, []string{"service", "operation"})
	m.engineItems = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "slipway_engine_items_total",
		Help: "Engine items handled, by type and outcome (committed, retried, stale)."}, []string{"type", "outcome"})
	m.reclaims = prometheus.NewCounter(prometheus.CounterOpts{Name: "slipway_engine_lease_reclaims_total",
		Help: "Engine items whose lease was reclaimed (at start, after a crash)."})
	m.outcomes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "slipway_outcomes_total",
		Help: "Finished work by kind (image, transfer_execution, lifecycle_execution) and status."}, []string{"kind", "status"})
	m.sftpSessions = prometheus.NewGauge(prometheus.GaugeOpts{Name: "slipway_sftp_sessions", Help: "SFTP sessions open now."})
	m.sftpBytes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "slipway_sftp_bytes_total",
		Help: "Bytes uploaded and downloaded over SFTP."}, []string{"direction"})
	m.txDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "slipway_store_transaction_duration_seconds",
		Help: "Store transaction latency, commit included.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}, []string{"kind"})
	m.reg.MustRegister(m.requests, m.requestDuration, m.engineItems, m.reclaims, m.outcomes, m.sftpSessions, m.sftpBytes, m.txDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for name, fn := range gauges {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: gaugeHelp[name]}, fn))
	}
	return m
}

// Speculation registers slipway_store_speculations_total by outcome, read
// from outcomes at each scrape (the SQLite store's speculative writes).
func (m *Metrics) Speculation(outcomes func() map[string]int64) {
	for _, o := range []string{"answered", "applied", "conflict", "mismatch", "unspeculable"} {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "slipway_store_speculations_total",
			Help:        "Updates run on a snapshot first, by outcome: answered from it, applied as run, or run again in the writer (conflict, mismatch, unspeculable).",
			ConstLabels: prometheus.Labels{"outcome": o}}, func() float64 { return float64(outcomes()[o]) }))
	}
}

// gaugeHelp describes the gauges a process registers.
var gaugeHelp = map[string]string{
	"slipway_engine_queue_depth":     "Engine items queued (due now or later, waiting steps included).",
	"slipway_custom_steps_waiting":   "Transfer CUSTOM steps waiting for SendWorkflowStepState.",
	"slipway_workflow_gates_waiting": "Image Builder WaitForAction steps waiting for SendWorkflowStepAction.",
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Request records one AWS API request.
func (m *Metrics) Request(service, operation string, status int, d time.Duration) {
	if operation == "" {
		operation = "unknown"
	}
	m.requests.WithLabelValues(service, operation, strconv.Itoa(status)).Inc()
	m.requestDuration.WithLabelValues(service, operation).Observe(d.Seconds())
}

// EngineItem records an engine item's outcome.
func (m *Metrics) EngineItem(typ, outcome string) { m.engineItems.WithLabelValues(typ, outcome).Inc() }

// Reclaimed records reclaimed leases.
func (m *Metrics) Reclaimed(n int) { m.reclaims.Add(float64(n)) }

// Outcome records finished work.
func (m *Metrics) Outcome(kind, status string) { m.outcomes.WithLabelValues(kind, status).Inc() }

// SFTPSession records a session opening (+1) or closing (-1).
func (m *Metrics) SFTPSession(delta int) { m.sftpSessions.Add(float64(delta)) }

// SFTPBytes records bytes moved ("in" uploaded, "out" downloaded).
func (m *Metrics) SFTPBytes(direction string, n int64) {
	m.sftpBytes.WithLabelValues(direction).Add(float64(n))
}

// Store wraps st so every transaction's latency is observed.
func (m *Metrics) Store(st store.Store) store.Store { return &timedStore{Store: st, m: m} }

type timedStore struct {
	store.Store
	m *Metrics
}

func (t *timedStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	start := time.Now()
	err := t.Store.Update(ctx, fn)
	t.m.txDuration.WithLabelValues("update").Observe(time.Since(start).Seconds())
	return err
}

func (t *timedStore) View(ctx context.Context, fn func(store.Tx) error) error {
	start := time.Now()
	err := t.Store.View(ctx, fn)
	t.m.txDuration.WithLabelValues("view").Observe(time.Since(start).Seconds())
	return err
}
