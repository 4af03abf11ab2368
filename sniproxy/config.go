// Package sniproxy is the forward proxy that runs in each customer's cluster: it routes TLS by SNI
// (without terminating it), plain HTTP by Host and HTTP CONNECT by its authority, and it only ever
// dials addresses inside the customer's declared destinations.
//
// Config is the contract with the compiler: `vsoc-compile build` renders OUT/proxy/<customer>.yaml
// from this very type (with sigs.k8s.io/yaml) and the proxy loads it with LoadConfig, so the two
// cannot drift.
package sniproxy

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Protocol is what a listener speaks and therefore how it learns the name to route.
type Protocol string

const (
	// ProtocolTLS routes by the SNI of the ClientHello; TLS is never terminated.
	ProtocolTLS Protocol = "tls"
	// ProtocolHTTP routes plain HTTP/1.x by the Host header (or the absolute-form request target)
	// of the first request; like any stream proxy, the whole connection (keep-alive requests
	// included) then goes to that upstream.
	ProtocolHTTP Protocol = "http"
	// ProtocolConnect serves HTTP/1.1 CONNECT host:port (SSH through `nc -X connect`).
	ProtocolConnect Protocol = "connect"
	// ProtocolTCP forwards every connection to the listener's single static mapping
	// (a service on a non-standard port); there is no name to route by.
	ProtocolTCP Protocol = "tcp"
)

// Defaults applied to zero-valued fields, so a minimal config only names listeners, allowed names,
// destinations and resolvers.
const (
	DefaultHandshakeTimeout = 5 * time.Second
	DefaultDialTimeout      = 5 * time.Second
	DefaultResolveTimeout   = 2 * time.Second
	DefaultIdleTimeout      = 15 * time.Minute
	DefaultDrainTimeout     = 30 * time.Second
	DefaultMaxConnections   = 10000
	DefaultDNSCacheEntries  = 4096
	DefaultDNSMaxTTL        = 5 * time.Minute
	DefaultAudit            = "stdout"
	DefaultAuditFlush       = time.Second
)

// Config is the whole proxy configuration for one customer.
type Config struct {
	// Listeners are the ports the proxy accepts on.
	Listeners []Listener `json:"listeners"`
	// Allow lists the names that are routed dynamically (resolved with Resolvers and dialled on the
	// listener's upstreamPort). A pattern is either an exact name ("git.example.com") or a wildcard
	// "*.example.com", which matches any name with ONE OR MORE labels in front of "example.com"
	// ("a.example.com", "a.b.example.com") and never the apex "example.com" itself.
	// The most specific matching pattern across Allow and Deny decides: an exact name beats every
	// wildcard, a longer wildcard suffix beats a shorter one, and on equal specificity Deny wins.
	Allow []string `json:"allow,omitempty"`
	// Deny carves exceptions out of Allow with the same pattern syntax (e.g. allow "*.example.com",
	// deny "vault.example.com"). Names are checked once per connection (the SNI, the first
	// request's Host, the CONNECT authority); what the client says inside it afterwards (a later
	// request's Host, the Host of the requests inside TLS) is not seen. A denied name served at
	// the same address and port as an allowed one is therefore reachable through the allowed
	// name: only AllowedDestinations keep an address out of reach.
	Deny []string `json:"deny,omitempty"`
	// Static mappings are matched first, by exact host on their listener, and dial a fixed target.
	Static []StaticMapping `json:"static,omitempty"`
	// AllowedDestinations are the CIDRs the proxy may dial (the customer's remote subnets). The check
	// is made on the resolved address at dial time. Static targets are allowed implicitly, exactly
	// (that ip:port only), because a static mapping is itself an explicit declaration.
	AllowedDestinations []netip.Prefix `json:"allowedDestinations,omitempty"`
	// Resolvers are the customer's DNS servers ("ip:port"), tried in order.
	Resolvers []netip.AddrPort `json:"resolvers,omitempty"`
	// DNSCache bounds the TTL-honouring cache of resolved names.
	DNSCache DNSCache `json:"dnsCache,omitzero"`
	// Timeouts; zero fields take the defaults.
	Timeouts Timeouts `json:"timeouts,omitzero"`
	// MaxConnections caps concurrently proxied connections across listeners; beyond it new
	// connections are closed at once (and audited). Zero means DefaultMaxConnections.
	MaxConnections int `json:"maxConnections,omitempty"`
	// Admin is the address serving /metrics, /healthz and /readyz; empty disables it.
	Admin string `json:"admin,omitempty"`
	// Audit is where the one-JSON-line-per-connection audit goes: "stdout", "stderr" or a file path
	// (appended). Empty means stdout.
	Audit string `json:"audit,omitempty"`
	// AuditFlush is the longest an audit line waits in memory before it is written: lines are
	// written in batches, so that the proxy pays no write per connection. Shutdown writes them
	// all; a crash loses at most this much. Zero means DefaultAuditFlush.
	AuditFlush Duration `json:"auditFlush,omitempty"`
	// Splice moves bulk transfers from socket to socket with splice(2), through a pipe, instead
	// of reading them into the proxy's buffer and writing them out. Off by default: on the host
	// measured, splicing between TCP sockets was slower than copying (figures in the README's
	// vsoc-sniproxy section); like HAProxy's "option splice-auto", it is for hosts where
	// measurements say otherwise.
	Splice bool `json:"splice,omitempty"`
}

