// Package kube renders the Kubernetes side of the fleet as a kustomize tree:
//
//	kube/base/                   the proxy's customer-independent objects
//	kube/clusters/hub/           the hub cluster (shared services' namespaces)
//	kube/clusters/<customer>/    one overlay per customer cluster
//
// Each cluster folder holds a kustomization.yaml that `kubectl kustomize`,
// Argo CD and Flux consume as it is, resources.yaml with the cluster's own
// objects, and rendered.yaml, the flattened manifests for review and for
// server-side apply. Objects are typed
// (k8s.io/api) and encoded with sigs.k8s.io/yaml, so the bytes do not depend
// on map order.
//
// rendered.yaml is written directly from the same objects rather than by
// running kustomize for every cluster: krusty costs milliseconds per cluster,
// which at 10,000 customers would dominate the whole build. The tests run
// krusty on every cluster of the sample fleet and on a synthetic fleet and
// require byte-identical output.
package kube

import (
	"context"
	"fmt"
	"net/netip"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	kustomize "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/resid"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/render/dns"
	"github.com/vsoc/vsoc/render/internal/fastyaml"
	"github.com/vsoc/vsoc/render/proxy"
	"github.com/vsoc/vsoc/sniproxy"
)

// Output layout, relative to OUT.
const (
	baseDir = "kube/base"
	// HubCluster is the hub's cluster folder name and its vsoc.io/customer
	// label value.
	HubCluster = "hub"
	// RenderedFile is the flattened output in every cluster folder.
	RenderedFile = "rendered.yaml"
	// KustomizationFile is kustomize's entry point in every folder.
	KustomizationFile = "kustomization.yaml"
)

// ClusterDir is the kustomize folder of a cluster ("hub" or a customer).
func ClusterDir(cluster string) string { return "kube/clusters/" + cluster }

// resourcesFile holds a cluster overlay's own objects: its namespaces, the
// proxy's configuration and Service, the NetworkPolicies and the CoreDNS
// forwarding, in that order. One file rather than one per kind: at 10,000
// customers every file of an overlay is 10,000 files to create (and to
// remove on the next build), the largest part of a build's system time.
const resourcesFile = "resources.yaml"

var (
	namespaceGVK      = schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}
	serviceAccountGVK = schema.GroupVersionKind{Version: "v1", Kind: "ServiceAccount"}
	configMapGVK      = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	serviceGVK        = schema.GroupVersionKind{Version: "v1", Kind: "Service"}
	deploymentGVK     = appsv1.SchemeGroupVersion.WithKind("Deployment")
	pdbGVK            = policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget")
	networkPolicyGVK  = networkingv1.SchemeGroupVersion.WithKind("NetworkPolicy")
)

