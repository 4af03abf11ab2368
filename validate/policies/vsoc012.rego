# METADATA
# title: IKE/IPsec parameters are from the strong set
# description: |-
#   AWS Site-to-Site VPN still accepts weak tunnel parameters for old devices; the
#   VSOC allows only the strong ones: IKEv2 only; encryption AES256, AES128-GCM-16
#   or AES256-GCM-16; integrity SHA2-256, SHA2-384 or SHA2-512; Diffie-Hellman
#   groups 14 to 21 (not 2 or 5, too small, nor 22 to 24, whose subgroups are
#   weak). An empty list would let AWS offer all its values, weak ones included.
#   Lifetimes are within AWS's ranges: phase 1 900 to 28800 seconds, phase 2 900 to
#   3600, and phase 2 shorter than phase 1.
# custom:
#   hint: remove the weak value, or drop vpn.tunnel to get the strong defaults (IKEv2, AES256-GCM-16, SHA2-384, group 20)
package vsoc.rules.vsoc012

import data.vsoc.lib

strong := {
	"encryption": {"AES256", "AES128-GCM-16", "AES256-GCM-16"},
	"integrity": {"SHA2-256", "SHA2-384", "SHA2-512"},
	"dhGroups": {14, 15, 16, 17, 18, 19, 20, 21},
}

# The schema's defaults, which are strong: a tunnel equal to them needs no
# closer look (the common case). The rego tests check these pass every rule.
strong_defaults := {
	"ikeVersions": ["ikev2"],
	"phase1": {"encryption": ["AES256-GCM-16"], "integrity": ["SHA2-384"], "dhGroups": [20], "lifetimeSeconds": 28800},
	"phase2": {"encryption": ["AES256-GCM-16"], "integrity": ["SHA2-384"], "dhGroups": [20], "lifetimeSeconds": 3600},
	"dpdTimeoutAction": "restart",
	"startupAction": "start",
}

customized if input.customer.vpn.tunnel != strong_defaults

lifetime_max := {"phase1": 28800, "phase2": 3600}

violation contains v if {
	customized
	some i, ike in input.customer.vpn.tunnel.ikeVersions
	ike != "ikev2"
	v := {"path": ["vpn", "tunnel", "ikeVersions", i], "message": sprintf("IKE version %s is not allowed: IKEv2 only", [ike])}
}

violation contains v if {
	customized
	count(input.customer.vpn.tunnel.ikeVersions) == 0
	v := {"path": ["vpn", "tunnel", "ikeVersions"], "message": "ikeVersions is empty: AWS would accept IKEv1 too"}
}

violation contains v if {
	customized
	some phase in ["phase1", "phase2"]
	some param, allowed in strong
	some i, value in input.customer.vpn.tunnel[phase][param]
	not value in allowed
	v := {
		"path": ["vpn", "tunnel", phase, param, i],
		"message": sprintf("%s %s %v is not in the strong set (%s)", [phase, param, value, concat(", ", [sprintf("%v", [x]) | some x in allowed])]),
	}
}

violation contains v if {
	customized
	some phase in ["phase1", "phase2"]
	some param, _ in strong
	count(input.customer.vpn.tunnel[phase][param]) == 0
	v := {
		"path": ["vpn", "tunnel", phase, param],
		"message": sprintf("%s %s is empty: AWS would offer all its values, weak ones included", [phase, param]),
	}
}

violation contains v if {
	customized
	some phase, max in lifetime_max
	s := input.customer.vpn.tunnel[phase].lifetimeSeconds
	not in_range(s, 900, max)
	v := {
		"path": ["vpn", "tunnel", phase, "lifetimeSeconds"],
		"message": sprintf("%s lifetime %d s is outside AWS's 900-%d s", [phase, s, max]),
	}
}

violation contains v if {
	customized
	input.customer.vpn.tunnel.phase2.lifetimeSeconds >= input.customer.vpn.tunnel.phase1.lifetimeSeconds
	v := {
		"path": ["vpn", "tunnel", "phase2", "lifetimeSeconds"],
		"message": sprintf("phase2 lifetime %d s is not shorter than phase1's %d s", [input.customer.vpn.tunnel.phase2.lifetimeSeconds, input.customer.vpn.tunnel.phase1.lifetimeSeconds]),
		"hint": "AWS requires the phase 2 lifetime to be shorter than the phase 1 lifetime",
	}
}

in_range(x, lo, hi) if {
	x >= lo
	x <= hi
}
