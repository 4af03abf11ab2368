package sniproxy

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	// Registers -update, so that `go test ./... -update` runs here too.
	_ "github.com/vsoc/vsoc/internal/golden"
)

const minimalConfig = `listeners:
  - {name: https, address: ":8443", protocol: tls, upstreamPort: 443}
  - {name: ssh, address: ":3128", protocol: connect}
allow: ["*.acme.internal"]
allowedDestinations: ["10.20.0.0/16"]
resolvers: ["10.20.0.2:53"]
`

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "proxy.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadMinimalConfigTakesDefaults(t *testing.T) {
	cfg, err := LoadConfig(writeConfig(t, minimalConfig))
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.WithDefaults()
	if d.Timeouts.Handshake.Std() != 5*time.Second || d.MaxConnections != DefaultMaxConnections || d.Audit != "stdout" ||
		d.DNSCache.MaxEntries != DefaultDNSCacheEntries || d.Timeouts.Idle.Std() != DefaultIdleTimeout {
		t.Fatalf("defaults not applied: %+v", d)
	}
	if cfg.AllowedDestinations[0] != netip.MustParsePrefix("10.20.0.0/16") || cfg.Resolvers[0] != netip.MustParseAddrPort("10.20.0.2:53") {
		t.Fatalf("typed fields: %+v", cfg)
	}
}

// The compiler writes the config with sigs.k8s.io/yaml from this type; the proxy must read back
// exactly what was written.
func TestConfigRoundTripThroughYAML(t *testing.T) {
	in := Config{
		Listeners: []Listener{
			{Name: "https", Address: ":8443", Protocol: ProtocolTLS, UpstreamPort: 443},
			{Name: "kube", Address: ":6443", Protocol: ProtocolTLS, UpstreamPort: 6443},
			{Name: "http", Address: ":8080", Protocol: ProtocolHTTP, UpstreamPort: 80},
			{Name: "ssh", Address: ":3128", Protocol: ProtocolConnect},
			{Name: "legacy", Address: ":9443", Protocol: ProtocolTCP},
		},
		Allow:               []string{"*.acme.internal", "git.acme.com"},
		Deny:                []string{"vault.acme.internal"},
		Static:              []StaticMapping{{Listener: "legacy", Target: netip.MustParseAddrPort("10.20.1.5:9443")}, {Host: "old.acme.internal", Listener: "https", Target: netip.MustParseAddrPort("10.20.1.6:8443")}},
		AllowedDestinations: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("fd00:20::/48")},
		Resolvers:           []netip.AddrPort{netip.MustParseAddrPort("10.20.0.2:53")},
		DNSCache:            DNSCache{MaxEntries: 100, MaxTTL: Duration(time.Minute)},
		Timeouts:            Timeouts{Handshake: Duration(3 * time.Second), Idle: Duration(time.Hour)},
		MaxConnections:      5000,
		Admin:               ":9090",
		Audit:               "/var/log/vsoc/audit.jsonl",
	}
	out, err := yaml.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"maxTTL: 1m0s", "handshake: 3s", "- 10.20.0.0/16", "target: 10.20.1.5:9443"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("rendered config lacks %q:\n%s", want, out)
		}
	}
	back, err := ParseConfig("rendered.yaml", out)
	if err != nil {
		t.Fatalf("reading back the rendered config: %v\n%s", err, out)
	}
	if diff := cmp.Diff(in, *back, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
		cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Fatalf("round trip (-written +read):\n%s", diff)
	}
}

