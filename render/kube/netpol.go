package kube

import (
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/sniproxy"
)

// The NetworkPolicies follow seed 004: every managed namespace denies ingress
// and egress by default, and each allowance is a policy of its own whose name
// says why it exists.

// metadataService is the instance metadata endpoint: no egress rule may
// reach it (it hands out the node's credentials).
var metadataService = netip.MustParsePrefix("169.254.169.254/32")

// proxyArea is the network area of the proxy's namespace when the customer
// does not put it in one. Whichever it is, the proxy's area is its own: an
// area means traffic within it is allowed, and the proxy's listener ports
// are the door to the customer's networks (managedNamespaces refuses another
// namespace in it, baselinePolicies gives the proxy's namespace no area
// policy).
const proxyArea = "vsoc-proxy"

// managedNamespace is a namespace vsoc creates and fences in.
type managedNamespace struct {
	name, area string
	// holdsProxy marks the proxy's namespace, whose baseline admits no
	// area and lets monitoring reach the admin port only.
	holdsProxy bool
}

// networkPolicy is the common frame of every rendered policy.
func networkPolicy(namespace, name, customer string, pods map[string]string, types ...networkingv1.PolicyType) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: objectLabels(customer, nil)},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: pods},
			PolicyTypes: types,
		},
	}
}

var (
	ingressOnly = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	egressOnly  = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	both        = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
)

func namespacePeer(name string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{namespaceNameLabel: name}}}
}

func areaPeer(area string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{areaLabel: area}}}
}

func port(n int, protocol corev1.Protocol) networkingv1.NetworkPolicyPort {
	p := intstr.FromInt32(int32(n))
	return networkingv1.NetworkPolicyPort{Protocol: &protocol, Port: &p}
}

// ipBlock allows prefix, carving the metadata service out of a block that
// would cover it. A block that is nothing but the metadata service is refused.
func ipBlock(prefix netip.Prefix) (networkingv1.NetworkPolicyPeer, error) {
	prefix = prefix.Masked()
	block := &networkingv1.IPBlock{CIDR: prefix.String()}
	if prefix.Overlaps(metadataService) {
		if prefix.Bits() >= metadataService.Bits() {
			return networkingv1.NetworkPolicyPeer{}, fmt.Errorf("%s is the instance metadata service %s, which no pod may reach", prefix, metadataService.Addr())
		}
		block.Except = []string{metadataService.String()}
	}
	return networkingv1.NetworkPolicyPeer{IPBlock: block}, nil
}

// baselinePolicies are the policies of every managed namespace: deny by
// default, DNS to kube-dns, the namespace itself, its area, and scraping by
// the monitoring namespace. The proxy's namespace gets no area policy and
// is scraped on the admin port only: any other allowance there would open
// the listener ports, which proxyPolicies keeps for the operators.
func baselinePolicies(ns managedNamespace, customer, monitoring string) []*networkingv1.NetworkPolicy {
	all := map[string]string{}
	deny := networkPolicy(ns.name, "vsoc-default-deny", customer, all, both...)

	dns := networkPolicy(ns.name, "vsoc-allow-dns", customer, all, egressOnly...)
	dns.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{
		To: []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{namespaceNameLabel: "kube-system"}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
		}},
		Ports: []networkingv1.NetworkPolicyPort{port(53, corev1.ProtocolUDP), port(53, corev1.ProtocolTCP)},
	}}

	sameNamespace := networkPolicy(ns.name, "vsoc-allow-same-namespace", customer, all, both...)
	self := []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}
	sameNamespace.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: self}}
	sameNamespace.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: self}}

	policies := []*networkingv1.NetworkPolicy{deny, dns, sameNamespace}
	// No other managed namespace is in the proxy's area, so a policy for it
	// there would only admit a namespace labelled with the area outside vsoc.
	if !ns.holdsProxy {
		sameArea := networkPolicy(ns.name, "vsoc-allow-same-area", customer, all, both...)
		area := []networkingv1.NetworkPolicyPeer{areaPeer(ns.area)}
		sameArea.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: area}}
		sameArea.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: area}}
		policies = append(policies, sameArea)
	}
	if ns.name == monitoring {
		// The monitoring namespace scrapes every pod of the cluster (and
		// only pods: an empty namespaceSelector matches no external address).
		scrape := networkPolicy(ns.name, "vsoc-allow-scrape", customer, all, egressOnly...)
		scrape.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{
			To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}},
		}}
		return append(policies, scrape)
	}
	monitor := networkPolicy(ns.name, "vsoc-allow-monitoring", customer, all, ingressOnly...)
	scrape := networkingv1.NetworkPolicyIngressRule{From: []networkingv1.NetworkPolicyPeer{namespacePeer(monitoring)}}
	if ns.holdsProxy {
		// The proxy serves its metrics on the admin port.
		scrape.Ports = []networkingv1.NetworkPolicyPort{port(compiler.AdminPort, corev1.ProtocolTCP)}
	}
	monitor.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{scrape}
	return append(policies, monitor)
}

