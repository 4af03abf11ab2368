# METADATA
# title: names are DNS labels and unique, areas are label values
# description: |-
#   Names become parts of AWS resource names, DNS records and Kubernetes objects:
#   the customer's name, its gateways' names, its namespaces (and the monitoring
#   namespace), its published services and the hub's shared services are DNS labels
#   (lower-case letters, digits and hyphens, at most 63 characters, starting and
#   ending with a letter or digit). Gateway names are unique within the customer,
#   also once CloudFormation's logical IDs drop their hyphens (gw-1 and gw1 would
#   both be CustomerGatewayGw1); gateway addresses are unique across the whole
#   fleet, since AWS keys a customer gateway by its address and one device cannot
#   be two customers' VPN peer. A namespace's network area becomes the value of its
#   vsoc.io/network-area label: letters, digits, '-', '_' and '.', at most 63
#   characters, starting and ending with a letter or digit.
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
		"hint": "declare each VPN device once: a second gateway needs a device of its own, with its own public address",
	}
}

violation contains v if {
	count(input.customer.vpn.gateways) > 1
	some i, g in input.customer.vpn.gateways
	some j, other in input.customer.vpn.gateways
	j < i
	other.name != g.name
	lib.logical_id(other.name) == lib.logical_id(g.name)
	v := {
		"path": ["vpn", "gateways", i, "name"],
		"message": sprintf("gateway name %s gives the same CloudFormation logical ID (CustomerGateway%s) as %s (vpn.gateways[%d])", [g.name, lib.logical_id(g.name), other.name, j]),
		"hint": "rename one of them: names that differ only in hyphens are one name to CloudFormation",
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
		"hint": "a VPN device is one customer's peer: check the address with the customer (a typo or a copied file?)",
	}
}

violation contains v if {
	some name, _ in input.customer.cluster.namespaces
	not lib.dns_label(name)
	v := {"path": ["cluster", "namespaces", name], "message": sprintf("namespace %s is not a DNS label", [name])}
}

violation contains v if {
	some name, ns in input.customer.cluster.namespaces
	not label_value(ns.area)
	v := {
		"path": ["cluster", "namespaces", name, "area"],
		"message": sprintf("namespace %s: area %q is not a Kubernetes label value", [name, ns.area]),
		"hint": "write the area as letters, digits, '-', '_' and '.' (at most 63), starting and ending with a letter or digit",
	}
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

# A non-empty Kubernetes label value (an empty one would take the namespace
# out of every area).
label_value(s) if {
	count(s) <= 63
	regex.match(`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`, s)
}
