package dns

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	miekg "github.com/miekg/dns"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/fleettest"
	"github.com/vsoc/vsoc/internal/testenv"
)

// TestCoreDNSServesTheHubZones serves the rendered Corefile and zone files
// with the real CoreDNS and resolves every record of Records through it, plus
// the names operators actually use.
func TestCoreDNSServesTheHubZones(t *testing.T) {
	plan := fleettest.SamplePlan(t)
	server := serveHub(t, plan)
	wobcom := fleettest.Customer(t, plan, "wobcom")

	expectA(t, server, "kkp.wobcom.de", wobcom.ProxyIPs)
	expectA(t, server, "foo.bar.wobcom.de", wobcom.ProxyIPs)
	expectA(t, server, "api.kkp.wobcom.de", wobcom.ProxyIPs)
	expectA(t, server, "proxy.wobcom.de", wobcom.ProxyIPs)
	expectA(t, server, "grafana.wobcom.de", addrs("100.68.1.100", "100.68.65.100"))
	expectA(t, server, "support.vsoc.kubermatic.com", addrs("100.65.10.20", "100.65.74.20"))
	expectA(t, server, "legacy-monitor.wobcom.de", wobcom.ProxyIPs)
	for _, c := range plan.Customers {
		for _, e := range []string{c.Customer.KKP.Endpoints.UI, c.Customer.KKP.Endpoints.API} {
			if e != "" {
				expectA(t, server, e, c.ProxyIPs)
			}
		}
	}
	for _, r := range Records(plan) {
		name := strings.Replace(r.Name, "*", "any-host", 1)
		expectA(t, server, name, r.Values)
	}

	expectRcode(t, server, "www.example.org", miekg.RcodeRefused)
	expectRcode(t, server, "nothing.vsoc.kubermatic.com", miekg.RcodeNameError)

	files, err := Render(plan)
	if err != nil {
		t.Fatal(err)
	}
	written, err := miekg.NewRR(soaLine(files["dns/zones/wobcom.de.zone"]))
	if err != nil {
		t.Fatalf("parsing the SOA of wobcom.de.zone: %v", err)
	}
	reply := exchange(t, server, "wobcom.de", miekg.TypeSOA)
	if len(reply.Answer) != 1 || reply.Answer[0].(*miekg.SOA).Serial != written.(*miekg.SOA).Serial {
		t.Errorf("SOA of wobcom.de: CoreDNS answers %v, the zone file says %v", reply.Answer, written)
	}
}

// TestCoreDNSAnswersTrickyEndpoints places KKP endpoints where the wildcard
// does not answer (the apex, below a service, below the proxy's name, below
// an empty non-terminal, outside every domain) and checks with CoreDNS's RFC
// 4592 implementation that each resolves to the proxy.
func TestCoreDNSAnswersTrickyEndpoints(t *testing.T) {
	plan := fleettest.SamplePlan(t)
	edits := map[string]compiler.KKPEndpoints{
		"wobcom":               {UI: "wobcom.de", API: "eu.grafana.wobcom.de"},
		"cubebikes":            {UI: "kkp.proxy.cube.eu", API: "kkp.cube.eu"},
		"stadtwerke-bielefeld": {UI: "kkp.swb-cloud.net", API: "api.kkp.swb-cloud.net"},
		"wacker":               {UI: "kkp.mla.wacker.corp", API: "api.wacker.corp"},
	}
	for name, endpoints := range edits {
		fleettest.Customer(t, plan, name).Customer.KKP.Endpoints = endpoints
	}
	// A service with a dot makes mla.wacker.corp an empty non-terminal.
	fleettest.Customer(t, plan, "wacker").Customer.Services = map[string]compiler.Service{"grafana.mla": {Addresses: []string{"100.66.1.100"}}}

	server := serveHub(t, plan)
	for name, endpoints := range edits {
		ips := fleettest.Customer(t, plan, name).ProxyIPs
		expectA(t, server, endpoints.UI, ips)
		expectA(t, server, endpoints.API, ips)
	}
	expectA(t, server, "grafana.mla.wacker.corp", addrs("100.66.1.100"))
	expectA(t, server, "git.eu.grafana.wobcom.de", nil) // below an explicit name the wildcard stops
}

// TestCoreDNSForwardsACustomerDomain runs a Corefile made of a customer's
// forwarding block, its resolvers pointed at two DNS stubs on loopback: the
// customer's names are answered by the first resolver, other names are not
// forwarded at all.
func TestCoreDNSForwardsACustomerDomain(t *testing.T) {
	plan := fleettest.SamplePlan(t)
	c := fleettest.Customer(t, plan, "cubebikes")
	first := startStub(t, "127.0.0.1", netip.MustParseAddr("192.0.2.1"))
	second := startStub(t, "127.0.0.2", netip.MustParseAddr("192.0.2.2"))
	c.Resolvers = []netip.Addr{first.addr.Addr(), second.addr.Addr()}

	block := ForwardingServerBlock(c)
	// The rendered block forwards to port 53 and listens on 53; the test
	// moves both to the ports it owns and keeps CoreDNS on loopback.
	block = replaceOnce(t, block, "127.0.0.1:53", first.addr.String())
	block = replaceOnce(t, block, "127.0.0.2:53", second.addr.String())
	block = replaceOnce(t, block, "cube.eu:53 {\n", "cube.eu {\n    bind 127.0.0.1\n")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Corefile"), []byte(block), 0o644); err != nil {
		t.Fatal(err)
	}
	server := testenv.StartCoreDNS(t, dir)

	expectA(t, server, "x.cube.eu", addrs("192.0.2.1"))
	expectA(t, server, "git.office.cube.eu", addrs("192.0.2.1"))
	expectRcode(t, server, "x.example.org", miekg.RcodeRefused)
	if got := first.seen(); !slices.Contains(got, "x.cube.eu.") || !slices.Contains(got, "git.office.cube.eu.") {
		t.Errorf("the first resolver saw %v, want x.cube.eu. and git.office.cube.eu.", got)
	}
	if got := second.seen(); len(got) > 0 {
		t.Errorf("the second resolver saw %v although the first answered (policy sequential)", got)
	}
	if slices.Contains(first.seen(), "x.example.org.") {
		t.Error("a name outside the customer's domains was forwarded to the customer's resolver")
	}
}

