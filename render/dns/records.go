package dns

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vsoc/vsoc/compiler"
)

// TTL of every record, in seconds: short enough that a moved service is
// picked up within minutes, long enough to spare the resolvers.
const TTL = 300

// Record is one name operators resolve from the hub. Records are exactly the
// data the Route 53 private hosted zones carry (apart from the SOA and NS
// records every zone has), so the CloudFormation renderer is checked against
// this list; the hub's zone files carry the same data.
type Record struct {
	// Zone is the hosted zone the record belongs to: a customer domain, the
	// hub domain, or a KKP endpoint outside the customer's domains.
	Zone string
	// Name is fully qualified without the trailing dot; "*.<domain>" is the
	// wildcard that sends every name of a customer domain to its proxy.
	Name string
	// Type is "A" or "AAAA".
	Type string
	TTL  uint32
	// Values are sorted and free of duplicates.
	Values []netip.Addr
}

// Records is the list of records operators resolve, sorted by zone, then
// name in DNS canonical order, then type:
//   - per customer domain: `*.<domain>` and `proxy.<domain>` → the proxy's IPs;
//   - the customer's published services, `<name>.<first domain>` → their addresses;
//   - KKP endpoints only where the wildcard does not already answer them (the
//     apex, a name below an explicit record, or a name outside the customer's
//     domains, which gets a zone of its own);
//   - in the hub domain's zone, the shared services.
//
// A record Render would refuse (see Render) is left out.
func Records(p *compiler.Plan) []Record {
	records, _, _ := build(p)
	return records
}

// zone is one hosted zone and who declared it.
type zone struct {
	owner string // "hub" or the customer's name
	file  string // the declaring file's base name
	where string // the source position of the declaration
}

type recordKey struct{ zone, name, typ string }

// builder collects the zones and records of a plan and every problem that
// makes them inconsistent, with the source position to fix.
type builder struct {
	p        *compiler.Plan
	zones    map[string]zone
	records  map[recordKey]*Record
	sources  map[recordKey]string // what declared each record, for conflicts
	names    map[string][]string  // zone → the names it holds, for the wildcard
	problems []error
}

// build computes the records, the zones they are in and the problems Render
// reports. Zones come first, so that every record can be checked to land in
// the zone that actually answers for its name.
func build(p *compiler.Plan) ([]Record, map[string]zone, []error) {
	b := &builder{p: p, zones: map[string]zone{}, records: map[recordKey]*Record{},
		sources: map[recordKey]string{}, names: map[string][]string{}}
	hub := p.Fleet.Hub
	hubFile := filepath.Base(hub.File)
	if b.checkName(hub.Domain, "hub", "domain") {
		b.addZone(hub.Domain, zone{owner: "hub", file: hubFile, where: b.where("hub", "domain")})
	}
	for i := range p.Customers {
		c := p.Customers[i].Customer
		for j, d := range c.DNS.Domains {
			if b.checkName(d, "customers", c.Name, "dns", "domains", j) {
				b.addZone(d, zone{owner: c.Name, file: filepath.Base(c.File), where: b.where("customers", c.Name, "dns", "domains", j)})
			}
		}
	}

	if _, ok := b.zones[hub.Domain]; ok {
		for _, name := range sortedKeys(hub.SharedServices) {
			b.addService(hub.Domain, name, hub.SharedServices[name], "the hub's shared service "+name, "hub", "sharedServices", name)
		}
	}
	for i := range p.Customers {
		cp := &p.Customers[i]
		c := cp.Customer
		domains := b.ownZones(c)
		for _, d := range domains {
			b.addRecord(d, "*."+d, cp.ProxyIPs, "customer "+c.Name+"'s proxy wildcard", "customers", c.Name, "dns", "domains")
			b.addRecord(d, "proxy."+d, cp.ProxyIPs, "customer "+c.Name+"'s proxy", "customers", c.Name, "dns", "domains")
		}
		if len(domains) > 0 && domains[0] == c.DNS.Domains[0] {
			for _, name := range sortedKeys(c.Services) {
				b.addService(domains[0], name, c.Services[name], "customer "+c.Name+"'s service "+name, "customers", c.Name, "services", name)
			}
		}
	}
	// KKP endpoints last: whether the wildcard answers them depends on the
	// explicit names of their zone.
	for i := range p.Customers {
		b.addKKPEndpoints(&p.Customers[i])
	}

	out := make([]Record, 0, len(b.records))
	for _, r := range b.records {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(x, y Record) int {
		if c := strings.Compare(x.Zone, y.Zone); c != 0 {
			return c
		}
		if c := compareCanonical(x.Name, y.Name); c != 0 {
			return c
		}
		return strings.Compare(x.Type, y.Type)
	})
	return out, b.zones, b.problems
}

