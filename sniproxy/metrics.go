package sniproxy

import (
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
