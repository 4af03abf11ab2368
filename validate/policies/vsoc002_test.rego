package vsoc.rules.vsoc002_test

import data.vsoc.fixtures as fx
import data.vsoc.rules.vsoc002

other_customer(_, _, _) := [{"owner": "customer beta", "customer": "beta", "index": 0, "cidr": "100.68.0.0/17"}]

# The customer's own cidrs[1] overlaps cidrs[0]: reported at the later one only.
own_blocks(_, _, i) := [{"owner": "customer acme", "customer": "acme", "index": 1 - i, "cidr": "x"}]

test_no_conflicts if {
	count(vsoc002.violation) == 0 with input as fx.customer_input({}) with vsoc.cidr_conflicts as fx.no_conflicts
}

test_conflict_with_another_customer if {
	vs := vsoc002.violation with input as fx.customer_input({}) with vsoc.cidr_conflicts as other_customer
	fx.paths(vs) == {["vpc", "cidrs", 0]}
	some v in vs
	contains(v.message, "customer beta (100.68.0.0/17)")
}

test_own_blocks_reported_once if {
	vs := vsoc002.violation with input as fx.customer_input({"vpc": {"cidrs": ["100.68.0.0/16", "100.68.0.0/17"]}})
		with vsoc.cidr_conflicts as own_blocks
	fx.paths(vs) == {["vpc", "cidrs", 1]}
}

test_pool_overlaps_hub if {
	fx.paths(vsoc002.violation) == {["clientVPN", "clientCIDR"]} with input as fx.hub_input({"clientVPN": {"clientCIDR": "100.65.0.0/22"}})
	count(vsoc002.violation) == 0 with input as fx.hub_input({})
}
