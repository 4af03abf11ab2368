package cloudformation

import (
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/vsoc/vsoc/compiler"
)

// syntheticPlan plans a fleet of n customers built in memory, with the schema's defaults
// written out (no CUE involved, so the benchmark measures rendering only). Each customer has
// its own /24 VPC after the hub's /16 and the Client VPN pool's /16; every third one uses BGP,
// every other one a Route 53 Resolver endpoint, as a real fleet mixes them.
func syntheticPlan(t testing.TB, n int) *compiler.Plan {
	t.Helper()
	return planFleet(t, syntheticFleet(n))
}

func planFleet(t testing.TB, fleet *compiler.Fleet) *compiler.Plan {
	t.Helper()
	plan, err := compiler.NewPlan(fleet)
	if err != nil {
		t.Fatalf("planning the synthetic fleet: %v", err)
	}
	return plan
}

// syntheticFleet is the fleet syntheticPlan plans.
func syntheticFleet(n int) *compiler.Fleet {
	hub := &compiler.Hub{
		Region:            "eu-central-1",
		CIDR:              "100.64.0.0/16",
		AvailabilityZones: []string{"eu-central-1a", "eu-central-1b"},
		Domain:            "vsoc.example.com",
		ClientVPN: compiler.ClientVPN{
			ClientCIDR:           "100.65.0.0/16",
			SAMLProviderARN:      "arn:aws:iam::123456789012:saml-provider/vsoc-sso",
			ServerCertificateARN: "arn:aws:acm:eu-central-1:123456789012:certificate/00000000-0000-0000-0000-000000000000",
			ConnectionLogging:    true,
			SplitTunnel:          true,
			TransportProtocol:    "udp",
			VPNPort:              443,
			SessionTimeoutHours:  12,
		},
		SharedServices:   map[string]compiler.Service{"support": {Addresses: []string{"100.64.1.20"}}},
		LogRetentionDays: 365,
	}
	fleet := &compiler.Fleet{Hub: hub}
	first := netip.MustParseAddr("100.66.0.0").As4()
	base := uint32(first[0])<<24 | uint32(first[1])<<16
	for i := range n {
		v := base + uint32(i)<<8
		vpc := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0}), 24)
		name := fmt.Sprintf("c%05d", i)
		c := &compiler.Customer{
			Name: name,
			VPC:  compiler.VPC{CIDRs: []string{vpc.String()}, LogRetentionDays: 365},
			VPN: compiler.VPN{
				Routing:       "static",
				AmazonSideASN: 64512,
				Gateways:      []compiler.CustomerGateway{{Name: "fw1", Address: fmt.Sprintf("198.51.%d.%d", i/250%250, i%250+1), ASN: 65000}},
				RemoteSubnets: []string{"10.10.0.0/16", "192.168.1.0/24"},
				Tunnel: compiler.TunnelOptions{
					IKEVersions:      []string{"ikev2"},
					Phase1:           compiler.Phase{Encryption: []string{"AES256-GCM-16"}, Integrity: []string{"SHA2-384"}, DHGroups: []int{20}, LifetimeSeconds: 28800},
					Phase2:           compiler.Phase{Encryption: []string{"AES256-GCM-16"}, Integrity: []string{"SHA2-384"}, DHGroups: []int{20}, LifetimeSeconds: 3600},
					DPDTimeoutAction: "restart",
					StartupAction:    "start",
				},
				PreSharedKey: &compiler.PreSharedKey{SecretsManager: "vsoc/" + name + "/vpn-psk"},
			},
			DNS:    compiler.DNS{Domains: []string{name + ".example.net"}, Resolvers: []string{"10.10.0.53"}, Mode: "coredns"},
			Proxy:  compiler.Proxy{Ports: []int{80, 443, 6443, 3128}, Replicas: 2},
			Access: compiler.Access{SSOGroups: []string{fmt.Sprintf("group-%05d", i)}},
		}
		if i%3 == 0 {
			c.VPN.Routing = "bgp"
		}
		if i%2 == 0 {
			c.DNS.Mode = "route53-resolver"
		}
		fleet.Customers = append(fleet.Customers, c)
	}
	return fleet
}

// BenchmarkRender10000 renders the templates of a 10,000-customer fleet. Besides wall time it
// reports the process's CPU time per render (cpu-ms/op), which stays meaningful when the machine
// is shared and wall time is not.
func BenchmarkRender10000(b *testing.B) {
	plan := syntheticPlan(b, 10000)
	var bytes int
	start := cpuTime(b)
	for b.Loop() {
		files, err := Render(plan)
		if err != nil {
			b.Fatal(err)
		}
		if len(files) != 10001 {
			b.Fatalf("%d templates, want 10001", len(files))
		}
		bytes = 0
		for _, body := range files {
			bytes += len(body)
		}
	}
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N)/1e6, "cpu-ms/op")
	b.ReportMetric(float64(bytes)/1e6, "MB-out/op")
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
