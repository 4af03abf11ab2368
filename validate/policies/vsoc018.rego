# METADATA
# title: KKP endpoints are names of the customer's own
# description: |-
#   The hub publishes a customer's KKP endpoints (kkp.endpoints.ui and .api) as names
#   that resolve to that customer's proxy: under one of the customer's domains the
#   proxy wildcard or a record of that zone answers them; outside them each gets a
#   Route 53 private hosted zone of its own. So an endpoint is a lower-case DNS name
#   of at least two labels (a single label such as "com" would become a zone for a
#   whole top-level domain), the last not all digits (an IP address such as
#   10.20.3.4 is no name: the proxy refuses it in its allowlist), and is neither equal to, inside nor containing another
#   customer's domain, the hub domain or another customer's KKP endpoint: those
#   names belong to someone else, and a zone above them would take their names over.
#   Under the customer's first domain an endpoint must not be the name of one of the
#   customer's published services, which resolves to the service instead. An
#   endpoint with a zone of its own may not give that zone the CloudFormation
#   logical ID of a domain's zone or of the other endpoint's. An endpoint that gets
#   a record of its own (outside the customer's domains, at a domain's apex, or
#   below a name of the zone, where the proxy wildcard does not answer it) has the
#   logical ID Record<endpoint>A (its letters and digits), at most CloudFormation's
#   255 characters; with a zone of its own, HostedZone<endpoint> too, and its zone
#   file <endpoint>.zone at most a file name's 255. That record ID may not be the ID
#   of another record of the customer's stack: a domain's proxy.<domain> or
#   *.<domain> (spelled wildcard), a service's <service>.<first domain> or the other
#   endpoint's record (x.proxy.<domain> and service x-proxy both give
#   RecordXProxy<domain>A).
# custom:
#   hint: use a name under one of the customer's own dns.domains, e.g. kkp.<domain>
package vsoc.rules.vsoc018

import data.vsoc.lib

endpoints := {k: e |
	some k in ["ui", "api"]
	e := input.customer.kkp.endpoints[k]
	e != ""
}

# Which of the fleet index's entries an endpoint is: 0 for ui, 1 for api.
endpoint_index := {"ui": 0, "api": 1}

# The rule's hint with the customer's own domains (the schema requires one;
# the default keeps a fleet built without it from hiding a violation).
default own_domains_hint := "use a name under one of the customer's own dns.domains, e.g. kkp.<domain>"

own_domains_hint := sprintf("use a name under one of the customer's own dns.domains (%s), e.g. kkp.%s", [
	concat(", ", input.customer.dns.domains),
	input.customer.dns.domains[0],
])

malformed_hint(e) := sprintf("write it in lower case: %s", [lower(e)]) if {
	lib.dns_name(lower(e))
} else := own_domains_hint

violation contains v if {
	some k, e in endpoints
	not lib.dns_name(e)
	v := {
		"path": ["kkp", "endpoints", k],
		"message": sprintf("KKP %s endpoint %s %s", [k, e, lib.name_problem(e)]),
		"hint": malformed_hint(e),
	}
}

violation contains v if {
	c := input.customer
	some k, e in endpoints
	lib.dns_name(e)
	others := [describe_domain(o) |
		some o in vsoc.domain_conflicts(e, c.name, -1)
		o.customer != c.name
		not answered_by_own_zone(e, o.domain)
	]
	count(others) > 0
	v := {
		"path": ["kkp", "endpoints", k],
		"message": sprintf("KKP %s endpoint %s %s", [k, e, lib.enumerate(others)]),
		"hint": own_domains_hint,
	}
}

