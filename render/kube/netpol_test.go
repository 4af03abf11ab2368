package kube

import (
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/fleettest"
	"github.com/vsoc/vsoc/internal/testenv"
)

// The NetworkPolicies' meaning is judged by cyclonus's matcher (an engine
// independent of this renderer, behind testenv.CheckReachability) on the
// rendered manifests, and compared with the intended matrix below, which is
// seed 004 stated probe by probe.

// addrAt is the n-th address of prefix.
func addrAt(p netip.Prefix, n int) netip.Addr {
	a := p.Masked().Addr()
	for range n {
		a = a.Next()
	}
	return a
}

// intent is one probe with the verdict seed 004 asks for and why.
type intent struct {
	probe testenv.Probe
	allow bool
	why   string
}

// world is the set of endpoints probed in one customer cluster.
type world struct {
	p         *compiler.Plan
	c         *compiler.CustomerPlan
	managed   []managedNamespace
	proxy     testenv.Endpoint
	workloads map[string]testenv.Endpoint // a plain pod per managed namespace
	kubeDNS   testenv.Endpoint
	intents   []intent
}

func newWorld(t *testing.T, p *compiler.Plan, c *compiler.CustomerPlan) *world {
	managed, err := managedNamespaces(p, c)
	if err != nil {
		t.Fatal(err)
	}
	// Pods take addresses from the customer's first subnet (EKS VPC CNI).
	pods := c.Subnets[0].CIDR
	w := &world{
		p: p, c: c, managed: managed,
		proxy:     testenv.Endpoint{Namespace: compiler.ProxyNamespace, Labels: proxyLabels(c.Customer.Name), IP: addrAt(pods, 20).String()},
		workloads: map[string]testenv.Endpoint{},
		kubeDNS:   testenv.Endpoint{Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns"}, IP: addrAt(pods, 21).String()},
	}
	for i, ns := range managed {
		w.workloads[ns.name] = testenv.Endpoint{Namespace: ns.name, Labels: map[string]string{"app": "workload"}, IP: addrAt(pods, 30+i).String()}
	}
	return w
}

func external(a netip.Addr) testenv.Endpoint { return testenv.Endpoint{IP: a.String()} }

func (w *world) expect(name string, from, to testenv.Endpoint, port int, protocol string, allow bool, why string) {
	w.intents = append(w.intents, intent{
		probe: testenv.Probe{Name: name, From: from, To: to, Port: port, Protocol: protocol},
		allow: allow, why: why,
	})
}

func (w *world) area(ns string) string {
	for _, m := range w.managed {
		if m.name == ns {
			return m.area
		}
	}
	return ""
}

// contractAllows says whether one of the customer's contracts admits from →
// to on port (seed 004: "the contracts add the rest").
func (w *world) contractAllows(from, to testenv.Endpoint, port int) bool {
	for _, k := range w.c.Customer.Cluster.Contracts {
		if k.To.Namespace != to.Namespace {
			continue
		}
		if k.From.Namespace != "" && k.From.Namespace != from.Namespace {
			continue
		}
		if k.From.Area != "" && k.From.Area != w.area(from.Namespace) {
			continue
		}
		matches := true
		for key, value := range k.To.PodLabels {
			if to.Labels[key] != value {
				matches = false
			}
		}
		portOK := len(k.Ports) == 0
		for _, p := range k.Ports {
			portOK = portOK || (p.Port == port && (p.Protocol == "" || p.Protocol == "TCP"))
		}
		if matches && portOK {
			return true
		}
	}
	return false
}

// inCluster is the intended verdict between two pods of the cluster on a
// TCP port: same namespace, same area, a contract, or the monitoring
// namespace — which in the proxy's namespace scrapes the admin port only,
// since the listener ports lead into the customer's networks.
func (w *world) inCluster(from, to testenv.Endpoint, port int) (bool, string) {
	monitoring := w.c.Customer.Cluster.MonitoringNamespace
	switch {
	case from.Namespace == to.Namespace:
		return true, "same namespace"
	case w.area(from.Namespace) == w.area(to.Namespace):
		return true, "same network area " + w.area(to.Namespace)
	case w.contractAllows(from, to, port):
		return true, "contract"
	case from.Namespace == monitoring && to.Namespace == compiler.ProxyNamespace:
		return port == compiler.AdminPort, "monitoring scrapes the proxy's admin port and nothing else there"
	case from.Namespace == monitoring:
		return true, "monitoring scrapes"
	}
	return false, "different areas, no contract"
}

func (w *world) build(others []*compiler.CustomerPlan) {
	c, hub := w.c, w.p.Hub
	operators := map[string]netip.Addr{
		"hub":         addrAt(hub.CIDR, 100),
		"client-pool": addrAt(hub.ClientCIDR, 5),
	}
	// Operators reach the proxy's listener ports and nothing else.
	for _, who := range slices.Sorted(maps.Keys(operators)) {
		op := external(operators[who])
		for _, l := range c.Listeners {
			w.expect(fmt.Sprintf("%s operator -> proxy %s", who, l.Name), op, w.proxy, l.ContainerPort, "", true, "proxy port from the operators")
		}
		w.expect(who+" operator -> proxy admin port", op, w.proxy, compiler.AdminPort, "", false, "admin port is not for operators")
		w.expect(who+" operator -> proxy port 22", op, w.proxy, 22, "", false, "not a proxy port")
		for _, ns := range w.managed {
			w.expect(fmt.Sprintf("%s operator -> %s workload", who, ns.name), op, w.workloads[ns.name], 443, "", false, "only the proxy is reachable from outside")
		}
	}
	// The NLB health-checks the admin port from its own addresses.
	for _, ip := range c.ProxyIPs {
		w.expect("NLB "+ip.String()+" -> proxy admin port", external(ip), w.proxy, compiler.AdminPort, "", true, "load balancer health check")
		w.expect("NLB "+ip.String()+" -> proxy port 22", external(ip), w.proxy, 22, "", false, "health checks use the admin port only")
	}
	// Only the proxy reaches the remote subnets, on any port.
	for i, subnet := range c.RemoteSubnets {
		host := external(addrAt(subnet, 7))
		for _, port := range []int{22, 443} {
			w.expect(fmt.Sprintf("proxy -> remote subnet %d port %d", i, port), w.proxy, host, port, "", true, "the proxy's destinations")
			for _, ns := range w.managed {
				w.expect(fmt.Sprintf("%s workload -> remote subnet %d port %d", ns.name, i, port), w.workloads[ns.name], host, port, "", false, "only the proxy egresses to the remote subnets")
			}
		}
	}
	for _, r := range c.Resolvers {
		for _, proto := range []string{"UDP", "TCP"} {
			w.expect("proxy -> resolver "+r.String()+" "+proto, w.proxy, external(r), 53, proto, true, "the customer's DNS servers")
		}
	}
	// Nothing reaches the instance metadata service.
	metadata := external(metadataService.Addr())
	w.expect("proxy -> metadata", w.proxy, metadata, 80, "", false, "169.254.169.254 is never reachable")
	for _, ns := range w.managed {
		w.expect(ns.name+" workload -> metadata", w.workloads[ns.name], metadata, 80, "", false, "169.254.169.254 is never reachable")
	}
	// DNS to kube-dns, and nothing else there.
	for _, ns := range w.managed {
		w.expect(ns.name+" workload -> kube-dns 53/UDP", w.workloads[ns.name], w.kubeDNS, 53, "UDP", true, "cluster DNS")
		w.expect(ns.name+" workload -> kube-dns 53/TCP", w.workloads[ns.name], w.kubeDNS, 53, "TCP", true, "cluster DNS")
		if ns.name == w.c.Customer.Cluster.MonitoringNamespace {
			w.expect(ns.name+" workload -> kube-dns 9153", w.workloads[ns.name], w.kubeDNS, 9153, "", true, "monitoring scrapes every pod, kube-system's too")
		} else {
			w.expect(ns.name+" workload -> kube-dns 9153", w.workloads[ns.name], w.kubeDNS, 9153, "", false, "only DNS in kube-system")
		}
	}
	// Namespaces: same namespace and area, monitoring, contracts.
	monitoring := w.c.Customer.Cluster.MonitoringNamespace
	scraper := testenv.Endpoint{Namespace: monitoring, Labels: map[string]string{"app": "prometheus"}, IP: addrAt(c.Subnets[0].CIDR, 60).String()}
	for _, ns := range w.managed {
		allowed, why := w.inCluster(scraper, w.workloads[ns.name], 9100)
		w.expect(fmt.Sprintf("%s -> %s workload (scrape)", monitoring, ns.name), scraper, w.workloads[ns.name], 9100, "", allowed, why)
		for _, other := range w.managed {
			from, to := w.workloads[ns.name], w.workloads[other.name]
			allowed, why := w.inCluster(from, to, 8080)
			w.expect(fmt.Sprintf("%s workload -> %s workload", ns.name, other.name), from, to, 8080, "", allowed, why)
		}
	}
	// The proxy from inside the cluster: its listener ports are the door to
	// the remote subnets, so no other namespace reaches them (monitoring
	// scrapes the admin port).
	clients := map[string]testenv.Endpoint{monitoring + " scraper": scraper}
	for _, ns := range w.managed {
		clients[ns.name+" workload"] = w.workloads[ns.name]
	}
	for _, who := range slices.Sorted(maps.Keys(clients)) {
		from := clients[who]
		allowed, why := w.inCluster(from, w.proxy, compiler.AdminPort)
		w.expect(who+" -> proxy admin port", from, w.proxy, compiler.AdminPort, "", allowed, why)
		for _, l := range c.Listeners {
			allowed, why := w.inCluster(from, w.proxy, l.ContainerPort)
			w.expect(fmt.Sprintf("%s -> proxy %s", who, l.Name), from, w.proxy, l.ContainerPort, "", allowed, why)
		}
	}
	// Other customers: their VPC cannot reach this proxy, and this proxy
	// cannot reach their remote subnets unless the customers share them.
	for _, o := range others {
		intruder := external(addrAt(o.CIDRs[0], 50))
		for _, l := range c.Listeners {
			w.expect(fmt.Sprintf("customer %s VPC -> proxy %s", o.Customer.Name, l.Name), intruder, w.proxy, l.ContainerPort, "", false, "customers are separate")
		}
		for i, subnet := range o.RemoteSubnets {
			if slices.ContainsFunc(c.RemoteSubnets, subnet.Overlaps) {
				continue // shared on purpose (cubebikes and stadtwerke-bielefeld)
			}
			w.expect(fmt.Sprintf("proxy -> customer %s remote subnet %d", o.Customer.Name, i), w.proxy, external(addrAt(subnet, 7)), 443, "", false, "the proxy reaches its own customer's networks only")
		}
	}
}

func (w *world) check(t *testing.T, manifests ...string) {
	t.Helper()
	probes := make([]testenv.Probe, len(w.intents))
	for i, in := range w.intents {
		probes[i] = in.probe
	}
	verdicts := testenv.CheckReachability(t, manifests, probes)
	allowed := 0
	for i, v := range verdicts {
		in := w.intents[i]
		if v.Allowed {
			allowed++
		}
		if v.Allowed != in.allow {
			t.Errorf("%s: oracle says allowed=%t, intended %t (%s); ingress allowed by %v denied by %v, egress allowed by %v denied by %v",
				in.probe.Name, v.Allowed, in.allow, in.why, v.Ingress.AllowedBy, v.Ingress.DeniedBy, v.Egress.AllowedBy, v.Egress.DeniedBy)
		}
	}
	t.Logf("%d probes, %d allowed, %d denied", len(verdicts), allowed, len(verdicts)-allowed)
}

// withContract adds a contract to a copy of customer name's definition.
func withContract(t *testing.T, p *compiler.Plan, name string, k compiler.Contract) *compiler.Plan {
	t.Helper()
	return mutate(t, p, name, func(c *compiler.Customer) {
		c.Cluster.Contracts = append(slices.Clone(c.Cluster.Contracts), k)
	})
}

func TestNetworkPolicyMatrix(t *testing.T) {
	p := fleettest.SamplePlan(t)
	// wacker gets a contract from its "tools" area to grafana in "mla", so
	// that an area-wide contract is judged as well as wobcom's namespace one.
	p = withContract(t, p, "wacker", compiler.Contract{
		From:  compiler.ContractPeer{Area: "tools"},
		To:    compiler.ContractTarget{Namespace: "mla", PodLabels: map[string]string{"app": "grafana"}},
		Ports: []compiler.ContractPort{{Port: 3000, Protocol: "TCP"}},
	})
	files := mustRender(t, p)
	dir := t.TempDir()
	for i := range p.Customers {
		c := &p.Customers[i]
		t.Run(c.Customer.Name, func(t *testing.T) {
			manifests := filepath.Join(dir, c.Customer.Name+".yaml")
			if err := os.WriteFile(manifests, files[ClusterDir(c.Customer.Name)+"/"+RenderedFile], 0o644); err != nil {
				t.Fatal(err)
			}
			var others []*compiler.CustomerPlan
			for j := range p.Customers {
				if j != i {
					others = append(others, &p.Customers[j])
				}
			}
			w := newWorld(t, p, c)
			w.build(others)
			if c.Customer.Name == "wacker" {
				grafana := testenv.Endpoint{Namespace: "mla", Labels: map[string]string{"app": "grafana"}, IP: addrAt(c.Subnets[0].CIDR, 70).String()}
				tools := w.workloads["ticketing"]
				w.expect("ticketing -> grafana 3000 (area contract)", tools, grafana, 3000, "", true, "contract from area tools")
				w.expect("ticketing -> grafana 3001", tools, grafana, 3001, "", false, "the contract names port 3000 only")
				w.expect("ticketing -> mla workload 3000", tools, w.workloads["mla"], 3000, "", false, "the contract selects grafana pods only")
				w.expect("vsoc-proxy workload -> grafana 3000", w.workloads[compiler.ProxyNamespace], grafana, 3000, "", false, "the contract is for area tools")
			}
			w.check(t, manifests)
		})
	}
}

// TestMetadataServiceCarvedOut covers the case no sample customer has: a
// remote subnet wide enough to contain 169.254.169.254 gets an explicit
// except, and one that is only the metadata service is refused.
func TestMetadataServiceCarvedOut(t *testing.T) {
	wide, err := ipBlock(netip.MustParsePrefix("169.254.0.0/16"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(wide.IPBlock.Except, []string{"169.254.169.254/32"}) {
		t.Errorf("169.254.0.0/16: except %v, want the metadata service", wide.IPBlock.Except)
	}
	narrow, err := ipBlock(netip.MustParsePrefix("10.0.0.0/8"))
	if err != nil || len(narrow.IPBlock.Except) != 0 {
		t.Errorf("10.0.0.0/8: except %v, err %v; want none", narrow.IPBlock.Except, err)
	}
	if _, err := ipBlock(netip.MustParsePrefix("169.254.169.254/32")); err == nil || !strings.Contains(err.Error(), "metadata") {
		t.Errorf("169.254.169.254/32: err %v, want a refusal naming the metadata service", err)
	}
}

// TestProxyAreaIsPrivate: the proxy's network area admits no other
// namespace. A declared namespace in it is refused (TestBadInput); this
// covers one labelled with the area by hand, outside vsoc, which must not
// reach the proxy's ports nor be reached by the proxy.
func TestProxyAreaIsPrivate(t *testing.T) {
	p := fleettest.SamplePlan(t)
	files := mustRender(t, p)
	dir := t.TempDir()
	for i := range p.Customers {
		c := &p.Customers[i]
		t.Run(c.Customer.Name, func(t *testing.T) {
			w := newWorld(t, p, c)
			area := w.area(compiler.ProxyNamespace)
			rendered := filepath.Join(dir, c.Customer.Name+".yaml")
			if err := os.WriteFile(rendered, files[ClusterDir(c.Customer.Name)+"/"+RenderedFile], 0o644); err != nil {
				t.Fatal(err)
			}
			const intruderNamespace = "intruder"
			labelled := filepath.Join(dir, c.Customer.Name+"-intruder.yaml")
			namespace := fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels:\n    %s: %s\n    %s: %s\n",
				intruderNamespace, namespaceNameLabel, intruderNamespace, areaLabel, area)
			if err := os.WriteFile(labelled, []byte(namespace), 0o644); err != nil {
				t.Fatal(err)
			}
			intruder := testenv.Endpoint{Namespace: intruderNamespace, Labels: map[string]string{"app": "workload"}, IP: addrAt(c.Subnets[0].CIDR, 80).String()}
			why := "the proxy's area " + area + " is its own"
			w.expect("intruder -> proxy admin port", intruder, w.proxy, compiler.AdminPort, "", false, why)
			for _, l := range c.Listeners {
				w.expect("intruder -> proxy "+l.Name, intruder, w.proxy, l.ContainerPort, "", false, why)
			}
			w.expect("proxy -> intruder", w.proxy, intruder, 8080, "", false, why)
			w.expect("vsoc-proxy workload -> intruder", w.workloads[compiler.ProxyNamespace], intruder, 8080, "", false, why)
			w.check(t, rendered, labelled)
		})
	}
}
