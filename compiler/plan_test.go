package compiler

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	_ "github.com/vsoc/vsoc/internal/golden" // defines -update, so that `go test ./... -update` runs this package too
)

func TestPlanAllocatesFromTheVPC(t *testing.T) {
	p, err := NewPlan(loadSample(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Hub.DNSServer.String(); got != "100.65.0.2" {
		t.Errorf("hub DNS server = %s, want 100.65.0.2 (VPC base + 2)", got)
	}
	wacker := p.Customers[3]
	if wacker.Customer.Name != "wacker" {
		t.Fatalf("customers out of order: %s", wacker.Customer.Name)
	}
	wantSubnets := []Subnet{
		{"eu-central-1a", netip.MustParsePrefix("100.66.0.0/18")},
		{"eu-central-1b", netip.MustParsePrefix("100.66.64.0/18")},
		{"eu-central-1c", netip.MustParsePrefix("100.66.128.0/18")},
	}
	if diff := cmp.Diff(wantSubnets, wacker.Subnets, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("wacker subnets (-want +got):\n%s", diff)
	}
	wantPublic := []string{"100.66.192.0/22", "100.66.196.0/22", "100.66.200.0/22"}
	for i, s := range wacker.PublicSubnets {
		if s.CIDR.String() != wantPublic[i] {
			t.Errorf("wacker public subnet %d = %s, want %s", i, s.CIDR, wantPublic[i])
		}
	}
	if got := fmtAddrs(wacker.ProxyIPs); got != "[100.66.0.10 100.66.64.10 100.66.128.10]" {
		t.Errorf("wacker proxy IPs = %s", got)
	}
	if got := fmtAddrs(wacker.ResolverIPs); got != "[100.66.0.11 100.66.64.11 100.66.128.11]" {
		t.Errorf("wacker resolver IPs = %s", got)
	}
	// coredns mode has no Resolver endpoint.
	if cube := p.Customers[0]; len(cube.ResolverIPs) != 0 {
		t.Errorf("cubebikes (coredns) resolver IPs = %v, want none", cube.ResolverIPs)
	}
	// wacker's static tcp mapping on 3299 gets its own listener.
	var ports []int
	for _, l := range wacker.Listeners {
		ports = append(ports, l.Port)
	}
	if diff := cmp.Diff([]int{80, 443, 3128, 3299, 6443}, ports); diff != "" {
		t.Errorf("wacker listener ports (-want +got):\n%s", diff)
	}
}

func TestCarveRefusesTooSmallParents(t *testing.T) {
	if _, err := carve(netip.MustParsePrefix("100.64.0.0/27"), []string{"a", "b"}, 2, 4); err == nil {
		t.Error("carving /29 subnets succeeded; AWS subnets are /28 at the smallest")
	}
	if _, err := carve(netip.MustParsePrefix("100.64.0.0/16"), []string{"a", "b", "c", "d", "e"}, 2, 4); err == nil {
		t.Error("carving 5 subnets from 4 quarters succeeded")
	}
	if _, err := carve(netip.MustParsePrefix("100.64.0.0/16"), []string{"eu-central-1a", ""}, 2, 4); err == nil {
		t.Error("a zone without its letter got a subnet")
	}
}

// TestZoneKeepsItsSubnet: a zone's subnet depends on the zone, not on its place in the list, so
// removing, adding or reordering zones replaces no other zone's subnet.
func TestZoneKeepsItsSubnet(t *testing.T) {
	vpc := netip.MustParsePrefix("100.66.0.0/16")
	subnetOf := func(zones ...string) map[string]string {
		t.Helper()
		subnets, err := carve(vpc, zones, 2, 3)
		if err != nil {
			t.Fatalf("carve %v: %v", zones, err)
		}
		out := map[string]string{}
		for _, s := range subnets {
			out[s.AvailabilityZone] = s.CIDR.String()
		}
		return out
	}
	want := map[string]string{"eu-central-1a": "100.66.0.0/18", "eu-central-1b": "100.66.64.0/18", "eu-central-1c": "100.66.128.0/18"}
	for _, zones := range [][]string{
		{"eu-central-1a", "eu-central-1b", "eu-central-1c"},
		{"eu-central-1c", "eu-central-1a", "eu-central-1b"},
		{"eu-central-1b", "eu-central-1c"},
		{"eu-central-1a", "eu-central-1c"},
	} {
		for zone, cidr := range subnetOf(zones...) {
			if cidr != want[zone] {
				t.Errorf("zones %v: %s gets %s, want %s (its own, whatever the list)", zones, zone, cidr, want[zone])
			}
		}
	}
	// A zone after c takes the quarter the others leave, in letter order, whatever the list's.
	if diff := cmp.Diff(subnetOf("us-east-1d", "us-east-1a", "us-east-1f"),
		map[string]string{"us-east-1a": "100.66.0.0/18", "us-east-1d": "100.66.64.0/18", "us-east-1f": "100.66.128.0/18"}); diff != "" {
		t.Errorf("zones d, a, f (-got +want):\n%s", diff)
	}
}

func fmtAddrs(as []netip.Addr) string {
	s := "["
	for i, a := range as {
		if i > 0 {
			s += " "
		}
		s += a.String()
	}
	return s + "]"
}
