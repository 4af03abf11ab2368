# METADATA
# title: published services are inside their VPC
# description: |-
#   Services published in the hub's DNS (a customer's services, e.g. the MLA stack's
#   Grafana, and the hub's shared services) are reached from the hub over the VPC
#   peering, which routes only the VPC CIDR blocks: a customer service's addresses
#   must be inside that customer's VPC CIDRs, a shared service's inside the hub CIDR.
# custom:
#   hint: use the addresses of the service's internal load balancer in its VPC
package vsoc.rules.vsoc016

import data.vsoc.lib

violation contains v if {
	some name, svc in input.customer.services
	some i, a in svc.addresses
	msg := problem(a, input.customer.vpc.cidrs, "the customer's VPC CIDRs")
	v := {"path": ["services", name, "addresses", i], "message": sprintf("service %s address %s", [name, msg])}
}

violation contains v if {
	input.scope == "hub"
	some name, svc in input.hub.sharedServices
	some i, a in svc.addresses
	msg := problem(a, [input.hub.cidr], "the hub CIDR")
	v := {"path": ["sharedServices", name, "addresses", i], "message": sprintf("shared service %s address %s", [name, msg])}
}

problem(a, _, _) := lib.addr_problem(a)

problem(a, cidrs, where) := sprintf("%s is outside %s (%s)", [a, where, concat(", ", cidrs)]) if {
	lib.valid_addr(a)
	not lib.inside_any(cidrs, a)
}
