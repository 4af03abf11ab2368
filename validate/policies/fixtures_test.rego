# Inputs for the rule tests: a hub and a customer that pass every rule (as the
# compiler hands them over, defaults applied), and helpers to break one thing.
package vsoc.fixtures

hub := {
	"region": "eu-central-1",
	"cidr": "100.65.0.0/16",
	"availabilityZones": ["eu-central-1a", "eu-central-1b"],
	"domain": "vsoc.example.net",
	"clientVPN": {"clientCIDR": "100.100.0.0/22"},
	"sharedServices": {"support": {"addresses": ["100.65.10.20"]}},
}

tunnel := {
	"ikeVersions": ["ikev2"],
	"phase1": {"encryption": ["AES256-GCM-16"], "integrity": ["SHA2-384"], "dhGroups": [20], "lifetimeSeconds": 28800},
	"phase2": {"encryption": ["AES256-GCM-16"], "integrity": ["SHA2-384"], "dhGroups": [20], "lifetimeSeconds": 3600},
	"dpdTimeoutAction": "restart",
	"startupAction": "start",
}

customer := {
	"name": "acme",
	"vpc": {"cidrs": ["100.68.0.0/16"], "natEgress": false},
	"vpn": {
		"routing": "static",
		"amazonSideASN": 64512,
		"gateways": [{"name": "acme-gw", "address": "62.176.249.5", "asn": 65000}],
		"remoteSubnets": ["10.20.0.0/16"],
		"tunnel": tunnel,
		"preSharedKey": {"secretsManager": "vsoc/acme/vpn-psk"},
	},
	"dns": {"domains": ["acme.example"], "resolvers": ["10.20.0.53"], "mode": "coredns"},
	"kkp": {"exposeStrategy": "Tunneling", "endpoints": {"ui": "kkp.acme.example"}},
	"proxy": {
		"ports": [80, 443, 6443, 3128],
		"allow": ["*.acme.example"],
		"static": [{"host": "legacy.acme.example", "port": 8443, "protocol": "tls", "target": {"address": "10.20.3.4", "port": 8443}}],
		"replicas": 2,
	},
	"services": {"grafana": {"addresses": ["100.68.1.100"]}},
	"access": {"ssoGroups": ["acme-operators"]},
	"cluster": {
		"monitoringNamespace": "monitoring",
		"namespaces": {"monitoring": {"area": "observability"}, "mla": {"area": "observability"}},
		"contracts": [{"from": {"area": "observability"}, "to": {"namespace": "mla"}, "ports": [{"port": 9090, "protocol": "TCP"}]}],
	},
}

facts := {"reservedPorts": [9901, 10080, 10443, 13128, 16443], "proxyNamespace": "vsoc-proxy", "staticContainerPorts": [8443]}

# The input of one customer's evaluation; patch is merged into the valid customer.
customer_input(patch) := {"scope": "customer", "customer": object.union(customer, patch), "hub": hub, "facts": facts}

hub_input(patch) := {"scope": "hub", "hub": object.union(hub, patch), "facts": facts}

# The paths of a rule's violations: what the tests compare.
paths(violations) := {v.path | some v in violations}

# Stand-ins for the fleet index builtins (the Go tests exercise the real index).
no_conflicts(_, _, _) := []
