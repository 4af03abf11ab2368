package vsoc.rules.vsoc008_test

import data.vsoc.fixtures as fx
import data.vsoc.rules.vsoc008

under_hub(_, _, _) := [{"owner": "the hub domain", "customer": "", "index": 0, "domain": "vsoc.example.net", "relation": "inside"}]

same_as_beta(_, _, _) := [{"owner": "customer beta", "customer": "beta", "index": 0, "domain": "acme.example", "relation": "same"}]

# cidrs[1] is inside cidrs[0] of the same customer: reported at the later one.
nested_own(_, _, i) := [{"owner": "customer acme", "customer": "acme", "index": 1 - i, "domain": "x", "relation": "contains"}]

test_unique_domains if {
	count(vsoc008.violation) == 0 with input as fx.customer_input({}) with vsoc.domain_conflicts as fx.no_conflicts
	count(vsoc008.violation) == 0 with input as fx.hub_input({})
}

test_conflicts if {
	vs := vsoc008.violation with input as fx.customer_input({}) with vsoc.domain_conflicts as under_hub
	fx.paths(vs) == {["dns", "domains", 0]}
	some v in vs
	contains(v.message, "is inside the hub domain vsoc.example.net")
	fx.paths(vsoc008.violation) == {["dns", "domains", 0]} with input as fx.customer_input({}) with vsoc.domain_conflicts as same_as_beta
	fx.paths(vsoc008.violation) == {["dns", "domains", 1]} with input as fx.customer_input({"dns": {"domains": ["acme.example", "eu.acme.example"]}})
		with vsoc.domain_conflicts as nested_own
}

test_malformed if {
	fx.paths(vsoc008.violation) == {["dns", "domains", 0], ["dns", "domains", 1]} with input as fx.customer_input({"dns": {"domains": ["Acme.example", "localhost"]}})
		with vsoc.domain_conflicts as fx.no_conflicts

	# An IPv4 address is no name (the proxy refuses *.10.20.3.4 as an IP
	# literal), nor is any name whose top-level label is all digits.
	fx.paths(vsoc008.violation) == {["dns", "domains", 0], ["dns", "domains", 1]} with input as fx.customer_input({"dns": {"domains": ["10.20.3.4", "acme.123"]}})
		with vsoc.domain_conflicts as fx.no_conflicts
	fx.paths(vsoc008.violation) == {["domain"]} with input as fx.hub_input({"domain": "vsoc_net"})
}

test_one_logical_id if {
	vs := vsoc008.violation with input as fx.customer_input({"dns": {"domains": ["a-b.example", "a.b.example", "ab.example"]}})
		with vsoc.domain_conflicts as fx.no_conflicts
	fx.paths(vs) == {["dns", "domains", 1]}
	some v in vs
	contains(v.message, "(HostedZoneABExample) as a-b.example (dns.domains[0])")
}

# A lower-case DNS name of n characters: labels of 62 a's, ending in ".de" (n
# such that the last label is not empty).
domain_of(n) := concat("", array.concat([char(k) | some k in numbers.range(0, n - 4)], [".de"]))

char(k) := "." if (k + 1) % 63 == 0

char(k) := "a" if (k + 1) % 63 != 0

test_domain_length if {
	count(domain_of(232)) == 232
	count(vsoc008.violation) == 0 with input as fx.customer_input({"dns": {"domains": [domain_of(232)]}})
		with vsoc.domain_conflicts as fx.no_conflicts
	every n in [233, 249, 253] {
		fx.paths(vsoc008.violation) == {["dns", "domains", 1]} with input as fx.customer_input({"dns": {"domains": ["acme.example", domain_of(n)]}})
			with vsoc.domain_conflicts as fx.no_conflicts
	}
	vs := vsoc008.violation with input as fx.customer_input({"dns": {"domains": [domain_of(250)]}}) with vsoc.domain_conflicts as fx.no_conflicts
	some v in vs
	contains(v.message, "is 250 characters, more than the 232 that fit")
}

test_hub_domain_length if {
	count(domain_of(242)) == 242
	count(vsoc008.violation) == 0 with input as fx.hub_input({"domain": domain_of(242)})
	every n in [243, 250, 253] {
		fx.paths(vsoc008.violation) == {["domain"]} with input as fx.hub_input({"domain": domain_of(n)})
	}
	vs := vsoc008.violation with input as fx.hub_input({"domain": domain_of(243)})
	some v in vs
	contains(v.message, "is 243 characters, more than the 242 that fit")
}
