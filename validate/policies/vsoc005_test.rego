package vsoc.rules.vsoc005_test

import data.vsoc.fixtures as fx
import data.vsoc.rules.vsoc005

test_listener_ports if {
	count(vsoc005.violation) == 0 with input as fx.customer_input({})
	count(vsoc005.violation) == 0 with input as fx.customer_input({"proxy": {"ports": [443]}})
}

test_other_port if {
	fx.paths(vsoc005.violation) == {["proxy", "ports", 1]} with input as fx.customer_input({"proxy": {"ports": [443, 22]}})
}

test_duplicate_port if {
	fx.paths(vsoc005.violation) == {["proxy", "ports", 2]} with input as fx.customer_input({"proxy": {"ports": [443, 80, 443]}})
}

test_no_listener if {
	fx.paths(vsoc005.violation) == {["proxy", "ports"]} with input as fx.customer_input({"proxy": {"ports": [], "static": []}})

	# Static mappings alone give the proxy its listeners.
	count(vsoc005.violation) == 0 with input as fx.customer_input({"proxy": {"ports": []}})
}
