package cloudformation

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/vsoc/vsoc/internal/cfnid"
	"github.com/vsoc/vsoc/render/dns"
)

// dnsPort is where the customer's DNS servers listen.
const dnsPort = 53

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
				"Description": "DNS (" + proto + ") to the customer DNS server " + server.String(),
				"FromPort":    dnsPort,
				"IpProtocol":  proto,
				"ToPort":      dnsPort,
			})
		}
		targets = append(targets, props{"Ip": server.String(), "Port": strconv.Itoa(dnsPort)})
	}
	c.t.add(group, "AWS::EC2::SecurityGroup", props{
		"GroupDescription":    "vsoc Resolver endpoint of " + c.owner + ": DNS to the customer DNS servers only",
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
		"Name":             resolverName(c.plan.StackName, "outbound"),
		"SecurityGroupIds": []any{ref(group)},
		"Tags":             c.tags("resolver"),
	})
	for _, domain := range c.plan.Customer.DNS.Domains {
		rule, name := cfnid.LogicalID("ResolverRule", domain), resolverRuleName(c.plan.StackName, domain)
		c.t.add(rule, "AWS::Route53Resolver::ResolverRule", props{
			"DomainName":         domain,
			"Name":               name,
			"ResolverEndpointId": getAtt(endpoint, "ResolverEndpointId"),
			"RuleType":           "FORWARD",
			"Tags":               tags(c.owner, name),
			"TargetIps":          targets,
		})
		c.t.add(cfnid.LogicalID("ResolverRuleAssociation", domain), "AWS::Route53Resolver::ResolverRuleAssociation", props{
			"Name":           name,
			"ResolverRuleId": getAtt(rule, "ResolverRuleId"),
			"VPCId":          ref(customerVpc),
		})
	}
}

// addZones creates the private hosted zones a stack owns, associated with the hub VPC only (the
// operators resolve through the hub), with exactly the records of package dns: the hub's zone
// files serve the same list, so the two cannot drift.
func addZones(t *template, owner string, hubVpcID any, region string, zones []dns.Zone) {
	for _, z := range zones {
		zoneID := cfnid.LogicalID("HostedZone", z.Name)
		t.add(zoneID, "AWS::Route53::HostedZone", props{
			"HostedZoneConfig": props{"Comment": "vsoc " + describeZoneOwner(owner) + ": names resolve to its proxy and published services"},
			"HostedZoneTags":   tags(owner, z.Name),
			"Name":             z.Name,
			"VPCs":             []any{props{"VPCId": hubVpcID, "VPCRegion": region}},
		})
		for _, r := range z.Records {
			values := make([]any, len(r.Values))
			for i, v := range r.Values {
				values[i] = v.String()
			}
			// "*." spelled out, so the wildcard and the apex get different logical IDs.
			id := cfnid.LogicalID("Record", strings.Replace(r.Name, "*", "wildcard", 1), r.Type)
			t.add(id, "AWS::Route53::RecordSet", props{
				"HostedZoneId":    ref(zoneID),
				"Name":            r.Name + ".",
				"ResourceRecords": values,
				"TTL":             strconv.Itoa(int(r.TTL)),
				"Type":            r.Type,
			})
		}
	}
}

func describeZoneOwner(owner string) string {
	if owner == hubOwner {
		return "hub shared services"
	}
	return "customer " + owner
}

// zonesByOwner indexes the hosted zones by the stack that holds them.
func zonesByOwner(zones []dns.Zone) map[string][]dns.Zone {
	out := map[string][]dns.Zone{}
	for _, z := range zones {
		out[z.Owner] = append(out[z.Owner], z)
	}
	return out
}
