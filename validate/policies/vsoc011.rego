# METADATA
# title: BGP ASNs are valid and not reserved
# description: |-
#   Every customer gateway has a BGP ASN (AWS requires one even with static routing;
#   with BGP it is the customer's side of the session). It must be 1 to 4294967295
#   and none of the ASNs AWS reserves for customer gateways (7224, 9059, 10124,
#   17493), nor AS 0, AS_TRANS 23456 or 65535, which no BGP speaker may use. The
#   Amazon side of the virtual private gateway must be a private ASN AWS accepts:
#   64512 to 65534, or 4200000000 to 4294967294. With BGP the two sides must differ:
#   the session is eBGP.
# custom:
#   hint: use the ASN the customer's network team assigned, e.g. a private one from 64512-65534
package vsoc.rules.vsoc011

import data.vsoc.lib

reserved := {
	0: "AS 0 is reserved (RFC 7607)",
	7224: "AWS reserves 7224 for its own side",
	9059: "AWS reserves 9059 in eu-west-1",
	10124: "AWS reserves 10124 in ap-northeast-1",
	17493: "AWS reserves 17493 in ap-southeast-1",
	23456: "23456 is AS_TRANS (RFC 6793)",
	65535: "65535 is reserved (RFC 7300)",
}

violation contains v if {
	some i, g in input.customer.vpn.gateways
	why := asn_problem(g.asn)
	v := {"path": ["vpn", "gateways", i, "asn"], "message": sprintf("customer gateway %s ASN %d: %s", [g.name, g.asn, why])}
}

violation contains v if {
	asn := input.customer.vpn.amazonSideASN
	not amazon_side_ok(asn)
	v := {
		"path": ["vpn", "amazonSideASN"],
		"message": sprintf("amazonSideASN %d is outside what AWS accepts (64512-65534 or 4200000000-4294967294)", [asn]),
		"hint": "leave amazonSideASN at its default 64512, or pick another private ASN",
	}
}

violation contains v if {
	input.customer.vpn.routing == "bgp"
	some i, g in input.customer.vpn.gateways
	g.asn == input.customer.vpn.amazonSideASN
	v := {
		"path": ["vpn", "gateways", i, "asn"],
		"message": sprintf("customer gateway %s ASN %d equals amazonSideASN: the BGP session is eBGP, the sides need different ASNs", [g.name, g.asn]),
	}
}

asn_problem(asn) := reserved[asn]

# AS 0 is in reserved, with its own reason.
asn_problem(asn) := "outside 1-4294967295" if asn < 0

asn_problem(asn) := "outside 1-4294967295" if asn > 4294967295

amazon_side_ok(asn) if {
	asn >= 64512
	asn <= 65534
}

amazon_side_ok(asn) if {
	asn >= 4200000000
	asn <= 4294967294
}
