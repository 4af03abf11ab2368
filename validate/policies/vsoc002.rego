# METADATA
# title: VSOC ranges do not overlap
# description: |-
#   The hub's CIDR, every CIDR block of every customer VPC (a customer's own blocks
#   too) and the Client VPN client pool must be pairwise disjoint. The hub peers with
#   every customer VPC and routes each customer's blocks to its peering connection,
#   and operators' Client VPN addresses are routed back through the hub: an overlap
#   makes one of the routes ambiguous, and AWS refuses to peer overlapping VPCs.
#   A clash between two customers is reported at both; a clash with the hub or the
#   pool is reported at the customer.
# custom:
#   hint: pick a free block from 100.64.0.0/10 (vsoc-compile plan on the base branch lists the ranges in use; it plans only a valid fleet)
package vsoc.rules.vsoc002

import data.vsoc.lib

violation contains v if {
	c := input.customer
	some i, cidr in c.vpc.cidrs
	others := [describe(o, c.name) |
		some o in vsoc.cidr_conflicts(cidr, c.name, i)
		not lib.earlier_own(o, c.name, i)
	]
	count(others) > 0
	v := {"path": ["vpc", "cidrs", i], "message": sprintf("VPC CIDR %s overlaps %s", [cidr, lib.enumerate(others)])}
}

violation contains v if {
	input.scope == "hub"
	pool := input.hub.clientVPN.clientCIDR
	vsoc.prefix_overlaps(pool, input.hub.cidr)
	v := {
		"path": ["clientVPN", "clientCIDR"],
		"message": sprintf("Client VPN pool %s overlaps the hub CIDR %s", [pool, input.hub.cidr]),
	}
}

describe(o, self) := sprintf("its own vpc.cidrs[%d] %s", [o.index, o.cidr]) if {
	o.customer == self
} else := sprintf("%s (%s)", [o.owner, o.cidr])