# Outside the customer's domains an endpoint is a zone of its own, which no
# other customer's endpoint zone may equal or nest with. (Inside them, any
# such clash is the other endpoint's, reported above from its side.)
violation contains v if {
	c := input.customer
	some k, e in endpoints
	lib.dns_name(e)
	not lib.under_any(e, c.dns.domains)
	others := [sprintf("%s %s's KKP endpoint %s", [relation[o.relation], o.owner, o.endpoint]) |
		some o in vsoc.kkp_zone_conflicts(e, c.name, endpoint_index[k])
		o.customer != c.name
	]
	count(others) > 0
	v := {
		"path": ["kkp", "endpoints", k],
		"message": sprintf("KKP %s endpoint %s %s", [k, e, lib.enumerate(others)]),
		"hint": own_domains_hint,
	}
}

# Outside the customer's domains an endpoint's zone is a hosted zone of the
# customer's stack, whose CloudFormation logical ID keeps only the letters and
# digits of its name: it may not meet a domain's zone or the other endpoint's.
violation contains v if {
	c := input.customer
	some k, e in endpoints
	lib.dns_name(e)
	not lib.under_any(e, c.dns.domains)
	clashes := array.concat(
		[sprintf("domain %s", [d]) | some d in c.dns.domains; lib.logical_id(d) == lib.logical_id(e)],
		[sprintf("the %s endpoint %s", [k2, e2]) |
			some k2, e2 in endpoints
			endpoint_index[k2] < endpoint_index[k]
			e2 != e
			not lib.under_any(e2, c.dns.domains)
			lib.logical_id(e2) == lib.logical_id(e)
		],
	)
	count(clashes) > 0
	v := {
		"path": ["kkp", "endpoints", k],
		"message": sprintf("KKP %s endpoint %s gives its zone the same CloudFormation logical ID (HostedZone%s) as %s", [k, e, lib.logical_id(e), lib.enumerate(clashes)]),
		"hint": "names that differ only in dots and hyphens are one name to CloudFormation: use a name under one of the customer's own dns.domains, e.g. kkp.<domain>",
	}
}

# What render/cloudformation and render/dns derive from an endpoint that gets a
# record of its own: the record's logical ID Record<endpoint>A (the proxy's
# addresses are IPv4) and, outside the customer's domains, its zone's
# HostedZone<endpoint> and zone file <endpoint>.zone. A DNS name is at most 253
# characters, but its letters and digits with these prefixes can be 260.
max_file_name_chars := 255

violation contains v if {
	some k, e in endpoints
	lib.dns_name(e)
	record_needed(e)
	msg := derived_problem(e)
	v := {
		"path": ["kkp", "endpoints", k],
		"message": sprintf("KKP %s endpoint %s %s", [k, e, msg]),
		"hint": "use a shorter name, or one under the customer's domains that the proxy wildcard answers (e.g. kkp.<domain>)",
	}
}

derived_problem(e) := sprintf("gets a zone of its own whose CloudFormation logical ID %s is %d characters, more than the %d CloudFormation allows", [id, count(id), lib.max_logical_id_chars]) if {
	not lib.under_any(e, input.customer.dns.domains)
	id := concat("", ["HostedZone", lib.logical_id(e)])
	count(id) > lib.max_logical_id_chars
} else := sprintf("gets a zone of its own whose zone file %s.zone is %d characters, more than the %d a file name can have", [e, count(e) + 5, max_file_name_chars]) if {
	not lib.under_any(e, input.customer.dns.domains)
	count(e) + 5 > max_file_name_chars
} else := sprintf("gets a record of its own whose CloudFormation logical ID %s is %d characters, more than the %d CloudFormation allows", [id, count(id), lib.max_logical_id_chars]) if {
	id := lib.record_id(e)
	count(id) > lib.max_logical_id_chars
}

