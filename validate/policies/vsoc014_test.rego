package vsoc.rules.vsoc014_test

import data.vsoc.fixtures as fx
import data.vsoc.rules.vsoc014

beta_has_it(_, _, _) := [{"owner": "customer beta", "customer": "beta", "index": 0}]

test_valid_names if {
	count(vsoc014.violation) == 0 with input as fx.customer_input({}) with vsoc.gateway_conflicts as fx.no_conflicts
	count(vsoc014.violation) == 0 with input as fx.hub_input({})
}

test_labels if {
	vs := vsoc014.violation with input as fx.customer_input({
		"name": "Acme",
		"vpn": {"gateways": [{"name": "gw_1", "address": "62.176.249.5", "asn": 65000}]},
		"services": {"-grafana": {"addresses": ["100.68.1.1"]}},
		"cluster": {"monitoringNamespace": "Monitoring", "namespaces": {"a.b": {"area": "x"}}},
	})
		with vsoc.gateway_conflicts as fx.no_conflicts
	fx.paths(vs) == {[], ["vpn", "gateways", 0, "name"], ["services", "-grafana"], ["cluster", "monitoringNamespace"], ["cluster", "namespaces", "a.b"]}
	fx.paths(vsoc014.violation) == {["sharedServices", "Support"]} with input as fx.hub_input({"sharedServices": {"Support": {"addresses": ["100.65.1.1"]}}})
}

test_unique_gateways if {
	fx.paths(vsoc014.violation) == {["vpn", "gateways", 1, "name"], ["vpn", "gateways", 2, "address"]} with input as fx.customer_input({"vpn": {"gateways": [
		{"name": "gw", "address": "62.176.249.5", "asn": 65000},
		{"name": "gw", "address": "62.176.249.6", "asn": 65000},
		{"name": "gw2", "address": "62.176.249.5", "asn": 65000},
	]}})
		with vsoc.gateway_conflicts as fx.no_conflicts
	fx.paths(vsoc014.violation) == {["vpn", "gateways", 0, "address"]} with input as fx.customer_input({}) with vsoc.gateway_conflicts as beta_has_it
}

test_gateway_names_one_logical_id if {
	vs := vsoc014.violation with input as fx.customer_input({"vpn": {"gateways": [
		{"name": "gw-1", "address": "62.176.249.5", "asn": 65000},
		{"name": "gw1", "address": "62.176.249.6", "asn": 65000},
		{"name": "gw-2", "address": "62.176.249.7", "asn": 65000},
		{"name": "g-w2", "address": "62.176.249.8", "asn": 65000},
	]}})
		with vsoc.gateway_conflicts as fx.no_conflicts
	fx.paths(vs) == {["vpn", "gateways", 1, "name"]}
	some v in vs
	contains(v.message, "(CustomerGatewayGw1) as gw-1 (vpn.gateways[0])")
	contains(v.hint, "hyphens")

	# The same name twice is one violation: the name is already used.
	same := vsoc014.violation with input as fx.customer_input({"vpn": {"gateways": [
		{"name": "gw", "address": "62.176.249.5", "asn": 65000},
		{"name": "gw", "address": "62.176.249.6", "asn": 65000},
	]}})
		with vsoc.gateway_conflicts as fx.no_conflicts
	count(same) == 1
}

test_address_hints_fit if {
	vs := vsoc014.violation with input as fx.customer_input({}) with vsoc.gateway_conflicts as beta_has_it
	some v in vs
	contains(v.hint, "VPN device")
	not contains(v.hint, "lower-case")
}

test_areas_are_label_values if {
	every area in ["tools", "Tools_2", "a.b-c", "x"] {
		count(vsoc014.violation) == 0 with input as fx.customer_input({"cluster": {"namespaces": {"tools": {"area": area}}}})
			with vsoc.gateway_conflicts as fx.no_conflicts
	}
	every area in ["my tools", "", "-tools", "tools.", "tööls", too_long_area] {
		fx.paths(vsoc014.violation) == {["cluster", "namespaces", "tools", "area"]} with input as fx.customer_input({"cluster": {"namespaces": {"tools": {"area": area}}}})
			with vsoc.gateway_conflicts as fx.no_conflicts
	}
}

too_long_area := concat("", ["a" | some _ in numbers.range(1, 64)])

test_service_names_one_logical_id if {
	vs := vsoc014.violation with input as fx.customer_input({"services": {"grafana-1": {"addresses": ["100.68.1.100"]}, "grafana1": {"addresses": ["100.68.65.100"]}, "grafana--1": {"addresses": ["100.68.1.101"]}}})
		with vsoc.gateway_conflicts as fx.no_conflicts
	fx.paths(vs) == {["services", "grafana-1"], ["services", "grafana1"]}
	count(vs) == 2
	some v in vs
	v.path == ["services", "grafana1"]
	contains(v.message, "(RecordGrafana1AcmeExampleA) as service grafana--1")

	hub := vsoc014.violation with input as fx.hub_input({"sharedServices": {"support-2": {"addresses": ["100.65.10.20"]}, "support2": {"addresses": ["100.65.74.20"]}}})
	fx.paths(hub) == {["sharedServices", "support2"]}
	some h in hub
	contains(h.message, "(RecordSupport2VsocExampleNetA) as shared service support-2")
}

