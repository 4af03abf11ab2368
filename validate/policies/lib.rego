# Helpers shared by the rules. The input is one subject at a time (a rule
# about customers starts from input.customer, undefined in the hub's
# evaluation; a rule about the hub starts with input.scope == "hub"):
#   {"scope": "customer", "customer": {...}, "hub": {...}, "facts": {...}}
#   {"scope": "hub", "hub": {...}, "facts": {...}}
# Every rule's `violation` set holds {"path": [...], "message": "...", "hint"?: "..."}
# with path relative to the subject (customers/<name> or hub).
package vsoc.lib

# The shared address space every VSOC range is allocated from.
shared_space := "100.64.0.0/10"

# Special-purpose ranges (RFC 6890 and the IANA registry) where no network can
# sit behind a VPN: an address there means a host to itself, its link, a
# multicast group or nothing at all. Remote subnets (VSOC003) must avoid them;
# they are also part of what is not public unicast (VSOC010).
not_a_network := {
	"0.0.0.0/8": "\"this network\" (RFC 1122)",
	"127.0.0.0/8": "loopback",
	"169.254.0.0/16": "link-local (instance metadata)",
	"224.0.0.0/4": "multicast",
	"240.0.0.0/4": "reserved (and broadcast)",
}

dns_label(s) if vsoc.dns_label(s)

# A lower-case DNS name of at least two labels, the last not all digits (so
# never an IPv4 address).
dns_name(s) if vsoc.dns_name(s)

# What is wrong with a string that is not a dns_name, for a message: "<s> " and
# this read as a sentence.
name_problem(s) := "is an IP address, not a DNS name" if {
	vsoc.parse_addr(s).ok
} else := "has a top-level label of digits only, which no DNS name has" if {
	regex.match(`^[a-z0-9.-]+\.[0-9]+$`, s)
} else := "is not a lower-case DNS name of at least two labels"

# name is one of the domains or below one of them.
under_any(name, domains) if vsoc.under_any(name, domains)

# x (an address or a prefix) is inside one of the prefixes.
inside_any(prefixes, x) if count(vsoc.containing(prefixes, x)) > 0

# The first thing wrong with an IPv4 prefix as written, if anything.
prefix_problem(s) := msg if {
	not valid_prefix(s)
	msg := prefix_message(s)
}

prefix_message(s) := sprintf("%s is not a CIDR (%s)", [s, p.error]) if {
	p := vsoc.parse_prefix(s)
	not p.ok
} else := sprintf("%s is not an IPv4 CIDR", [s]) if {
	not vsoc.parse_prefix(s).ipv4
} else := sprintf("%s has host bits set: the network is %s", [s, p.network]) if {
	p := vsoc.parse_prefix(s)
	not p.canonical
}

# The first thing wrong with an IPv4 address as written, if anything.
addr_problem(s) := msg if {
	not valid_addr(s)
	msg := addr_message(s)
}

addr_message(s) := sprintf("%s is not an IP address (%s)", [s, a.error]) if {
	a := vsoc.parse_addr(s)
	not a.ok
} else := sprintf("%s is not an IPv4 address", [s]) if {
	not vsoc.parse_addr(s).ipv4
} else := sprintf("%s is not written canonically", [s]) if {
	not vsoc.parse_addr(s).canonical
}

# An IPv4 network without host bits (prefix_problem says what is wrong otherwise).
valid_prefix(s) if vsoc.is_network(s)

# An IPv4 address written canonically (addr_problem says what is wrong otherwise).
valid_addr(s) if vsoc.is_ipv4(s)

# "a, b, c and 4 more": long lists stay one readable line.
enumerate(items) := concat(", ", items) if {
	count(items) <= 3
} else := sprintf("%s and %d more", [concat(", ", array.slice(items, 0, 3)), count(items) - 3])

# Another value of the same customer only counts from the later one of the two,
# so that a clash inside one file is reported once.
earlier_own(other, name, i) if {
	other.customer == name
	other.index > i
}

# What a name gives a CloudFormation logical ID (vsoc.logical_id is the Go
# function the renderer names resources with): every run of letters and digits starts with a capital, everything
# else is dropped, so gw-1 and gw1, or a-b.example and a.b.example, give the
# same ID, which one stack cannot hold twice.
logical_id(name) := vsoc.logical_id(name)

# CloudFormation's limit on a logical ID.
max_logical_id_chars := 255

# The CloudFormation logical ID of the Route 53 A record of a name
# (render/cloudformation's records): RecordProxyAcmeExampleA.
record_id(name) := concat("", ["Record", logical_id(name), "A"])

# The records every customer domain's zone has: proxy.<domain> and
# *.<domain>, whose logical ID spells the * as "wildcard".
domain_records(d) := [
	{"kind": "proxy", "name": sprintf("proxy.%s", [d]), "spelled": sprintf("proxy.%s", [d])},
	{"kind": "wildcard", "name": sprintf("*.%s", [d]), "spelled": sprintf("wildcard.%s", [d])},
]

# Whether a list holds a value twice: one comprehension, so that the pairwise
# search for the duplicate only runs when there is one.
has_duplicates(xs) if count({x | some x in xs}) != count(xs)

# The places of a list's values listed before: the index of each later place
# of a value, mapped to the index of its first place.
repeats(xs) := {i: first |
	has_duplicates(xs)
	some i, x in xs
	first := min({j | some j, y in xs; y == x})
	first < i
}

# The name part of a Kubernetes label key, and a non-empty label value: at most
# 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit.
label_name(s) if {
	count(s) <= 63
	regex.match(`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`, s)
}

# A Kubernetes label value: empty, or as a label key's name part.
label_value(s) if s == ""

label_value(s) if label_name(s)

# A Kubernetes label key: a name, optionally after a prefix and "/"; the prefix is
# a DNS subdomain (lower-case labels of letters, digits and '-', dot-separated)
# of at most 253 characters.
label_key(s) if {
	not contains(s, "/")
	label_name(s)
}

label_key(s) if {
	parts := split(s, "/")
	count(parts) == 2
	count(parts[0]) <= 253
	regex.match(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`, parts[0])
	label_name(parts[1])
}
