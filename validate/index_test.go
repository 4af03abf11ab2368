package validate

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/vsoc/vsoc/compiler"
)

// randomFleet has many small, often overlapping VPC blocks and nested domains.
func randomFleet(r *rand.Rand, n int) *compiler.Fleet {
	f := &compiler.Fleet{Hub: &compiler.Hub{
		CIDR:      "100.65.0.0/16",
		Domain:    "vsoc.example.net",
		ClientVPN: compiler.ClientVPN{ClientCIDR: "100.66.0.0/22"},
	}}
	labels := []string{"a", "b", "c"}
	for i := range n {
		c := &compiler.Customer{Name: fmt.Sprintf("c%03d", i)}
		for range 1 + r.IntN(2) {
			bits := 14 + r.IntN(11)
			addr := netip.AddrFrom4([4]byte{100, byte(64 + r.IntN(8)), byte(r.IntN(256)), 0})
			c.VPC.CIDRs = append(c.VPC.CIDRs, netip.PrefixFrom(addr, bits).Masked().String())
		}
		for range 1 + r.IntN(2) {
			d := "example.net"
			for range r.IntN(3) {
				d = labels[r.IntN(len(labels))] + "." + d
			}
			if r.IntN(4) == 0 {
				d = "net"
			}
			c.DNS.Domains = append(c.DNS.Domains, d)
		}
		c.VPN.Gateways = []compiler.CustomerGateway{{Address: fmt.Sprintf("81.0.0.%d", r.IntN(250))}}
		f.Customers = append(f.Customers, c)
	}
	return f
}

// The index must answer exactly what comparing every pair would.
func TestFleetIndexMatchesPairwise(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	f := randomFleet(r, 300)
	idx := newFleetIndex(f)
	type ranged struct {
		owner
		p netip.Prefix
	}
	all := []ranged{
		{owner{Index: 0, Label: "the hub"}, netip.MustParsePrefix(f.Hub.CIDR)},
		{owner{Index: 1, Label: "the Client VPN pool"}, netip.MustParsePrefix(f.Hub.ClientVPN.ClientCIDR)},
	}
	for _, c := range f.Customers {
		for i, s := range c.VPC.CIDRs {
			all = append(all, ranged{owner{Customer: c.Name, Index: i}, netip.MustParsePrefix(s)})
		}
	}
	for _, q := range all {
		var want []string
		for _, o := range all {
			if !o.sameAs(q.owner) && o.p.Overlaps(q.p) {
				want = append(want, fmt.Sprintf("%s/%d", o.Customer, o.Index))
			}
		}
		var got []string
		for _, e := range idx.cidrConflicts(q.p.String(), q.owner) {
			got = append(got, fmt.Sprintf("%s/%d", e.Customer, e.Index))
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("cidrConflicts(%s, %v):\n got %v\nwant %v", q.p, q.owner, got, want)
		}
	}

	type named struct {
		owner
		d string
	}
	domains := []named{{owner{Index: 0}, f.Hub.Domain}}
	for _, c := range f.Customers {
		for i, d := range c.DNS.Domains {
			domains = append(domains, named{owner{Customer: c.Name, Index: i}, d})
		}
	}
	under := func(a, b string) bool { return strings.HasSuffix(a, "."+b) }
	for _, q := range domains {
		var want []string
		for _, o := range domains {
			if o.sameAs(q.owner) {
				continue
			}
			switch {
			case o.d == q.d:
				want = append(want, fmt.Sprintf("%s/%d same", o.Customer, o.Index))
			case under(q.d, o.d):
				want = append(want, fmt.Sprintf("%s/%d inside", o.Customer, o.Index))
			case under(o.d, q.d):
				want = append(want, fmt.Sprintf("%s/%d contains", o.Customer, o.Index))
			}
		}
		var got []string
		for _, rel := range idx.domains.conflicts(q.d, q.owner) {
			got = append(got, fmt.Sprintf("%s/%d %s", rel.Customer, rel.Index, rel.Relation))
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("domains.conflicts(%s, %v):\n got %v\nwant %v", q.d, q.owner, got, want)
		}
	}

	for _, c := range f.Customers {
		self := owner{Customer: c.Name, Index: 0}
		var want []string
		for _, o := range f.Customers {
			if o.Name != c.Name && o.VPN.Gateways[0].Address == c.VPN.Gateways[0].Address {
				want = append(want, o.Name)
			}
		}
		var got []string
		for _, o := range idx.gatewayConflicts(c.VPN.Gateways[0].Address, self) {
			got = append(got, o.Customer)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("gatewayConflicts(%s): got %v, want %v", c.VPN.Gateways[0].Address, got, want)
		}
	}
}

// Only the KKP endpoints outside their customer's domains get a zone of their
// own, so only they are indexed as zones.
func TestKKPZonesAreTheEndpointsOutsideOwnDomains(t *testing.T) {
	acme := &compiler.Customer{Name: "acme"}
	acme.DNS.Domains = []string{"acme.example"}
	acme.KKP.Endpoints.UI = "kkp.acme.example"
	acme.KKP.Endpoints.API = "API.kkp-acme.example"
	idx := newFleetIndex(&compiler.Fleet{Customers: []*compiler.Customer{acme}})
	var got []string
	for _, r := range idx.kkpZones.conflicts("kkp-acme.example", owner{Index: -1}) {
		got = append(got, fmt.Sprintf("%s/%d %s %s", r.Customer, r.Index, r.name, r.Relation))
	}
	if want := []string{"acme/1 api.kkp-acme.example contains"}; !slices.Equal(got, want) {
		t.Errorf("kkpZones.conflicts(kkp-acme.example) = %v, want %v", got, want)
	}
	if got := idx.kkpZones.conflicts("kkp.acme.example", owner{Index: -1}); len(got) != 0 {
		t.Errorf("kkp.acme.example is under acme's own domain, yet indexed as a zone: %v", got)
	}
}

func TestLastAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0/0":       "255.255.255.255",
		"100.64.0.0/10":   "100.127.255.255",
		"10.1.2.3/32":     "10.1.2.3",
		"100.68.128.0/17": "100.68.255.255",
	} {
		if got := lastAddr(netip.MustParsePrefix(in)).String(); got != want {
			t.Errorf("lastAddr(%s) = %s, want %s", in, got, want)
		}
	}
}