// serveHub writes the rendered dns/ folder, moves its server blocks from
// port 53 to the test's port on loopback, and starts CoreDNS on it.
func serveHub(t *testing.T, plan *compiler.Plan) string {
	t.Helper()
	files, err := Render(plan)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	zones := 0
	for name, content := range files {
		rel, ok := strings.CutPrefix(name, "dns/")
		if !ok {
			t.Fatalf("dns renderer wrote %s outside dns/", name)
		}
		if strings.HasPrefix(rel, "zones/") {
			zones++
		}
		path := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	corefile := string(files["dns/Corefile"])
	if n := strings.Count(corefile, ":53 {\n"); n != zones {
		t.Fatalf("the Corefile has %d server blocks on port 53, want one per zone file (%d):\n%s", n, zones, corefile)
	}
	corefile = strings.ReplaceAll(corefile, ":53 {\n", " {\n    bind 127.0.0.1\n")
	if err := os.WriteFile(filepath.Join(dir, "Corefile"), []byte(corefile), 0o644); err != nil {
		t.Fatal(err)
	}
	return testenv.StartCoreDNS(t, dir)
}

func exchange(t *testing.T, server, name string, qtype uint16) *miekg.Msg {
	t.Helper()
	query := new(miekg.Msg)
	query.SetQuestion(miekg.Fqdn(name), qtype)
	client := &miekg.Client{Timeout: 5 * time.Second}
	reply, _, err := client.ExchangeContext(t.Context(), query, server)
	if err != nil {
		t.Fatalf("querying %s %s at %s: %v", name, miekg.TypeToString[qtype], server, err)
	}
	return reply
}

// expectA checks that name resolves to exactly want (A and AAAA together);
// an empty want means NXDOMAIN.
func expectA(t *testing.T, server, name string, want []netip.Addr) {
	t.Helper()
	var got []netip.Addr
	rcode := miekg.RcodeSuccess
	for _, qtype := range []uint16{miekg.TypeA, miekg.TypeAAAA} {
		reply := exchange(t, server, name, qtype)
		rcode = reply.Rcode
		for _, rr := range reply.Answer {
			switch rr := rr.(type) {
			case *miekg.A:
				got = append(got, netip.AddrFrom4([4]byte(rr.A.To4())))
			case *miekg.AAAA:
				got = append(got, netip.AddrFrom16([16]byte(rr.AAAA.To16())))
			}
		}
	}
	if len(want) == 0 {
		if rcode != miekg.RcodeNameError {
			t.Errorf("%s: rcode %s, answers %v; want NXDOMAIN", name, miekg.RcodeToString[rcode], got)
		}
		return
	}
	want = slices.Clone(want)
	slices.SortFunc(want, netip.Addr.Compare)
	slices.SortFunc(got, netip.Addr.Compare)
	if !slices.Equal(got, want) {
		t.Errorf("%s → %v (rcode %s), want %v", name, got, miekg.RcodeToString[rcode], want)
	}
}

func expectRcode(t *testing.T, server, name string, want int) {
	t.Helper()
	if reply := exchange(t, server, name, miekg.TypeA); reply.Rcode != want {
		t.Errorf("%s: rcode %s, want %s (answers %v)", name, miekg.RcodeToString[reply.Rcode], miekg.RcodeToString[want], reply.Answer)
	}
}

// stub is a DNS server on loopback that answers every A question with one
// address and remembers the names it was asked.
type stub struct {
	addr  netip.AddrPort
	mu    sync.Mutex
	names []string
}

func startStub(t *testing.T, ip string, answer netip.Addr) *stub {
	t.Helper()
	conn, err := net.ListenPacket("udp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("starting a DNS stub on %s: %v", ip, err)
	}
	s := &stub{addr: conn.LocalAddr().(*net.UDPAddr).AddrPort()}
	server := &miekg.Server{PacketConn: conn, Handler: miekg.HandlerFunc(func(w miekg.ResponseWriter, r *miekg.Msg) {
		reply := new(miekg.Msg)
		reply.SetReply(r)
		q := r.Question[0]
		if q.Name != "." { // CoreDNS's health checks ask for the root
			s.mu.Lock()
			s.names = append(s.names, q.Name)
			s.mu.Unlock()
		}
		if q.Qtype == miekg.TypeA {
			reply.Answer = append(reply.Answer, &miekg.A{
				Hdr: miekg.RR_Header{Name: q.Name, Rrtype: miekg.TypeA, Class: miekg.ClassINET, Ttl: 60},
				A:   net.IP(answer.AsSlice()),
			})
		}
		w.WriteMsg(reply)
	})}
	go server.ActivateAndServe()
	t.Cleanup(func() { server.Shutdown() })
	return s
}

func (s *stub) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.names)
}

func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if strings.Count(s, old) != 1 {
		t.Fatalf("expected %q exactly once in:\n%s", old, s)
	}
	return strings.Replace(s, old, new, 1)
}
