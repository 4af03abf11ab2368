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
#   be two customers' VPN peer. Published names are unique the same way: each
#   service's DNS record (<service>.<first domain>, or <service>.<hub domain> for a
#   shared service) has a CloudFormation logical ID made of the name's letters and
#   digits, so two services may not differ only in hyphens (grafana-1 and grafana1
#   both give RecordGrafana1...), and a customer service's record may not get the ID
#   of a domain's proxy.<domain> or *.<domain> record (service proxy-svc on
#   wobcom.de and domain svc-wobcom.de both give RecordProxySvcWobcomDeA; a service
#   named wildcard gives RecordWildcard<domain>A). A name and its domain are each
#   bounded, but the record is both: <service>.<domain> is at most DNS's 253
#   characters, and its logical ID Record<service><domain>A (their letters and
#   digits) at most CloudFormation's 255. The customer's displayName goes
#   into its stack's Description, which CloudFormation limits to 1024 bytes: with the
#   rest of the description (at most 219 bytes) it is at most 800 bytes. A
#   namespace's network area becomes the value of its
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

# The longest displayName, in bytes: the customer stack's Description
# (render/cloudformation's customerStack) is 138 bytes of text, the customer's
# name (at most 63) and its first VPC CIDR (at most 18) around it, and
# CloudFormation takes at most 1024 bytes (1024 - 219 = 805, rounded down).
max_display_name_bytes := 800

violation contains v if {
	name := object.get(input.customer, "displayName", "")
	bytes := count(hex.encode(name)) / 2
	bytes > max_display_name_bytes
	v := {
		"path": ["displayName"],
		"message": sprintf("displayName is %d bytes, more than the %d that fit: it goes into the customer stack's Description, which CloudFormation limits to 1024 bytes", [bytes, max_display_name_bytes]),
		"hint": "shorten the display name (a company name, not a description)",
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

violation contains v if {
	some name, other in same_record_id(input.customer.services)
	v := {
		"path": ["services", name],
		"message": sprintf("service name %s gives its record the same CloudFormation logical ID (%s) as service %s", [name, lib.record_id(sprintf("%s.%s", [name, input.customer.dns.domains[0]])), other]),
		"hint": "rename one of them: names that differ only in hyphens are one name to CloudFormation",
	}
}

violation contains v if {
	input.scope == "hub"
	some name, other in same_record_id(input.hub.sharedServices)
	v := {
		"path": ["sharedServices", name],
		"message": sprintf("shared service name %s gives its record the same CloudFormation logical ID (%s) as shared service %s", [name, lib.record_id(sprintf("%s.%s", [name, input.hub.domain])), other]),
		"hint": "rename one of them: names that differ only in hyphens are one name to CloudFormation",
	}
}

# The services (by name) whose records get the logical ID of a service before
# them in name order, mapped to the first such one: all are published in one
# zone, so names that differ only in hyphens give one record ID.
same_record_id(services) := {name: others[0] |
	count(services) > 1
	some name, _ in services
	lib.dns_label(name)
	others := sort([other |
		some other, _ in services
		other < name
		lib.dns_label(other)
		lib.logical_id(other) == lib.logical_id(name)
	])
	count(others) > 0
}

# A customer service's record, <name>.<first domain>, against the records every
# domain has: proxy.<domain> and *.<domain> (whose logical ID spells the * as
# "wildcard"). A service whose record is proxy.<domain> itself is VSOC019's.
violation contains v if {
	domains := input.customer.dns.domains
	some name, _ in input.customer.services
	lib.dns_label(name)
	id := concat("", [lib.logical_id(name), lib.logical_id(domains[0])])
	clashes := [sprintf("%s, the %s record of domain %s (dns.domains[%d])", [r.name, r.kind, d, i]) |
		some i, d in domains
		some r in lib.domain_records(d)
		lib.logical_id(r.spelled) == id
		r.name != sprintf("%s.%s", [name, domains[0]])
	]
	count(clashes) > 0
	v := {
		"path": ["services", name],
		"message": sprintf("service %s gives its record %s.%s the same CloudFormation logical ID (Record%sA) as %s", [name, name, domains[0], id, lib.enumerate(clashes)]),
		"hint": "rename the service: names that differ only in dots and hyphens are one name to CloudFormation, and proxy.<domain> and *.<domain> (spelled wildcard) are every domain's",
	}
}

# A published service's record: render/dns writes <name>.<zone> (the customer's
# first domain, or the hub domain for a shared service), which DNS takes up to
# 253 characters, and render/cloudformation's addZones gives it the logical ID
# Record<name><zone>A (the letters and digits of both; the addresses are IPv4,
# so the type is A), which CloudFormation takes up to 255 characters. The name
# (63) and the domain (VSOC008: 232) are bounded alone; together they may not fit.
max_dns_name_chars := 253

violation contains v if {
	domains := input.customer.dns.domains
	some name, _ in input.customer.services
	lib.dns_label(name)
	lib.dns_name(domains[0])
	msg := record_problem(name, domains[0])
	v := {
		"path": ["services", name],
		"message": sprintf("service %s %s", [name, msg]),
		"hint": "shorten the service name (or the customer's first domain, under which services are published)",
	}
}

violation contains v if {
	input.scope == "hub"
	some name, _ in input.hub.sharedServices
	lib.dns_label(name)
	lib.dns_name(input.hub.domain)
	msg := record_problem(name, input.hub.domain)
	v := {
		"path": ["sharedServices", name],
		"message": sprintf("shared service %s %s", [name, msg]),
		"hint": "shorten the shared service's name (or the hub domain, under which shared services are published)",
	}
}

record_problem(name, zone) := sprintf("gives its record %s, %d characters, more than the %d DNS allows", [fqdn, count(fqdn), max_dns_name_chars]) if {
	fqdn := sprintf("%s.%s", [name, zone])
	count(fqdn) > max_dns_name_chars
} else := sprintf("gives its record %s.%s the CloudFormation logical ID %s, %d characters, more than the %d CloudFormation allows", [name, zone, id, count(id), lib.max_logical_id_chars]) if {
	id := lib.record_id(sprintf("%s.%s", [name, zone]))
	count(id) > lib.max_logical_id_chars
}

# A non-empty Kubernetes label value (an empty one would take the namespace
# out of every area).
label_value(s) if lib.label_name(s)
