package cloudformation

import (
	"fmt"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/cfnid"
	"github.com/vsoc/vsoc/render/dns"
)

// minClientVpnSubnets is how many zones the Client VPN endpoint is associated with at least.
const minClientVpnSubnets = 2

// Logical IDs of the hub stack that more than one function uses.
const (
	hubVpc                = "Vpc"
	hubClientVpn          = "ClientVpnEndpoint"
	hubClientVpnLogGroup  = "ClientVpnLogGroup"
	hubClientVpnLogStream = "ClientVpnLogStream"
	hubFlowLogsRole       = "FlowLogsRole"
)

// hubStack renders the DMZ VPC: private subnets and route tables per zone, the operators'
// Client VPN endpoint, flow logs, and the private zone of the shared services. It exports what
// the customer stacks attach to.
func hubStack(h *compiler.HubPlan, zones []dns.Zone) (*template, error) {
	if len(h.Subnets) < minClientVpnSubnets {
		return nil, fmt.Errorf("the hub has %d subnet(s); the Client VPN endpoint needs at least %d, in different availability zones, to survive a zone failure", len(h.Subnets), minClientVpnSubnets)
	}
	t := newTemplate(fmt.Sprintf("vsoc hub (DMZ VPC %s, Client VPN, shared services).", h.CIDR))
	name := func(what string) string { return h.StackName + "-" + what }

	t.add(hubVpc, "AWS::EC2::VPC", props{
		"CidrBlock":          h.CIDR.String(),
		"EnableDnsHostnames": true,
		"EnableDnsSupport":   true,
		"Tags":               tags(hubOwner, name("vpc")),
	})
	for _, s := range h.Subnets {
		subnet, table := cfnid.LogicalID("PrivateSubnet", s.AvailabilityZone), cfnid.LogicalID("PrivateRouteTable", s.AvailabilityZone)
		t.add(subnet, "AWS::EC2::Subnet", props{
			"AvailabilityZone":    s.AvailabilityZone,
			"CidrBlock":           s.CIDR.String(),
			"MapPublicIpOnLaunch": false,
			"Tags":                tags(hubOwner, name("private-"+s.AvailabilityZone)),
			"VpcId":               ref(hubVpc),
		})
		t.add(table, "AWS::EC2::RouteTable", props{
			"Tags":  tags(hubOwner, name("private-"+s.AvailabilityZone)),
			"VpcId": ref(hubVpc),
		})
		t.add(cfnid.LogicalID("PrivateRouteTableAssociation", s.AvailabilityZone), "AWS::EC2::SubnetRouteTableAssociation", props{
			"RouteTableId": ref(table),
			"SubnetId":     ref(subnet),
		})
		t.output(subnet, "Private subnet in "+s.AvailabilityZone+" (Client VPN routes target it).", ref(subnet), exportSubnetID(h.StackName, s.AvailabilityZone))
		t.output(table, "Private route table in "+s.AvailabilityZone+" (customer stacks add their peering routes to it).", ref(table), exportRouteTableID(h.StackName, s.AvailabilityZone))
	}
	t.output(hubVpc, "The hub VPC (customer VPCs peer with it; customer zones are associated with it).", ref(hubVpc), exportVpcID(h.StackName))

	addClientVpn(t, h, name)
	addFlowLogs(t, hubOwner, name("flow-logs"), "/vsoc/hub/flow-logs", h.Hub.LogRetentionDays, ref(hubVpc), getAtt(hubFlowLogsRole, "Arn"))
	addFlowLogsRole(t, name)
	t.output(hubFlowLogsRole, "Role VPC flow logs use to write to CloudWatch Logs (customer stacks use it too).", getAtt(hubFlowLogsRole, "Arn"), exportFlowLogsRoleArn(h.StackName))
	addZones(t, hubOwner, ref(hubVpc), h.Hub.Region, zones)
	return t.build()
}

