// Package fleetgen writes a synthetic customers repository of n customers
// that validates clean: every customer has its own /24 VPC inside
// 100.64.0.0/10, its own domain, gateway and remote subnets (the remote
// subnets repeat across customers, as real ones do).
//
// testdata/genfleet is its command line; benchmarks call Write directly. It
// depends on the schema only, so that the compiler's own tests can use it.
package fleetgen

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/vsoc/vsoc/schema"
)

// MaxCustomers is how many /24 VPCs fit in 100.64.0.0/10 after the hub's
// /16 and the Client VPN pool's /16.
const MaxCustomers = 1<<14 - 2*256

// Write writes the hub, the vendored schema and n customers into dir.
func Write(dir string, n int) error {
	if n < 1 || n > MaxCustomers {
		return fmt.Errorf("writing a synthetic fleet of %d customers: the address plan holds 1 to %d", n, MaxCustomers)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing a synthetic fleet: %w", err)
	}
	files := map[string][]byte{
		"hub.cue":    []byte(hub),
		"schema.cue": schema.Source,
	}
	for i := range n {
		name := fmt.Sprintf("c%05d", i)
		files[name+".cue"] = []byte(customer(name, i))
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			return fmt.Errorf("writing a synthetic fleet: %w", err)
		}
	}
	return nil
}

const hub = `package vsoc

hub: {
	cidr:   "100.64.0.0/16"
	domain: "vsoc.example.net"
	clientVPN: {
		clientCIDR:           "100.65.0.0/16"
		samlProviderARN:      "arn:aws:iam::123456789012:saml-provider/vsoc-sso"
		serverCertificateARN: "arn:aws:acm:eu-central-1:123456789012:certificate/00000000-0000-4000-8000-000000000000"
	}
}
`

// vpcCIDR is the i-th /24 after the hub's and the pool's /16s.
func vpcCIDR(i int) netip.Prefix {
	base := uint32(100)<<24 | uint32(66)<<16
	u := base + uint32(i)<<8
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)}), 24)
}

func customer(name string, i int) string {
	remote := fmt.Sprintf("10.%d.0.0/16", i%200)
	return fmt.Sprintf(`package vsoc

customers: %[1]s: {
	vpc: cidrs: [%[2]q]
	vpn: {
		gateways: [{name: "gw1", address: "81.%[3]d.%[4]d.1"}]
		remoteSubnets: [%[5]q]
		preSharedKey: secretsManager: "vsoc/%[1]s/vpn-psk"
	}
	dns: {
		domains: ["%[1]s.example.com"]
		resolvers: ["10.%[6]d.0.53"]
	}
	kkp: endpoints: ui: "kkp.%[1]s.example.com"
	proxy: static: [{host: "legacy.%[1]s.example.com", port: 8444, target: {address: "10.%[6]d.1.10", port: 8444}}]
	access: ssoGroups: ["group-%[1]s"]
}
`, name, vpcCIDR(i), i/250%250+1, i%250+1, remote, i%200)
}
