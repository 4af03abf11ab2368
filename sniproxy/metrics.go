package sniproxy

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics of one proxy, registered on its own registry (never the global default one).
type metrics struct {
	connections *prometheus.CounterVec
	active      *prometheus.GaugeVec
	bytes       *prometheus.CounterVec
	spliced     *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	dnsLookups  *prometheus.CounterVec
	reloads     *prometheus.CounterVec
	generation  prometheus.Gauge
	lookups     map[string]prometheus.Counter // dnsLookups by result, resolved once
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vsoc_sniproxy_connections_total",
			Help: "Connections handled, by listener, decision (allow, refuse, error) and reason.",
		}, []string{"listener", "decision", "reason"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vsoc_sniproxy_active_connections",
			Help: "Connections currently open, by listener.",
		}, []string{"listener"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vsoc_sniproxy_bytes_total",
			Help: "Bytes relayed, by listener and direction (up: client to upstream, down: upstream to client).",
		}, []string{"listener", "direction"}),
		spliced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vsoc_sniproxy_spliced_bytes_total",
			Help: "Of the bytes relayed, those moved by splice(2) without a copy through the proxy's memory (bulk transfers), by listener.",
		}, []string{"listener"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vsoc_sniproxy_connection_duration_seconds",
			Help:    "Duration of proxied connections, by listener.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 12),
		}, []string{"listener"}),
		dnsLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vsoc_sniproxy_dns_lookups_total",
			Help: "Name lookups, by result (hit: served from cache, miss: asked the resolvers, error).",
		}, []string{"result"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vsoc_sniproxy_config_reloads_total",
			Help: "Configuration reloads, by result (success, failure).",
		}, []string{"result"}),
		generation: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vsoc_sniproxy_config_generation",
			Help: "Generation of the configuration serving new connections (1 at start, +1 per successful reload).",
		}),
	}
	m.lookups = map[string]prometheus.Counter{}
	for _, result := range []string{lookupHit, lookupMiss, lookupError} {
		m.lookups[result] = m.dnsLookups.WithLabelValues(result)
	}
	for _, c := range []prometheus.Collector{
		m.connections, m.active, m.bytes, m.spliced, m.duration, m.dnsLookups, m.reloads, m.generation,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// lookedUp counts a name lookup by its result (lookupHit, lookupMiss or lookupError).
func (m *metrics) lookedUp(result string) { m.lookups[result].Inc() }

// listenerMeters are the metrics of one listener, resolved once: finding a child of a vector by
// its label values hashes them, and a connection updates seven of them.
type listenerMeters struct {
	active         prometheus.Gauge
	up, down       prometheus.Counter
	spliced        prometheus.Counter
	duration       prometheus.Observer
	name           string
	connectionsVec *prometheus.CounterVec
	outcomes       sync.Map // outcome → prometheus.Counter
}

// outcome is how a connection ended, as the connections counter labels it.
type outcome struct{ decision, reason string }

// forListener resolves the metrics of the listener called name.
func (m *metrics) forListener(name string) *listenerMeters {
	return &listenerMeters{
		active:         m.active.WithLabelValues(name),
		up:             m.bytes.WithLabelValues(name, "up"),
		down:           m.bytes.WithLabelValues(name, "down"),
		spliced:        m.spliced.WithLabelValues(name),
		duration:       m.duration.WithLabelValues(name),
		name:           name,
		connectionsVec: m.connections,
	}
}

// connections is the counter of the listener's connections that ended with decision and reason.
func (lm *listenerMeters) connections(decision, reason string) prometheus.Counter {
	key := outcome{decision, reason}
	if c, ok := lm.outcomes.Load(key); ok {
		return c.(prometheus.Counter)
	}
	c, _ := lm.outcomes.LoadOrStore(key, lm.connectionsVec.WithLabelValues(lm.name, decision, reason))
	return c.(prometheus.Counter)
}

// newAuditLinesLostCounter reads the count of the audit lines a never wrote.
func newAuditLinesLostCounter(a *auditBuffer) prometheus.CounterFunc {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "vsoc_sniproxy_audit_lines_lost_total",
		Help: "Audit lines never written: dropped while a write lasted and the buffer was full, or left out by a failed write (both logged as \"audit lines lost\").",
	}, func() float64 { return float64(a.linesLost.Load()) })
}