// addClientVpn adds the operators' Client VPN endpoint: SAML federated authentication (SSO),
// connection logging, associated with every hub subnet, authorized for the hub's own CIDR (the
// shared services). Routes and authorization rules to customer VPCs come with each customer.
func addClientVpn(t *template, h *compiler.HubPlan, name func(string) string) {
	vpn := h.Hub.ClientVPN
	t.add("ClientVpnSecurityGroup", "AWS::EC2::SecurityGroup", props{
		"GroupDescription": "vsoc Client VPN endpoint: operators reach the hub and the customer VPCs",
		"SecurityGroupEgress": []any{props{
			"CidrIp":      sharedAddressSpace,
			"Description": "every vsoc VPC (hub and customers) lives in the shared address space",
			"IpProtocol":  "-1",
		}},
		"Tags":  tags(hubOwner, name("client-vpn")),
		"VpcId": ref(hubVpc),
	})

	logOptions := props{"Enabled": vpn.ConnectionLogging}
	if vpn.ConnectionLogging {
		addLogGroup(t, hubClientVpnLogGroup, hubOwner, name("client-vpn"), "/vsoc/hub/client-vpn", h.Hub.LogRetentionDays)
		t.add(hubClientVpnLogStream, "AWS::Logs::LogStream", props{
			"LogGroupName":  ref(hubClientVpnLogGroup),
			"LogStreamName": "connections",
		})
		logOptions["CloudwatchLogGroup"] = ref(hubClientVpnLogGroup)
		logOptions["CloudwatchLogStream"] = ref(hubClientVpnLogStream)
	}
	t.add(hubClientVpn, "AWS::EC2::ClientVpnEndpoint", props{
		"AuthenticationOptions": []any{props{
			"FederatedAuthentication": props{"SAMLProviderArn": vpn.SAMLProviderARN},
			"Type":                    "federated-authentication",
		}},
		"ClientCidrBlock":      h.ClientCIDR.String(),
		"ConnectionLogOptions": logOptions,
		"Description":          "vsoc operators (" + h.Hub.Domain + ")",
		"DnsServers":           []any{h.DNSServer.String()},
		"SecurityGroupIds":     []any{ref("ClientVpnSecurityGroup")},
		"ServerCertificateArn": vpn.ServerCertificateARN,
		"SessionTimeoutHours":  vpn.SessionTimeoutHours,
		"SplitTunnel":          vpn.SplitTunnel,
		"TagSpecifications": []any{props{
			"ResourceType": "client-vpn-endpoint",
			"Tags":         tags(hubOwner, name("client-vpn")),
		}},
		"TransportProtocol": vpn.TransportProtocol,
		"VpcId":             ref(hubVpc),
		"VpnPort":           vpn.VPNPort,
	})
	for _, s := range h.Subnets {
		t.add(cfnid.LogicalID("ClientVpnAssociation", s.AvailabilityZone), "AWS::EC2::ClientVpnTargetNetworkAssociation", props{
			"ClientVpnEndpointId": ref(hubClientVpn),
			"SubnetId":            ref(cfnid.LogicalID("PrivateSubnet", s.AvailabilityZone)),
		})
	}
	t.add("ClientVpnAuthorizationHub", "AWS::EC2::ClientVpnAuthorizationRule", props{
		"AuthorizeAllGroups":  true,
		"ClientVpnEndpointId": ref(hubClientVpn),
		"Description":         "every operator reaches the hub's shared services",
		"TargetNetworkCidr":   h.CIDR.String(),
	})
	t.output(hubClientVpn, "The operators' Client VPN endpoint (customer stacks add routes and authorization rules).", ref(hubClientVpn), exportClientVpnEndpointID(h.StackName))
}

// addFlowLogsRole adds the role VPC flow logs assume to write to the /vsoc/ log groups; one
// role serves the hub and every customer.
func addFlowLogsRole(t *template, name func(string) string) {
	t.add(hubFlowLogsRole, "AWS::IAM::Role", props{
		"AssumeRolePolicyDocument": props{
			"Statement": []any{props{
				"Action":    "sts:AssumeRole",
				"Condition": props{"StringEquals": props{"aws:SourceAccount": ref("AWS::AccountId")}},
				"Effect":    "Allow",
				"Principal": props{"Service": "vpc-flow-logs.amazonaws.com"},
			}},
			"Version": "2012-10-17",
		},
		"Description": "VPC flow logs of the vsoc hub and customer VPCs write to CloudWatch Logs",
		"Policies": []any{props{
			"PolicyDocument": props{
				"Statement": []any{props{
					"Action":   []any{"logs:CreateLogStream", "logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:PutLogEvents"},
					"Effect":   "Allow",
					"Resource": sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/vsoc/*"),
				}},
				"Version": "2012-10-17",
			},
			"PolicyName": "write-vsoc-flow-logs",
		}},
		"Tags": tags(hubOwner, name("flow-logs")),
	})
}