// proxyPolicies fence the proxy pods: their listener ports only from the hub
// and the Client VPN pool, the admin port from the NLB's own addresses (its
// health checks), and egress only to what the proxy's own configuration may
// dial (the remote subnets, the static targets, the resolvers on 53).
func proxyPolicies(p *compiler.Plan, c *compiler.CustomerPlan, cfg *sniproxy.Config) ([]*networkingv1.NetworkPolicy, error) {
	customer := c.Customer.Name
	pods := proxySelector()

	ingress := networkPolicy(compiler.ProxyNamespace, "vsoc-sniproxy-ingress", customer, pods, ingressOnly...)
	var operators []networkingv1.NetworkPolicyPeer
	for _, src := range []netip.Prefix{p.Hub.CIDR, p.Hub.ClientCIDR} {
		peer, err := ipBlock(src)
		if err != nil {
			return nil, fmt.Errorf("operator range: %w", err)
		}
		operators = append(operators, peer)
	}
	var listenerPorts []networkingv1.NetworkPolicyPort
	for _, l := range c.Listeners {
		listenerPorts = append(listenerPorts, port(l.ContainerPort, corev1.ProtocolTCP))
	}
	var balancer []networkingv1.NetworkPolicyPeer
	for _, ip := range c.ProxyIPs {
		peer, err := ipBlock(netip.PrefixFrom(ip, ip.BitLen()))
		if err != nil {
			return nil, fmt.Errorf("proxy IP: %w", err)
		}
		balancer = append(balancer, peer)
	}
	ingress.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{
		{From: operators, Ports: listenerPorts},
		{From: balancer, Ports: []networkingv1.NetworkPolicyPort{port(compiler.AdminPort, corev1.ProtocolTCP)}},
	}

	egress := networkPolicy(compiler.ProxyNamespace, "vsoc-sniproxy-egress", customer, pods, egressOnly...)
	var destinations []networkingv1.NetworkPolicyPeer
	for _, d := range cfg.AllowedDestinations {
		peer, err := ipBlock(d)
		if err != nil {
			return nil, fmt.Errorf("remote subnet: %w", err)
		}
		destinations = append(destinations, peer)
	}
	if len(destinations) > 0 {
		egress.Spec.Egress = append(egress.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: destinations})
	}
	// Static targets and resolvers lie inside the remote subnets (the
	// validator checks it), but they get their own exact rules so that the
	// policy still says what the proxy dials if a subnet is narrowed.
	for _, s := range cfg.Static {
		peer, err := ipBlock(netip.PrefixFrom(s.Target.Addr(), s.Target.Addr().BitLen()))
		if err != nil {
			return nil, fmt.Errorf("static target of %s: %w", s.Host, err)
		}
		egress.Spec.Egress = append(egress.Spec.Egress, networkingv1.NetworkPolicyEgressRule{
			To: []networkingv1.NetworkPolicyPeer{peer}, Ports: []networkingv1.NetworkPolicyPort{port(int(s.Target.Port()), corev1.ProtocolTCP)},
		})
	}
	var resolvers []networkingv1.NetworkPolicyPeer
	resolverPorts := map[uint16]bool{}
	for _, r := range cfg.Resolvers {
		peer, err := ipBlock(netip.PrefixFrom(r.Addr(), r.Addr().BitLen()))
		if err != nil {
			return nil, fmt.Errorf("resolver: %w", err)
		}
		resolvers = append(resolvers, peer)
		resolverPorts[r.Port()] = true
	}
	if len(resolvers) > 0 {
		var ports []networkingv1.NetworkPolicyPort
		for _, n := range sortedKeys(resolverPorts) {
			ports = append(ports, port(int(n), corev1.ProtocolUDP), port(int(n), corev1.ProtocolTCP))
		}
		egress.Spec.Egress = append(egress.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: resolvers, Ports: ports})
	}
	return []*networkingv1.NetworkPolicy{ingress, egress}, nil
}

