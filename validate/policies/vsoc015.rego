# METADATA
# title: DNS resolvers are inside the remote subnets
# description: |-
#   The customer's DNS servers are reached through the VPN tunnels, by the Route 53
#   Resolver outbound endpoint or by CoreDNS in the customer cluster. Only the remote
#   subnets are routed into the tunnels, so a resolver outside them is unreachable
#   and every name of the customer's domains would fail to resolve. Each resolver is
#   listed once: it becomes a Resolver rule target and a security group egress rule
#   per protocol, and EC2 refuses the same rule twice.
# custom:
#   hint: list the customer's DNS servers' addresses, inside vpn.remoteSubnets
package vsoc.rules.vsoc015

import data.vsoc.lib

violation contains v if {
	some i, r in input.customer.dns.resolvers
	msg := lib.addr_problem(r)
	v := {"path": ["dns", "resolvers", i], "message": sprintf("resolver %s", [msg])}
}

violation contains v if {
	some i, r in input.customer.dns.resolvers
	lib.valid_addr(r)
	not lib.inside_any(input.customer.vpn.remoteSubnets, r)
	v := {
		"path": ["dns", "resolvers", i],
		"message": sprintf("resolver %s is outside the remote subnets (%s): it is reached through the tunnels", [r, concat(", ", input.customer.vpn.remoteSubnets)]),
	}
}

violation contains v if {
	resolvers := input.customer.dns.resolvers
	some i, j in lib.repeats(resolvers)
	r := resolvers[i]
	lib.valid_addr(r)
	v := {
		"path": ["dns", "resolvers", i],
		"message": sprintf("resolver %s is listed twice (also dns.resolvers[%d])", [r, j]),
		"hint": "list each DNS server once",
	}
}
