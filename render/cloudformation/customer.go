package cloudformation

import (
	"fmt"
	"net/netip"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/cfnid"
	"github.com/vsoc/vsoc/render/dns"
)

// Logical IDs of a customer stack that more than one function uses.
const (
	customerVpc        = "Vpc"
	privateRouteTable  = "PrivateRouteTable"
	hubPeering         = "HubPeering"
	vpnGateway         = "VpnGateway"
	vpnGatewayAttached = "VpnGatewayAttachment"
)

// customer renders one customer's stack.
type customer struct {
	t     *template
	hub   *compiler.HubPlan
	plan  *compiler.CustomerPlan
	owner string // the vsoc:customer tag value
}

// name is a resource's Name tag: the stack name and what the resource is.
func (c *customer) name(what string) string { return c.plan.StackName + "-" + what }

func (c *customer) tags(what string) []tag { return tags(c.owner, c.name(what)) }

// fail records the first error of the stack.
func (c *customer) fail(format string, args ...any) {
	if c.t.err == nil {
		c.t.err = fmt.Errorf(format, args...)
	}
}

// customerStack renders a customer's VPC, its Site-to-Site VPN, the peering with the hub (with
// routes both ways), the Client VPN routes and authorization rules for its CIDRs, the proxy's
// internal load balancer, DNS resolution towards the customer and the private zones the
// operators resolve through the hub, flow logs and optional NAT egress.
func customerStack(h *compiler.HubPlan, p *compiler.CustomerPlan, zones []dns.Zone) (*template, error) {
	cu := p.Customer
	display := cu.DisplayName
	if display == "" {
		display = cu.Name
	}
	c := &customer{
		t:     newTemplate(fmt.Sprintf("vsoc customer %s (%s): VPC %s, Site-to-Site VPN, proxy load balancer, DNS.", cu.Name, display, p.CIDRs[0])),
		hub:   h,
		plan:  p,
		owner: cu.Name,
	}
	c.network()
	c.peering()
	c.vpn()
	c.clientVpn()
	c.proxy()
	if cu.DNS.Mode == "route53-resolver" {
		c.resolver()
	}
	addZones(c.t, c.owner, importValue(exportVpcID(h.StackName)), h.Hub.Region, zones)
	if cu.VPC.NATEgress {
		c.natEgress()
	}
	addFlowLogs(c.t, c.owner, c.name("flow-logs"), "/vsoc/customers/"+cu.Name+"/flow-logs", cu.VPC.LogRetentionDays,
		ref(customerVpc), importValue(exportFlowLogsRoleArn(h.StackName)))
	c.t.output(customerVpc, "The customer VPC.", ref(customerVpc), "")
	return c.t.build()
}

// network adds the VPC with its additional CIDR blocks, one private subnet per zone and the
// private route table they share.
func (c *customer) network() {
	c.t.add(customerVpc, "AWS::EC2::VPC", props{
		"CidrBlock":          c.plan.CIDRs[0].String(),
		"EnableDnsHostnames": true,
		"EnableDnsSupport":   true,
		"Tags":               c.tags("vpc"),
	})
	for _, cidr := range c.plan.CIDRs[1:] {
		c.t.add(cidrBlockID(cidr), "AWS::EC2::VPCCidrBlock", props{
			"CidrBlock": cidr.String(),
			"VpcId":     ref(customerVpc),
		})
	}
	c.t.add(privateRouteTable, "AWS::EC2::RouteTable", props{
		"Tags":  c.tags("private"),
		"VpcId": ref(customerVpc),
	})
	for _, s := range c.plan.Subnets {
		subnet := privateSubnetID(s.AvailabilityZone)
		c.t.add(subnet, "AWS::EC2::Subnet", props{
			"AvailabilityZone":    s.AvailabilityZone,
			"CidrBlock":           s.CIDR.String(),
			"MapPublicIpOnLaunch": false,
			"Tags":                c.tags("private-" + s.AvailabilityZone),
			"VpcId":               ref(customerVpc),
		})
		c.t.add(cfnid.LogicalID("PrivateRouteTableAssociation", s.AvailabilityZone), "AWS::EC2::SubnetRouteTableAssociation", props{
			"RouteTableId": ref(privateRouteTable),
			"SubnetId":     ref(subnet),
		})
	}
}

func privateSubnetID(zone string) string { return cfnid.LogicalID("PrivateSubnet", zone) }

func cidrBlockID(cidr netip.Prefix) string { return cfnid.LogicalID("VpcCidrBlock", cidrID(cidr)) }

// dependsOnBlock is the DependsOn of anything using one of the VPC's CIDRs: an additional block
// must be associated before routes to it make sense.
func (c *customer) dependsOnBlock(cidr netip.Prefix) []string {
	if cidr == c.plan.CIDRs[0] {
		return nil
	}
	return []string{cidrBlockID(cidr)}
}

