package dns

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/fleettest"
	"github.com/vsoc/vsoc/internal/golden"
)

// equateNetip compares addresses by value (their fields are unexported).
var equateNetip = cmpopts.EquateComparable(netip.Addr{})

func TestRenderGolden(t *testing.T) {
	_, files := fleettest.RenderSample(t, Render)
	golden.CheckTree(t, "dns", files)
}

func TestRecordsOfTheSampleFleet(t *testing.T) {
	plan := fleettest.SamplePlan(t)
	wobcom := fleettest.Customer(t, plan, "wobcom")
	stadtwerke := fleettest.Customer(t, plan, "stadtwerke-bielefeld")
	want := map[string][]netip.Addr{
		"*.wobcom.de":                   wobcom.ProxyIPs,
		"proxy.wobcom.de":               wobcom.ProxyIPs,
		"grafana.wobcom.de":             addrs("100.68.1.100", "100.68.65.100"),
		"*.swb-netz.de":                 stadtwerke.ProxyIPs,
		"proxy.stadtwerke-bielefeld.de": stadtwerke.ProxyIPs,
		"support.vsoc.kubermatic.com":   addrs("100.65.10.20", "100.65.74.20"),
		"tickets.vsoc.kubermatic.com":   addrs("100.65.10.21"),
		"*.docs.vsoc-demo.net":          fleettest.Customer(t, plan, "documentation").ProxyIPs,
		"proxy.wacker.corp":             fleettest.Customer(t, plan, "wacker").ProxyIPs,
		"*.stadtwerke-bielefeld.de":     stadtwerke.ProxyIPs,
		"proxy.swb-netz.de":             stadtwerke.ProxyIPs,
		"*.cube.eu":                     fleettest.Customer(t, plan, "cubebikes").ProxyIPs,
		"proxy.cube.eu":                 fleettest.Customer(t, plan, "cubebikes").ProxyIPs,
		"*.wacker.corp":                 fleettest.Customer(t, plan, "wacker").ProxyIPs,
		"proxy.docs.vsoc-demo.net":      fleettest.Customer(t, plan, "documentation").ProxyIPs,
	}
	got := map[string][]netip.Addr{}
	for _, r := range Records(plan) {
		if r.Type != "A" || r.TTL != TTL || !under(r.Name, r.Zone) {
			t.Errorf("record %+v: want type A, TTL %d, a name inside its zone", r, TTL)
		}
		got[r.Name] = r.Values
	}
	// The KKP endpoints (kkp.wobcom.de, api.kkp.wobcom.de, k8s.stadtwerke-bielefeld.de, ...) are all
	// answered by their domain's wildcard: no explicit record.
	if diff := cmp.Diff(want, got, equateNetip); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// TestKKPEndpointsOutsideTheWildcard covers every case where the wildcard
// does not answer an endpoint; TestCoreDNSAnswersTrickyEndpoints proves with
// CoreDNS that the explicit records are needed and sufficient.
func TestKKPEndpointsOutsideTheWildcard(t *testing.T) {
	cases := []struct {
		ui, api string
		want    []Record // the KKP records besides the sample's
	}{
		{ui: "kkp.wobcom.de", api: "api.kkp.wobcom.de"},
		{ui: "wobcom.de", want: []Record{{Zone: "wobcom.de", Name: "wobcom.de"}}},
		{ui: "eu.grafana.wobcom.de", want: []Record{{Zone: "wobcom.de", Name: "eu.grafana.wobcom.de"}}},
		{ui: "kkp.proxy.wobcom.de", want: []Record{{Zone: "wobcom.de", Name: "kkp.proxy.wobcom.de"}}},
		// A zone of its own has no wildcard: a name below it needs a record.
		{ui: "kkp.wobcom-cloud.net", api: "api.kkp.wobcom-cloud.net", want: []Record{
			{Zone: "kkp.wobcom-cloud.net", Name: "kkp.wobcom-cloud.net"}, {Zone: "kkp.wobcom-cloud.net", Name: "api.kkp.wobcom-cloud.net"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.ui, func(t *testing.T) {
			plan := fleettest.SamplePlan(t)
			c := fleettest.Customer(t, plan, "wobcom")
			c.Customer.KKP.Endpoints = compiler.KKPEndpoints{UI: tc.ui, API: tc.api}
			base := map[string]bool{"*.wobcom.de": true, "proxy.wobcom.de": true, "grafana.wobcom.de": true}
			var got []Record
			for _, r := range Records(plan) {
				if (r.Zone == "wobcom.de" || r.Zone == tc.ui) && !base[r.Name] {
					got = append(got, Record{Zone: r.Zone, Name: r.Name})
					if !slices.Equal(r.Values, c.ProxyIPs) {
						t.Errorf("%s → %v, want the proxy's IPs %v", r.Name, r.Values, c.ProxyIPs)
					}
				}
			}
			slices.SortFunc(tc.want, func(a, b Record) int { return compareCanonical(a.Name, b.Name) })
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("explicit KKP records (-want +got):\n%s", diff)
			}
			if _, err := Render(plan); err != nil {
				t.Errorf("Render: %v", err)
			}
		})
	}
}

func TestInconsistentNamesAreRefusedWithTheirPosition(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(p *compiler.Plan)
		inErr []string
	}{
		{
			name: "a domain of two customers",
			edit: func(p *compiler.Plan) {
				c := fleettest.Customer(t, p, "wobcom").Customer
				c.DNS.Domains = append(c.DNS.Domains, "cube.eu")
			},
			inErr: []string{"customers/wobcom.cue:", "zone cube.eu is declared twice", "customer cubebikes (", "customers/cubebikes.cue:", "hint"},
		},
		{
			name: "a service named like the proxy",
			edit: func(p *compiler.Plan) {
				fleettest.Customer(t, p, "wobcom").Customer.Services["proxy"] = compiler.Service{Addresses: []string{"100.68.1.1"}}
			},
			inErr: []string{"customers/wobcom.cue:", "proxy.wobcom.de A is also customer wobcom's proxy"},
		},
		{
			name: "a KKP endpoint in another customer's zone",
			edit: func(p *compiler.Plan) {
				fleettest.Customer(t, p, "wobcom").Customer.KKP.Endpoints.API = "kkp.cube.eu"
			},
			inErr: []string{"customers/wobcom.cue:", "KKP endpoint kkp.cube.eu lies in zone cube.eu of customer cubebikes"},
		},
		{
			name: "a service shadowed by another customer's zone",
			edit: func(p *compiler.Plan) {
				fleettest.Customer(t, p, "cubebikes").Customer.DNS.Domains = append(fleettest.Customer(t, p, "cubebikes").Customer.DNS.Domains, "mla.wobcom.de")
				fleettest.Customer(t, p, "wobcom").Customer.Services["grafana.mla"] = compiler.Service{Addresses: []string{"100.68.1.1"}}
			},
			inErr: []string{"grafana.mla.wobcom.de is answered by zone mla.wobcom.de of customer cubebikes"},
		},
		{
			name: "an upper-case domain",
			edit: func(p *compiler.Plan) {
				fleettest.Customer(t, p, "wobcom").Customer.DNS.Domains[0] = "WobCom.de"
			},
			inErr: []string{"customers/wobcom.cue:", "dns/domains/0", `write it as "wobcom.de"`},
		},
		{
			name: "a service address that is not an address",
			edit: func(p *compiler.Plan) {
				fleettest.Customer(t, p, "wobcom").Customer.Services["grafana"] = compiler.Service{Addresses: []string{"grafana.internal"}}
			},
			inErr: []string{"customers/wobcom.cue:", `address "grafana.internal"`, "hint"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan := fleettest.SamplePlan(t)
			tc.edit(plan)
			_, err := Render(plan)
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range tc.inErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestForwardingServerBlock(t *testing.T) {
	plan := fleettest.SamplePlan(t)
	got := ForwardingServerBlock(fleettest.Customer(t, plan, "stadtwerke-bielefeld"))
	want := "stadtwerke-bielefeld.de:53 swb-netz.de:53 {\n    errors\n    cache 30\n    forward . 172.20.8.53:53 {\n        policy sequential\n    }\n}\n"
	if !strings.HasSuffix(got, want) {
		t.Errorf("forwarding block:\n%s\nwant it to end with:\n%s", got, want)
	}
	files, err := Render(plan)
	if err != nil {
		t.Fatal(err)
	}
	var forwarded []string
	for name := range files {
		if strings.HasPrefix(name, "dns/forward/") {
			forwarded = append(forwarded, name)
		}
	}
	slices.Sort(forwarded)
	// Only the customers in DNS mode coredns forward from their cluster.
	if diff := cmp.Diff([]string{"dns/forward/cubebikes.server", "dns/forward/documentation.server"}, forwarded); diff != "" {
		t.Errorf("forwarding files (-want +got):\n%s", diff)
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	fleettest.CheckDeterministic(t, Render)
}

// TestSerialFollowsTheContent: an unchanged zone keeps its serial (no
// needless reload), a changed one gets a new serial (CoreDNS reloads).
func TestSerialFollowsTheContent(t *testing.T) {
	plan := fleettest.SamplePlan(t)
	before, err := Render(plan)
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Customer(t, plan, "wobcom").Customer.Services["grafana"] = compiler.Service{Addresses: []string{"100.68.1.101"}}
	after, err := Render(plan)
	if err != nil {
		t.Fatal(err)
	}
	if soaLine(before["dns/zones/wobcom.de.zone"]) == soaLine(after["dns/zones/wobcom.de.zone"]) {
		t.Errorf("the wobcom.de SOA did not change with its records: %s", soaLine(after["dns/zones/wobcom.de.zone"]))
	}
	if !bytes.Equal(before["dns/zones/cube.eu.zone"], after["dns/zones/cube.eu.zone"]) {
		t.Error("cube.eu.zone changed although its records did not")
	}
}

func soaLine(zone []byte) string {
	for _, line := range strings.Split(string(zone), "\n") {
		if strings.Contains(line, "\tSOA\t") {
			return line
		}
	}
	return ""
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}
