package validate

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	"github.com/vsoc/vsoc/compiler"
)

// fleetIndex answers the cross-customer questions of the policies (which
// ranges overlap this CIDR, which domains are nested with this one, who else
// uses this gateway address) without comparing every pair: it is built once
// per fleet in O(n log n) and each question costs O(log n + answers).
type fleetIndex struct {
	cidrs        []cidrEntry // sorted by first address, then prefix length
	cidrByPrefix map[netip.Prefix][]int
	domains      nameIndex // the hub's and the customers' domains
	// kkpZones are the KKP endpoints outside their customer's domains: the
	// DNS renderer gives each a hosted zone of its own.
	kkpZones nameIndex
	gateways map[netip.Addr][]owner
}

// nameIndex holds DNS names for the question which of them are equal to, above
// or below a name.
type nameIndex struct {
	entries []domainEntry // sorted by reversed-label key
	byName  map[string][]int
}

// owner says who declared an indexed value: a customer's i-th value, or the
// hub's (Customer "", Index 0 for the hub, 1 for the Client VPN pool). A
// query about a value no one owns passes Index -1.
type owner struct {
	Customer string
	Index    int
	Label    string
}

type cidrEntry struct {
	prefix netip.Prefix // masked IPv4
	text   string       // as written
	owner
}

type domainEntry struct {
	name string // lower case, no trailing dot
	key  string // labels reversed: "de.wobcom"
	owner
}

func newFleetIndex(f *compiler.Fleet) *fleetIndex {
	idx := &fleetIndex{
		cidrByPrefix: map[netip.Prefix][]int{},
		domains:      nameIndex{byName: map[string][]int{}},
		kkpZones:     nameIndex{byName: map[string][]int{}},
		gateways:     map[netip.Addr][]owner{},
	}
	if h := f.Hub; h != nil {
		idx.addCIDR(h.CIDR, owner{Index: 0, Label: "the hub"})
		idx.addCIDR(h.ClientVPN.ClientCIDR, owner{Index: 1, Label: "the Client VPN pool"})
		idx.domains.add(h.Domain, owner{Index: 0, Label: "the hub domain"})
	}
	for _, c := range f.Customers {
		label := "customer " + c.Name
		for i, s := range c.VPC.CIDRs {
			idx.addCIDR(s, owner{Customer: c.Name, Index: i, Label: label})
		}
		for i, d := range c.DNS.Domains {
			idx.domains.add(d, owner{Customer: c.Name, Index: i, Label: label})
		}
		for i, e := range []string{c.KKP.Endpoints.UI, c.KKP.Endpoints.API} {
			if e != "" && !underAny(normalizeDomain(e), c.DNS.Domains) {
				idx.kkpZones.add(e, owner{Customer: c.Name, Index: i, Label: label})
			}
		}
		for i, g := range c.VPN.Gateways {
			if a, err := netip.ParseAddr(g.Address); err == nil {
				idx.gateways[a] = append(idx.gateways[a], owner{Customer: c.Name, Index: i, Label: label})
			}
		}
	}
	slices.SortFunc(idx.cidrs, func(a, b cidrEntry) int {
		if c := a.prefix.Addr().Compare(b.prefix.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.prefix.Bits(), b.prefix.Bits())
	})
	for i, e := range idx.cidrs {
		idx.cidrByPrefix[e.prefix] = append(idx.cidrByPrefix[e.prefix], i)
	}
	idx.domains.sort()
	idx.kkpZones.sort()
	return idx
}

// addCIDR indexes an IPv4 prefix; anything else is VSOC001's to report.
func (idx *fleetIndex) addCIDR(s string, o owner) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return
	}
	idx.cidrs = append(idx.cidrs, cidrEntry{prefix: p.Masked(), text: s, owner: o})
}

func (n *nameIndex) add(s string, o owner) {
	name := normalizeDomain(s)
	if name == "" {
		return
	}
	n.entries = append(n.entries, domainEntry{name: name, key: reverseLabels(name), owner: o})
}

// sort readies the index for questions, once every name is added.
func (n *nameIndex) sort() {
	slices.SortFunc(n.entries, func(a, b domainEntry) int { return strings.Compare(a.key, b.key) })
	for i, e := range n.entries {
		n.byName[e.name] = append(n.byName[e.name], i)
	}
}

