package cloudformation

import (
	"errors"
	"net/netip"
	"strconv"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/cfnid"
)

// tunnelsPerConnection is how many tunnels AWS gives every Site-to-Site VPN connection.
const tunnelsPerConnection = 2

// maxBgpAsn is the largest ASN a customer gateway's BgpAsn takes; EC2 wants the ASNs above it
// (2,147,483,648 to 4,294,967,295) in BgpAsnExtended.
const maxBgpAsn = 2147483647

// vpn adds the virtual private gateway (one per VPC, an AWS limit), a customer gateway and a
// VPN connection per customer device, and the routes to the remote subnets: static VPN
// connection routes plus VPC routes via the gateway, or route propagation with BGP.
func (c *customer) vpn() {
	v := c.plan.Customer.VPN
	c.t.add(vpnGateway, "AWS::EC2::VPNGateway", props{
		"AmazonSideAsn": v.AmazonSideASN,
		"Tags":          c.tags("vgw"),
		"Type":          "ipsec.1",
	})
	c.t.add(vpnGatewayAttached, "AWS::EC2::VPCGatewayAttachment", props{
		"VpcId":        ref(customerVpc),
		"VpnGatewayId": ref(vpnGateway),
	})

	tunnels, err := tunnelOptions(v.Tunnel, v.PreSharedKey)
	if err != nil {
		c.fail("%v", err)
		return
	}
	static := v.Routing == "static"
	for _, gw := range v.Gateways {
		cgw, conn := cfnid.LogicalID("CustomerGateway", gw.Name), cfnid.LogicalID("VpnConnection", gw.Name)
		address, err := netip.ParseAddr(gw.Address)
		if err != nil || !address.Is4() {
			c.fail("gateway %s: address %q is not an IPv4 address", gw.Name, gw.Address)
			return
		}
		gwProps := props{
			"IpAddress": address.String(),
			"Tags":      c.tags("cgw-" + gw.Name),
			"Type":      "ipsec.1",
		}
		// EC2 takes BgpAsn up to 2,147,483,647 only; a larger 4-byte ASN goes into BgpAsnExtended.
		if gw.ASN > maxBgpAsn {
			gwProps["BgpAsnExtended"] = gw.ASN
		} else {
			gwProps["BgpAsn"] = gw.ASN
		}
		c.t.add(cgw, "AWS::EC2::CustomerGateway", gwProps)
		c.t.add(conn, "AWS::EC2::VPNConnection", props{
			"CustomerGatewayId":              ref(cgw),
			"StaticRoutesOnly":               static,
			"Tags":                           c.tags("vpn-" + gw.Name),
			"Type":                           "ipsec.1",
			"VpnGatewayId":                   ref(vpnGateway),
			"VpnTunnelOptionsSpecifications": tunnels,
		}, vpnGatewayAttached)
		c.t.output(conn, "VPN connection to "+gw.Name+" ("+gw.Address+").", ref(conn), "")
		if static {
			for _, remote := range c.plan.RemoteSubnets {
				c.t.add(cfnid.LogicalID("VpnConnectionRoute", gw.Name, "To", cidrID(remote)), "AWS::EC2::VPNConnectionRoute", props{
					"DestinationCidrBlock": remote.String(),
					"VpnConnectionId":      ref(conn),
				})
			}
		}
	}
	if !static {
		c.t.add("VpnRoutePropagation", "AWS::EC2::VPNGatewayRoutePropagation", props{
			"RouteTableIds": []any{ref(privateRouteTable)},
			"VpnGatewayId":  ref(vpnGateway),
		}, vpnGatewayAttached)
		return
	}
	for _, remote := range c.plan.RemoteSubnets {
		c.t.add(cfnid.LogicalID("RemoteRoute", "To", cidrID(remote)), "AWS::EC2::Route", props{
			"DestinationCidrBlock": remote.String(),
			"GatewayId":            ref(vpnGateway),
			"RouteTableId":         ref(privateRouteTable),
		}, vpnGatewayAttached)
	}
}

// tunnelOptions renders the IKE/IPsec parameters of both tunnels. The pre-shared keys are
// dynamic references to the Secrets Manager secret's JSON keys tunnel1 and tunnel2, resolved by
// CloudFormation at deploy time: no key is ever in a template. Without a secret AWS generates
// the keys.
func tunnelOptions(o compiler.TunnelOptions, psk *compiler.PreSharedKey) ([]any, error) {
	if psk != nil && psk.Literal {
		return nil, errors.New("the VPN pre-shared key is a literal; declare preSharedKey: secretsManager: \"<secret name or ARN>\" (validation refuses literals: was it skipped?)")
	}
	tunnels := make([]any, tunnelsPerConnection)
	for i := range tunnels {
		t := props{
			"DPDTimeoutAction":      o.DPDTimeoutAction,
			"Phase1LifetimeSeconds": o.Phase1.LifetimeSeconds,
			"Phase2LifetimeSeconds": o.Phase2.LifetimeSeconds,
			"StartupAction":         o.StartupAction,
		}
		setValues(t, "IKEVersions", o.IKEVersions)
		setValues(t, "Phase1EncryptionAlgorithms", o.Phase1.Encryption)
		setValues(t, "Phase1IntegrityAlgorithms", o.Phase1.Integrity)
		setValues(t, "Phase1DHGroupNumbers", o.Phase1.DHGroups)
		setValues(t, "Phase2EncryptionAlgorithms", o.Phase2.Encryption)
		setValues(t, "Phase2IntegrityAlgorithms", o.Phase2.Integrity)
		setValues(t, "Phase2DHGroupNumbers", o.Phase2.DHGroups)
		if psk != nil && psk.SecretsManager != "" {
			t["PreSharedKey"] = secretReference(psk.SecretsManager, "tunnel"+strconv.Itoa(i+1))
		}
		tunnels[i] = t
	}
	return tunnels, nil
}

// setValues sets a list of {"Value": v} objects, the form the tunnel options' algorithm lists
// take; an empty list is left out, so AWS applies its default.
func setValues[V any](p props, key string, values []V) {
	if len(values) == 0 {
		return
	}
	list := make([]any, len(values))
	for i, v := range values {
		list[i] = props{"Value": v}
	}
	p[key] = list
}

// secretReference is a CloudFormation dynamic reference to a JSON key of a Secrets Manager
// secret (its name or ARN).
func secretReference(secret, key string) string {
	return "{{resolve:secretsmanager:" + secret + ":SecretString:" + key + "}}"
}
