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
