package vsoc.rules.vsoc007_test

import data.vsoc.fixtures as fx
import data.vsoc.rules.vsoc007

mapping(host, port, protocol, address) := {"host": host, "port": port, "protocol": protocol, "target": {"address": address, "port": 9000}}

static_input(mappings, container_ports) := object.union(fx.customer_input({"proxy": {"static": mappings}}), {"facts": {"staticContainerPorts": container_ports}})

test_valid_mappings if {
	count(vsoc007.violation) == 0 with input as fx.customer_input({})
	count(vsoc007.violation) == 0 with input as static_input(
		[mapping("a.acme.example", 443, "tls", "10.20.0.1"), mapping("b.acme.example", 443, "tls", "10.20.0.2"), mapping("a.acme.example", 80, "http", "10.20.0.1"), mapping("db.acme.example", 5432, "tcp", "10.20.0.3")],
		[20443, 20443, 20080, 5432],
	)
}

test_target_and_host if {
	fx.paths(vsoc007.violation) == {["proxy", "static", 0, "target", "address"], ["proxy", "static", 1, "host"], ["proxy", "static", 2, "host"]} with input as static_input(
		[mapping("a.acme.example", 8443, "tls", "10.30.0.1"), mapping("a.other.example", 8444, "tls", "10.20.0.1"), mapping("Bad_Host", 8445, "tls", "10.20.0.1")],
		[8443, 8444, 8445],
	)
}

test_duplicates_and_tcp_ports if {
	fx.paths(vsoc007.violation) == {["proxy", "static", 1], ["proxy", "static", 3]} with input as static_input(
		[mapping("a.acme.example", 8443, "tls", "10.20.0.1"), mapping("a.acme.example", 8443, "tls", "10.20.0.2"), mapping("db.acme.example", 5432, "tcp", "10.20.0.3"), mapping("db2.acme.example", 5432, "tcp", "10.20.0.4")],
		[8443, 8443, 5432, 5432],
	)
}

test_dynamic_listeners if {
	fx.paths(vsoc007.violation) == {["proxy", "static", 0, "protocol"], ["proxy", "static", 1, "protocol"], ["proxy", "static", 2, "port"]} with input as static_input(
		[mapping("a.acme.example", 80, "tls", "10.20.0.1"), mapping("b.acme.example", 443, "tcp", "10.20.0.1"), mapping("c.acme.example", 3128, "tcp", "10.20.0.1")],
		[20080, 20443, 3128],
	)
}

test_container_ports if {
	fx.paths(vsoc007.violation) == {["proxy", "static", 0, "port"], ["proxy", "static", 2, "port"]} with input as static_input(
		[mapping("a.acme.example", 9901, "tls", "10.20.0.1"), mapping("b.acme.example", 22, "tcp", "10.20.0.1"), mapping("c.acme.example", 20022, "tcp", "10.20.0.1")],
		[9901, 20022, 20022],
	)
}

# The hub's DNS points a customer domain's names at the proxy through the
# wildcard *.<domain> (and proxy.<domain>, and the KKP endpoints' own records):
# the apex, a service's name and the names below those resolve elsewhere or
# not at all, so a mapping there would never see a connection.
test_host_resolves_to_proxy if {
	fx.paths(vsoc007.violation) == {["proxy", "static", 0, "host"], ["proxy", "static", 1, "host"], ["proxy", "static", 2, "host"], ["proxy", "static", 3, "host"]} with input as static_input(
		[mapping("acme.example", 8443, "tls", "10.20.0.1"), mapping("grafana.acme.example", 8444, "tls", "10.20.0.1"), mapping("x.grafana.acme.example", 8445, "tcp", "10.20.0.1"), mapping("x.proxy.acme.example", 8446, "http", "10.20.0.1")],
		[8443, 8444, 8445, 8446],
	)
}

test_host_answered_by_proxy_records if {
	# proxy.<domain>, a KKP endpoint with a record of its own (the apex), the
	# wildcard, and a name of a second domain, whose zone has no services.
	count(vsoc007.violation) == 0 with input as object.union(
		static_input(
			[mapping("proxy.acme.example", 8443, "tls", "10.20.0.1"), mapping("acme.example", 8444, "tls", "10.20.0.1"), mapping("a.b.acme.example", 8445, "tls", "10.20.0.1"), mapping("grafana.two.example", 8446, "tls", "10.20.0.1")],
			[8443, 8444, 8445, 8446],
		),
		{"customer": {"dns": {"domains": ["acme.example", "two.example"]}, "kkp": {"endpoints": {"ui": "acme.example"}}}},
	)
}
