# METADATA
# title: proxy allowlist stays inside the customer's domains
# description: |-
#   proxy.allow lists the names the customer's proxy may connect to: an exact name
#   or a `*.` wildcard (any name below). Operators reach the proxy through the
#   customer's own domains, so a pattern outside them (or a bare `*`) would turn the
#   proxy into an open relay into the customer's network or beyond. Each pattern is
#   listed once. The default is `*.<domain>` for each of the customer's domains.
# custom:
#   hint: write exact names or *.<name> under one of the customer's dns.domains
package vsoc.rules.vsoc009

import data.vsoc.lib

violation contains v if {
	some i, p in input.customer.proxy.allow
	not p in defaults
	not valid_pattern(p)
	v := {
		"path": ["proxy", "allow", i],
		"message": sprintf("allowlist pattern %s is neither a lower-case DNS name nor *.<name>", [p]),
	}
}

violation contains v if {
	some i, p in input.customer.proxy.allow
	not p in defaults
	valid_pattern(p)
	not lib.under_any(name_of(p), input.customer.dns.domains)
	v := {
		"path": ["proxy", "allow", i],
		"message": sprintf("allowlist pattern %s is outside the customer's domains (%s)", [p, concat(", ", input.customer.dns.domains)]),
	}
}

violation contains v if {
	patterns := input.customer.proxy.allow
	some i, j in lib.repeats(patterns)
	p := patterns[i]
	well_formed(p)
	v := {
		"path": ["proxy", "allow", i],
		"message": sprintf("allowlist pattern %s is listed twice (also proxy.allow[%d])", [p, j]),
		"hint": "list each pattern once",
	}
}

# The default patterns, *.<domain>, are inside the domains by construction
# (whether the domains themselves are valid is VSOC008's question).
defaults := {concat("", ["*.", d]) | some d in input.customer.dns.domains}

valid_pattern(p) if lib.dns_name(name_of(p))

# A pattern not reported as malformed (a malformed one listed twice is
# reported as malformed only).
well_formed(p) if p in defaults

well_formed(p) if valid_pattern(p)

name_of(p) := substring(p, 2, -1) if startswith(p, "*.")

name_of(p) := p if not startswith(p, "*.")
