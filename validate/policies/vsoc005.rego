# METADATA
# title: proxy ports are the proxy's listeners
# description: |-
#   The proxy serves exactly four kinds of traffic: 80 (HTTP, routed by Host), 443
#   (TLS, routed by SNI), 6443 (Kubernetes API servers, routed by SNI) and 3128
#   (HTTP CONNECT, for SSH). proxy.ports selects among these; any other port has
#   no listener behind it. Services on other ports are static mappings
#   (proxy.static), each with its own fixed target. A proxy needs at least one
#   listener: an empty proxy.ports is only valid when static mappings give the
#   proxy its listeners.
# custom:
#   hint: keep proxy.ports to 80, 443, 6443 and 3128 (at least one of them unless proxy.static maps a port); use proxy.static for other ports
package vsoc.rules.vsoc005

import data.vsoc.lib

allowed := {80, 443, 6443, 3128}

violation contains v if {
	some i, p in input.customer.proxy.ports
	not p in allowed
	v := {
		"path": ["proxy", "ports", i],
		"message": sprintf("proxy port %d has no listener: the proxy serves 80, 443, 6443 and 3128", [p]),
	}
}

violation contains v if {
	ports := input.customer.proxy.ports
	some i, _ in lib.repeats(ports)
	p := ports[i]
	v := {"path": ["proxy", "ports", i], "message": sprintf("proxy port %d is listed twice", [p])}
}

violation contains v if {
	count(input.customer.proxy.ports) == 0
	count(object.get(input.customer.proxy, "static", [])) == 0
	v := {
		"path": ["proxy", "ports"],
		"message": "proxy.ports is empty and proxy.static maps no port: the proxy would have no listener",
		"hint": "list at least one of 80, 443, 6443 and 3128 (or leave proxy.ports out for all four), or declare a static mapping",
	}
}
