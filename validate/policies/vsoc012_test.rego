package vsoc.rules.vsoc012_test

import data.vsoc.fixtures as fx
import data.vsoc.rules.vsoc012

tunnel_input(patch) := fx.customer_input({"vpn": {"tunnel": patch}})

# The fast path skips tunnels equal to the schema's defaults: they must pass
# every check when it is forced.
test_defaults_pass_every_check if {
	vsoc012.strong_defaults == fx.tunnel
	count(vsoc012.violation) == 0 with input as fx.customer_input({}) with vsoc012.customized as true
}

test_strong_choices if {
	count(vsoc012.violation) == 0 with input as tunnel_input({"phase1": {"encryption": ["AES256", "AES128-GCM-16"], "integrity": ["SHA2-256", "SHA2-512"], "dhGroups": [14, 21]}})
}

test_weak_values if {
	fx.paths(vsoc012.violation) == {
		["vpn", "tunnel", "ikeVersions", 0],
		["vpn", "tunnel", "phase1", "encryption", 1],
		["vpn", "tunnel", "phase1", "integrity", 0],
		["vpn", "tunnel", "phase2", "dhGroups", 0],
		["vpn", "tunnel", "phase2", "dhGroups", 1],
	} with input as tunnel_input({
		"ikeVersions": ["ikev1", "ikev2"],
		"phase1": {"encryption": ["AES256", "AES128"], "integrity": ["SHA1"]},
		"phase2": {"dhGroups": [5, 24]},
	})
}

test_empty_lists if {
	fx.paths(vsoc012.violation) == {["vpn", "tunnel", "ikeVersions"], ["vpn", "tunnel", "phase2", "integrity"]} with input as tunnel_input({"ikeVersions": [], "phase2": {"integrity": []}})
}

test_lifetimes if {
	fx.paths(vsoc012.violation) == {["vpn", "tunnel", "phase1", "lifetimeSeconds"]} with input as tunnel_input({"phase1": {"lifetimeSeconds": 30000}})
	fx.paths(vsoc012.violation) == {["vpn", "tunnel", "phase2", "lifetimeSeconds"]} with input as tunnel_input({"phase1": {"lifetimeSeconds": 3600}})
}