func TestLoadConfigErrorsAreLocated(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"bad CIDR", strings.Replace(minimalConfig, `["10.20.0.0/16"]`, "\n  - 10.20.0.0/16\n  - 10.300.0.0/16", 1),
			":7:5: allowedDestinations[1]: netip.ParsePrefix(\"10.300.0.0/16\")"},
		{"unknown field", minimalConfig + "resolver: [1.2.3.4]\n", ":7:1: unknown field \"resolver\" (hint: known fields:"},
		{"wrong type", strings.Replace(minimalConfig, "upstreamPort: 443", "upstreamPort: https", 1), ":2:66: listeners[0].upstreamPort: expected an integer, found str \"https\" (hint: a whole number, without quotes)"},
		// Every error says how to fix it; these used to come without a hint.
		{"quoted number", strings.Replace(minimalConfig, "upstreamPort: 443", `upstreamPort: "443"`, 1), ":2:66: listeners[0].upstreamPort: expected an integer, found str \"443\" (hint: a whole number, without quotes)"},
		{"signed out of range", minimalConfig + "maxConnections: 9223372036854775808\n", ":7:17: maxConnections: integer 9223372036854775808 out of range (hint: -9223372036854775808..9223372036854775807)"},
		{"scalar for a mapping", minimalConfig + "timeouts: 5s\n", ":7:11: timeouts: expected a mapping, found a scalar (hint: write its fields as key: value, among dial, drain, handshake, idle, resolve)"},
		{"list for the whole config", "- listeners\n", ":1:1: expected a mapping, found a list (hint: write its fields as key: value, among admin, allow,"},
		{"port out of range", strings.Replace(minimalConfig, "upstreamPort: 443", "upstreamPort: 70000", 1), "listeners[0].upstreamPort: integer 70000 out of range"},
		{"bad protocol", strings.Replace(minimalConfig, "protocol: connect", "protocol: socks", 1), ":3:45: listeners[1].protocol: unknown protocol \"socks\" (hint: one of tls, http, connect, tcp)"},
		{"host bits", strings.Replace(minimalConfig, "10.20.0.0/16", "10.20.0.1/16", 1), ":5:23: allowedDestinations[0]: \"10.20.0.1/16\" has host bits set (hint: did you mean \"10.20.0.0/16\"?)"},
		{"metadata reachable", strings.Replace(minimalConfig, "10.20.0.0/16", "169.254.0.0/16", 1), "contains 169.254.169.254"},
		{"everything", strings.Replace(minimalConfig, "10.20.0.0/16", "0.0.0.0/0", 1), "allows every address"},
		{"bad pattern", strings.Replace(minimalConfig, "*.acme.internal", "acme.*", 1), ":4:9: allow[0]:"},
		{"no resolvers", strings.Replace(minimalConfig, `resolvers: ["10.20.0.2:53"]`, "", 1), "resolvers: allow lists names but no resolver is configured"},
		{"duration", minimalConfig + "timeouts: {handshake: 5}\n", ":7:23: timeouts.handshake: \"5\" is not a duration"},
		{"syntax", "listeners: []\n\tallow: []\n", ":2:1: found character that cannot start any token (hint: fix the YAML syntax)"},
		{"tcp without static", strings.Replace(minimalConfig, "allow:", "  - {name: raw, address: \":9000\", protocol: tcp}\nallow:", 1), "listeners[2]: tcp listener \"raw\" has no static mapping"},
		{"static on unknown listener", minimalConfig + "static: [{host: a.acme.internal, listener: nope, target: \"10.20.0.9:443\"}]\n", ":7:44: static[0].listener: no listener named \"nope\""},
		{"duplicate address", strings.Replace(minimalConfig, `":3128"`, `":8443"`, 1), "listeners[1].address: address \":8443\" overlaps \":8443\" of listener \"https\""},
		// Go binds a wildcard host dual-stack on every address, and with SO_REUSEPORT the kernel
		// would share the port's connections between the two listeners.
		{"wildcard spelled differently", strings.Replace(minimalConfig, `":3128"`, `"0.0.0.0:8443"`, 1), "listeners[1].address: address \"0.0.0.0:8443\" overlaps \":8443\" of listener \"https\""},
		{"address inside a wildcard", strings.Replace(minimalConfig, `":3128"`, `"[::1]:08443"`, 1), "overlaps \":8443\" of listener \"https\""},
		{"admin on a listener's port", minimalConfig + "admin: \"127.0.0.1:3128\"\n", ":7:8: admin: address \"127.0.0.1:3128\" overlaps \":3128\" of listener \"ssh\""},
		{"local host reachable", strings.Replace(minimalConfig, "10.20.0.0/16", "0.0.0.0/1", 1), "contains 0.0.0.0 (hint: a connection to it reaches the proxy's own host"},
		{"static target is the metadata endpoint", minimalConfig + "static: [{host: a.acme.internal, listener: https, target: \"[::ffff:169.254.169.254]:80\"}]\n", ":7:59: static[0].target: target \"[::ffff:169.254.169.254]:80\" is 169.254.169.254"},
		{"static target is this host", minimalConfig + "static: [{host: a.acme.internal, listener: https, target: \"0.0.0.0:22\"}]\n", "static[0].target: target \"0.0.0.0:22\" is 0.0.0.0"},
		{"empty", "", "empty config"},
		// Only the first document used to be read: what followed a "---" was silently ignored.
		{"second document", minimalConfig + "---\nmaxConnections: 10\n", ":7:1: a second YAML document (hint: a config is one document:"},
		{"bad second document", minimalConfig + "---\nallow: [\n", ":8:1: did not find expected node content (hint: fix the YAML syntax)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeConfig(t, tc.body)
			_, err := LoadConfig(p)
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.body)
			}
			if !strings.HasPrefix(err.Error(), p) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\nwant it to start with the file and contain %q", err, tc.want)
			}
		})
	}
}

