# METADATA
# title: VPC, hub and Client VPN ranges are valid
# description: |-
#   Every VPC CIDR (customers' and the hub's) is an IPv4 network written without host
#   bits, inside the shared address space 100.64.0.0/10 the VSOC allocates from, and
#   between /16 and /24: AWS VPC CIDR blocks are /16 to /28, and the compiler carves
#   one private subnet per availability zone (a quarter of the primary block) that
#   must stay large enough for the proxy's load balancer and the resolver endpoint.
#   With natEgress the public subnets are carved from the primary block's last
#   quarter, sixteen times smaller, so the primary block is /22 at most.
#   The Client VPN pool is a /12 to /22, the limits AWS Client VPN accepts.
# custom:
#   hint: write the network address with a prefix length of /16 to /24 from 100.64.0.0/10, e.g. 100.68.0.0/16
package vsoc.rules.vsoc001

import data.vsoc.lib

violation contains v if {
	some i, cidr in input.customer.vpc.cidrs
	max := customer_max_bits(i)
	not vpc_ok(cidr, max)
	msg := vpc_problem(cidr, max)
	v := {"path": ["vpc", "cidrs", i], "message": sprintf("VPC CIDR %s", [msg])}
}

violation contains v if {
	input.scope == "hub"
	not vpc_ok(input.hub.cidr, 24)
	msg := vpc_problem(input.hub.cidr, 24)
	v := {"path": ["cidr"], "message": sprintf("hub CIDR %s", [msg])}
}

violation contains v if {
	input.scope == "hub"
	msg := pool_problem(input.hub.clientVPN.clientCIDR)
	v := {
		"path": ["clientVPN", "clientCIDR"],
		"message": sprintf("Client VPN pool %s", [msg]),
		"hint": "AWS Client VPN takes a /12 to /22 that overlaps no VPC, e.g. 100.100.0.0/22",
	}
}

# The common case in one go; vpc_problem says what is wrong otherwise.
vpc_ok(s, max) if {
	lib.valid_prefix(s)
	vsoc.prefix_contains(lib.shared_space, s)
	bits := vsoc.prefix_len(s)
	bits >= 16
	bits <= max
}

customer_max_bits(i) := 22 if {
	i == 0
	input.customer.vpc.natEgress
} else := 24

vpc_problem(s, _) := lib.prefix_problem(s)

vpc_problem(s, _) := sprintf("%s is outside %s, the shared address space VSOC ranges come from", [s, lib.shared_space]) if {
	lib.valid_prefix(s)
	not vsoc.prefix_contains(lib.shared_space, s)
}

vpc_problem(s, max) := sprintf("%s is a /%d: VPC blocks here are /16 to /%d%s", [s, bits, max, nat_note(max)]) if {
	lib.valid_prefix(s)
	vsoc.prefix_contains(lib.shared_space, s)
	bits := vsoc.prefix_len(s)
	not in_range(bits, 16, max)
}

nat_note(22) := " (natEgress carves the public subnets from the primary block's last quarter)"

nat_note(max) := "" if max != 22

pool_problem(s) := lib.prefix_problem(s)

pool_problem(s) := sprintf("%s is a /%d: AWS Client VPN pools are /12 to /22", [s, bits]) if {
	lib.valid_prefix(s)
	bits := vsoc.prefix_len(s)
	not in_range(bits, 12, 22)
}

in_range(x, lo, hi) if {
	x >= lo
	x <= hi
}
