package spec

// Protected reports whether replacing or removing a resource of this type is destructive for
// the network: tunnels drop, peerings and their routes vanish, operators lose their VPN
// sessions, DNS zones are recreated with new IDs, or a subnet takes with it what lives in it
// (the proxy's load balancer, the Resolver endpoint, the NAT gateway, the Client VPN
// association and its routes). The diff preview flags such changes and apply refuses to
// execute them without an explicit flag.
func Protected(resourceType string) bool {
	switch resourceType {
	case "AWS::EC2::VPC",
		"AWS::EC2::VPNConnection",
		"AWS::EC2::CustomerGateway",
		"AWS::EC2::VPNGateway",
		"AWS::EC2::VPCPeeringConnection",
		"AWS::EC2::Subnet",
		"AWS::EC2::ClientVpnEndpoint",
		"AWS::Route53::HostedZone":
		return true
	}
	return false
}