// cidrConflicts returns every indexed range overlapping s except the one
// declared by self. Prefixes are either nested or disjoint, so the overlapping
// ones are s's ancestors (at most 33 lookups) and the ranges starting inside
// s (one binary search, then a scan over the answers only).
func (idx *fleetIndex) cidrConflicts(s string, self owner) []cidrEntry {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return nil
	}
	p = p.Masked()
	var out []cidrEntry
	for bits := 0; bits <= p.Bits(); bits++ {
		for _, i := range idx.cidrByPrefix[netip.PrefixFrom(p.Addr(), bits).Masked()] {
			out = append(out, idx.cidrs[i])
		}
	}
	last := lastAddr(p)
	start, _ := slices.BinarySearchFunc(idx.cidrs, p.Addr(), func(e cidrEntry, a netip.Addr) int {
		return e.prefix.Addr().Compare(a)
	})
	for _, e := range idx.cidrs[start:] {
		if e.prefix.Addr().Compare(last) > 0 {
			break
		}
		if e.prefix.Bits() > p.Bits() {
			out = append(out, e)
		}
	}
	out = slices.DeleteFunc(out, func(e cidrEntry) bool { return e.owner.sameAs(self) })
	slices.SortFunc(out, compareCIDREntries)
	return out
}

func compareCIDREntries(a, b cidrEntry) int {
	if c := cmp.Compare(a.Customer, b.Customer); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Label, b.Label); c != 0 {
		return c
	}
	return cmp.Compare(a.Index, b.Index)
}

func (o owner) sameAs(other owner) bool {
	return o.Customer == other.Customer && o.Index == other.Index
}

// domainRelation is how an indexed domain relates to the one asked about.
type domainRelation struct {
	domainEntry
	Relation string // "same", "inside" (the asked one is inside it) or "contains"
}

// conflicts returns the indexed names equal to s, above it or below it,
// except the one declared by self. Ancestors are found by walking s's label
// boundaries; descendants are contiguous in reversed-label order.
func (n *nameIndex) conflicts(s string, self owner) []domainRelation {
	name := normalizeDomain(s)
	if name == "" {
		return nil
	}
	var out []domainRelation
	for suffix, first := name, true; ; first = false {
		relation := "inside"
		if first {
			relation = "same"
		}
		for _, i := range n.byName[suffix] {
			out = append(out, domainRelation{n.entries[i], relation})
		}
		dot := strings.IndexByte(suffix, '.')
		if dot < 0 {
			break
		}
		suffix = suffix[dot+1:]
	}
	below := reverseLabels(name) + "."
	start, _ := slices.BinarySearchFunc(n.entries, below, func(e domainEntry, k string) int {
		return strings.Compare(e.key, k)
	})
	for _, e := range n.entries[start:] {
		if !strings.HasPrefix(e.key, below) {
			break
		}
		out = append(out, domainRelation{e, "contains"})
	}
	out = slices.DeleteFunc(out, func(r domainRelation) bool { return r.owner.sameAs(self) })
	slices.SortFunc(out, func(a, b domainRelation) int {
		if c := cmp.Compare(a.Customer, b.Customer); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Label, b.Label); c != 0 {
			return c
		}
		return cmp.Compare(a.Index, b.Index)
	})
	return out
}

// gatewayConflicts returns the other gateways with the address s.
func (idx *fleetIndex) gatewayConflicts(s string, self owner) []owner {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return nil
	}
	out := slices.DeleteFunc(slices.Clone(idx.gateways[a]), func(o owner) bool { return o.sameAs(self) })
	slices.SortFunc(out, func(a, b owner) int {
		if c := cmp.Compare(a.Customer, b.Customer); c != 0 {
			return c
		}
		return cmp.Compare(a.Index, b.Index)
	})
	return out
}

// underAny reports whether name is one of the domains or below one of them.
func underAny(name string, domains []string) bool {
	return slices.ContainsFunc(domains, func(d string) bool {
		return name == d || strings.HasSuffix(name, "."+d)
	})
}

func normalizeDomain(s string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
}

func reverseLabels(name string) string {
	labels := strings.Split(name, ".")
	slices.Reverse(labels)
	return strings.Join(labels, ".")
}

// lastAddr is the highest address of an IPv4 prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	u := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	u |= uint32(1)<<(32-p.Bits()) - 1 // a /0 shifts to 0, and 0-1 is all ones
	return netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
}
