package vsoc.rules.vsoc018_test

import data.vsoc.fixtures as fx
import data.vsoc.rules.vsoc018

endpoint_input(ui) := fx.customer_input({"kkp": {"exposeStrategy": "Tunneling", "endpoints": {"ui": ui}}})

inside_beta(_, _, _) := [{"owner": "customer beta", "customer": "beta", "index": 0, "domain": "beta.example", "relation": "inside"}]

contains_hub(_, _, _) := [{"owner": "the hub domain", "customer": "", "index": 0, "domain": "vsoc.example.net", "relation": "contains"}]

# The customer's own domain is among the answers: it is no conflict.
own_domain(_, _, _) := [{"owner": "customer acme", "customer": "acme", "index": 0, "domain": "acme.example", "relation": "inside"}]

beta_endpoint_zone(_, _, _) := [{"owner": "customer beta", "customer": "beta", "index": 1, "endpoint": "kkp.shared.example", "relation": "same"}]

test_own_names if {
	every ui in ["kkp.acme.example", "acme.example", "proxy.acme.example", "kkp.acme-platform.example"] {
		count(vsoc018.violation) == 0 with input as endpoint_input(ui)
			with vsoc.domain_conflicts as own_domain
			with vsoc.kkp_zone_conflicts as fx.no_conflicts
	}
}

test_not_a_dns_name if {
	every ui in ["com", "kkp.acme.example.", "kkp_ui.acme.example"] {
		vs := vsoc018.violation with input as endpoint_input(ui)
			with vsoc.domain_conflicts as fx.no_conflicts
			with vsoc.kkp_zone_conflicts as fx.no_conflicts
		fx.paths(vs) == {["kkp", "endpoints", "ui"]}
		some v in vs
		v.hint == "use a name under one of the customer's own dns.domains (acme.example), e.g. kkp.acme.example"
	}
}

test_upper_case if {
	vs := vsoc018.violation with input as endpoint_input("KKP.acme.example")
		with vsoc.domain_conflicts as fx.no_conflicts
		with vsoc.kkp_zone_conflicts as fx.no_conflicts
	fx.paths(vs) == {["kkp", "endpoints", "ui"]}
	some v in vs
	v.hint == "write it in lower case: kkp.acme.example"
}

test_someone_elses_domain if {
	vs := vsoc018.violation with input as endpoint_input("kkp.beta.example")
		with vsoc.domain_conflicts as inside_beta
		with vsoc.kkp_zone_conflicts as fx.no_conflicts
	fx.paths(vs) == {["kkp", "endpoints", "ui"]}
	some v in vs
	v.message == "KKP ui endpoint kkp.beta.example is inside customer beta's domain beta.example"
	vs2 := vsoc018.violation with input as endpoint_input("example.net")
		with vsoc.domain_conflicts as contains_hub
		with vsoc.kkp_zone_conflicts as fx.no_conflicts
	some v2 in vs2
	v2.message == "KKP ui endpoint example.net contains the hub domain vsoc.example.net"
}

beta_above_acme(_, _, _) := [{"owner": "customer beta", "customer": "beta", "index": 0, "domain": "example", "relation": "inside"}]

test_own_zone_answers_first if {
	count(vsoc018.violation) == 0 with input as endpoint_input("kkp.acme.example")
		with vsoc.domain_conflicts as beta_above_acme
		with vsoc.kkp_zone_conflicts as fx.no_conflicts
	fx.paths(vsoc018.violation) == {["kkp", "endpoints", "ui"]} with input as endpoint_input("kkp.other.example")
		with vsoc.domain_conflicts as beta_above_acme
		with vsoc.kkp_zone_conflicts as fx.no_conflicts
}

test_another_customers_endpoint_zone if {
	vs := vsoc018.violation with input as endpoint_input("kkp.shared.example")
		with vsoc.domain_conflicts as fx.no_conflicts
		with vsoc.kkp_zone_conflicts as beta_endpoint_zone
	some v in vs
	v.message == "KKP ui endpoint kkp.shared.example is also customer beta's KKP endpoint kkp.shared.example"

	# Under the customer's own domain the endpoint is no zone: the clash is the other one's.
	count(vsoc018.violation) == 0 with input as endpoint_input("kkp.acme.example")
		with vsoc.domain_conflicts as fx.no_conflicts
		with vsoc.kkp_zone_conflicts as beta_endpoint_zone
}

test_a_service_name if {
	vs := vsoc018.violation with input as endpoint_input("grafana.acme.example")
		with vsoc.domain_conflicts as fx.no_conflicts
		with vsoc.kkp_zone_conflicts as fx.no_conflicts
	fx.paths(vs) == {["kkp", "endpoints", "ui"]}
	some v in vs
	contains(v.message, "service grafana")
}

test_endpoint_zone_with_a_domain_zone_logical_id if {
	vs := vsoc018.violation with input as endpoint_input("acme-example.io")
		with input.customer.dns.domains as ["acme.example.io"]
		with vsoc.domain_conflicts as fx.no_conflicts
		with vsoc.kkp_zone_conflicts as fx.no_conflicts
	fx.paths(vs) == {["kkp", "endpoints", "ui"]}
	some v in vs
	contains(v.message, "(HostedZoneAcmeExampleIo) as domain acme.example.io")
}

test_two_endpoint_zones_with_one_logical_id if {
	two := fx.customer_input({"kkp": {"exposeStrategy": "Tunneling", "endpoints": {"ui": "kkp.acme.io", "api": "kkp-acme.io"}}})
	vs := vsoc018.violation with input as two
		with vsoc.domain_conflicts as fx.no_conflicts
		with vsoc.kkp_zone_conflicts as fx.no_conflicts
	fx.paths(vs) == {["kkp", "endpoints", "api"]}
}