// Listener is one accepting socket.
type Listener struct {
	// Name identifies the listener in static mappings, audit lines and metrics.
	Name string `json:"name"`
	// Address is the bind address, e.g. ":8443" (the container is non-root, so it listens on high
	// ports and the Service maps 443→8443).
	Address string `json:"address"`
	// Protocol is tls, http, connect or tcp.
	Protocol Protocol `json:"protocol"`
	// UpstreamPort is the port dialled for names routed dynamically on tls and http listeners
	// (443 for the SNI listener, 6443 for KKP API servers, 80 for HTTP); without it the listener
	// routes its static mappings only (a service on a non-standard port). CONNECT takes the port from
	// the request; tcp listeners only have a static mapping. A port in an HTTP Host header is
	// ignored: the listener decides the port dialled.
	UpstreamPort uint16 `json:"upstreamPort,omitempty"`
}

// StaticMapping routes one host on one listener to a fixed target.
type StaticMapping struct {
	// Host is matched exactly against the SNI, Host or CONNECT name (whatever port a CONNECT asks
	// for, the fixed target is dialled); it must be empty on a tcp listener and only there.
	Host string `json:"host,omitempty"`
	// Listener is the name of the listener the mapping applies to.
	Listener string `json:"listener"`
	// Target is the fixed "ip:port" dialled.
	Target netip.AddrPort `json:"target"`
}

// DNSCache bounds the resolver cache.
type DNSCache struct {
	// MaxEntries is the most names kept; zero means DefaultDNSCacheEntries.
	MaxEntries int `json:"maxEntries,omitempty"`
	// MaxTTL caps the TTL honoured from answers, so a name that moves is picked up in bounded time;
	// zero means DefaultDNSMaxTTL.
	MaxTTL Duration `json:"maxTTL,omitempty"`
}

