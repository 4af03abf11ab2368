package vsoc.rules.vsoc003_test

import data.vsoc.fixtures as fx
import data.vsoc.rules.vsoc003

own_vpc(_, _, _) := [{"owner": "customer acme", "customer": "acme", "index": 0, "cidr": "100.68.0.0/16"}]

test_valid_remote_subnets if {
	count(vsoc003.violation) == 0 with input as fx.customer_input({}) with vsoc.cidr_conflicts as fx.no_conflicts
}

test_overlaps_a_range_in_use if {
	vs := vsoc003.violation with input as fx.customer_input({"vpn": {"remoteSubnets": ["10.20.0.0/16", "100.68.4.0/24"]}})
		with vsoc.cidr_conflicts as own_vpc
	count(vs) == 2 # both subnets "overlap" the stand-in
	some v in vs
	v.path == ["vpn", "remoteSubnets", 1]
	contains(v.message, "the customer's own VPC CIDR 100.68.0.0/16")
}

test_overlaps_shared_space if {
	fx.paths(vsoc003.violation) == {["vpn", "remoteSubnets", 0]} with input as fx.customer_input({"vpn": {"remoteSubnets": ["100.64.0.0/9"]}})
		with vsoc.cidr_conflicts as fx.no_conflicts
}

test_malformed if {
	fx.paths(vsoc003.violation) == {["vpn", "remoteSubnets", 0]} with input as fx.customer_input({"vpn": {"remoteSubnets": ["10.20.0.1/16"]}})
		with vsoc.cidr_conflicts as fx.no_conflicts
}
