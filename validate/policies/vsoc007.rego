# METADATA
# title: static mappings are reachable and do not clash
# description: |-
#   A static mapping sends one host on one port to a fixed target, overriding the
#   proxy's dynamic routing. Its target must be inside the customer's remote subnets
#   (the proxy dials nothing else); its host must be a name under the customer's own
#   domains (DNS for those domains points at the proxy) that the hub's DNS
#   actually resolves to the proxy: the wildcard *.<domain> answers every name
#   below the domain except the apex, the names with records of their own (the
#   customer's services, in its first domain) and any name below those (RFC 4592),
#   so a host there is reached only if it is proxy.<domain> or one of the
#   customer's KKP endpoints, which get records of their own; each host:port is
#   mapped once. On the dynamic ports a mapping shares the proxy's listener and so must
#   speak its protocol: http on 80, tls on 443 and 6443; 3128 is the CONNECT
#   listener and takes no mappings. A tcp mapping has no name to route by, so it
#   owns its whole port: it is the only mapping on it and never on a dynamic port.
#   A mapping's listener binds a container port (the port itself, or 20000 + port
#   below 1024) that must not be one the proxy binds itself (the admin port 9901,
#   the dynamic listeners' 10080, 10443, 13128, 16443) or another mapping's.
# custom:
#   hint: map a host under the customer's domains to an address inside vpn.remoteSubnets, once per host and port
package vsoc.rules.vsoc007

import data.vsoc.lib

dynamic_protocol := {80: "http", 443: "tls", 6443: "tls"}

violation contains v if {
	some i, m in input.customer.proxy.static
	msg := lib.addr_problem(m.target.address)
	v := {"path": ["proxy", "static", i, "target", "address"], "message": sprintf("static mapping target %s", [msg])}
}

violation contains v if {
	some i, m in input.customer.proxy.static
	lib.valid_addr(m.target.address)
	not lib.inside_any(input.customer.vpn.remoteSubnets, m.target.address)
	v := {
		"path": ["proxy", "static", i, "target", "address"],
		"message": sprintf("static mapping target %s is outside the remote subnets (%s)", [m.target.address, concat(", ", input.customer.vpn.remoteSubnets)]),
		"hint": "the proxy dials only inside vpn.remoteSubnets: fix the address or add its network there",
	}
}

violation contains v if {
	some i, m in input.customer.proxy.static
	not lib.dns_name(m.host)
	v := {
		"path": ["proxy", "static", i, "host"],
		"message": sprintf("static mapping host %s is not a lower-case DNS name", [m.host]),
	}
}

violation contains v if {
	some i, m in input.customer.proxy.static
	lib.dns_name(m.host)
	not lib.under_any(m.host, input.customer.dns.domains)
	v := {
		"path": ["proxy", "static", i, "host"],
		"message": sprintf("static mapping host %s is not under the customer's domains (%s)", [m.host, concat(", ", input.customer.dns.domains)]),
	}
}

# Operators reach a mapping by its host, through the hub's DNS: a host the
# proxy's records do not answer resolves to a service or to nothing, and the
# mapping never sees a connection.
violation contains v if {
	c := input.customer
	some i, m in c.proxy.static
	lib.dns_name(m.host)
	lib.under_any(m.host, c.dns.domains)
	not answered_by_proxy(m.host)
	v := {
		"path": ["proxy", "static", i, "host"],
		"message": sprintf("static mapping host %s does not resolve to the proxy: %s", [m.host, unanswered_reason(m.host)]),
		"hint": sprintf("use a name the proxy wildcard *.%s answers: below the domain, and neither a service's name, proxy.%s nor a name below them", [own_zone(m.host), own_zone(m.host)]),
	}
}

answered_by_proxy(h) if h == sprintf("proxy.%s", [own_zone(h)])

# A KKP endpoint has a record pointing at the proxy wherever the wildcard does
# not answer it (VSOC018 keeps it off the services' names).
answered_by_proxy(h) if {
	some e in object.get(input.customer, ["kkp", "endpoints"], {})
	e == h
}

answered_by_proxy(h) if {
	z := own_zone(h)
	h != z
	not below_zone_name(h, z)
}

# Whether h is, or is below, a name the zone holds besides the wildcard: such a
# name stops the wildcard from answering h (RFC 4592). The KKP endpoints'
# records need not be listed: one below the apex exists only below such a name.
below_zone_name(h, z) if {
	some n in zone_names(z)
	lib.under_any(h, [n])
}

