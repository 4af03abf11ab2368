# METADATA
# title: customer gateway addresses are public unicast IPv4
# description: |-
#   A customer gateway is the customer's VPN device as AWS sees it on the internet:
#   its address must be a public unicast IPv4 address. Private (RFC 1918), shared
#   (100.64.0.0/10), loopback, link-local, multicast, documentation, benchmarking,
#   IETF protocol, "this network", reserved and broadcast addresses cannot terminate
#   a Site-to-Site VPN over the internet (or are typing mistakes).
# custom:
#   hint: use the public IPv4 address of the customer's VPN device (its outside interface, after NAT)
package vsoc.rules.vsoc010

import data.vsoc.lib

# Special-purpose ranges (RFC 6890 and the IANA registry) that are not public
# unicast: the ones that are no network at all, and the private, shared,
# documentation and protocol ranges.
special := object.union(lib.not_a_network, {
	"10.0.0.0/8": "private (RFC 1918)",
	"100.64.0.0/10": "shared address space (RFC 6598)",
	"172.16.0.0/12": "private (RFC 1918)",
	"192.0.0.0/24": "IETF protocol assignments",
	"192.0.2.0/24": "documentation (TEST-NET-1)",
	"192.88.99.0/24": "deprecated 6to4 relay anycast",
	"192.168.0.0/16": "private (RFC 1918)",
	"198.18.0.0/15": "benchmarking (RFC 2544)",
	"198.51.100.0/24": "documentation (TEST-NET-2)",
	"203.0.113.0/24": "documentation (TEST-NET-3)",
})

violation contains v if {
	some i, g in input.customer.vpn.gateways
	msg := lib.addr_problem(g.address)
	v := {
		"path": ["vpn", "gateways", i, "address"],
		"message": sprintf("customer gateway %s address %s", [g.name, msg]),
	}
}

violation contains v if {
	some i, g in input.customer.vpn.gateways
	lib.valid_addr(g.address)
	some range in vsoc.containing(special, g.address)
	what := special[range]
	v := {
		"path": ["vpn", "gateways", i, "address"],
		"message": sprintf("customer gateway %s address %s is in %s, %s: not a public unicast address", [g.name, g.address, range, what]),
	}
}
