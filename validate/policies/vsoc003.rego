# METADATA
# title: remote subnets stay out of the VSOC's address space
# description: |-
#   A customer's remote subnets are the networks behind the Site-to-Site VPN. The
#   customer VPC routes them to the virtual private gateway, so a remote subnet that
#   overlaps the customer's own VPC, the hub, another customer's VPC, the Client VPN
#   pool or anything in 100.64.0.0/10 (from which the VSOC allocates) would capture
#   or shadow VSOC traffic. Remote subnets MAY overlap other customers' remote
#   subnets: they are never routed into the hub.
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

describe(o, self) := sprintf("the customer's own VPC CIDR %s", [o.cidr]) if {
	o.customer == self
} else := sprintf("%s (%s)", [o.owner, o.cidr])
