# METADATA
# title: DNS resolvers are inside the remote subnets
# description: |-
#   The customer's DNS servers are reached through the VPN tunnels, by the Route 53
#   Resolver outbound endpoint or by CoreDNS in the customer cluster. Only the remote
#   subnets are routed into the tunnels, so a resolver outside them is unreachable
#   and every name of the customer's domains would fail to resolve. Each resolver is
#   listed once: it becomes a Resolver rule target and a security group egress rule
#   per protocol, and EC2 refuses the same rule twice. With mode coredns there are
#   at most 15: CoreDNS's forward plugin refuses more upstreams, and the cluster's
#   CoreDNS would not load the customer's forwarding block.
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

# CoreDNS's forward plugin (render/dns's forwarding block, mode coredns) takes
# at most 15 upstreams and refuses the whole block otherwise ("more than 15 TOs
# configured").
max_coredns_upstreams := 15

violation contains v if {
	input.customer.dns.mode == "coredns"
	n := count(input.customer.dns.resolvers)
	n > max_coredns_upstreams
	v := {
		"path": ["dns", "resolvers"],
		"message": sprintf("%d resolvers, more than the %d CoreDNS forwards to: the customer cluster's CoreDNS would refuse the forwarding block (mode coredns)", [n, max_coredns_upstreams]),
		"hint": sprintf("list at most %d of the customer's DNS servers, or use mode: \"route53-resolver\"", [max_coredns_upstreams]),
	}
}
