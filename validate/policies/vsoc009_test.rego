package vsoc.rules.vsoc009_test

import data.vsoc.fixtures as fx
import data.vsoc.rules.vsoc009

test_patterns_inside_domains if {
	count(vsoc009.violation) == 0 with input as fx.customer_input({})
	count(vsoc009.violation) == 0 with input as fx.customer_input({"proxy": {"allow": ["git.acme.example", "*.eu.acme.example", "acme.example"]}})
}

test_outside_domains if {
	fx.paths(vsoc009.violation) == {["proxy", "allow", 1], ["proxy", "allow", 2]} with input as fx.customer_input({"proxy": {"allow": ["*.acme.example", "*.example", "evil-acme.example"]}})
}

test_not_a_pattern if {
	fx.paths(vsoc009.violation) == {["proxy", "allow", 0], ["proxy", "allow", 1]} with input as fx.customer_input({"proxy": {"allow": ["*", "git.*.acme.example"]}})
}

test_listed_twice if {
	vs := vsoc009.violation with input as fx.customer_input({"proxy": {"allow": ["*.acme.example", "git.acme.example", "git.acme.example", "*.acme.example"]}})
	fx.paths(vs) == {["proxy", "allow", 2], ["proxy", "allow", 3]}
	some v in vs
	v.path == ["proxy", "allow", 3]
	contains(v.message, "*.acme.example is listed twice (also proxy.allow[0])")

	count(vsoc009.violation) == 2 with input as fx.customer_input({"proxy": {"allow": ["*", "*"]}})
}
