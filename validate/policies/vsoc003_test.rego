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

test_no_network_behind_a_vpn if {
	every s in ["169.254.0.0/16", "169.254.169.254/32", "127.0.0.0/8", "0.0.0.0/1", "0.0.0.0/7", "224.0.0.0/24", "240.0.0.0/4", "255.255.255.255/32"] {
		fx.paths(vsoc003.violation) == {["vpn", "remoteSubnets", 0]} with input as fx.customer_input({"vpn": {"remoteSubnets": [s]}})
			with vsoc.cidr_conflicts as fx.no_conflicts
	}
	vs := vsoc003.violation with input as fx.customer_input({"vpn": {"remoteSubnets": ["10.20.0.0/16", "128.0.0.0/1"]}})
		with vsoc.cidr_conflicts as fx.no_conflicts
	fx.paths(vs) == {["vpn", "remoteSubnets", 1]}
	some v in vs
	contains(v.message, "169.254.0.0/16, the multicast range 224.0.0.0/4, the reserved (and broadcast) range 240.0.0.0/4")
	contains(v.hint, "RFC 1918")
}

test_networks_next_to_special_ranges if {
	every s in ["172.16.0.0/12", "192.168.0.0/16", "1.0.0.0/8", "126.0.0.0/8", "192.0.0.0/3", "169.253.0.0/16", "223.255.255.0/24"] {
		count(vsoc003.violation) == 0 with input as fx.customer_input({"vpn": {"remoteSubnets": [s]}})
			with vsoc.cidr_conflicts as fx.no_conflicts
	}
}

test_listed_twice if {
	vs := vsoc003.violation with input as fx.customer_input({"vpn": {"remoteSubnets": ["10.20.0.0/16", "192.168.50.0/24", "10.20.0.0/16", "10.20.0.0/16"]}})
		with vsoc.cidr_conflicts as fx.no_conflicts
	fx.paths(vs) == {["vpn", "remoteSubnets", 2], ["vpn", "remoteSubnets", 3]}
	count(vs) == 2
	some v in vs
	v.path == ["vpn", "remoteSubnets", 2]
	contains(v.message, "10.20.0.0/16 is listed twice (also vpn.remoteSubnets[0])")

	# A malformed subnet twice is reported as malformed, not again as listed twice.
	count(vsoc003.violation) == 2 with input as fx.customer_input({"vpn": {"remoteSubnets": ["10.20.0.1/16", "10.20.0.1/16"]}})
		with vsoc.cidr_conflicts as fx.no_conflicts
}
