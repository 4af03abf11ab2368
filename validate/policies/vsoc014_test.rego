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
