package vsoc.rules.vsoc001_test

import data.vsoc.fixtures as fx
import data.vsoc.rules.vsoc001

test_valid_customer_and_hub if {
	count(vsoc001.violation) == 0 with input as fx.customer_input({})
	count(vsoc001.violation) == 0 with input as fx.hub_input({})
}

test_host_bits if {
	fx.paths(vsoc001.violation) == {["vpc", "cidrs", 0]} with input as fx.customer_input({"vpc": {"cidrs": ["100.68.1.0/16"]}})
}

test_outside_shared_space if {
	fx.paths(vsoc001.violation) == {["vpc", "cidrs", 1]} with input as fx.customer_input({"vpc": {"cidrs": ["100.68.0.0/16", "10.1.0.0/16"]}})
}

test_not_a_cidr_nor_ipv6 if {
	fx.paths(vsoc001.violation) == {["vpc", "cidrs", 0], ["vpc", "cidrs", 1]} with input as fx.customer_input({"vpc": {"cidrs": ["100.68.0.0", "fd00::/48"]}})
}

test_sizes if {
	fx.paths(vsoc001.violation) == {["vpc", "cidrs", 0]} with input as fx.customer_input({"vpc": {"cidrs": ["100.68.0.0/15"]}})
	fx.paths(vsoc001.violation) == {["vpc", "cidrs", 0]} with input as fx.customer_input({"vpc": {"cidrs": ["100.68.0.0/25"]}})
	count(vsoc001.violation) == 0 with input as fx.customer_input({"vpc": {"cidrs": ["100.68.0.0/24"]}})
}

test_nat_egress_needs_a_22 if {
	fx.paths(vsoc001.violation) == {["vpc", "cidrs", 0]} with input as fx.customer_input({"vpc": {"cidrs": ["100.68.0.0/23"], "natEgress": true}})
	count(vsoc001.violation) == 0 with input as fx.customer_input({"vpc": {"cidrs": ["100.68.0.0/22", "100.69.0.0/24"], "natEgress": true}})
}

test_hub_cidr if {
	fx.paths(vsoc001.violation) == {["cidr"]} with input as fx.hub_input({"cidr": "192.168.0.0/16"})
	fx.paths(vsoc001.violation) == {["cidr"]} with input as fx.hub_input({"cidr": "100.65.0.1/16"})
}

test_pool_limits if {
	count(vsoc001.violation) == 0 with input as fx.hub_input({"clientVPN": {"clientCIDR": "100.100.0.0/22"}})
	fx.paths(vsoc001.violation) == {["clientVPN", "clientCIDR"]} with input as fx.hub_input({"clientVPN": {"clientCIDR": "100.100.0.0/24"}})
	fx.paths(vsoc001.violation) == {["clientVPN", "clientCIDR"]} with input as fx.hub_input({"clientVPN": {"clientCIDR": "100.96.0.0/11"}})
}
