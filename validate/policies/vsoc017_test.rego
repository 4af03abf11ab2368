package vsoc.rules.vsoc017_test

import data.vsoc.fixtures as fx
import data.vsoc.rules.vsoc017

contract_input(contract) := fx.customer_input({"cluster": {"contracts": [contract]}})

test_declared_references if {
	count(vsoc017.violation) == 0 with input as fx.customer_input({})
	count(vsoc017.violation) == 0 with input as contract_input({"from": {"namespace": "monitoring"}, "to": {"namespace": "mla"}, "ports": []})
}

test_undeclared_references if {
	fx.paths(vsoc017.violation) == {["cluster", "contracts", 0, "from", "namespace"], ["cluster", "contracts", 0, "to", "namespace"]} with input as contract_input({"from": {"namespace": "web"}, "to": {"namespace": "db"}, "ports": []})
	fx.paths(vsoc017.violation) == {["cluster", "contracts", 0, "from", "area"]} with input as contract_input({"from": {"area": "edge"}, "to": {"namespace": "mla"}, "ports": []})
}

test_sso_groups if {
	fx.paths(vsoc017.violation) == {["access", "ssoGroups", 1], ["access", "ssoGroups", 2]} with input as fx.customer_input({"access": {"ssoGroups": ["a", " ", "a"]}})
}

test_sso_groups_one_logical_id if {
	vs := vsoc017.violation with input as fx.customer_input({"access": {"ssoGroups": ["ops-team", "Ops_Team", "opsteam", "ops.team"]}})
	fx.paths(vs) == {["access", "ssoGroups", 1], ["access", "ssoGroups", 3]}
	some v in vs
	v.path == ["access", "ssoGroups", 1]
	contains(v.message, "(ClientVpnAuthorizationGroupOpsTeamTo...) as ops-team (access.ssoGroups[0])")

	# One violation per group, against the first one it clashes with.
	count(vs) == 2

	# The same ID twice is one violation: it is listed twice.
	count(vsoc017.violation) == 1 with input as fx.customer_input({"access": {"ssoGroups": ["ops-team", "ops-team"]}})
	count(vsoc017.violation) == 2 with input as fx.customer_input({"access": {"ssoGroups": ["ops-team", "Ops_Team", "Ops_Team"]}})
}

labels_input(labels) := contract_input({"from": {"namespace": "monitoring"}, "to": {"namespace": "mla", "podLabels": labels}, "ports": []})

test_pod_labels if {
	count(vsoc017.violation) == 0 with input as labels_input({
		"app.kubernetes.io/name": "vsoc-sniproxy",
		"tier": "",
		"Team_1": "A.b-c_9",
		concat("", [prefix_of_253, "/x"]): concat("", ["a" | some _ in numbers.range(1, 63)]),
	})
	every key in ["app name", "-app", "app-", "a/b/c", "App.io/name", "/name", "example.com/", "", concat("", ["a" | some _ in numbers.range(1, 64)]), concat("", ["a", prefix_of_253, "/x"])] {
		fx.paths(vsoc017.violation) == {["cluster", "contracts", 0, "to", "podLabels", key]} with input as labels_input({key: "x"})
	}
	every value in ["vsoc sniproxy!", "-x", "x.", "tööls", concat("", ["a" | some _ in numbers.range(1, 64)])] {
		fx.paths(vsoc017.violation) == {["cluster", "contracts", 0, "to", "podLabels", "app"]} with input as labels_input({"app": value})
	}

	# A bad key and a bad value are two violations at the label.
	vs := vsoc017.violation with input as labels_input({"app name": "vsoc sniproxy!"})
	count(vs) == 2
}

# A DNS subdomain of exactly 253 characters: 63 + 1 + 63 + 1 + 63 + 1 + 61.
prefix_of_253 := concat(".", [
	concat("", ["a" | some _ in numbers.range(1, 63)]),
	concat("", ["b" | some _ in numbers.range(1, 63)]),
	concat("", ["c" | some _ in numbers.range(1, 63)]),
	concat("", ["d" | some _ in numbers.range(1, 61)]),
])

test_sso_group_id_length if {
	fits := concat("-", [concat("", ["a" | some _ in numbers.range(1, 104)]), concat("", ["b" | some _ in numbers.range(1, 104)])])
	count(vsoc017.violation) == 0 with input as fx.customer_input({"access": {"ssoGroups": [fits]}})
	too_long := concat("", ["g" | some _ in numbers.range(1, 300)])
	vs := vsoc017.violation with input as fx.customer_input({"access": {"ssoGroups": ["ops", too_long]}})
	fx.paths(vs) == {["access", "ssoGroups", 1]}
	some v in vs
	contains(v.message, "SSO group ID of 300 characters has 300 letters and digits, more than the 208 that fit")

	# Punctuation does not count: it is not in the logical ID.
	count(vsoc017.violation) == 0 with input as fx.customer_input({"access": {"ssoGroups": [concat("", [fits, "------"])]}})
}