// ownZones are the customer's domains that became zones (a domain with a
// problem did not).
func (b *builder) ownZones(c *compiler.Customer) []string {
	var out []string
	for _, d := range c.DNS.Domains {
		if z, ok := b.zones[d]; ok && z.owner == c.Name {
			out = append(out, d)
		}
	}
	return out
}

func (b *builder) addZone(name string, z zone) {
	if prev, ok := b.zones[name]; ok {
		b.problemf(z.where, "zone %s is declared twice: by %s (%s) and %s (hint: every domain belongs to exactly one customer or the hub)",
			name, describeOwner(prev.owner), prev.where, describeOwner(z.owner))
		return
	}
	b.zones[name] = z
}

// addService publishes a service's addresses as <name>.<zone>.
func (b *builder) addService(zoneName, name string, svc compiler.Service, what string, path ...any) {
	fqdn := name + "." + zoneName
	if !b.checkName(fqdn, path...) {
		return
	}
	addrs := make([]netip.Addr, 0, len(svc.Addresses))
	for i, a := range svc.Addresses {
		addr, err := netip.ParseAddr(a)
		if err != nil {
			b.problemf(b.where(append(path, "addresses", i)...), "%s: address %q: %v (hint: an IP address such as \"100.68.1.100\")", what, a, err)
			return
		}
		addrs = append(addrs, addr.Unmap())
	}
	b.addRecord(zoneName, fqdn, addrs, what, path...)
}

// addKKPEndpoints publishes a customer's KKP endpoints where the proxy
// wildcard does not already answer them. One pass is enough: an endpoint
// needs an explicit record only below a name that exists already, and then
// its parents exist too, so adding it cannot hide the wildcard from another
// name.
func (b *builder) addKKPEndpoints(cp *compiler.CustomerPlan) {
	c := cp.Customer
	for _, e := range []struct{ name, field string }{{c.KKP.Endpoints.UI, "ui"}, {c.KKP.Endpoints.API, "api"}} {
		path := []any{"customers", c.Name, "kkp", "endpoints", e.field}
		if e.name == "" || !b.checkName(e.name, path...) {
			continue
		}
		zoneName := b.answeringZone(e.name)
		switch {
		case zoneName == "":
			// Outside every zone: a zone of its own, so that operators
			// resolve it without the customer's domains growing.
			b.addZone(e.name, zone{owner: c.Name, file: filepath.Base(c.File), where: b.where(path...)})
			b.addRecord(e.name, e.name, cp.ProxyIPs, "customer "+c.Name+"'s KKP endpoint", path...)
		case b.zones[zoneName].owner != c.Name:
			b.problemf(b.where(path...), "customer %s: KKP endpoint %s lies in zone %s of %s (hint: use a name under one of the customer's dns.domains %s)",
				c.Name, e.name, zoneName, describeOwner(b.zones[zoneName].owner), strings.Join(c.DNS.Domains, ", "))
		case !b.wildcardAnswers(zoneName, e.name):
			b.addRecord(zoneName, e.name, cp.ProxyIPs, "customer "+c.Name+"'s KKP endpoint", path...)
		}
	}
}

// answeringZone is the most specific zone containing name, the one a
// resolver answers it from; "" when no zone contains it.
func (b *builder) answeringZone(name string) string {
	for s := name; ; {
		if _, ok := b.zones[s]; ok {
			return s
		}
		_, rest, ok := strings.Cut(s, ".")
		if !ok {
			return ""
		}
		s = rest
	}
}