// peering connects the VPC with the hub, with routes both ways: the customer's route table to
// the hub CIDR, and each hub route table (imported) to every customer CIDR. Operators' traffic
// arrives from the hub CIDR (Client VPN translates the client pool to the hub subnets).
func (c *customer) peering() {
	c.t.add(hubPeering, "AWS::EC2::VPCPeeringConnection", props{
		"PeerVpcId": importValue(exportVpcID(c.hub.StackName)),
		"Tags":      c.tags("hub-peering"),
		"VpcId":     ref(customerVpc),
	})
	c.t.add("RouteToHub", "AWS::EC2::Route", props{
		"DestinationCidrBlock":   c.hub.CIDR.String(),
		"RouteTableId":           ref(privateRouteTable),
		"VpcPeeringConnectionId": ref(hubPeering),
	})
	for _, s := range c.hub.Subnets {
		for _, cidr := range c.plan.CIDRs {
			c.t.add(cfnid.LogicalID("HubRoute", s.AvailabilityZone, "To", cidrID(cidr)), "AWS::EC2::Route", props{
				"DestinationCidrBlock":   cidr.String(),
				"RouteTableId":           importValue(exportRouteTableID(c.hub.StackName, s.AvailabilityZone)),
				"VpcPeeringConnectionId": ref(hubPeering),
			}, c.dependsOnBlock(cidr)...)
		}
	}
}

// clientVpn lets the customer's SSO groups, and only them, reach its VPC through the
// operators' Client VPN endpoint: a route per hub subnet and an authorization rule per group.
func (c *customer) clientVpn() {
	endpoint := importValue(exportClientVpnEndpointID(c.hub.StackName))
	for _, cidr := range c.plan.CIDRs {
		for _, s := range c.hub.Subnets {
			c.t.add(cfnid.LogicalID("ClientVpnRoute", s.AvailabilityZone, "To", cidrID(cidr)), "AWS::EC2::ClientVpnRoute", props{
				"ClientVpnEndpointId":  endpoint,
				"Description":          "vsoc customer " + c.owner,
				"DestinationCidrBlock": cidr.String(),
				"TargetVpcSubnetId":    importValue(exportSubnetID(c.hub.StackName, s.AvailabilityZone)),
			}, c.dependsOnBlock(cidr)...)
		}
		for _, group := range c.plan.Customer.Access.SSOGroups {
			c.t.add(cfnid.LogicalID("ClientVpnAuthorization", "Group", group, "To", cidrID(cidr)), "AWS::EC2::ClientVpnAuthorizationRule", props{
				"AccessGroupId":       group,
				"ClientVpnEndpointId": endpoint,
				"Description":         "vsoc customer " + c.owner + ": SSO group " + group,
				"TargetNetworkCidr":   cidr.String(),
			})
		}
	}
}

// natEgress gives the private subnets Internet access (image pulls) through one NAT gateway
// in public subnets; nothing in the VPC is reachable from the Internet.
func (c *customer) natEgress() {
	const igw, igwAttached, publicTable, eip, nat = "InternetGateway", "InternetGatewayAttachment", "PublicRouteTable", "NatEip", "NatGateway"
	if len(c.plan.PublicSubnets) == 0 {
		c.fail("NAT egress needs public subnets, and the plan has none")
		return
	}
	c.t.add(igw, "AWS::EC2::InternetGateway", props{"Tags": c.tags("igw")})
	c.t.add(igwAttached, "AWS::EC2::VPCGatewayAttachment", props{
		"InternetGatewayId": ref(igw),
		"VpcId":             ref(customerVpc),
	})
	c.t.add(publicTable, "AWS::EC2::RouteTable", props{
		"Tags":  c.tags("public"),
		"VpcId": ref(customerVpc),
	})
	c.t.add("PublicDefaultRoute", "AWS::EC2::Route", props{
		"DestinationCidrBlock": "0.0.0.0/0",
		"GatewayId":            ref(igw),
		"RouteTableId":         ref(publicTable),
	}, igwAttached)
	for _, s := range c.plan.PublicSubnets {
		subnet := cfnid.LogicalID("PublicSubnet", s.AvailabilityZone)
		c.t.add(subnet, "AWS::EC2::Subnet", props{
			"AvailabilityZone":    s.AvailabilityZone,
			"CidrBlock":           s.CIDR.String(),
			"MapPublicIpOnLaunch": false,
			"Tags":                c.tags("public-" + s.AvailabilityZone),
			"VpcId":               ref(customerVpc),
		})
		c.t.add(cfnid.LogicalID("PublicRouteTableAssociation", s.AvailabilityZone), "AWS::EC2::SubnetRouteTableAssociation", props{
			"RouteTableId": ref(publicTable),
			"SubnetId":     ref(subnet),
		})
	}
	c.t.add(eip, "AWS::EC2::EIP", props{"Domain": "vpc", "Tags": c.tags("nat")}, igwAttached)
	c.t.add(nat, "AWS::EC2::NatGateway", props{
		"AllocationId":     getAtt(eip, "AllocationId"),
		"ConnectivityType": "public",
		"SubnetId":         ref(cfnid.LogicalID("PublicSubnet", c.plan.PublicSubnets[0].AvailabilityZone)),
		"Tags":             c.tags("nat"),
	})
	c.t.add("PrivateDefaultRoute", "AWS::EC2::Route", props{
		"DestinationCidrBlock": "0.0.0.0/0",
		"NatGatewayId":         ref(nat),
		"RouteTableId":         ref(privateRouteTable),
	})
}
