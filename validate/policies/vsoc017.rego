# METADATA
# title: contracts and access reference what exists
# description: |-
#   A contract (seed 004) opens traffic from a namespace, or from every namespace of
#   a network area, to a namespace's pods. It must name namespaces declared in
#   cluster.namespaces and areas some declared namespace is in: a typo would render
#   a NetworkPolicy that silently matches nothing. The pods a contract opens are
#   selected by to.podLabels, written into the NetworkPolicy's podSelector: each key
#   is a Kubernetes label key (an optional DNS-subdomain prefix of at most 253
#   characters and '/', then a name of at most 63 letters, digits, '-', '_' and '.',
#   starting and ending with a letter or digit) and each value empty or such a name,
#   else the apiserver refuses the policy. access.ssoGroups lists the SSO
#   group IDs allowed to reach the customer through Client VPN (one authorization
#   rule each): no empty IDs, each once, and no two that differ only in case of a
#   word's first letter or in punctuation, since each rule's CloudFormation logical
#   ID keeps only the letters and digits (ops-team and Ops_Team both give
#   ClientVpnAuthorizationGroupOpsTeamTo...). That ID,
#   ClientVpnAuthorizationGroup<letters and digits of the ID>To<VPC CIDR>, must fit
#   CloudFormation's 255 characters, so an ID has at most 208 letters and digits.
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
	some i, k in input.customer.cluster.contracts
	some key, _ in object.get(k.to, "podLabels", {})
	not lib.label_key(key)
	v := {
		"path": ["cluster", "contracts", i, "to", "podLabels", key],
		"message": sprintf("contract to namespace %s: pod label key %q is not a Kubernetes label key", [k.to.namespace, key]),
		"hint": "write the key as [prefix/]name: name at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit; prefix a lower-case DNS subdomain (e.g. app.kubernetes.io/name)",
	}
}

violation contains v if {
	some i, k in input.customer.cluster.contracts
	some key, value in object.get(k.to, "podLabels", {})
	not lib.label_value(value)
	v := {
		"path": ["cluster", "contracts", i, "to", "podLabels", key],
		"message": sprintf("contract to namespace %s: pod label %q has value %q, which is not a Kubernetes label value", [k.to.namespace, key, value]),
		"hint": "write the value as at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit (or empty)",
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

# The most letters and digits of an SSO group ID: ClientVpnAuthorizationGroup
# (27 characters), To (2) and the longest CIDR (18, 100.100.100.100/32 as
# 100x100x100x100x32) leave 208 of a logical ID's 255.
max_group_id_chars := 208

violation contains v if {
	some i, g in input.customer.access.ssoGroups
	n := count(lib.logical_id(g))
	n > max_group_id_chars
	v := {
		"path": ["access", "ssoGroups", i],
		"message": sprintf("SSO group ID of %d characters has %d letters and digits, more than the %d that fit in the CloudFormation logical ID of its authorization rules (ClientVpnAuthorizationGroup<letters and digits>To<CIDR>, at most 255 characters)", [count(g), n, max_group_id_chars]),
		"hint": "use the group's ID from the identity provider (e.g. its UUID), not a long name",
	}
}

violation contains v if {
	groups := input.customer.access.ssoGroups
	some i, _ in lib.repeats(groups)
	g := groups[i]
	trim_space(g) != ""
	v := {
		"path": ["access", "ssoGroups", i],
		"message": sprintf("SSO group %s is listed twice", [g]),
		"hint": "list each group once",
	}
}

violation contains v if {
	groups := input.customer.access.ssoGroups
	count(groups) > 1
	some i, g in groups
	trim_space(g) != ""
	not g in array.slice(groups, 0, i)
	id := lib.logical_id(g)
	clashes := [j | some j, other in array.slice(groups, 0, i); other != g; lib.logical_id(other) == id]
	count(clashes) > 0
	j := clashes[0]
	other := groups[j]
	v := {
		"path": ["access", "ssoGroups", i],
		"message": sprintf("SSO group %s gives the same CloudFormation logical ID (ClientVpnAuthorizationGroup%sTo...) as %s (access.ssoGroups[%d])", [g, id, other, j]),
		"hint": "the customer's stack cannot hold both authorization rules: group IDs that differ only in punctuation or in the case of a first letter are one name to CloudFormation; check the IDs with the identity provider",
	}
}
