package proxy

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/fleettest"
	"github.com/vsoc/vsoc/internal/golden"
	"github.com/vsoc/vsoc/sniproxy"
)

// equateNetip compares addresses by value (their fields are unexported).
var equateNetip = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}, netip.AddrPort{})

func TestRenderGolden(t *testing.T) {
	_, files := fleettest.RenderSample(t, Render)
	if len(files) != 5 {
		t.Errorf("rendered %d files, want one per sample customer (5)", len(files))
	}
	golden.CheckTree(t, "proxy", files)
}

// TestRenderedFilesLoadInTheProxy is the contract test: every file the
// compiler writes is accepted by the proxy's own loader, and the proxy reads
// back exactly the configuration the compiler built.
func TestRenderedFilesLoadInTheProxy(t *testing.T) {
	plan, files := fleettest.RenderSample(t, Render)
	dir := t.TempDir()
	for i := range plan.Customers {
		c := &plan.Customers[i]
		name := "proxy/" + c.Customer.Name + ".yaml"
		content, ok := files[name]
		if !ok {
			t.Errorf("no %s rendered", name)
			continue
		}
		path := filepath.Join(dir, c.Customer.Name+".yaml")
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
		loaded, err := sniproxy.LoadConfig(path)
		if err != nil {
			t.Errorf("the proxy refuses %s: %v", name, err)
			continue
		}
		built, err := Config(plan, c)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(built, loaded, equateNetip); diff != "" {
			t.Errorf("%s does not load back as built (-built +loaded):\n%s", name, diff)
		}
	}
}

func TestConfigOfWobcom(t *testing.T) {
	plan := fleettest.SamplePlan(t)
	cfg, err := Config(plan, fleettest.Customer(t, plan, "wobcom"))
	if err != nil {
		t.Fatal(err)
	}
	want := []sniproxy.Listener{
		{Name: "http", Address: ":10080", Protocol: sniproxy.ProtocolHTTP, UpstreamPort: 80},
		{Name: "https", Address: ":10443", Protocol: sniproxy.ProtocolTLS, UpstreamPort: 443},
		{Name: "connect", Address: ":13128", Protocol: sniproxy.ProtocolConnect},
		{Name: "kube-api", Address: ":16443", Protocol: sniproxy.ProtocolTLS, UpstreamPort: 6443},
		{Name: "static-8443", Address: ":8443", Protocol: sniproxy.ProtocolTLS}, // static mappings only
	}
	if diff := cmp.Diff(want, cfg.Listeners); diff != "" {
		t.Errorf("listeners (-want +got):\n%s", diff)
	}
	wantStatic := []sniproxy.StaticMapping{{
		Host: "legacy-monitor.wobcom.de", Listener: "static-8443", Target: netip.MustParseAddrPort("10.20.30.40:9443"),
	}}
	if diff := cmp.Diff(wantStatic, cfg.Static, equateNetip); diff != "" {
		t.Errorf("static mappings (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"*.wobcom.de"}, cfg.Allow); diff != "" {
		t.Errorf("allow (-want +got):\n%s", diff)
	}
	wantDest := []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("192.168.50.0/24")}
	if diff := cmp.Diff(wantDest, cfg.AllowedDestinations, equateNetip); diff != "" {
		t.Errorf("allowed destinations (-want +got):\n%s", diff)
	}
	wantResolvers := []netip.AddrPort{netip.MustParseAddrPort("10.20.0.53:53"), netip.MustParseAddrPort("10.20.1.53:53")}
	if diff := cmp.Diff(wantResolvers, cfg.Resolvers, equateNetip); diff != "" {
		t.Errorf("resolvers (-want +got):\n%s", diff)
	}
	if cfg.Admin != ":9901" {
		t.Errorf("admin = %q, want \":9901\" (compiler.AdminPort, where the probes go)", cfg.Admin)
	}
	if cfg.Timeouts.Dial.Std() != sniproxy.DefaultDialTimeout || cfg.Timeouts.Idle.Std() != sniproxy.DefaultIdleTimeout {
		t.Errorf("timeouts = %+v, want the proxy's defaults written out", cfg.Timeouts)
	}
}

// TestKKPEndpointsAreRouted: DNS points a customer's KKP endpoints at its proxy, so the proxy
// routes them, also those no allow pattern covers: a name outside the customer's domains (a zone
// of its own) and a domain's apex.
func TestKKPEndpointsAreRouted(t *testing.T) {
	plan := fleettest.SamplePlan(t)
	c := fleettest.Customer(t, plan, "wobcom")
	c.Customer.KKP.Endpoints = compiler.KKPEndpoints{UI: "kkp.wobcom-ops.io", API: "wobcom.de"}
	cfg, err := Config(plan, c)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"*.wobcom.de", "kkp.wobcom-ops.io", "wobcom.de"}, cfg.Allow); diff != "" {
		t.Errorf("allow (-want +got):\n%s", diff)
	}
	// One under the wildcard needs nothing more.
	c.Customer.KKP.Endpoints = compiler.KKPEndpoints{UI: "kkp.wobcom.de"}
	if cfg, err = Config(plan, c); err != nil || !slices.Equal(cfg.Allow, []string{"*.wobcom.de"}) {
		t.Errorf("with an endpoint under *.wobcom.de: allow %q, %v; want the customer's patterns only", cfg.Allow, err)
	}
}

