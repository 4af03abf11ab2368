package compiler

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// The plan is everything derived from the model: it is computed, never
// written by hand, and the same fleet always gives the same plan.

// ProxyNamespace is the namespace the proxy runs in, in every customer cluster.
const ProxyNamespace = "vsoc-proxy"

// Host offsets inside every private subnet. AWS reserves the first four
// addresses of a subnet (network, router, DNS, future) and the last one.
const (
	proxyHostOffset    = 10 // the proxy NLB's private IP in each subnet
	resolverHostOffset = 11 // the Route 53 Resolver outbound endpoint's IP
)

// Plan is the compiled fleet.
type Plan struct {
	Fleet     *Fleet
	Hub       HubPlan
	Customers []CustomerPlan // sorted by name, as Fleet.Customers
}

// HubPlan is the derived part of the hub.
type HubPlan struct {
	Hub        *Hub
	StackName  string
	CIDR       netip.Prefix
	ClientCIDR netip.Prefix
	Subnets    []Subnet // one private subnet per zone
	// DNSServer is the VPC's Route 53 Resolver (the primary CIDR's base + 2),
	// which the Client VPN hands to operators.
	DNSServer netip.Addr
}

// Subnet is one subnet in one availability zone.
type Subnet struct {
	AvailabilityZone string
	CIDR             netip.Prefix
}

// CustomerPlan is the derived part of one customer.
type CustomerPlan struct {
	Customer  *Customer
	StackName string
	// CIDRs[0] is the primary block, the rest are additional CIDR blocks.
	CIDRs             []netip.Prefix
	AvailabilityZones []string
	Subnets           []Subnet // private, one per zone
	PublicSubnets     []Subnet // for the NAT gateway, only with natEgress
	// ProxyIPs are the internal NLB's static private IPs, one per subnet: DNS
	// points at them at compile time.
	ProxyIPs []netip.Addr
	// ResolverIPs are the outbound Resolver endpoint's IPs (route53-resolver
	// mode only), one per subnet.
	ResolverIPs   []netip.Addr
	RemoteSubnets []netip.Prefix
	Resolvers     []netip.Addr
	Listeners     []Listener // sorted by port
}

// ProxySecurityGroupName is the Name tag of the proxy load balancer's security
// group: CloudFormation creates it, the proxy's Service refers to it.
func (c *CustomerPlan) ProxySecurityGroupName() string { return c.StackName + "-proxy" }

// Listener is one port the proxy serves behind the NLB.
type Listener struct {
	Name string
	// Port is the NLB/Service port operators connect to; ContainerPort the
	// unprivileged port the non-root proxy binds.
	Port          int
	ContainerPort int
	Protocol      string // "tls", "http", "connect" or "tcp"
	// StaticOnly listeners route only their static mappings: no name is
	// resolved and dialled on them.
	StaticOnly bool
}

// DynamicListener returns the proxy's own listener on port, if it has one:
// 80 routes by Host, 443 and 6443 by SNI, 3128 serves HTTP CONNECT. The
// container ports are unprivileged and outside the range static mappings use
// as they are (ContainerPort).
func DynamicListener(port int) (Listener, bool) {
	switch port {
	case 80:
		return Listener{Name: "http", Port: 80, ContainerPort: 10080, Protocol: "http"}, true
	case 443:
		return Listener{Name: "https", Port: 443, ContainerPort: 10443, Protocol: "tls"}, true
	case 6443:
		return Listener{Name: "kube-api", Port: 6443, ContainerPort: 16443, Protocol: "tls"}, true
	case 3128:
		return Listener{Name: "connect", Port: 3128, ContainerPort: 13128, Protocol: "connect"}, true
	}
	return Listener{}, false
}

// StackName is the CloudFormation stack of a customer.
func StackName(customer string) string { return "vsoc-customer-" + customer }

// HubStackName is the CloudFormation stack of the hub.
const HubStackName = "vsoc-hub"