unanswered_reason(h) := sprintf("it is the apex of domain %s, which the proxy wildcard *.%s does not answer and which has no record", [h, h]) if {
	h == own_zone(h)
} else := sprintf("it is the name of the customer's service %s, which resolves to the service's addresses", [name]) if {
	some name, _ in input.customer.services
	h == sprintf("%s.%s", [name, input.customer.dns.domains[0]])
} else := sprintf("it is below %s, a name of zone %s, so the proxy wildcard *.%s does not answer it (RFC 4592) and it resolves to nothing", [n, z, z]) if {
	z := own_zone(h)
	some n in zone_names(z)
	lib.under_any(h, [n])
}

# The customer's domain whose zone answers a name under its domains: the most
# specific one (nested domains are VSOC008's).
own_zone(h) := z if {
	zs := [d | some d in input.customer.dns.domains; lib.under_any(h, [d])]
	longest := max([count(d) | some d in zs])
	some z in zs
	count(z) == longest
}

# The names render/dns writes in a customer domain's zone, but the wildcard:
# proxy.<domain> and, in the first domain's, the services.
zone_names(z) := {sprintf("proxy.%s", [z])} | {sprintf("%s.%s", [name, z]) |
	z == input.customer.dns.domains[0]
	some name, _ in input.customer.services
}

violation contains v if {
	count(input.customer.proxy.static) > 1
	some i, m in input.customer.proxy.static
	some j, other in input.customer.proxy.static
	j < i
	lower(other.host) == lower(m.host)
	other.port == m.port
	v := {
		"path": ["proxy", "static", i],
		"message": sprintf("static mapping %s:%d is already mapped by proxy.static[%d]", [m.host, m.port, j]),
	}
}

# A tcp mapping shares its port with nothing.
violation contains v if {
	count(input.customer.proxy.static) > 1
	some i, m in input.customer.proxy.static
	some j, other in input.customer.proxy.static
	j < i
	other.port == m.port
	lower(other.host) != lower(m.host)
	"tcp" in {m.protocol, other.protocol}
	v := {
		"path": ["proxy", "static", i],
		"message": sprintf("static mapping %s:%d shares port %d with proxy.static[%d] (%s, %s): a tcp mapping owns its whole port", [m.host, m.port, m.port, j, other.host, other.protocol]),
		"hint": "give the tcp mapping a port of its own",
	}
}

violation contains v if {
	some i, m in input.customer.proxy.static
	want := dynamic_protocol[m.port]
	m.protocol != want
	v := {
		"path": ["proxy", "static", i, "protocol"],
		"message": sprintf("static mapping %s:%d is %s, but port %d is the proxy's %s listener", [m.host, m.port, m.protocol, m.port, want]),
		"hint": sprintf("use protocol: %q on port %d, or another port for a %s mapping", [want, m.port, m.protocol]),
	}
}

violation contains v if {
	some i, m in input.customer.proxy.static
	m.port == 3128
	v := {
		"path": ["proxy", "static", i, "port"],
		"message": sprintf("static mapping %s:3128 is on the proxy's HTTP CONNECT listener", [m.host]),
		"hint": "CONNECT already reaches any host:port in the remote subnets; map another port",
	}
}

violation contains v if {
	some i, m in input.customer.proxy.static
	not dynamic_protocol[m.port]
	m.port != 3128
	cp := input.facts.staticContainerPorts[i]
	cp in input.facts.reservedPorts
	v := {
		"path": ["proxy", "static", i, "port"],
		"message": sprintf("static mapping %s:%d would bind container port %d, which the proxy itself uses", [m.host, m.port, cp]),
		"hint": sprintf("pick another port; the proxy binds %s", [concat(", ", [sprintf("%d", [p]) | some p in input.facts.reservedPorts])]),
	}
}

violation contains v if {
	count(input.customer.proxy.static) > 1
	some i, m in input.customer.proxy.static
	some j, other in input.customer.proxy.static
	j < i
	m.port != other.port
	not dynamic_protocol[m.port]
	not dynamic_protocol[other.port]
	input.facts.staticContainerPorts[i] == input.facts.staticContainerPorts[j]
	v := {
		"path": ["proxy", "static", i, "port"],
		"message": sprintf("static mapping %s:%d would bind container port %d, as proxy.static[%d] (port %d) does", [m.host, m.port, input.facts.staticContainerPorts[i], j, other.port]),
		"hint": "ports below 1024 bind 20000 + port in the container: pick another port",
	}
}
