package cloudformation

import (
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/cfnid"
	"github.com/vsoc/vsoc/internal/fleettest"
	"github.com/vsoc/vsoc/render/cloudformation/spec"
)

// parsed is a rendered template decoded for inspection.
type parsed struct {
	Resources map[string]struct {
		Type       string
		DependsOn  []string
		Properties map[string]any
	}
	Outputs map[string]struct {
		Export *struct{ Name string }
	}
}

func parse(t *testing.T, files map[string][]byte, stack string) parsed {
	t.Helper()
	body, ok := files[TemplatePath(stack)]
	if !ok {
		t.Fatalf("no template for stack %s", stack)
	}
	var p parsed
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("%s: %v", stack, err)
	}
	return p
}

func (p parsed) ofType(typeName string) []string {
	var ids []string
	for id, r := range p.Resources {
		if r.Type == typeName {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Every resource whose type can carry tags carries the ownership tags apply relies on.
func TestEveryTaggableResourceIsTagged(t *testing.T) {
	s, err := spec.Load()
	if err != nil {
		t.Fatal(err)
	}
	plan, files := fleettest.RenderSample(t, Render)
	stacks := []string{plan.Hub.StackName}
	owners := map[string]string{plan.Hub.StackName: "hub"}
	for _, c := range plan.Customers {
		stacks = append(stacks, c.StackName)
		owners[c.StackName] = c.Customer.Name
	}
	for _, stack := range stacks {
		for id, r := range parse(t, files, stack).Resources {
			var tagList any
			switch {
			case s.HasProperty(r.Type, "Tags"):
				tagList = r.Properties["Tags"]
			case s.HasProperty(r.Type, "HostedZoneTags"):
				tagList = r.Properties["HostedZoneTags"]
			case s.HasProperty(r.Type, "TagSpecifications"):
				specs, _ := r.Properties["TagSpecifications"].([]any)
				if len(specs) == 1 {
					tagList = specs[0].(map[string]any)["Tags"]
				}
			default:
				continue
			}
			got := map[string]string{}
			list, _ := tagList.([]any)
			for _, tg := range list {
				m := tg.(map[string]any)
				got[m["Key"].(string)] = m["Value"].(string)
			}
			if got["vsoc:customer"] != owners[stack] || got["vsoc:managed-by"] != "vsoc" {
				t.Errorf("%s %s (%s): tags %v, want vsoc:customer=%s and vsoc:managed-by=vsoc", stack, id, r.Type, got, owners[stack])
			}
		}
	}
}

// The pre-shared keys are dynamic references to the customer's secret, one JSON key per tunnel.
func TestTunnelsCarryOptionsAndSecretReferences(t *testing.T) {
	plan, files := fleettest.RenderSample(t, Render)
	wobcom := parse(t, files, fleettest.Customer(t, plan, "wobcom").StackName)
	conn := wobcom.Resources["VpnConnectionWobFw1"]
	tunnels, _ := conn.Properties["VpnTunnelOptionsSpecifications"].([]any)
	if len(tunnels) != 2 {
		t.Fatalf("want 2 tunnel specifications, got %v", conn.Properties["VpnTunnelOptionsSpecifications"])
	}
	for i, tn := range tunnels {
		opts := tn.(map[string]any)
		want := fmt.Sprintf("{{resolve:secretsmanager:vsoc/wobcom/vpn-psk:SecretString:tunnel%d}}", i+1)
		if opts["PreSharedKey"] != want {
			t.Errorf("tunnel %d: PreSharedKey %v, want %s", i+1, opts["PreSharedKey"], want)
		}
		if fmt.Sprint(opts["IKEVersions"]) != "[map[Value:ikev2]]" || fmt.Sprint(opts["Phase1DHGroupNumbers"]) != "[map[Value:20]]" {
			t.Errorf("tunnel %d: IKE options %v", i+1, opts)
		}
	}

	// documentation declares no key: AWS generates them, and the template names none.
	docs := parse(t, files, fleettest.Customer(t, plan, "documentation").StackName)
	for _, tn := range docs.Resources["VpnConnectionDocsGw"].Properties["VpnTunnelOptionsSpecifications"].([]any) {
		if _, ok := tn.(map[string]any)["PreSharedKey"]; ok {
			t.Errorf("documentation has no secret, but its tunnels name a key: %v", tn)
		}
	}
}

// A customer gateway's ASN goes into BgpAsn up to 2,147,483,647, the most EC2 takes there, and
// into BgpAsnExtended above it (a 4-byte private ASN such as 4200000001): EC2 refuses the other
// property, and CloudFormation the stack.
func TestFourByteGatewayASNIsExtended(t *testing.T) {
	s, err := spec.Load()
	if err != nil {
		t.Fatal(err)
	}
	plan := fleettest.SamplePlan(t)
	c := plan.Customers[0]
	gw := c.Customer.VPN.Gateways[0]
	for _, tc := range []struct {
		asn         int64
		set, notSet string
	}{
		{65000, "BgpAsn", "BgpAsnExtended"},
		{2147483647, "BgpAsn", "BgpAsnExtended"},
		{2147483648, "BgpAsnExtended", "BgpAsn"},
		{4200000001, "BgpAsnExtended", "BgpAsn"},
	} {
		c.Customer.VPN.Gateways[0].ASN = tc.asn
		files, err := Render(plan)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range s.Check(byStack(t, files)) {
			t.Errorf("ASN %d: %s", tc.asn, p)
		}
		props := parse(t, files, c.StackName).Resources[cfnid.LogicalID("CustomerGateway", gw.Name)].Properties
		if props[tc.set] != float64(tc.asn) {
			t.Errorf("ASN %d: %s is %v, want %d", tc.asn, tc.set, props[tc.set], tc.asn)
		}
		if v, ok := props[tc.notSet]; ok {
			t.Errorf("ASN %d: %s is %v, want it left out", tc.asn, tc.notSet, v)
		}
	}
}

// A literal key is refused; every failing stack is reported, in stack order, whatever the
// scheduling.
func TestLiteralPreSharedKeyIsRefused(t *testing.T) {
	plan := fleettest.SamplePlan(t)
	first, last := plan.Customers[0], plan.Customers[len(plan.Customers)-1]
	first.Customer.VPN.PreSharedKey = &compiler.PreSharedKey{Literal: true}
	last.Customer.VPN.PreSharedKey = &compiler.PreSharedKey{Literal: true}
	var messages []string
	for _, procs := range []int{1, 2, 5} {
		prev := runtime.GOMAXPROCS(procs)
		_, err := Render(plan)
		runtime.GOMAXPROCS(prev)
		if err == nil {
			t.Fatal("want an error for literal keys")
		}
		messages = append(messages, err.Error())
	}
	msg := messages[0]
	i, j := strings.Index(msg, "stack "+first.StackName+": "), strings.Index(msg, "stack "+last.StackName+": ")
	if i < 0 || j < i || strings.Count(msg, "pre-shared key is a literal") != 2 {
		t.Fatalf("want literal-key errors for %s then %s, got:\n%s", first.StackName, last.StackName, msg)
	}
	for _, m := range messages[1:] {
		if m != msg {
			t.Fatalf("error depends on scheduling:\n%s\nvs\n%s", msg, m)
		}
	}
}

// The proxy's load balancer accepts exactly the proxy ports, from exactly the hub CIDR and the
// Client VPN pool.
func TestProxySecurityGroupIsLeastPrivilege(t *testing.T) {
	plan, files := fleettest.RenderSample(t, Render)
	for _, c := range plan.Customers {
		var want []string
		for _, l := range c.Listeners {
			for _, src := range []string{plan.Hub.CIDR.String(), plan.Hub.ClientCIDR.String()} {
				want = append(want, fmt.Sprintf("tcp %d-%d from %s", l.Port, l.Port, src))
			}
		}
		var got []string
		for _, rule := range parse(t, files, c.StackName).Resources["ProxySecurityGroup"].Properties["SecurityGroupIngress"].([]any) {
			r := rule.(map[string]any)
			got = append(got, fmt.Sprintf("%s %v-%v from %s", r["IpProtocol"], r["FromPort"], r["ToPort"], r["CidrIp"]))
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: ingress\n%v\nwant\n%v", c.Customer.Name, got, want)
		}
	}
}

// Static routing gets VPN connection routes and VPC routes via the gateway; BGP gets route
// propagation and no static routes. The resolver endpoint exists only in route53-resolver mode.
func TestRoutingAndDNSModes(t *testing.T) {
	plan, files := fleettest.RenderSample(t, Render)
	for _, c := range plan.Customers {
		p := parse(t, files, c.StackName)
		staticRoutes, propagation := p.ofType("AWS::EC2::VPNConnectionRoute"), p.ofType("AWS::EC2::VPNGatewayRoutePropagation")
		switch c.Customer.VPN.Routing {
		case "static":
			if want := len(c.RemoteSubnets) * len(c.Customer.VPN.Gateways); len(staticRoutes) != want || len(propagation) != 0 {
				t.Errorf("%s (static): %d VPN connection routes (want %d), %d propagations (want 0)", c.Customer.Name, len(staticRoutes), want, len(propagation))
			}
		case "bgp":
			if len(staticRoutes) != 0 || len(propagation) != 1 {
				t.Errorf("%s (bgp): %d VPN connection routes (want 0), %d propagations (want 1)", c.Customer.Name, len(staticRoutes), len(propagation))
			}
		}
		endpoints := p.ofType("AWS::Route53Resolver::ResolverEndpoint")
		if wantEndpoint := c.Customer.DNS.Mode == "route53-resolver"; wantEndpoint != (len(endpoints) == 1) {
			t.Errorf("%s (dns mode %s): resolver endpoints %v", c.Customer.Name, c.Customer.DNS.Mode, endpoints)
		}
		if rules := p.ofType("AWS::Route53Resolver::ResolverRule"); len(endpoints) == 1 && len(rules) != len(c.Customer.DNS.Domains) {
			t.Errorf("%s: %d forwarding rules for %d domains", c.Customer.Name, len(rules), len(c.Customer.DNS.Domains))
		}
	}
}

// Each customer domain gets a private zone associated with the hub VPC only, where *.<domain>
// and proxy.<domain> resolve to the proxy's allocated IPs.
func TestZonesPointAtTheProxy(t *testing.T) {
	plan, files := fleettest.RenderSample(t, Render)
	for _, c := range plan.Customers {
		p := parse(t, files, c.StackName)
		var ips []any
		for _, ip := range c.ProxyIPs {
			ips = append(ips, ip.String())
		}
		for _, domain := range c.Customer.DNS.Domains {
			zone := p.Resources[cfnid.LogicalID("HostedZone", domain)]
			vpcs := fmt.Sprint(zone.Properties["VPCs"])
			if want := fmt.Sprintf("[map[VPCId:map[Fn::ImportValue:%s-VpcId] VPCRegion:%s]]", plan.Hub.StackName, plan.Hub.Hub.Region); vpcs != want {
				t.Errorf("%s zone %s: VPCs %s, want %s", c.Customer.Name, domain, vpcs, want)
			}
			for _, name := range []string{"*." + domain + ".", "proxy." + domain + "."} {
				found := false
				for _, id := range p.ofType("AWS::Route53::RecordSet") {
					r := p.Resources[id].Properties
					if r["Name"] == name {
						found = true
						if !slices.Equal(r["ResourceRecords"].([]any), ips) {
							t.Errorf("%s: %s → %v, want %v", c.Customer.Name, name, r["ResourceRecords"], ips)
						}
					}
				}
				if !found {
					t.Errorf("%s: no record %s", c.Customer.Name, name)
				}
			}
		}
	}
}

// Names that map to one logical ID are an error, not a silent overwrite.
func TestLogicalIDCollisionIsAnError(t *testing.T) {
	plan := fleettest.SamplePlan(t)
	c := plan.Customers[0].Customer
	c.DNS.Domains = []string{"a-b.example", "a.b.example"}
	_, err := Render(plan)
	if err == nil || !strings.Contains(err.Error(), "HostedZoneABExample") {
		t.Fatalf("want a logical ID collision error, got %v", err)
	}
}

// Adding customers never changes the hub stack: customers attach themselves through imports.
func TestHubDoesNotDependOnCustomers(t *testing.T) {
	small, large := render(t, syntheticPlan(t, 1)), render(t, syntheticPlan(t, 50))
	path := TemplatePath(compiler.HubStackName)
	if string(small[path]) != string(large[path]) {
		t.Fatal("the hub template changes with the number of customers")
	}
}

// A larger synthetic fleet, mixing BGP and static routing and both DNS modes, passes the spec.
func TestSyntheticFleetPassesTheSpec(t *testing.T) {
	s, err := spec.Load()
	if err != nil {
		t.Fatal(err)
	}
	files := render(t, syntheticPlan(t, 300))
	for _, p := range s.Check(byStack(t, files)) {
		t.Errorf("%s", p)
	}
}

// A customer too large for one stack is refused at render time, not at deployment.
func TestResourceLimitIsEnforced(t *testing.T) {
	plan := fleettest.SamplePlan(t)
	c := plan.Customers[0].Customer
	for i := range 200 {
		c.Access.SSOGroups = append(c.Access.SSOGroups, fmt.Sprintf("group-%03d", i))
		c.DNS.Domains = append(c.DNS.Domains, fmt.Sprintf("d%03d.example", i))
	}
	_, err := Render(plan)
	if err == nil || !strings.Contains(err.Error(), "more than CloudFormation's limit of 500") {
		t.Fatalf("want a resource limit error, got %v", err)
	}
}

func TestHubNeedsTwoZones(t *testing.T) {
	plan := fleettest.SamplePlan(t)
	plan.Hub.Subnets = plan.Hub.Subnets[:1]
	if _, err := Render(plan); err == nil || !strings.Contains(err.Error(), "at least 2") {
		t.Fatalf("want an error for a single-zone hub, got %v", err)
	}
}
