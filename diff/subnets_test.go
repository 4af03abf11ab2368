package diff

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/fleettest"
	"github.com/vsoc/vsoc/render"
	"github.com/vsoc/vsoc/render/cloudformation/spec"
)

// TestReplacedSubnetIsDestructive moves one subnet of the sample fleet's plan
// to another CIDR, as a change to the plan's carving would, and renders both
// sides: the subnet is replaced, and the preview lists it among the
// destructive changes with what lives in it. The sample fleet itself cannot
// express the move, since a zone keeps its subnet whatever the zone list says.
func TestReplacedSubnetIsDestructive(t *testing.T) {
	for _, tt := range []struct {
		name string
		move func(p *compiler.Plan)
		want string
	}{
		{
			name: "customer private subnet",
			move: func(p *compiler.Plan) {
				wobcom := fleettest.Customer(t, p, "wobcom")
				moveSubnet(&wobcom.Subnets[1], "100.68.192.0/18")
				wobcom.ProxyIPs[1] = netip.MustParseAddr("100.68.192.10")
				wobcom.ResolverIPs[1] = netip.MustParseAddr("100.68.192.11")
			},
			want: "wobcom: subnet private-eu-central-1b will be REPLACED (CidrBlock) — the proxy's load balancer and the Resolver endpoint move to new addresses in eu-central-1b; " +
				"the proxy's DNS records change with this stack, its load balancer only when the proxy's Service (out/kube) reaches the cluster",
		},
		{
			name: "public subnet with the NAT gateway",
			move: func(p *compiler.Plan) {
				moveSubnet(&fleettest.Customer(t, p, "wacker").PublicSubnets[0], "100.66.240.0/20")
			},
			want: "wacker: subnet public-eu-central-1a will be REPLACED (CidrBlock) — the NAT gateway in it is recreated: the VPC has no Internet egress (image pulls) until the new one is available",
		},
		{
			name: "hub subnet",
			move: func(p *compiler.Plan) { moveSubnet(&p.Hub.Subnets[1], "100.65.192.0/18") },
			want: "hub: subnet private-eu-central-1b will be REPLACED (CidrBlock) — the Client VPN endpoint's association in eu-central-1b is recreated, which deletes the endpoint's routes through it: " +
				"operators connected there lose the customer VPCs until every customer stack routes through the new subnet",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base, head := fleettest.SamplePlan(t), fleettest.SamplePlan(t)
			tt.move(head)
			p := previewPlans(t, base, head)

			var subnets []string
			for _, c := range p.Destructive {
				if c.Type == "AWS::EC2::Subnet" {
					subnets = append(subnets, c.Message)
				}
			}
			if len(subnets) != 1 || subnets[0] != tt.want {
				t.Errorf("destructive subnet changes:\n%s\nwant:\n%s", strings.Join(subnets, "\n"), tt.want)
			}
			if p.Summary.Destructive != len(p.Destructive) {
				t.Errorf("summary counts %d destructive changes, the list has %d", p.Summary.Destructive, len(p.Destructive))
			}
			var text bytes.Buffer
			if err := Write(&text, "text", p, TextOptions{}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text.String(), tt.want) {
				t.Errorf("the text preview lacks %q:\n%s", tt.want, text.String())
			}
		})
	}
}

func moveSubnet(s *compiler.Subnet, cidr string) { s.CIDR = netip.MustParsePrefix(cidr) }

// previewPlans compares the files two plans render to, as Run compares the
// base's and the head's.
func previewPlans(t *testing.T, base, head *compiler.Plan) *Preview {
	t.Helper()
	baseFiles, err := render.All(base, render.Targets())
	if err != nil {
		t.Fatal(err)
	}
	headFiles, err := render.All(head, render.Targets())
	if err != nil {
		t.Fatal(err)
	}
	sp, err := spec.Load()
	if err != nil {
		t.Fatal(err)
	}
	p := &Preview{}
	c := comparison{spec: sp, owners: newOwnerIndex(base.Fleet, head.Fleet)}
	if err := c.compare(p, baseFiles, headFiles); err != nil {
		t.Fatal(err)
	}
	return p
}
