package vsoc.rules.vsoc016_test

import data.vsoc.fixtures as fx
import data.vsoc.rules.vsoc016

test_services_inside if {
	count(vsoc016.violation) == 0 with input as fx.customer_input({})
	count(vsoc016.violation) == 0 with input as fx.hub_input({})
}

test_customer_service_outside if {
	fx.paths(vsoc016.violation) == {["services", "grafana", "addresses", 1]} with input as fx.customer_input({"services": {"grafana": {"addresses": ["100.68.1.1", "100.65.1.1"]}}})
}

test_shared_service_outside if {
	fx.paths(vsoc016.violation) == {["sharedServices", "support", "addresses", 0]} with input as fx.hub_input({"sharedServices": {"support": {"addresses": ["100.68.1.1"]}}})
}