// NewPlan derives the plan of a fleet that passed validation. An error here
// means the fleet was not validated first.
func NewPlan(f *Fleet) (*Plan, error) {
	hub, err := planHub(f.Hub)
	if err != nil {
		return nil, fmt.Errorf("planning the hub: %w", err)
	}
	p := &Plan{Fleet: f, Hub: hub, Customers: make([]CustomerPlan, len(f.Customers))}
	for i, c := range f.Customers {
		cp, err := planCustomer(c, f.Hub)
		if err != nil {
			return nil, fmt.Errorf("planning customer %s: %w", c.Name, err)
		}
		p.Customers[i] = cp
	}
	return p, nil
}

func planHub(h *Hub) (HubPlan, error) {
	cidr, err := netip.ParsePrefix(h.CIDR)
	if err != nil {
		return HubPlan{}, err
	}
	client, err := netip.ParsePrefix(h.ClientVPN.ClientCIDR)
	if err != nil {
		return HubPlan{}, err
	}
	subnets, err := carve(cidr, h.AvailabilityZones, 2, 4)
	if err != nil {
		return HubPlan{}, err
	}
	return HubPlan{
		Hub:        h,
		StackName:  HubStackName,
		CIDR:       cidr,
		ClientCIDR: client,
		Subnets:    subnets,
		DNSServer:  nthAddr(cidr, 2),
	}, nil
}

func planCustomer(c *Customer, hub *Hub) (CustomerPlan, error) {
	cidrs, err := parsePrefixes(c.VPC.CIDRs)
	if err != nil {
		return CustomerPlan{}, fmt.Errorf("vpc.cidrs: %w", err)
	}
	remote, err := parsePrefixes(c.VPN.RemoteSubnets)
	if err != nil {
		return CustomerPlan{}, fmt.Errorf("vpn.remoteSubnets: %w", err)
	}
	resolvers, err := parseAddrs(c.DNS.Resolvers)
	if err != nil {
		return CustomerPlan{}, fmt.Errorf("dns.resolvers: %w", err)
	}
	zones := c.VPC.AvailabilityZones
	if len(zones) == 0 {
		zones = hub.AvailabilityZones
	}
	// Three quarters at most: the last one holds the public subnets.
	subnets, err := carve(cidrs[0], zones, 2, 3)
	if err != nil {
		return CustomerPlan{}, err
	}
	cp := CustomerPlan{
		Customer:          c,
		StackName:         StackName(c.Name),
		CIDRs:             cidrs,
		AvailabilityZones: slices.Clone(zones),
		Subnets:           subnets,
		RemoteSubnets:     remote,
		Resolvers:         resolvers,
		Listeners:         listeners(c.Proxy),
	}
	if c.VPC.NATEgress {
		// Small public subnets from the primary block's last quarter, which
		// the private subnets (at most three quarters) never use.
		last := quarter(cidrs[0], 3)
		if cp.PublicSubnets, err = carve(last, zones, 4, 16); err != nil {
			return CustomerPlan{}, err
		}
	}
	for _, s := range subnets {
		cp.ProxyIPs = append(cp.ProxyIPs, nthAddr(s.CIDR, proxyHostOffset))
		if c.DNS.Mode == "route53-resolver" {
			cp.ResolverIPs = append(cp.ResolverIPs, nthAddr(s.CIDR, resolverHostOffset))
		}
	}
	return cp, nil
}

// listeners are the dynamic ports the customer enabled plus one listener per
// port that only static mappings use.
func listeners(p Proxy) []Listener {
	byPort := map[int]Listener{}
	for _, port := range p.Ports {
		if l, ok := DynamicListener(port); ok {
			byPort[port] = l
		}
	}
	for _, m := range p.Static {
		if _, ok := byPort[m.Port]; ok {
			continue
		}
		l, ok := DynamicListener(m.Port)
		if !ok {
			l = Listener{
				Name:          fmt.Sprintf("static-%d", m.Port),
				Port:          m.Port,
				ContainerPort: StaticContainerPort(m.Port),
				Protocol:      m.Protocol,
			}
		}
		// A port the customer did not enable for dynamic routing serves
		// its static mappings and nothing else.
		l.StaticOnly = true
		byPort[m.Port] = l
	}
	out := make([]Listener, 0, len(byPort))
	for _, l := range byPort {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Listener) int { return a.Port - b.Port })
	return out
}

