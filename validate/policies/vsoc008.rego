# METADATA
# title: customer domains are valid, unique and not nested
# description: |-
#   The hub has one Route 53 private hosted zone per customer domain, in which every
#   name resolves to that customer's proxy. Two zones for the same name cannot both
#   be associated with the hub VPC, and with nested zones (example.com and
#   a.example.com, in one customer or two) the more specific zone silently wins, so
#   a customer's names would go to another customer's proxy. A domain equal to or
#   under the hub domain would hijack the hub's own records. Domains are lower-case
#   DNS names of at least two labels, the last not all digits (10.20.3.4 is an
#   address, which the proxy will not route by name), and one customer's domains
#   differ in more than dots and hyphens: each zone's CloudFormation logical ID keeps only the letters
#   and digits (a-b.example and a.b.example both give HostedZoneABExample). A
#   domain is at most 232 characters, so that every name derived from it fits:
#   proxy.<domain> and *.<domain> in DNS's 253, the zone file <domain>.zone in a
#   file name's 255, and the logical IDs HostedZone<domain>, Record(Proxy|Wildcard)<domain>A
#   and ResolverRuleAssociation<domain> (the domain's letters and digits) in
#   CloudFormation's 255. The hub domain is at most 242 characters: every zone
#   file's SOA names hostmaster.<hub domain> (and ns.<hub domain>), which DNS takes
#   up to 253, and then the hub zone's HostedZone<hub domain> and <hub domain>.zone
#   fit too.
# custom:
#   hint: declare each domain once in the whole fleet, and never a domain inside another one
package vsoc.rules.vsoc008

import data.vsoc.lib

violation contains v if {
	some i, d in input.customer.dns.domains
	not lib.dns_name(d)
	v := {
		"path": ["dns", "domains", i],
		"message": sprintf("domain %s %s", [d, lib.name_problem(d)]),
		"hint": "write the domain as lower-case labels of letters, digits and hyphens, e.g. example.com",
	}
}

# The longest customer domain: ResolverRuleAssociation (23 characters) and the
# domain's letters and digits fill CloudFormation's 255 for a logical ID; the
# names (proxy.<domain>: 6 + 247 <= 253; <domain>.zone: 250 + 5 <= 255) and the
# other IDs (RecordWildcard<domain>A: 15 + 240) fit then too.
max_domain_chars := 232

violation contains v if {
	some i, d in input.customer.dns.domains
	lib.dns_name(d)
	count(d) > max_domain_chars
	v := {
		"path": ["dns", "domains", i],
		"message": sprintf("domain %s is %d characters, more than the %d that fit: names and IDs derived from it (proxy.<domain>, <domain>.zone, the CloudFormation logical ID ResolverRuleAssociation<domain>) would exceed DNS's 253, a file name's 255 or CloudFormation's 255 characters", [d, count(d), max_domain_chars]),
		"hint": "use a shorter domain",
	}
}

violation contains v if {
	c := input.customer
	some i, d in c.dns.domains
	lib.dns_name(d)
	others := [describe(o, c.name) |
		some o in vsoc.domain_conflicts(d, c.name, i)
		not lib.earlier_own(o, c.name, i)
	]
	count(others) > 0
	v := {"path": ["dns", "domains", i], "message": sprintf("domain %s %s", [d, lib.enumerate(others)])}
}

violation contains v if {
	domains := input.customer.dns.domains
	count(domains) > 1
	some i, d in domains
	some j, other in domains
	j < i
	other != d
	lib.dns_name(d)
	lib.logical_id(other) == lib.logical_id(d)
	v := {
		"path": ["dns", "domains", i],
		"message": sprintf("domain %s gives the same CloudFormation logical ID (HostedZone%s) as %s (dns.domains[%d])", [d, lib.logical_id(d), other, j]),
		"hint": "the customer's stack cannot hold both zones: domains that differ only in dots and hyphens are one name to CloudFormation",
	}
}

violation contains v if {
	input.scope == "hub"
	not lib.dns_name(input.hub.domain)
	v := {
		"path": ["domain"],
		"message": sprintf("hub domain %s %s", [input.hub.domain, lib.name_problem(input.hub.domain)]),
	}
}

# The longest hub domain: render/dns's zoneFile writes hostmaster.<hub domain>
# (11 + 242 = 253, DNS's limit) and ns.<hub domain> into the SOA of every zone
# file, the hub's and each customer's; the hub zone's logical ID
# HostedZone<hub domain> (10 + at most 239 letters and digits) and its zone file
# <hub domain>.zone (247) fit then too. The shared services' records under it are
# VSOC014's.
max_hub_domain_chars := 242

violation contains v if {
	input.scope == "hub"
	d := input.hub.domain
	lib.dns_name(d)
	count(d) > max_hub_domain_chars
	v := {
		"path": ["domain"],
		"message": sprintf("hub domain %s is %d characters, more than the %d that fit: every zone file names hostmaster.<hub domain> in its SOA, which would exceed DNS's 253 characters", [d, count(d), max_hub_domain_chars]),
		"hint": "use a shorter hub domain",
	}
}

relation := {"same": "is also", "inside": "is inside", "contains": "contains"}

describe(o, self) := sprintf("%s its own domain %s", [relation[o.relation], o.domain]) if {
	o.customer == self
} else := sprintf("%s the hub domain %s", [relation[o.relation], o.domain]) if {
	o.customer == ""
} else := sprintf("%s %s's domain %s", [relation[o.relation], o.owner, o.domain])
