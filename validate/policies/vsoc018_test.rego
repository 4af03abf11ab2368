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
	every ui in ["com", "kkp.acme.example.", "kkp_ui.acme.example", "10.20.3.4", "kkp.acme.123"] {
		vs := vsoc018.violation with input as endpoint_input(ui)
			with vsoc.domain_conflicts as fx.no_conflicts
			with vsoc.kkp_zone_conflicts as fx.no_conflicts
		fx.paths(vs) == {["kkp", "endpoints", "ui"]}
		some v in vs
		v.hint == "use a name under one of the customer's own dns.domains (acme.example), e.g. kkp.acme.example"
	}
}

test_ip_address if {
	vs := vsoc018.violation with input as endpoint_input("10.20.3.4")
		with vsoc.domain_conflicts as fx.no_conflicts
		with vsoc.kkp_zone_conflicts as fx.no_conflicts
	some v in vs
	v.message == "KKP ui endpoint 10.20.3.4 is an IP address, not a DNS name"
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

repeat(s, n) := concat("", [s | some _ in numbers.range(1, n)])

# The customer with its only domain d and KKP ui endpoint ui.
domain_endpoint_input(d, ui) := fx.customer_input({"dns": {"domains": [d]}, "kkp": {"endpoints": {"ui": ui}}})

test_derived_names_fit if {
	# A zone of its own: 253 characters of 250 letters give HostedZone<250>.
	outside := concat(".", [repeat("a", 63), repeat("a", 63), repeat("a", 63), repeat("b", 61)])
	vs := vsoc018.violation with input as endpoint_input(outside)
		with vsoc.domain_conflicts as fx.no_conflicts
		with vsoc.kkp_zone_conflicts as fx.no_conflicts
	fx.paths(vs) == {["kkp", "endpoints", "ui"]}
	some v in vs
	contains(v.message, "gets a zone of its own whose CloudFormation logical ID HostedZone")
	contains(v.message, "is 260 characters, more than the 255")

	# 244 letters: HostedZone<244> is 254 characters.
	count(vsoc018.violation) == 0 with input as endpoint_input(concat(".", [repeat("a", 63), repeat("a", 63), repeat("a", 63), repeat("b", 55)]))
		with vsoc.domain_conflicts as fx.no_conflicts
		with vsoc.kkp_zone_conflicts as fx.no_conflicts

	# 126 one-letter labels: a short ID, but the zone file is 256 characters.
	files := vsoc018.violation with input as endpoint_input(concat(".", [x | some x in array.concat([repeat("a", 1) | some _ in numbers.range(1, 125)], ["de"])]))
		with vsoc.domain_conflicts as fx.no_conflicts
		with vsoc.kkp_zone_conflicts as fx.no_conflicts
	some f in files
	contains(f.message, ".zone is 257 characters, more than the 255 a file name can have")
}

test_derived_record_fits if {
	d := concat(".", [repeat("c", 63), repeat("c", 63), repeat("c", 55)])

	# Below proxy.<d> and below grafana.<d> the wildcard does not answer: a
	# record of 249 letters, Record<249>A.
	every ui in [concat(".", [repeat("x", 63), "proxy", d]), concat(".", [repeat("x", 61), "grafana", d])] {
		count(ui) == 253
		vs := vsoc018.violation with input as domain_endpoint_input(d, ui)
			with vsoc.domain_conflicts as fx.no_conflicts
			with vsoc.kkp_zone_conflicts as fx.no_conflicts
		fx.paths(vs) == {["kkp", "endpoints", "ui"]}
		some v in vs
		contains(v.message, "gets a record of its own whose CloudFormation logical ID Record")
		contains(v.message, "is 256 characters, more than the 255")
	}

	# The same length where the wildcard answers it: no record, nothing too long.
	count(vsoc018.violation) == 0 with input as domain_endpoint_input(d, concat(".", [repeat("x", 63), "kkpui", d]))
		with vsoc.domain_conflicts as fx.no_conflicts
		with vsoc.kkp_zone_conflicts as fx.no_conflicts
}

test_record_logical_id_clashes if {
	# Below proxy.<domain> the endpoint gets a record, RecordXProxyAcmeExampleA,
	# which service x-proxy's record x-proxy.acme.example has too.
	vs := vsoc018.violation with input as fx.customer_input({"kkp": {"endpoints": {"ui": "x.proxy.acme.example"}}, "services": {"x-proxy": {"addresses": ["100.68.1.100"]}}})
		with vsoc.domain_conflicts as fx.no_conflicts
		with vsoc.kkp_zone_conflicts as fx.no_conflicts
	fx.paths(vs) == {["kkp", "endpoints", "ui"]}
	some v in vs
	contains(v.message, "(RecordXProxyAcmeExampleA) as x-proxy.acme.example, the record of service x-proxy")

	# Where the wildcard answers it, the endpoint has no record to clash.
	count(vsoc018.violation) == 0 with input as fx.customer_input({"kkp": {"endpoints": {"ui": "x.kkp.acme.example"}}, "services": {"x-kkp": {"addresses": ["100.68.1.100"]}}})
		with vsoc.domain_conflicts as fx.no_conflicts
		with vsoc.kkp_zone_conflicts as fx.no_conflicts

	# A zone of its own, whose record meets the domain's proxy record.
	own := vsoc018.violation with input as endpoint_input("proxy-acme.example")
		with vsoc.domain_conflicts as fx.no_conflicts
		with vsoc.kkp_zone_conflicts as fx.no_conflicts
	some o in own
	contains(o.message, "(RecordProxyAcmeExampleA) as proxy.acme.example, the proxy record of domain acme.example (dns.domains[0])")

	# Two endpoints with records of one ID: reported at the later one.
	fx.paths(vsoc018.violation) == {["kkp", "endpoints", "api"]} with input as fx.customer_input({"kkp": {"endpoints": {"ui": "a.b.proxy.acme.example", "api": "a-b.proxy.acme.example"}}})
		with vsoc.domain_conflicts as fx.no_conflicts
		with vsoc.kkp_zone_conflicts as fx.no_conflicts
}
