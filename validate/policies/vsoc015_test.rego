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

test_listed_twice if {
	vs := vsoc015.violation with input as fx.customer_input({"dns": {"resolvers": ["10.20.0.53", "10.20.1.53", "10.20.0.53", "10.20.0.53"]}})
	fx.paths(vs) == {["dns", "resolvers", 2], ["dns", "resolvers", 3]}
	count(vs) == 2
	every v in vs {
		contains(v.message, "resolver 10.20.0.53 is listed twice (also dns.resolvers[0])")
	}

	# A malformed resolver twice is reported as malformed only.
	count(vsoc015.violation) == 2 with input as fx.customer_input({"dns": {"resolvers": ["10.20.0", "10.20.0"]}})
}

# CoreDNS's forward plugin takes at most 15 upstreams ("more than 15 TOs
# configured"): the customer cluster's CoreDNS would not load the block.
test_coredns_forwards_to_at_most_15 if {
	fifteen := [sprintf("10.20.0.%d", [i]) | some i in numbers.range(1, 15)]
	count(vsoc015.violation) == 0 with input as fx.customer_input({"dns": {"domains": ["acme.example"], "resolvers": fifteen, "mode": "coredns"}})

	sixteen := array.concat(fifteen, ["10.20.0.16"])
	vs := vsoc015.violation with input as fx.customer_input({"dns": {"domains": ["acme.example"], "resolvers": sixteen, "mode": "coredns"}})
	fx.paths(vs) == {["dns", "resolvers"]}
	every v in vs {
		contains(v.message, "16 resolvers")
		contains(v.message, "15")
	}

	# The Route 53 Resolver forwards without CoreDNS's limit.
	count(vsoc015.violation) == 0 with input as fx.customer_input({"dns": {"domains": ["acme.example"], "resolvers": sixteen, "mode": "route53-resolver"}})
}