// Render writes the base, the hub cluster and one overlay per customer.
// Customers are rendered in parallel; the result does not depend on it.
func Render(p *compiler.Plan) (map[string][]byte, error) {
	// Sized for the three files of every customer's overlay.
	files := make(map[string][]byte, 3*len(p.Customers))
	enc := fastyaml.NewEncoder()
	base, err := renderBase(enc)
	if err != nil {
		return nil, err
	}
	for name, content := range base {
		files[path.Join(baseDir, name)] = content
	}
	hub, err := renderHub(enc, p)
	if err != nil {
		return nil, err
	}
	addCluster(files, HubCluster, hub)

	// A few long-lived workers, each with its own encoder: the encoder's
	// cache of formatted strings is what makes encoding cheap, and it is
	// not safe for concurrent use.
	overlays := make([]map[string][]byte, len(p.Customers))
	var next atomic.Int64
	g, gctx := errgroup.WithContext(context.Background())
	for range min(runtime.GOMAXPROCS(0), len(p.Customers)) {
		g.Go(func() error {
			enc := fastyaml.NewEncoder()
			for {
				i := int(next.Add(1) - 1)
				// Another worker's error ends the render: stop early.
				if i >= len(p.Customers) || gctx.Err() != nil {
					return nil
				}
				var err error
				if overlays[i], err = renderCustomer(enc, p, &p.Customers[i]); err != nil {
					return err
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, overlay := range overlays {
		addCluster(files, p.Customers[i].Customer.Name, overlay)
	}
	return files, nil
}

func addCluster(files map[string][]byte, cluster string, overlay map[string][]byte) {
	for name, content := range overlay {
		files[path.Join(ClusterDir(cluster), name)] = content
	}
}

// baseManifests are the objects every customer cluster shares, before the
// overlay's transformers (customer label, replicas, listener ports).
func baseManifests(enc *fastyaml.Encoder) ([]manifest, error) {
	return encodeAll(enc,
		object{serviceAccountGVK, compiler.ProxyNamespace, appName, serviceAccount("")},
		object{deploymentGVK, compiler.ProxyNamespace, appName, deployment("", baseReplicas, nil)},
		object{pdbGVK, compiler.ProxyNamespace, appName, podDisruptionBudget("")},
	)
}

// Files of the base folder.
const (
	serviceAccountFile = "serviceaccount.yaml"
	deploymentFile     = "deployment.yaml"
	pdbFile            = "poddisruptionbudget.yaml"
)

func renderBase(enc *fastyaml.Encoder) (map[string][]byte, error) {
	ms, err := baseManifests(enc)
	if err != nil {
		return nil, err
	}
	k := newKustomization(serviceAccountFile, deploymentFile, pdbFile)
	kfile, err := encodeKustomization(enc, k)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		KustomizationFile:  kfile,
		serviceAccountFile: ms[0].yaml,
		deploymentFile:     ms[1].yaml,
		pdbFile:            ms[2].yaml,
	}, nil
}

// object is a typed object waiting to be encoded.
type object struct {
	gvk             schema.GroupVersionKind
	namespace, name string
	obj             any
}

// encodeAll encodes objects in one batch (see fastyaml.Encoder.MarshalAll).
func encodeAll(enc *fastyaml.Encoder, objs ...object) ([]manifest, error) {
	values := make([]any, len(objs))
	for i, o := range objs {
		values[i] = o.obj
	}
	encoded, err := enc.MarshalAll(values...)
	if err != nil {
		// Encoded one by one, the object at fault is named.
		for _, o := range objs {
			if _, err := encode(enc, o.gvk, o.namespace, o.name, o.obj); err != nil {
				return nil, err
			}
		}
		return nil, err
	}
	out := make([]manifest, len(objs))
	for i, o := range objs {
		out[i] = newManifest(o.gvk, o.namespace, o.name, o.obj, encoded[i])
	}
	return out, nil
}

func newKustomization(resources ...string) *kustomize.Kustomization {
	return &kustomize.Kustomization{
		TypeMeta:  kustomize.TypeMeta{APIVersion: kustomize.KustomizationVersion, Kind: kustomize.KustomizationKind},
		Resources: resources,
	}
}

// newOverlay is a cluster's kustomization. It names its sort order: the
// kustomize CLI, krusty's defaults, Argo CD and Flux differ in theirs, and
// the legacy order (namespaces first) is the one rendered.yaml has.
func newOverlay(resources ...string) *kustomize.Kustomization {
	k := newKustomization(resources...)
	k.SortOptions = &kustomize.SortOptions{Order: kustomize.LegacySortOrder}
	return k
}

func encodeKustomization(enc *fastyaml.Encoder, k *kustomize.Kustomization) ([]byte, error) {
	out, err := enc.Marshal(k)
	if err != nil {
		return nil, fmt.Errorf("encoding a kustomization: %w", err)
	}
	return out, nil
}

// clusterOutput collects an overlay's own objects and the objects of its
// flattened output.
type clusterOutput struct {
	own      []manifest
	rendered []manifest
}

// add adds objects of the overlay's own.
func (c *clusterOutput) add(ms []manifest) {
	c.own = append(c.own, ms...)
	c.rendered = append(c.rendered, ms...)
}

// finish writes the overlay's files; k's resources are completed with the
// overlay's own file, if it has objects of its own.
func (c *clusterOutput) finish(enc *fastyaml.Encoder, k *kustomize.Kustomization) (map[string][]byte, error) {
	files := map[string][]byte{}
	if len(c.own) > 0 {
		files[resourcesFile] = joinDocuments(c.own)
		k.Resources = append(k.Resources, resourcesFile)
	}
	kfile, err := encodeKustomization(enc, k)
	if err != nil {
		return nil, err
	}
	files[KustomizationFile] = kfile
	files[RenderedFile] = flatten(c.rendered)
	return files, nil
}

// renderCustomer builds a customer cluster's overlay.
func renderCustomer(enc *fastyaml.Encoder, p *compiler.Plan, c *compiler.CustomerPlan) (map[string][]byte, error) {
	name := c.Customer.Name
	if name == HubCluster {
		return nil, fmt.Errorf("%s: customer %q: the name is taken by the hub cluster's folder %s (hint: rename the customer)",
			where(p, "customers", name), name, ClusterDir(HubCluster))
	}
	cfg, err := proxy.Config(p, c)
	if err != nil {
		return nil, err
	}
	managed, err := managedNamespaces(p, c)
	if err != nil {
		return nil, err
	}
	// The schema requires at least 2; a plan built without it (a test, a
	// library user) still gets the proxy's minimum for availability.
	replicas := int32(c.Customer.Proxy.Replicas)
	if replicas < baseReplicas {
		replicas = baseReplicas
	}
	svc, err := service(p, c)
	if err != nil {
		return nil, err
	}
	policies, err := customerPolicies(p, c, cfg, managed)
	if err != nil {
		return nil, err
	}
	// The proxy's configuration is a string in the ConfigMap: it is
	// encoded first, and the objects then in one batch.
	config, err := enc.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("customer %s: encoding the proxy config: %w", name, err)
	}
	// The base's objects, as the overlay's transformers leave them, then
	// the overlay's own.
	objs := []object{
		{serviceAccountGVK, compiler.ProxyNamespace, appName, serviceAccount(name)},
		{deploymentGVK, compiler.ProxyNamespace, appName, deployment(name, replicas, c.Listeners)},
		{pdbGVK, compiler.ProxyNamespace, appName, podDisruptionBudget(name)},
	}
	transformed := len(objs)
	for _, ns := range managed {
		var extra map[string]string
		if ns.name == compiler.ProxyNamespace {
			extra = proxyNamespaceLabels
		}
		objs = append(objs, object{namespaceGVK, "", ns.name, namespaceObject(ns.name, name, ns.area, extra)})
	}
	objs = append(objs,
		object{configMapGVK, compiler.ProxyNamespace, configMapName, configMap(compiler.ProxyNamespace, configMapName, name, map[string]string{configFile: string(config)})},
		object{serviceGVK, compiler.ProxyNamespace, appName, svc},
	)
	objs = append(objs, policyObjects(policies)...)
	if c.Customer.DNS.Mode == "coredns" {
		objs = append(objs, object{configMapGVK, "kube-system", coreDNSConfigMap,
			configMap("kube-system", coreDNSConfigMap, name, map[string]string{coreDNSServerKey: dns.ForwardingServerBlock(c)})})
	}
	ms, err := encodeAll(enc, objs...)
	if err != nil {
		return nil, err
	}
	out := &clusterOutput{rendered: slices.Clone(ms[:transformed])}
	out.add(ms[transformed:])

	k := newOverlay("../../base")
	// includeTemplates: the pods carry the customer label too, so that
	// audit and pruning see whose they are.
	k.Labels = []kustomize.Label{{Pairs: map[string]string{customerLabel: name}, IncludeTemplates: true}}
	k.Replicas = []kustomize.Replica{{Name: appName, Count: int64(replicas)}}
	if len(c.Listeners) > 0 {
		patch, err := listenerPortsPatch(enc, c.Listeners)
		if err != nil {
			return nil, fmt.Errorf("customer %s: %w", name, err)
		}
		k.Patches = []kustomize.Patch{{
			Target: &kustomize.Selector{ResId: resIDOf(deploymentGVK, compiler.ProxyNamespace, appName)},
			Patch:  patch,
		}}
	}
	return out.finish(enc, k)
}

// The CoreDNS forwarding of DNS mode "coredns": the coredns-custom ConfigMap
// whose *.server keys the cluster's CoreDNS imports (EKS and AKS convention).
const (
	coreDNSConfigMap = "coredns-custom"
	coreDNSServerKey = "vsoc.server"
)

// listenerPortsPatch is the JSON 6902 patch adding the listener ports to the
// base Deployment's container, after the admin port.
func listenerPortsPatch(enc *fastyaml.Encoder, listeners []compiler.Listener) (string, error) {
	type op struct {
		Op    string               `json:"op"`
		Path  string               `json:"path"`
		Value corev1.ContainerPort `json:"value"`
	}
	ops := make([]op, len(listeners))
	for i, p := range containerPorts(listeners) {
		ops[i] = op{Op: "add", Path: "/spec/template/spec/containers/0/ports/-", Value: p}
	}
	out, err := enc.Marshal(ops)
	if err != nil {
		return "", fmt.Errorf("encoding the listener ports patch: %w", err)
	}
	return string(out), nil
}

// managedNamespaces are the customer's declared namespaces plus the proxy's,
// sorted by name, each with a valid name and area, none but the proxy's in
// the proxy's area.
func managedNamespaces(p *compiler.Plan, c *compiler.CustomerPlan) ([]managedNamespace, error) {
	declared := c.Customer.Cluster.Namespaces
	out := make([]managedNamespace, 0, len(declared)+1)
	proxyNamespaceArea := proxyArea
	if ns, ok := declared[compiler.ProxyNamespace]; ok {
		proxyNamespaceArea = ns.Area
	} else {
		out = append(out, managedNamespace{name: compiler.ProxyNamespace, area: proxyArea, holdsProxy: true})
	}
	for _, name := range sortedKeys(declared) {
		at := where(p, "customers", c.Customer.Name, "cluster", "namespaces", name)
		if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
			return nil, fmt.Errorf("%s: customer %s: namespace %q: %s (hint: lower-case letters, digits and '-')", at, c.Customer.Name, name, strings.Join(errs, "; "))
		}
		area := declared[name].Area
		if errs := validation.IsValidLabelValue(area); len(errs) > 0 || area == "" {
			return nil, fmt.Errorf("%s: customer %s: namespace %q: area %q is not a label value: %s (hint: letters, digits, '-', '_' and '.')", at, c.Customer.Name, name, area, strings.Join(errs, "; "))
		}
		if name != compiler.ProxyNamespace && area == proxyNamespaceArea {
			return nil, fmt.Errorf("%s: customer %s: namespace %q: area %q is kept for the proxy (namespace %s), whose listener ports lead into the customer's networks and are for the operators only (hint: choose another area)",
				at, c.Customer.Name, name, area, compiler.ProxyNamespace)
		}
		out = append(out, managedNamespace{name: name, area: area, holdsProxy: name == compiler.ProxyNamespace})
	}
	slices.SortFunc(out, func(a, b managedNamespace) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// customerPolicies are every NetworkPolicy of a customer cluster.
func customerPolicies(p *compiler.Plan, c *compiler.CustomerPlan, cfg *sniproxy.Config, managed []managedNamespace) ([]*networkingv1.NetworkPolicy, error) {
	monitoring := c.Customer.Cluster.MonitoringNamespace
	var policies []*networkingv1.NetworkPolicy
	for _, ns := range managed {
		policies = append(policies, baselinePolicies(ns, c.Customer.Name, monitoring)...)
	}
	proxyPols, err := proxyPolicies(p, c, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: customer %s: %w", where(p, "customers", c.Customer.Name, "vpn", "remoteSubnets"), c.Customer.Name, err)
	}
	contracts, err := contractPolicies(p, c, managed)
	if err != nil {
		return nil, err
	}
	return append(append(policies, proxyPols...), contracts...), nil
}

// policyObjects are policies sorted by namespace and name, so the file
// reads namespace by namespace.
func policyObjects(policies []*networkingv1.NetworkPolicy) []object {
	slices.SortFunc(policies, func(a, b *networkingv1.NetworkPolicy) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	objs := make([]object, len(policies))
	for i, np := range policies {
		objs[i] = object{networkPolicyGVK, np.Namespace, np.Name, np}
	}
	return objs
}

// renderHub builds the hub cluster: a namespace per shared service, fenced
// like a customer's namespaces, reachable by the operators.
func renderHub(enc *fastyaml.Encoder, p *compiler.Plan) (map[string][]byte, error) {
	out := &clusterOutput{}
	var namespaces []object
	var policies []*networkingv1.NetworkPolicy
	for _, name := range sortedKeys(p.Hub.Hub.SharedServices) {
		if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
			return nil, fmt.Errorf("%s: shared service %q cannot be a namespace name: %s (hint: lower-case letters, digits and '-')",
				where(p, "hub", "sharedServices", name), name, strings.Join(errs, "; "))
		}
		ns := managedNamespace{name: name, area: hubSharedArea}
		namespaces = append(namespaces, object{namespaceGVK, "", name, namespaceObject(name, HubCluster, hubSharedArea, nil)})
		policies = append(policies, baselinePolicies(ns, HubCluster, hubMonitoringNamespace)...)
		operators := networkPolicy(name, "vsoc-allow-operators", HubCluster, map[string]string{}, ingressOnly...)
		var from []networkingv1.NetworkPolicyPeer
		for _, src := range []netip.Prefix{p.Hub.CIDR, p.Hub.ClientCIDR} {
			peer, err := ipBlock(src)
			if err != nil {
				return nil, fmt.Errorf("%s: hub: %w", where(p, "hub"), err)
			}
			from = append(from, peer)
		}
		operators.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: from}}
		policies = append(policies, operators)
	}
	ms, err := encodeAll(enc, namespaces...)
	if err != nil {
		return nil, err
	}
	out.add(ms)
	pms, err := encodeAll(enc, policyObjects(policies)...)
	if err != nil {
		return nil, err
	}
	out.add(pms)
	return out.finish(enc, newOverlay())
}

// The hub cluster's shared services share one area; its monitoring
// namespace is the conventional one (the model does not name it).
const (
	hubSharedArea          = "shared-services"
	hubMonitoringNamespace = "monitoring"
)

func resIDOf(gvk schema.GroupVersionKind, namespace, name string) resid.ResId {
	return resid.NewResIdWithNamespace(resid.NewGvk(gvk.Group, gvk.Version, gvk.Kind), name, namespace)
}
