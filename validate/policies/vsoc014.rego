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

c := input.customer

violation contains v if {
	not lib.dns_label(c.name)
	v := {"path": [], "message": sprintf("customer name %s is not a DNS label", [c.name])}
}

violation contains v if {
	some i, g in c.vpn.gateways
	not lib.dns_label(g.name)
	v := {"path": ["vpn", "gateways", i, "name"], "message": sprintf("gateway name %s is not a DNS label", [g.name])}
}

violation contains v if {
	some i, g in c.vpn.gateways
	some j, other in c.vpn.gateways
	j < i
	other.name == g.name
	v := {"path": ["vpn", "gateways", i, "name"], "message": sprintf("gateway name %s is already used by vpn.gateways[%d]", [g.name, j])}
}

violation contains v if {
	some i, g in c.vpn.gateways
	some j, other in c.vpn.gateways
	j < i
	other.address == g.address
	v := {
		"path": ["vpn", "gateways", i, "address"],
		"message": sprintf("gateway address %s is already used by vpn.gateways[%d] (%s)", [g.address, j, other.name]),
	}
}

violation contains v if {
	some i, g in c.vpn.gateways
	others := [sprintf("%s (vpn.gateways[%d])", [o.owner, o.index]) |
		some o in vsoc.gateway_conflicts(g.address, c.name, i)
		o.customer != c.name
	]
	count(others) > 0
	v := {
		"path": ["vpn", "gateways", i, "address"],
		"message": sprintf("gateway address %s is also the gateway of %s", [g.address, lib.enumerate(others)]),
	}
}

violation contains v if {
	some name, _ in c.cluster.namespaces
	not lib.dns_label(name)
	v := {"path": ["cluster", "namespaces", name], "message": sprintf("namespace %s is not a DNS label", [name])}
}

violation contains v if {
	not lib.dns_label(c.cluster.monitoringNamespace)
	v := {
		"path": ["cluster", "monitoringNamespace"],
		"message": sprintf("monitoringNamespace %s is not a DNS label", [c.cluster.monitoringNamespace]),
	}
}

violation contains v if {
	some name, _ in c.services
	not lib.dns_label(name)
	v := {"path": ["services", name], "message": sprintf("service name %s is not a DNS label", [name])}
}

violation contains v if {
	input.scope == "hub"
	some name, _ in input.hub.sharedServices
	not lib.dns_label(name)
	v := {"path": ["sharedServices", name], "message": sprintf("shared service name %s is not a DNS label", [name])}
}
