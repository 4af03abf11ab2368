# METADATA
# title: proxy ports are the proxy's listeners
# description: |-
#   The proxy serves exactly four kinds of traffic: 80 (HTTP, routed by Host), 443
#   (TLS, routed by SNI), 6443 (Kubernetes API servers, routed by SNI) and 3128
#   (HTTP CONNECT, for SSH). proxy.ports selects among these; any other port has
#   no listener behind it. Services on other ports are static mappings
#   (proxy.static), each with its own fixed target.
# custom:
#   hint: keep proxy.ports to 80, 443, 6443 and 3128; use proxy.static for other ports
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
	lib.has_duplicates(ports)
	some i, p in ports
	some j, q in ports
	j < i
	p == q
	v := {"path": ["proxy", "ports", i], "message": sprintf("proxy port %d is listed twice", [p])}
}