// wildcardAnswers reports whether the zone's `*.<zoneName>` synthesizes name (RFC 4592):
// name is strictly below the apex and neither it nor any ancestor below the
// apex exists in the zone, as a record or as the parent of one (an empty
// non-terminal also stops the wildcard). Route 53 answers such names from
// the wildcard as well, so an explicit record is only written where the two
// could differ.
func (b *builder) wildcardAnswers(zoneName, name string) bool {
	wildcard := "*." + zoneName
	if name == zoneName || !slices.Contains(b.names[zoneName], wildcard) {
		return false // the apex, or a KKP endpoint's own zone, which has no wildcard
	}
	for _, existing := range b.names[zoneName] {
		if existing == wildcard {
			continue
		}
		for a := name; a != zoneName; {
			if under(existing, a) {
				return false
			}
			_, a, _ = strings.Cut(a, ".")
		}
	}
	return true
}

// addRecord adds name → addrs (A and/or AAAA) to zoneName. The name must be
// answered by that zone, not by a more specific one, and may only be
// declared twice with the same addresses.
func (b *builder) addRecord(zoneName, name string, addrs []netip.Addr, what string, path ...any) {
	if z := b.answeringZone(name); z != zoneName {
		b.problemf(b.where(path...), "%s: %s is answered by zone %s of %s, not by %s (hint: names in a zone belong to its owner; choose a name outside %s)",
			what, name, z, describeOwner(b.zones[z].owner), zoneName, z)
		return
	}
	byType := map[string][]netip.Addr{}
	for _, a := range addrs {
		typ := "A"
		if a.Is6() {
			typ = "AAAA"
		}
		byType[typ] = append(byType[typ], a)
	}
	for _, typ := range sortedKeys(byType) {
		values := slices.Clone(byType[typ])
		slices.SortFunc(values, netip.Addr.Compare)
		values = slices.Compact(values)
		key := recordKey{zoneName, name, typ}
		if prev, ok := b.records[key]; ok {
			if !slices.Equal(prev.Values, values) {
				b.problemf(b.where(path...), "%s: %s %s is also %s with other addresses (hint: give one of them another name)",
					what, name, typ, b.sources[key])
			}
			continue
		}
		b.names[zoneName] = append(b.names[zoneName], name) // once per type: harmless for the wildcard check
		b.records[key] = &Record{Zone: zoneName, Name: name, Type: typ, TTL: TTL, Values: values}
		b.sources[key] = what
	}
}

// checkName reports a malformed name at its source position.
func (b *builder) checkName(name string, path ...any) bool {
	if err := checkName(name); err != nil {
		b.problemf(b.where(path...), "%s: %v", strings.TrimPrefix(compiler.Pointer(path...), "/"), err)
		return false
	}
	return true
}

func (b *builder) problemf(where, format string, args ...any) {
	b.problems = append(b.problems, fmt.Errorf("%s: "+format, append([]any{where}, args...)...))
}

// where names the source position of a model value, falling back to its
// JSON pointer for a plan built without positions.
func (b *builder) where(path ...any) string {
	pointer := compiler.Pointer(path...)
	if b.p.Fleet.Positions != nil {
		if pos, ok := b.p.Fleet.Positions.Lookup(pointer); ok {
			return pos.String()
		}
	}
	return pointer
}

func describeOwner(owner string) string {
	if owner == "hub" {
		return "the hub"
	}
	return "customer " + owner
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Zone is one hosted zone with its records.
type Zone struct {
	Name string
	// Owner is "hub" or the name of the customer whose stack holds the zone.
	Owner   string
	Records []Record
}

// Zones groups Records by zone, sorted by name: the hosted zones the stacks
// create. A zone without records (a hub without shared services) is left out.
func Zones(p *compiler.Plan) []Zone {
	records, zones, _ := build(p)
	var out []Zone
	for _, r := range records {
		if len(out) == 0 || out[len(out)-1].Name != r.Zone {
			out = append(out, Zone{Name: r.Zone, Owner: zones[r.Zone].owner})
		}
		last := &out[len(out)-1]
		last.Records = append(last.Records, r)
	}
	return out
}
