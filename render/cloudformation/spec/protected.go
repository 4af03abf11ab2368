package spec

// protectedTypes are the resource types whose replacement or removal is destructive for the
// network: tunnels drop, peerings and routes vanish, operators lose their VPN sessions, or DNS
// zones (and their delegation) are recreated with new IDs. The diff preview flags them and apply
// refuses to execute such a change without an explicit flag.
var protectedTypes = map[string]bool{
	"AWS::EC2::VPC":                  true,
	"AWS::EC2::VPNConnection":        true,
	"AWS::EC2::CustomerGateway":      true,
	"AWS::EC2::VPNGateway":           true,
	"AWS::EC2::VPCPeeringConnection": true,
	"AWS::EC2::ClientVpnEndpoint":    true,
	"AWS::Route53::HostedZone":       true,
}

// Protected reports whether replacing or removing a resource of this type is destructive.
func Protected(resourceType string) bool {
	return protectedTypes[resourceType]
}
