# METADATA
# title: KKP through the proxy needs the Tunneling expose strategy
# description: |-
#   The proxy reaches a KKP installation's API servers on port 6443 by SNI, which
#   only works when KKP exposes user clusters with the Tunneling strategy: NodePort
#   and LoadBalancer give every user cluster its own dynamic port or address, which
#   no static proxy configuration can follow (unsupported by design). So KKP
#   endpoints, proxy port 6443 (part of the default ports) and static mappings on
#   6443 all require kkp.exposeStrategy "Tunneling".
# custom:
#   hint: set kkp.exposeStrategy to "Tunneling", or drop the KKP endpoints and set proxy.ports without 6443
package vsoc.rules.vsoc006

import data.vsoc.lib

tunneling if input.customer.kkp.exposeStrategy == "Tunneling"

strategy := input.customer.kkp.exposeStrategy

violation contains v if {
	not tunneling
	some k in ["ui", "api"]
	e := input.customer.kkp.endpoints[k]
	v := {
		"path": ["kkp", "endpoints", k],
		"message": sprintf("KKP %s endpoint %s needs the Tunneling expose strategy, not %s", [k, e, strategy]),
	}
}

violation contains v if {
	not tunneling
	some i, p in input.customer.proxy.ports
	p == 6443
	v := {
		"path": ["proxy", "ports", i],
		"message": sprintf("proxy port 6443 (KKP API servers) needs the Tunneling expose strategy, not %s", [strategy]),
		"hint": "set kkp.exposeStrategy: \"Tunneling\", or proxy.ports: [80, 443, 3128]",
	}
}

violation contains v if {
	not tunneling
	some i, m in input.customer.proxy.static
	m.port == 6443
	v := {
		"path": ["proxy", "static", i, "port"],
		"message": sprintf("static mapping %s:6443 needs the Tunneling expose strategy, not %s", [m.host, strategy]),
	}
}
