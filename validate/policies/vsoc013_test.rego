package vsoc.rules.vsoc013_test

import data.vsoc.fixtures as fx
import data.vsoc.rules.vsoc013

psk_input(psk) := object.union(fx.customer_input({}), {"customer": {"vpn": {"preSharedKey": psk}}})

test_references if {
	count(vsoc013.violation) == 0 with input as fx.customer_input({})
	count(vsoc013.violation) == 0 with input as psk_input({"secretsManager": "arn:aws:secretsmanager:eu-central-1:123456789012:secret:vsoc/acme/vpn-psk-a1B2c3"})
	count(vsoc013.violation) == 0 with input as fx.customer_input({}) with input.customer.vpn as object.remove(fx.customer.vpn, ["preSharedKey"])
}

test_literal if {
	fx.paths(vsoc013.violation) == {["vpn", "preSharedKey"]} with input as psk_input({"literal": true})
}

test_bad_reference_is_not_echoed if {
	vs := vsoc013.violation with input as psk_input({"secretsManager": "hunter2 hunter2"})
	fx.paths(vs) == {["vpn", "preSharedKey", "secretsManager"]}
	every v in vs {
		not contains(v.message, "hunter2")
	}
}
