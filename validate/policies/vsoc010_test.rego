package vsoc.rules.vsoc010_test

import data.vsoc.fixtures as fx
import data.vsoc.rules.vsoc010

gateway_input(address) := fx.customer_input({"vpn": {"gateways": [{"name": "gw", "address": address, "asn": 65000}]}})

test_public_addresses if {
	every a in ["62.176.249.5", "1.1.1.1", "100.63.255.255", "100.128.0.1", "223.255.255.254"] {
		count(vsoc010.violation) == 0 with input as gateway_input(a)
	}
}

test_special_addresses if {
	every a in ["10.1.2.3", "172.31.0.1", "192.168.1.1", "100.64.0.1", "127.0.0.1", "169.254.169.254", "224.0.0.5", "255.255.255.255", "240.0.0.1", "0.1.2.3", "192.0.2.1", "198.51.100.1", "203.0.113.1", "192.0.0.8", "198.19.0.1"] {
		fx.paths(vsoc010.violation) == {["vpn", "gateways", 0, "address"]} with input as gateway_input(a)
	}
}

test_malformed if {
	every a in ["62.176.249", "2001:db8::1", "062.176.249.5"] {
		fx.paths(vsoc010.violation) == {["vpn", "gateways", 0, "address"]} with input as gateway_input(a)
	}
}