func TestValidateNamesTheField(t *testing.T) {
	cfg := Config{Listeners: []Listener{{Name: "connect", Address: ":3128", Protocol: ProtocolConnect, UpstreamPort: 443}}}
	err := cfg.Validate()
	fe, ok := err.(*FieldError)
	if !ok || fe.Path != "listeners[0].upstreamPort" {
		t.Fatalf("want a FieldError on listeners[0].upstreamPort, got %v", err)
	}
}

func TestExampleConfigLoads(t *testing.T) {
	cfg, err := LoadConfig("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Listeners) != 5 || len(cfg.Static) != 2 || cfg.Timeouts.Idle.Std() != 30*time.Minute {
		t.Fatalf("example config read as %+v", cfg)
	}
	if _, err := New(cfg, Options{}); err != nil {
		t.Fatalf("a server refuses the example config: %v", err)
	}
}

// The config is type-checked as YAML 1.2, where on, off, yes, no, y and n are strings; it must
// be decoded the same way. It used to be decoded by a YAML 1.1 parser, which read them as
// booleans: `audit: off` passed the check and sent the audit to a file named "false", and a
// listener named `on` became "true".
func TestYAML11BooleanWordsStayStrings(t *testing.T) {
	body := strings.Replace(minimalConfig, "name: https", "name: on", 1)
	body = strings.Replace(body, `allow: ["*.acme.internal"]`, "allow: [yes, \"*.acme.internal\"]\ndeny: [n]", 1)
	body += "audit: off\n"
	cfg, err := LoadConfig(writeConfig(t, body))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Audit != "off" || cfg.Listeners[0].Name != "on" || cfg.Allow[0] != "yes" || cfg.Deny[0] != "n" {
		t.Fatalf("read audit %q, listener %q, allow %q, deny %q; want off, on, yes, n", cfg.Audit, cfg.Listeners[0].Name, cfg.Allow, cfg.Deny)
	}
}

// Document markers around the one document are not a second document.
func TestDocumentMarkersAroundTheConfig(t *testing.T) {
	for _, body := range []string{"---\n" + minimalConfig, minimalConfig + "---\n", minimalConfig + "...\n", minimalConfig + "---\n# nothing more\n"} {
		if _, err := LoadConfig(writeConfig(t, body)); err != nil {
			t.Errorf("%v\n%s", err, body)
		}
	}
}
