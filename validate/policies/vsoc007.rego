# METADATA
# title: static mappings are reachable and do not clash
# description: |-
#   A static mapping sends one host on one port to a fixed target, overriding the
#   proxy's dynamic routing. Its target must be inside the customer's remote subnets
#   (the proxy dials nothing else); its host must be a name under the customer's own
#   domains (DNS for those domains points at the proxy); each host:port is mapped
#   once. On the dynamic ports a mapping shares the proxy's listener and so must
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
