# METADATA
# title: names are DNS labels and unique
# description: |-
#   Names become parts of AWS resource names, DNS records and Kubernetes objects:
#   the customer's name, its gateways' names, its namespaces (and the monitoring
#   namespace), its published services and the hub's shared services are DNS labels
#   (lower-case letters, digits and hyphens, at most 63 characters, starting and
#   ending with a letter or digit). Gateway names are unique within the customer;
#   gateway addresses are unique across the whole fleet, since AWS keys a customer
#   gateway by its address and one device cannot be two customers' VPN peer.
# custom:
#   hint: use lower-case letters, digits and hyphens (at most 63), and a name not used yet in the same place
package vsoc.rules.vsoc014

import data.vsoc.lib

violation contains v if {
	not lib.dns_label(input.customer.name)
	v := {"path": [], "message": sprintf("customer name %s is not a DNS label", [input.customer.name])}
}

violation contains v if {
	some i, g in input.customer.vpn.gateways
	not lib.dns_label(g.name)
	v := {"path": ["vpn", "gateways", i, "name"], "message": sprintf("gateway name %s is not a DNS label", [g.name])}
}

violation contains v if {
	count(input.customer.vpn.gateways) > 1
	some i, g in input.customer.vpn.gateways
	some j, other in input.customer.vpn.gateways
	j < i
	other.name == g.name
	v := {"path": ["vpn", "gateways", i, "name"], "message": sprintf("gateway name %s is already used by vpn.gateways[%d]", [g.name, j])}
}

violation contains v if {
	count(input.customer.vpn.gateways) > 1
	some i, g in input.customer.vpn.gateways
	some j, other in input.customer.vpn.gateways
	j < i
	other.address == g.address
	v := {
		"path": ["vpn", "gateways", i, "address"],
		"message": sprintf("gateway address %s is already used by vpn.gateways[%d] (%s)", [g.address, j, other.name]),
	}
}

violation contains v if {
	some i, g in input.customer.vpn.gateways
	others := [sprintf("%s (vpn.gateways[%d])", [o.owner, o.index]) |
		some o in vsoc.gateway_conflicts(g.address, input.customer.name, i)
		o.customer != input.customer.name
	]
	count(others) > 0
	v := {
		"path": ["vpn", "gateways", i, "address"],
		"message": sprintf("gateway address %s is also the gateway of %s", [g.address, lib.enumerate(others)]),
	}
}

violation contains v if {
	some name, _ in input.customer.cluster.namespaces
	not lib.dns_label(name)
	v := {"path": ["cluster", "namespaces", name], "message": sprintf("namespace %s is not a DNS label", [name])}
}

violation contains v if {
	not lib.dns_label(input.customer.cluster.monitoringNamespace)
	v := {
		"path": ["cluster", "monitoringNamespace"],
		"message": sprintf("monitoringNamespace %s is not a DNS label", [input.customer.cluster.monitoringNamespace]),
	}
}

violation contains v if {
	some name, _ in input.customer.services
	not lib.dns_label(name)
	v := {"path": ["services", name], "message": sprintf("service name %s is not a DNS label", [name])}
}

violation contains v if {
	input.scope == "hub"
	some name, _ in input.hub.sharedServices
	not lib.dns_label(name)
	v := {"path": ["sharedServices", name], "message": sprintf("shared service name %s is not a DNS label", [name])}
}
