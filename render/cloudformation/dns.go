package cloudformation

import (
	"net/netip"
	"strconv"
)

// dnsPort is where the customer's DNS servers listen.
const dnsPort = 53

// proxyHost is the name, under each customer domain, operators give the proxy explicitly
// (e.g. HTTP CONNECT: nc -X connect -x proxy.<domain>:3128).
const proxyHost = "proxy"

// resolver adds a Route 53 Resolver outbound endpoint (one IP per subnet, allocated by the plan)
// that forwards the customer's domains to its DNS servers through the tunnels. Its security
// group reaches only those servers, only on port 53.
func (c *customer) resolver() {
	const group, endpoint = "ResolverSecurityGroup", "ResolverEndpoint"
	var egress, targets []any
	for _, server := range c.plan.Resolvers {
		host := netip.PrefixFrom(server, server.BitLen())
		for _, proto := range []string{"udp", "tcp"} {
			egress = append(egress, props{
				"CidrIp":      host.String(),
				"Description": "DNS (" + proto + ") to the customer's server " + server.String(),
				"FromPort":    dnsPort,
				"IpProtocol":  proto,
				"ToPort":      dnsPort,
			})
		}
		targets = append(targets, props{"Ip": server.String(), "Port": strconv.Itoa(dnsPort)})
	}
	c.t.add(group, "AWS::EC2::SecurityGroup", props{
		"GroupDescription":    "vsoc Resolver endpoint of " + c.owner + ": DNS to the customer's servers only",
		"SecurityGroupEgress": egress,
		"Tags":                c.tags("resolver"),
		"VpcId":               ref(customerVpc),
	})

	if len(c.plan.ResolverIPs) != len(c.plan.Subnets) {
		c.fail("the plan has %d resolver IPs for %d subnets", len(c.plan.ResolverIPs), len(c.plan.Subnets))
		return
	}
	addresses := make([]any, len(c.plan.Subnets))
	for i, s := range c.plan.Subnets {
		addresses[i] = props{"Ip": c.plan.ResolverIPs[i].String(), "SubnetId": ref(privateSubnetID(s.AvailabilityZone))}
	}
	c.t.add(endpoint, "AWS::Route53Resolver::ResolverEndpoint", props{
		"Direction":        "OUTBOUND",
		"IpAddresses":      addresses,
		"Name":             c.name("outbound"),
		"SecurityGroupIds": []any{ref(group)},
		"Tags":             c.tags("resolver"),
	})
	for _, domain := range c.plan.Customer.DNS.Domains {
		rule := logicalID("ResolverRule", domain)
		c.t.add(rule, "AWS::Route53Resolver::ResolverRule", props{
			"DomainName":         domain,
			"Name":               c.name("forward-" + domain),
			"ResolverEndpointId": getAtt(endpoint, "ResolverEndpointId"),
			"RuleType":           "FORWARD",
			"Tags":               c.tags("forward-" + domain),
			"TargetIps":          targets,
		})
		c.t.add(logicalID("ResolverRuleAssociation", domain), "AWS::Route53Resolver::ResolverRuleAssociation", props{
			"Name":           c.name("forward-" + domain),
			"ResolverRuleId": getAtt(rule, "ResolverRuleId"),
			"VPCId":          ref(customerVpc),
		})
	}
}

// zones adds a private hosted zone per customer domain, associated with the hub VPC only (the
// operators resolve through the hub): *.<domain> and proxy.<domain> point at the proxy's load
// balancer IPs, and the customer's published services get <name>.<first domain>.
func (c *customer) zones() {
	proxyIPs := make([]any, len(c.plan.ProxyIPs))
	for i, ip := range c.plan.ProxyIPs {
		proxyIPs[i] = ip.String()
	}
	domains := c.plan.Customer.DNS.Domains
	for _, domain := range domains {
		zone := logicalID("HostedZone", domain)
		c.t.add(zone, "AWS::Route53::HostedZone", props{
			"HostedZoneConfig": props{"Comment": "vsoc customer " + c.owner + ": names resolve to its proxy"},
			"HostedZoneTags":   tags(c.owner, domain),
			"Name":             domain,
			"VPCs": []any{props{
				"VPCId":     importValue(exportVpcID(c.hub.StackName)),
				"VPCRegion": c.hub.Hub.Region,
			}},
		})
		addRecord(c.t, logicalID("ProxyWildcardRecord", domain), ref(zone), "*."+domain, proxyIPs)
		addRecord(c.t, logicalID("ProxyRecord", domain), ref(zone), proxyHost+"."+domain, proxyIPs)
	}
	services := c.plan.Customer.Services
	if _, clash := services[proxyHost]; clash {
		c.fail("service %q would shadow the proxy's own name %s.%s; rename the service", proxyHost, proxyHost, domains[0])
		return
	}
	for _, svc := range sortedKeys(services) {
		addARecord(c.t, logicalID("ServiceRecord", svc), ref(logicalID("HostedZone", domains[0])), svc+"."+domains[0], services[svc].Addresses)
	}
}
