package cloudformation

import (
	"net/netip"

	"github.com/vsoc/vsoc/compiler"
)

const proxySecurityGroup = "ProxySecurityGroup"

// proxy adds the security group of the proxy's internal network load balancer: it accepts only
// the proxy ports, only from the hub CIDR and the Client VPN pool. The load balancer itself is
// the AWS Load Balancer Controller's, made from the proxy's Service in the customer cluster with
// the plan's fixed private IPs; the Service names this group (by its Name tag) in its
// aws-load-balancer-security-groups annotation.
func (c *customer) proxy() {
	sources := []netip.Prefix{c.hub.CIDR, c.hub.ClientCIDR}
	var ingress, egress []any
	for _, l := range c.plan.Listeners {
		for _, src := range sources {
			ingress = append(ingress, tcpRule(src, l.Port, "proxy "+l.Name+" from "+src.String()))
		}
	}
	// The load balancer reaches the proxy pods (in the VPC) on their container ports and its
	// admin port for health checks, and nothing else.
	for _, cidr := range c.plan.CIDRs {
		for _, l := range c.plan.Listeners {
			egress = append(egress, tcpRule(cidr, l.ContainerPort, "to the proxy pods ("+l.Name+")"))
		}
		egress = append(egress, tcpRule(cidr, compiler.AdminPort, "health checks of the proxy pods"))
	}
	c.t.add(proxySecurityGroup, "AWS::EC2::SecurityGroup", props{
		"GroupDescription":     "vsoc proxy load balancer of " + c.owner + ": proxy ports from the hub and the Client VPN pool only",
		"SecurityGroupEgress":  egress,
		"SecurityGroupIngress": ingress,
		"Tags":                 tags(c.owner, c.plan.ProxySecurityGroupName()),
		"VpcId":                ref(customerVpc),
	})
	c.t.output(proxySecurityGroup, "The proxy load balancer's security group ("+c.plan.ProxySecurityGroupName()+").", ref(proxySecurityGroup), "")
}

func tcpRule(cidr netip.Prefix, port int, description string) props {
	return props{
		"CidrIp":      cidr.String(),
		"Description": description,
		"FromPort":    port,
		"IpProtocol":  "tcp",
		"ToPort":      port,
	}
}
