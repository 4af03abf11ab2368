package vsoc.rules.vsoc015_test

import data.vsoc.fixtures as fx
import data.vsoc.rules.vsoc015

test_resolvers_inside_remote_subnets if {
	count(vsoc015.violation) == 0 with input as fx.customer_input({})
	count(vsoc015.violation) == 0 with input as fx.customer_input({"vpn": {"remoteSubnets": ["10.20.0.0/16", "172.16.0.0/24"]}, "dns": {"resolvers": ["172.16.0.53", "10.20.0.53"]}})
}

test_outside_or_malformed if {
	fx.paths(vsoc015.violation) == {["dns", "resolvers", 0], ["dns", "resolvers", 1]} with input as fx.customer_input({"dns": {"resolvers": ["8.8.8.8", "10.20.0"]}})
}