// StaticContainerPort is the port the proxy binds for a static mapping's
// port: the port itself when unprivileged, else 20000 + port.
func StaticContainerPort(port int) int {
	if port < 1024 {
		return 20000 + port
	}
	return port
}

// ReservedContainerPorts are the ports a static mapping cannot use because
// the proxy binds them itself (listeners and the admin port).
func ReservedContainerPorts() []int { return []int{AdminPort, 10080, 10443, 13128, 16443} }

// AdminPort serves the proxy's metrics, /healthz and /readyz.
const AdminPort = 9901

// carve splits parent into subnets `extraBits` longer and gives each zone one
// of the first `slots` of them (see zoneSlots).
func carve(parent netip.Prefix, zones []string, extraBits, slots int) ([]Subnet, error) {
	bits := parent.Bits() + extraBits
	if bits > 28 {
		return nil, fmt.Errorf("%s is too small for %d subnets (AWS subnets are /28 at the smallest)", parent, len(zones))
	}
	slots = min(slots, 1<<extraBits)
	if len(zones) > slots {
		return nil, fmt.Errorf("%s has room for %d subnets, not %d", parent, slots, len(zones))
	}
	at, err := zoneSlots(zones, slots)
	if err != nil {
		return nil, err
	}
	out := make([]Subnet, len(zones))
	for i, z := range zones {
		out[i] = Subnet{AvailabilityZone: z, CIDR: nthSubnet(parent, bits, at[i])}
	}
	return out, nil
}

// zoneSlots gives each zone its own slot among n from the letter it ends with
// (a the first, b the second, ...), so that a zone keeps its subnet whatever
// else the list holds and in whatever order: a subnet that moves is a subnet
// replaced, and with it the addresses of the proxy's load balancer and the
// Resolver endpoint in that zone. A zone whose letter has no slot (d and
// after, when three are free) takes the first slot the others leave, in
// letter order; it may move when the list changes.
func zoneSlots(zones []string, n int) ([]int, error) {
	at := make([]int, len(zones))
	taken := make([]bool, n)
	var late []int
	for i, z := range zones {
		if z == "" || z[len(z)-1] < 'a' || z[len(z)-1] > 'z' {
			return nil, fmt.Errorf("availability zone %q does not end with its letter", z)
		}
		letter := int(z[len(z)-1] - 'a')
		if letter < n && !taken[letter] {
			at[i], taken[letter] = letter, true
			continue
		}
		late = append(late, i)
	}
	slices.SortFunc(late, func(i, j int) int { return strings.Compare(zones[i], zones[j]) })
	for _, i := range late {
		free := slices.Index(taken, false)
		if free < 0 {
			return nil, fmt.Errorf("no subnet left for availability zone %s", zones[i])
		}
		at[i], taken[free] = free, true
	}
	return at, nil
}

// nthSubnet is the n-th subnet of length bits inside parent (IPv4).
func nthSubnet(parent netip.Prefix, bits, n int) netip.Prefix {
	base := v4ToUint(parent.Masked().Addr())
	size := uint32(1) << (32 - bits)
	return netip.PrefixFrom(uintToV4(base+uint32(n)*size), bits)
}

func quarter(parent netip.Prefix, n int) netip.Prefix {
	return nthSubnet(parent, parent.Bits()+2, n)
}

// nthAddr is the address n after the prefix's base.
func nthAddr(p netip.Prefix, n int) netip.Addr {
	return uintToV4(v4ToUint(p.Masked().Addr()) + uint32(n))
}

func v4ToUint(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func uintToV4(u uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
}

func parsePrefixes(ss []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

func parseAddrs(ss []string) ([]netip.Addr, error) {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}
