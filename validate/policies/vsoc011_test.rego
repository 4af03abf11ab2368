package vsoc.rules.vsoc011_test

import data.vsoc.fixtures as fx
import data.vsoc.rules.vsoc011

asn_input(routing, asn, amazon) := fx.customer_input({"vpn": {"routing": routing, "amazonSideASN": amazon, "gateways": [{"name": "gw", "address": "62.176.249.5", "asn": asn}]}})

test_valid_asns if {
	count(vsoc011.violation) == 0 with input as fx.customer_input({})
	count(vsoc011.violation) == 0 with input as asn_input("bgp", 65101, 4200000000)
	count(vsoc011.violation) == 0 with input as asn_input("bgp", 4294967295, 65534)
}

test_reserved_and_out_of_range if {
	every asn in [0, 7224, 9059, 10124, 17493, 23456, 65535, 4294967296, -1] {
		fx.paths(vsoc011.violation) == {["vpn", "gateways", 0, "asn"]} with input as asn_input("bgp", asn, 64512)
	}
}

test_amazon_side if {
	every amazon in [65000 - 1000, 65535, 4200000000 - 1, 4294967295] {
		fx.paths(vsoc011.violation) == {["vpn", "amazonSideASN"]} with input as asn_input("static", 65000, amazon)
	}
}

test_ebgp_needs_two_asns if {
	fx.paths(vsoc011.violation) == {["vpn", "gateways", 0, "asn"]} with input as asn_input("bgp", 64512, 64512)
	count(vsoc011.violation) == 0 with input as asn_input("static", 64512, 64512)
}