# An endpoint's own record against the other records of the customer's stack
# (render/cloudformation's addZones puts every zone the customer owns in it).
# The other endpoint is only compared from the later one, and not when both
# have zones of their own, whose zone IDs then clash already (reported above).
violation contains v if {
	some k, e in endpoints
	lib.dns_name(e)
	record_needed(e)
	clashes := [sprintf("%s, %s", [r.name, r.what]) |
		some r in stack_records(k)
		r.name != e
		lib.logical_id(r.spelled) == lib.logical_id(e)
	]
	count(clashes) > 0
	v := {
		"path": ["kkp", "endpoints", k],
		"message": sprintf("KKP %s endpoint %s gets a record of its own with the same CloudFormation logical ID (%s) as %s", [k, e, lib.record_id(e), lib.enumerate(clashes)]),
		"hint": "names that differ only in dots and hyphens are one name to CloudFormation: use a name the proxy wildcard answers (e.g. kkp.<domain>), or rename the service",
	}
}

# The records of the customer's stack an endpoint's record may meet: as
# render/dns names them, and as their logical IDs spell them.
stack_records(k) := array.concat(
	array.concat(
		[object.union(r, {"what": sprintf("the %s record of domain %s (dns.domains[%d])", [r.kind, d, i])}) |
			some i, d in input.customer.dns.domains
			some r in lib.domain_records(d)
		],
		[{"what": sprintf("the record of service %s", [name]), "name": fqdn, "spelled": fqdn} |
			some name, _ in input.customer.services
			fqdn := sprintf("%s.%s", [name, input.customer.dns.domains[0]])
		],
	),
	[{"what": sprintf("the record of the %s endpoint", [k2]), "name": e2, "spelled": e2} |
		some k2, e2 in endpoints
		endpoint_index[k2] < endpoint_index[k]
		lib.dns_name(e2)
		record_needed(e2)
		not both_own_zones(e2, endpoints[k])
	],
)

both_own_zones(a, b) if {
	not lib.under_any(a, input.customer.dns.domains)
	not lib.under_any(b, input.customer.dns.domains)
}

# Whether render/dns writes a record for the endpoint (its addKKPEndpoints):
# outside the customer's domains (in a zone of its own), at the apex of the
# domain that answers it, or where the proxy wildcard of that domain does not
# answer it (RFC 4592: a name of the zone other than the wildcard is the
# endpoint or below one of its ancestors under the apex). The other endpoint's
# record does not matter: it only exists below such a name, which is then below
# an ancestor of this endpoint too.
record_needed(e) if not lib.under_any(e, input.customer.dns.domains)

record_needed(e) if own_zone(e) == e

record_needed(e) if {
	z := own_zone(e)
	e != z
	labels := split(e, ".")
	some i in numbers.range(0, (count(labels) - count(split(z, "."))) - 1)
	ancestor := concat(".", array.slice(labels, i, count(labels)))
	some n in zone_names(z)
	lib.under_any(n, [ancestor])
}

# The customer's domain whose zone answers a name under its domains: the most
# specific one (nested domains are VSOC008's).
own_zone(e) := z if {
	zs := [d | some d in input.customer.dns.domains; lib.under_any(e, [d])]
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
	c := input.customer
	some k, e in endpoints
	some name, _ in c.services
	e == sprintf("%s.%s", [name, c.dns.domains[0]])
	v := {
		"path": ["kkp", "endpoints", k],
		"message": sprintf("KKP %s endpoint %s is also the name of the customer's service %s, which resolves to the service's addresses, not to the proxy", [k, e, name]),
		"hint": "give the endpoint a name of its own (e.g. kkp.<domain>), or rename the service",
	}
}

# An own domain between the endpoint and a domain above it answers the
# endpoint (the most specific zone does): the two domains' nesting is
# VSOC008's to report, not the endpoint's.
answered_by_own_zone(e, above) if {
	some d in input.customer.dns.domains
	d != above
	lib.under_any(e, [d])
	lib.under_any(d, [above])
}

relation := {"same": "is also", "inside": "is inside", "contains": "contains"}

describe_domain(o) := sprintf("%s the hub domain %s", [relation[o.relation], o.domain]) if {
	o.customer == ""
} else := sprintf("%s %s's domain %s", [relation[o.relation], o.owner, o.domain])
