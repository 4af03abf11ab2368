# METADATA
# title: remote subnets are real networks outside the VSOC's address space
# description: |-
#   A customer's remote subnets are the networks behind the Site-to-Site VPN. The
#   customer VPC routes them to the virtual private gateway, so a remote subnet that
#   overlaps the customer's own VPC, the hub, another customer's VPC, the Client VPN
#   pool or anything in 100.64.0.0/10 (from which the VSOC allocates) would capture
#   or shadow VSOC traffic. They are also the only addresses the proxy may dial, so
#   none may overlap a range where no network can be behind a VPN: "this network"
#   (0.0.0.0/8), loopback, link-local (169.254.169.254 is the instance metadata
#   endpoint), multicast, reserved and broadcast; the proxy's configuration refuses
#   them. Each remote subnet is listed once: it gets one VPN route and one VPC route
#   (whose CloudFormation logical IDs are derived from it). Remote subnets MAY overlap
#   other customers' remote subnets: they are never routed into the hub.
# custom:
#   hint: list the customer's real networks behind the VPN (RFC 1918 ranges), outside 100.64.0.0/10
package vsoc.rules.vsoc003

import data.vsoc.lib

violation contains v if {
	some i, s in input.customer.vpn.remoteSubnets
	msg := lib.prefix_problem(s)
	v := {"path": ["vpn", "remoteSubnets", i], "message": sprintf("remote subnet %s", [msg])}
}

violation contains v if {
	c := input.customer
	some i, s in c.vpn.remoteSubnets
	lib.valid_prefix(s)
	others := [describe(o, c.name) | some o in vsoc.cidr_conflicts(s, "", -1)]
	count(others) > 0
	v := {"path": ["vpn", "remoteSubnets", i], "message": sprintf("remote subnet %s overlaps %s", [s, lib.enumerate(others)])}
}

violation contains v if {
	some i, s in input.customer.vpn.remoteSubnets
	lib.valid_prefix(s)
	vsoc.prefix_overlaps(s, lib.shared_space)
	count(vsoc.cidr_conflicts(s, "", -1)) == 0
	v := {
		"path": ["vpn", "remoteSubnets", i],
		"message": sprintf("remote subnet %s overlaps %s, the shared address space VSOC ranges come from", [s, lib.shared_space]),
	}
}

violation contains v if {
	some i, s in input.customer.vpn.remoteSubnets
	lib.valid_prefix(s)
	ranges := [sprintf("the %s range %s", [what, r]) |
		some r, what in lib.not_a_network
		vsoc.prefix_overlaps(s, r)
	]
	count(ranges) > 0
	v := {
		"path": ["vpn", "remoteSubnets", i],
		"message": sprintf("remote subnet %s overlaps %s, where no network behind a VPN can be", [s, lib.enumerate(ranges)]),
		"hint": "list the customer's real networks behind the VPN (RFC 1918 ranges), never loopback, link-local, multicast, reserved or 0.0.0.0/8",
	}
}

violation contains v if {
	subnets := input.customer.vpn.remoteSubnets
	some i, j in lib.repeats(subnets)
	s := subnets[i]
	lib.valid_prefix(s)
	v := {
		"path": ["vpn", "remoteSubnets", i],
		"message": sprintf("remote subnet %s is listed twice (also vpn.remoteSubnets[%d])", [s, j]),
		"hint": "list each remote subnet once: the stack cannot hold its routes twice",
	}
}

describe(o, self) := sprintf("the customer's own VPC CIDR %s", [o.cidr]) if {
	o.customer == self
} else := sprintf("%s (%s)", [o.owner, o.cidr])
