# METADATA
# title: contracts and access reference what exists
# description: |-
#   A contract (seed 004) opens traffic from a namespace, or from every namespace of
#   a network area, to a namespace's pods. It must name namespaces declared in
#   cluster.namespaces and areas some declared namespace is in: a typo would render
#   a NetworkPolicy that silently matches nothing. access.ssoGroups lists the SSO
#   group IDs allowed to reach the customer through Client VPN (one authorization
#   rule each): no empty IDs, each once.
# custom:
#   hint: declare the namespace under cluster.namespaces (with its area), or fix the name
package vsoc.rules.vsoc017

import data.vsoc.lib

declared := {name | some name, _ in input.customer.cluster.namespaces}

areas := {ns.area | some ns in input.customer.cluster.namespaces}

violation contains v if {
	some i, k in input.customer.cluster.contracts
	ns := k.from.namespace
	not ns in declared
	v := {
		"path": ["cluster", "contracts", i, "from", "namespace"],
		"message": sprintf("contract from namespace %s, which cluster.namespaces does not declare", [ns]),
	}
}

violation contains v if {
	some i, k in input.customer.cluster.contracts
	area := k.from.area
	not area in areas
	v := {
		"path": ["cluster", "contracts", i, "from", "area"],
		"message": sprintf("contract from area %s, which no declared namespace is in (areas: %s)", [area, concat(", ", sort(areas))]),
	}
}

violation contains v if {
	some i, k in input.customer.cluster.contracts
	ns := k.to.namespace
	not ns in declared
	v := {
		"path": ["cluster", "contracts", i, "to", "namespace"],
		"message": sprintf("contract to namespace %s, which cluster.namespaces does not declare", [ns]),
	}
}

violation contains v if {
	some i, g in input.customer.access.ssoGroups
	trim_space(g) == ""
	v := {
		"path": ["access", "ssoGroups", i],
		"message": "an SSO group ID is empty",
		"hint": "write the group's ID from the identity provider",
	}
}

violation contains v if {
	groups := input.customer.access.ssoGroups
	lib.has_duplicates(groups)
	some i, g in groups
	some j, other in groups
	j < i
	other == g
	trim_space(g) != ""
	v := {
		"path": ["access", "ssoGroups", i],
		"message": sprintf("SSO group %s is listed twice", [g]),
		"hint": "list each group once",
	}
}
