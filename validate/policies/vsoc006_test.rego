package vsoc.rules.vsoc006_test

import data.vsoc.fixtures as fx
import data.vsoc.rules.vsoc006

test_tunneling if {
	count(vsoc006.violation) == 0 with input as fx.customer_input({})
}

test_nodeport_without_kkp_traffic if {
	count(vsoc006.violation) == 0 with input as fx.customer_input({
		"kkp": {"exposeStrategy": "NodePort"},
		"proxy": {"ports": [80, 443, 3128]},
	})
		with input.customer.kkp.endpoints as {}
}

test_nodeport_with_endpoint_port_and_mapping if {
	vs := vsoc006.violation with input as fx.customer_input({
		"kkp": {"exposeStrategy": "LoadBalancer"},
		"proxy": {"static": [{"host": "k.acme.example", "port": 6443, "protocol": "tls", "target": {"address": "10.20.0.6", "port": 6443}}]},
	})
	fx.paths(vs) == {["kkp", "endpoints", "ui"], ["proxy", "ports", 2], ["proxy", "static", 0, "port"]}
}