func TestTCPStaticMappingHasNoHost(t *testing.T) {
	plan := fleettest.SamplePlan(t)
	cfg, err := Config(plan, fleettest.Customer(t, plan, "wacker"))
	if err != nil {
		t.Fatal(err)
	}
	want := []sniproxy.StaticMapping{{Listener: "static-3299", Target: netip.MustParseAddrPort("172.31.130.15:3299")}}
	if diff := cmp.Diff(want, cfg.Static, equateNetip); diff != "" {
		t.Errorf("static mappings (-want +got):\n%s", diff)
	}
	wantListener := sniproxy.Listener{Name: "static-3299", Address: ":3299", Protocol: sniproxy.ProtocolTCP}
	if !slices.Contains(cfg.Listeners, wantListener) {
		t.Errorf("listeners = %+v, want the tcp listener %+v without upstream port", cfg.Listeners, wantListener)
	}
}

func TestBadInputIsRefusedWithItsPosition(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(p *compiler.Plan, c *compiler.CustomerPlan)
		inErr []string
		at    []any // the model value the error must point at
	}{
		{
			name: "static protocol differs from the dynamic listener",
			edit: func(_ *compiler.Plan, c *compiler.CustomerPlan) {
				c.Customer.Proxy.Static = []compiler.StaticMapping{{Host: "x.wobcom.de", Port: 443, Protocol: "http", Target: compiler.Target{Address: "10.20.1.1", Port: 8080}}}
			},
			inErr: []string{"customers/wobcom.cue:", "proxy.static[0]", "protocol http on port 443", "hint"},
			at:    []any{"proxy", "static", 0},
		},
		{
			name: "remote subnet reaching into the hub",
			edit: func(p *compiler.Plan, c *compiler.CustomerPlan) {
				c.RemoteSubnets = append(c.RemoteSubnets, netip.MustParsePrefix("100.65.0.0/20"))
			},
			inErr: []string{"vpn.remoteSubnets[2]", "the hub VPC 100.65.0.0/16"},
		},
		{
			name: "remote subnet containing the metadata endpoint",
			edit: func(p *compiler.Plan, c *compiler.CustomerPlan) {
				c.RemoteSubnets[1] = netip.MustParsePrefix("169.254.0.0/16")
			},
			inErr: []string{"customers/wobcom.cue:", "vpn.remoteSubnets[1]", "169.254.0.0/16 overlaps the link-local range (instance metadata)"},
			at:    []any{"vpn", "remoteSubnets", 1},
		},
		{
			name: "static target in the hub",
			edit: func(_ *compiler.Plan, c *compiler.CustomerPlan) {
				c.Customer.Proxy.Static[0].Target.Address = "100.65.10.20"
			},
			inErr: []string{"proxy.static[0]", "100.65.10.20/32 overlaps the hub VPC"},
			at:    []any{"proxy", "static", 0},
		},
		{
			name: "static target on the node itself",
			edit: func(_ *compiler.Plan, c *compiler.CustomerPlan) {
				c.Customer.Proxy.Static[0].Target.Address = "127.0.0.1"
			},
			inErr: []string{"proxy.static[0]", "loopback"},
		},
		{
			name: "remote subnet the proxy's own validation refuses",
			edit: func(_ *compiler.Plan, c *compiler.CustomerPlan) {
				c.RemoteSubnets[1] = netip.MustParsePrefix("192.168.50.1/24")
			},
			inErr: []string{"the proxy would refuse its configuration", "allowedDestinations[1]", `did you mean "192.168.50.0/24"`},
			at:    []any{"vpn", "remoteSubnets", 1},
		},
		{
			name: "static target that is not an address",
			edit: func(_ *compiler.Plan, c *compiler.CustomerPlan) {
				c.Customer.Proxy.Static[0].Target.Address = "legacy.wobcom.de"
			},
			inErr: []string{"proxy.static[0]", "target.address"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan := fleettest.SamplePlan(t)
			c := fleettest.Customer(t, plan, "wobcom")
			tc.edit(plan, c)
			_, err := Config(plan, c)
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range tc.inErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if tc.at != nil {
				pos, ok := plan.Fleet.Positions.Lookup(compiler.Pointer(append([]any{"customers", "wobcom"}, tc.at...)...))
				if !ok || !strings.HasPrefix(err.Error(), pos.String()+": ") {
					t.Errorf("error %q does not start with the position of %v (%s)", err, tc.at, pos)
				}
			}
		})
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	fleettest.CheckDeterministic(t, Render)
}