// contractPolicies turn the customer's contracts into policies: ingress at
// the target pods, and egress from every managed namespace of the source
// (whose default deny would otherwise stop the traffic on its way out).
func contractPolicies(p *compiler.Plan, c *compiler.CustomerPlan, managed []managedNamespace) ([]*networkingv1.NetworkPolicy, error) {
	customer := c.Customer.Name
	isManaged := func(name string) bool {
		return slices.ContainsFunc(managed, func(m managedNamespace) bool { return m.name == name })
	}
	var out []*networkingv1.NetworkPolicy
	for i, contract := range c.Customer.Cluster.Contracts {
		at := where(p, "customers", customer, "cluster", "contracts", i)
		if !isManaged(contract.To.Namespace) {
			return nil, fmt.Errorf("%s: customer %s: contract %d targets namespace %q, which is not a managed namespace (hint: declare it under cluster.namespaces)",
				at, customer, i+1, contract.To.Namespace)
		}
		var from networkingv1.NetworkPolicyPeer
		var sources []string
		switch {
		case contract.From.Namespace != "" && contract.From.Area == "":
			from = namespacePeer(contract.From.Namespace)
			if isManaged(contract.From.Namespace) {
				sources = []string{contract.From.Namespace}
			}
		case contract.From.Area != "" && contract.From.Namespace == "":
			from = areaPeer(contract.From.Area)
			for _, m := range managed {
				if m.area == contract.From.Area {
					sources = append(sources, m.name)
				}
			}
		default:
			return nil, fmt.Errorf("%s: customer %s: contract %d needs exactly one of from.namespace and from.area", at, customer, i+1)
		}
		var ports []networkingv1.NetworkPolicyPort
		for _, cp := range contract.Ports {
			protocol := corev1.Protocol(cp.Protocol)
			if protocol == "" {
				protocol = corev1.ProtocolTCP
			}
			ports = append(ports, port(cp.Port, protocol))
		}
		name := fmt.Sprintf("vsoc-contract-%d", i+1)
		ingress := networkPolicy(contract.To.Namespace, name+"-ingress", customer, contract.To.PodLabels, ingressOnly...)
		ingress.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{from}, Ports: ports}}
		out = append(out, ingress)

		target := namespacePeer(contract.To.Namespace)
		target.PodSelector = &metav1.LabelSelector{MatchLabels: contract.To.PodLabels}
		for _, src := range sources {
			egress := networkPolicy(src, name+"-egress", customer, map[string]string{}, egressOnly...)
			egress.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{target}, Ports: ports}}
			out = append(out, egress)
		}
	}
	return out, nil
}

// where names the source position of a model value for an error message,
// falling back to its JSON pointer for a plan built without positions.
func where(p *compiler.Plan, elems ...any) string {
	pointer := compiler.Pointer(elems...)
	if p.Fleet != nil && p.Fleet.Positions != nil {
		if pos, ok := p.Fleet.Positions.Lookup(pointer); ok {
			return pos.String()
		}
	}
	return pointer
}

func sortedKeys[K interface{ ~uint16 | ~string }, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