test_service_records_clash_with_domain_records if {
	vs := vsoc014.violation with input as fx.customer_input({
		"dns": {"domains": ["acme.example", "svc-acme.example"]},
		"services": {"proxy-svc": {"addresses": ["100.68.1.100"]}, "wildcard": {"addresses": ["100.68.1.101"]}},
	})
		with vsoc.gateway_conflicts as fx.no_conflicts
	fx.paths(vs) == {["services", "proxy-svc"], ["services", "wildcard"]}
	some v in vs
	v.path == ["services", "proxy-svc"]
	contains(v.message, "(RecordProxySvcAcmeExampleA) as proxy.svc-acme.example, the proxy record of domain svc-acme.example (dns.domains[1])")
	some w in vs
	w.path == ["services", "wildcard"]
	contains(w.message, "as *.acme.example, the wildcard record of domain acme.example (dns.domains[0])")

	# A service named proxy is VSOC019's: its record is proxy.<domain> itself.
	count(vsoc014.violation) == 0 with input as fx.customer_input({"services": {"proxy": {"addresses": ["100.68.1.100"]}}})
		with vsoc.gateway_conflicts as fx.no_conflicts
}

test_display_name_bytes if {
	count(vsoc014.violation) == 0 with input as fx.customer_input({"displayName": "ACME Üntersuchungen GmbH"}) with vsoc.gateway_conflicts as fx.no_conflicts
	count(vsoc014.violation) == 0 with input as fx.customer_input({"displayName": repeat("x", 800)}) with vsoc.gateway_conflicts as fx.no_conflicts
	vs := vsoc014.violation with input as fx.customer_input({"displayName": repeat("x", 801)}) with vsoc.gateway_conflicts as fx.no_conflicts
	fx.paths(vs) == {["displayName"]}

	# Bytes, not characters: 401 two-byte letters are 802 bytes.
	multi := vsoc014.violation with input as fx.customer_input({"displayName": repeat("ü", 401)}) with vsoc.gateway_conflicts as fx.no_conflicts
	some v in multi
	contains(v.message, "displayName is 802 bytes, more than the 800 that fit")
}

repeat(s, n) := concat("", [s | some _ in numbers.range(1, n)])

# A 232-character domain (VSOC008's longest) of 229 letters: three labels of 63
# a's and one of 40 b's.
long_domain := concat(".", [repeat("a", 63), repeat("a", 63), repeat("a", 63), repeat("b", 40)])

test_service_record_fits if {
	count(long_domain) == 232

	# 19 letters: the record is 252 characters, its ID Record<19><229>A 255.
	count(vsoc014.violation) == 0 with input as fx.customer_input({"dns": {"domains": [long_domain]}, "services": {repeat("s", 19): {"addresses": ["100.68.1.100"]}}})
		with vsoc.gateway_conflicts as fx.no_conflicts

	# 20 letters: the record is 253 characters, but its ID 256.
	ids := vsoc014.violation with input as fx.customer_input({"dns": {"domains": [long_domain]}, "services": {repeat("s", 20): {"addresses": ["100.68.1.100"]}}})
		with vsoc.gateway_conflicts as fx.no_conflicts
	fx.paths(ids) == {["services", repeat("s", 20)]}
	some id in ids
	contains(id.message, "256 characters, more than the 255 CloudFormation allows")

	# 21: the record itself is 254 characters; a hyphen adds to the name, not to the ID.
	names := vsoc014.violation with input as fx.customer_input({"dns": {"domains": [long_domain]}, "services": {"s-s": {"addresses": ["100.68.1.100"]}, concat("-", [repeat("s", 10), repeat("s", 10)]): {"addresses": ["100.68.1.101"]}}})
		with vsoc.gateway_conflicts as fx.no_conflicts
	fx.paths(names) == {["services", concat("-", [repeat("s", 10), repeat("s", 10)])]}
	some n in names
	contains(n.message, "254 characters, more than the 253 DNS allows")

	# Only the first domain publishes services.
	count(vsoc014.violation) == 0 with input as fx.customer_input({"dns": {"domains": ["acme.example", long_domain]}, "services": {repeat("s", 63): {"addresses": ["100.68.1.100"]}}})
		with vsoc.gateway_conflicts as fx.no_conflicts
}

test_shared_service_record_fits if {
	count(vsoc014.violation) == 0 with input as fx.hub_input({"sharedServices": {repeat("s", 63): {"addresses": ["100.65.1.1"]}}})
	fx.paths(vsoc014.violation) == {["sharedServices", repeat("s", 20)]} with input as fx.hub_input({"domain": long_domain, "sharedServices": {repeat("s", 20): {"addresses": ["100.65.1.1"]}}})
}