// Timeouts of the proxy; zero fields take the defaults.
type Timeouts struct {
	// Handshake bounds reading the ClientHello or the HTTP request head.
	Handshake Duration `json:"handshake,omitempty"`
	// Dial bounds each attempt to connect to an upstream address.
	Dial Duration `json:"dial,omitempty"`
	// Resolve bounds one DNS lookup across all resolvers.
	Resolve Duration `json:"resolve,omitempty"`
	// Idle closes a proxied connection after no byte moved in either direction for this long.
	Idle Duration `json:"idle,omitempty"`
	// Drain is how long SIGTERM waits for open connections before closing them.
	Drain Duration `json:"drain,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("5s", "1m30s") in YAML/JSON.
type Duration time.Duration

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration (use e.g. \"5s\", \"1m30s\")", b)
	}
	*d = Duration(v)
	return nil
}

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// WithDefaults returns a copy of c with every zero-valued tunable set to its default.
func (c Config) WithDefaults() Config {
	setDur := func(d *Duration, def time.Duration) {
		if *d == 0 {
			*d = Duration(def)
		}
	}
	setDur(&c.Timeouts.Handshake, DefaultHandshakeTimeout)
	setDur(&c.Timeouts.Dial, DefaultDialTimeout)
	setDur(&c.Timeouts.Resolve, DefaultResolveTimeout)
	setDur(&c.Timeouts.Idle, DefaultIdleTimeout)
	setDur(&c.Timeouts.Drain, DefaultDrainTimeout)
	setDur(&c.DNSCache.MaxTTL, DefaultDNSMaxTTL)
	setDur(&c.AuditFlush, DefaultAuditFlush)
	if c.DNSCache.MaxEntries == 0 {
		c.DNSCache.MaxEntries = DefaultDNSCacheEntries
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.Audit == "" {
		c.Audit = DefaultAudit
	}
	return c
}

// FieldError is a validation error about one field, named by its path in the config
// (e.g. "listeners[1].address"), with a hint on how to fix it.
type FieldError struct {
	Path string
	Msg  string
	Hint string
}

func (e *FieldError) Error() string {
	if e.Hint == "" {
		return e.Path + ": " + e.Msg
	}
	return e.Path + ": " + e.Msg + " (hint: " + e.Hint + ")"
}

func fieldErr(path, hint, format string, args ...any) *FieldError {
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, args...), Hint: hint}
}

// neverDestinations are addresses no allowed destination and no static target may contain,
// whatever the config says: the cloud instance-metadata endpoints, and the unspecified addresses,
// to which connect(2) reaches the proxy's own host.
var neverDestinations = [...]struct {
	addr netip.Addr
	hint string
}{
	{netip.AddrFrom4([4]byte{169, 254, 169, 254}), "the instance-metadata endpoint must never be reachable through the proxy"},
	{netip.MustParseAddr("fd00:ec2::254"), "the instance-metadata endpoint must never be reachable through the proxy"},
	{netip.IPv4Unspecified(), "a connection to it reaches the proxy's own host"},
	{netip.IPv6Unspecified(), "a connection to it reaches the proxy's own host"},
}

// Validate checks c and returns the first problem as a *FieldError naming the offending field.
func (c *Config) Validate() error {
	if len(c.Listeners) == 0 {
		return fieldErr("listeners", "declare at least one listener, e.g. {name: https, address: \":8443\", protocol: tls, upstreamPort: 443}", "no listener")
	}
	byName := make(map[string]Listener, len(c.Listeners))
	binds := make([]namedBind, 0, len(c.Listeners))
	for i, l := range c.Listeners {
		p := fmt.Sprintf("listeners[%d]", i)
		if !isLabel(l.Name) {
			return fieldErr(p+".name", "use lower-case letters, digits and '-', e.g. \"https\"", "%q is not a valid listener name", l.Name)
		}
		if _, dup := byName[l.Name]; dup {
			return fieldErr(p+".name", "listener names must be unique", "duplicate listener name %q", l.Name)
		}
		byName[l.Name] = l
		b, err := parseBindAddr(l.Address)
		if err != nil {
			return fieldErr(p+".address", "use [host]:port, e.g. \":8443\" or \"0.0.0.0:8443\"", "%v", err)
		}
		if other, clash := clashingBind(binds, b); clash {
			return fieldErr(p+".address", "each listener needs a port of its own (a wildcard host such as \":8443\" takes the port on every address)", "address %q overlaps %q of listener %q", l.Address, other.address, other.name)
		}
		binds = append(binds, namedBind{l.Name, l.Address, b})
		switch l.Protocol {
		case ProtocolTLS, ProtocolHTTP:
			// Without an upstream port the listener serves its static mappings only.
		case ProtocolConnect, ProtocolTCP:
			if l.UpstreamPort != 0 {
				return fieldErr(p+".upstreamPort", "remove it: CONNECT takes the port from the request, tcp uses its static target", "not used by protocol %s", l.Protocol)
			}
		default:
			return fieldErr(p+".protocol", "one of tls, http, connect, tcp", "unknown protocol %q", l.Protocol)
		}
	}

	type staticKey struct{ listener, host string }
	statics := make(map[staticKey]bool, len(c.Static))
	for i, s := range c.Static {
		p := fmt.Sprintf("static[%d]", i)
		l, ok := byName[s.Listener]
		if !ok {
			return fieldErr(p+".listener", "name one of the listeners", "no listener named %q", s.Listener)
		}
		if l.Protocol == ProtocolTCP {
			if s.Host != "" {
				return fieldErr(p+".host", "a tcp listener has no name to match; leave host empty", "host %q on tcp listener %q", s.Host, s.Listener)
			}
		} else {
			name, err := NormalizeName(s.Host)
			if err != nil {
				return fieldErr(p+".host", "an exact DNS name, e.g. \"git.example.com\" (host may be empty only on a tcp listener)", "%v", err)
			}
			if _, isIP := parseIPLiteral(name); isIP {
				return fieldErr(p+".host", "static hosts are names; IP literals are routed by allowedDestinations", "%q is an IP literal", s.Host)
			}
			if name != s.Host {
				return fieldErr(p+".host", fmt.Sprintf("write it as %q", name), "host %q is not in canonical form", s.Host)
			}
		}
		if !s.Target.IsValid() || s.Target.Port() == 0 {
			return fieldErr(p+".target", "an \"ip:port\" with a non-zero port, e.g. \"10.1.2.3:8443\"", "invalid target %q", s.Target)
		}
		for _, never := range neverDestinations {
			if s.Target.Addr().Unmap() == never.addr {
				return fieldErr(p+".target", never.hint, "target %q is %s", s.Target, never.addr)
			}
		}
		k := staticKey{s.Listener, s.Host}
		if statics[k] {
			return fieldErr(p+".host", "one mapping per host and listener", "duplicate static mapping for %q on listener %q", s.Host, s.Listener)
		}
		statics[k] = true
	}
	for _, l := range c.Listeners {
		if l.Protocol == ProtocolTCP && !statics[staticKey{l.Name, ""}] {
			i := indexOfListener(c.Listeners, l.Name)
			return fieldErr(fmt.Sprintf("listeners[%d]", i), "add a static mapping {listener: "+l.Name+", target: \"ip:port\"} without host", "tcp listener %q has no static mapping", l.Name)
		}
	}

	patterns := make(map[string]string, len(c.Allow)+len(c.Deny))
	for _, list := range []struct {
		field    string
		patterns []string
	}{{"allow", c.Allow}, {"deny", c.Deny}} {
		for i, pat := range list.patterns {
			p := fmt.Sprintf("%s[%d]", list.field, i)
			if err := validatePattern(pat); err != nil {
				return fieldErr(p, "an exact name \"git.example.com\" or a wildcard \"*.example.com\"", "%v", err)
			}
			if prev, dup := patterns[pat]; dup && prev != list.field {
				return fieldErr(p, "a pattern may be in allow or in deny, not both", "%q is also in %s", pat, prev)
			}
			patterns[pat] = list.field
		}
	}

	for i, pfx := range c.AllowedDestinations {
		p := fmt.Sprintf("allowedDestinations[%d]", i)
		if !pfx.IsValid() {
			return fieldErr(p, "a CIDR such as \"10.20.0.0/16\"", "invalid prefix")
		}
		if pfx != pfx.Masked() {
			return fieldErr(p, fmt.Sprintf("did you mean %q?", pfx.Masked()), "%q has host bits set", pfx)
		}
		if pfx.Bits() == 0 {
			return fieldErr(p, "list the customer's remote subnets instead", "%q allows every address", pfx)
		}
		for _, never := range neverDestinations {
			if pfx.Contains(never.addr) {
				return fieldErr(p, never.hint+"; narrow the prefix", "%q contains %s", pfx, never.addr)
			}
		}
	}
	if len(c.Allow) > 0 && len(c.Resolvers) == 0 {
		return fieldErr("resolvers", "list the customer's DNS servers, e.g. [\"10.0.0.2:53\"]", "allow lists names but no resolver is configured")
	}
	for i, r := range c.Resolvers {
		if !r.IsValid() || r.Port() == 0 {
			return fieldErr(fmt.Sprintf("resolvers[%d]", i), "an \"ip:port\", e.g. \"10.0.0.2:53\"", "invalid resolver %q", r)
		}
	}
	for _, d := range []struct {
		path string
		v    Duration
	}{
		{"timeouts.handshake", c.Timeouts.Handshake}, {"timeouts.dial", c.Timeouts.Dial},
		{"timeouts.resolve", c.Timeouts.Resolve}, {"timeouts.idle", c.Timeouts.Idle},
		{"timeouts.drain", c.Timeouts.Drain}, {"dnsCache.maxTTL", c.DNSCache.MaxTTL},
		{"auditFlush", c.AuditFlush},
	} {
		if d.v < 0 {
			return fieldErr(d.path, "use a positive duration or omit it for the default", "negative duration %s", d.v.Std())
		}
	}
	if c.MaxConnections < 0 {
		return fieldErr("maxConnections", "omit it for the default of "+strconv.Itoa(DefaultMaxConnections), "negative")
	}
	if c.DNSCache.MaxEntries < 0 {
		return fieldErr("dnsCache.maxEntries", "omit it for the default of "+strconv.Itoa(DefaultDNSCacheEntries), "negative")
	}
	if c.Admin != "" {
		b, err := parseBindAddr(c.Admin)
		if err != nil {
			return fieldErr("admin", "use [host]:port, e.g. \":9090\"", "%v", err)
		}
		if other, clash := clashingBind(binds, b); clash {
			return fieldErr("admin", "give the admin endpoint its own port", "address %q overlaps %q of listener %q", c.Admin, other.address, other.name)
		}
	}
	return nil
}

func indexOfListener(ls []Listener, name string) int {
	for i, l := range ls {
		if l.Name == name {
			return i
		}
	}
	return -1
}

// bindAddr is a listening address as the kernel sees it: its host, the zero Addr for a wildcard
// ("", 0.0.0.0 or ::, which Go binds dual-stack, on every address), and its port (0: one the
// kernel picks).
type bindAddr struct {
	host netip.Addr
	port uint16
}

func parseBindAddr(addr string) (bindAddr, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return bindAddr{}, fmt.Errorf("invalid address %q: %w", addr, err)
	}
	var b bindAddr
	if host != "" {
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return bindAddr{}, fmt.Errorf("invalid address %q: host must be an IP literal or empty", addr)
		}
		if !ip.IsUnspecified() {
			b.host = ip.Unmap()
		}
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return bindAddr{}, fmt.Errorf("invalid address %q: port %q is not a number in 0..65535", addr, port)
	}
	b.port = uint16(p)
	return b, nil
}

// overlaps reports whether a and b would take the same port on some address. The listeners bind
// with SO_REUSEPORT, so the kernel would not refuse the second one: it would share the first's
// connections between the two.
func (a bindAddr) overlaps(b bindAddr) bool {
	return a.port != 0 && a.port == b.port && (!a.host.IsValid() || !b.host.IsValid() || a.host == b.host)
}

type namedBind struct {
	name, address string
	bind          bindAddr
}

func clashingBind(binds []namedBind, b bindAddr) (namedBind, bool) {
	for _, other := range binds {
		if other.bind.overlaps(b) {
			return other, true
		}
	}
	return namedBind{}, false
}

func validatePattern(pat string) error {
	name := pat
	if rest, ok := strings.CutPrefix(pat, "*."); ok {
		name = rest
	}
	if strings.Contains(name, "*") {
		return fmt.Errorf("%q: '*' is only allowed as the whole first label (\"*.example.com\")", pat)
	}
	norm, err := NormalizeName(name)
	if err != nil {
		return err
	}
	if norm != name {
		return fmt.Errorf("%q is not in canonical form (lower case, no trailing dot)", pat)
	}
	if _, isIP := parseIPLiteral(name); isIP {
		return fmt.Errorf("%q is an IP literal; IP destinations are governed by allowedDestinations", pat)
	}
	return nil
}

// isLabel reports whether s is a DNS-label-like identifier.
func isLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
