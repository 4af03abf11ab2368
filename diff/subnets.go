package diff

import (
	"slices"
	"strings"

	"github.com/vsoc/vsoc/render/kube"
)

const subnetType = "AWS::EC2::Subnet"

// subnetContents is what lives in a subnet a change replaces or removes: its
// zone and the types of the base template's resources placed in it (by a Ref
// to the subnet). A subnet's consequence depends on them, so that a public
// subnet without the NAT gateway is not said to take the VPC's egress down.
// stackRemains is false when the whole stack goes, and with it every zone.
type subnetContents struct {
	zone         string
	residents    []string
	stackRemains bool
}

// contentsOf finds what the base template puts in the subnet logicalID.
func contentsOf(base, head template, logicalID string) subnetContents {
	subnet, _ := base.resources[logicalID].(map[string]any)
	props, _ := subnet["Properties"].(map[string]any)
	zone, _ := props["AvailabilityZone"].(string)
	c := subnetContents{zone: zone, stackRemains: len(head.resources) > 0}
	for _, id := range sortedKeys(base.resources) {
		r, _ := base.resources[id].(map[string]any)
		typ, _ := r["Type"].(string)
		if refersTo(r["Properties"], logicalID) && !slices.Contains(c.residents, typ) {
			c.residents = append(c.residents, typ)
		}
	}
	return c
}

// refersTo reports whether v holds {"Ref": logicalID} anywhere.
func refersTo(v any, logicalID string) bool {
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["Ref"]; ok && len(v) == 1 {
			return ref == logicalID
		}
		for _, e := range v {
			if refersTo(e, logicalID) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if refersTo(e, logicalID) {
				return true
			}
		}
	}
	return false
}

// subnetConsequence says what replacing or removing a subnet does to what
// lives in it. The proxy's load balancer is not in the template: the AWS Load
// Balancer Controller places it in the customer's private subnets by their
// Name tag (kube.SubnetName), at the addresses the plan derives from each
// subnet's CIDR, and only when the proxy's Service reaches the cluster.
func subnetConsequence(owner string, r ResourceChange) string {
	zone, replaced := r.subnet.zone, r.Action != "remove"
	holdsProxy := r.Name == kube.SubnetName(owner, zone)
	var addressed []string
	if holdsProxy {
		addressed = append(addressed, "the proxy's load balancer")
	}
	if slices.Contains(r.subnet.residents, "AWS::Route53Resolver::ResolverEndpoint") {
		addressed = append(addressed, "the Resolver endpoint")
	}
	var effects []string
	if len(addressed) > 0 {
		what := strings.Join(addressed, " and ")
		one := len(addressed) == 1
		switch {
		case !replaced:
			what += pick(one, " loses its address", " lose their addresses")
		case slices.Contains(r.Replacing, "CidrBlock"):
			what += pick(one, " moves to a new address", " move to new addresses")
		default:
			what += pick(one, " is", " are") + " recreated in the new subnet"
		}
		effects = append(effects, what+" in "+zone)
	}
	switch {
	case holdsProxy && replaced:
		effects = append(effects, "the proxy's DNS records change with this stack, its load balancer only when the proxy's Service (out/kube) reaches the cluster")
	case holdsProxy && r.subnet.stackRemains:
		effects = append(effects, "operators reach the proxy through the other zones")
	}
	if slices.Contains(r.subnet.residents, "AWS::EC2::NatGateway") {
		effects = append(effects, pick(replaced,
			"the NAT gateway in it is recreated: the VPC has no Internet egress (image pulls) until the new one is available",
			"the NAT gateway in it is deleted with it: the VPC's Internet egress (image pulls) through it stops"))
	}
	if slices.Contains(r.subnet.residents, "AWS::EC2::ClientVpnTargetNetworkAssociation") {
		effects = append(effects, pick(replaced,
			"the Client VPN endpoint's association in "+zone+" is recreated, which deletes the endpoint's routes through it: operators connected there lose the customer VPCs until every customer stack routes through the new subnet",
			"the Client VPN endpoint is no longer associated in "+zone+", which deletes the endpoint's routes through it: operators connect through the other zones"))
	}
	if len(effects) == 0 {
		return "nothing vsoc renders is in it; apply still needs --allow-destroy, as for every subnet"
	}
	return strings.Join(effects, "; ")
}

func pick(first bool, ifFirst, otherwise string) string {
	if first {
		return ifFirst
	}
	return otherwise
}
