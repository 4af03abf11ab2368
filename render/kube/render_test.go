package kube

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/fleettest"
	"github.com/vsoc/vsoc/internal/golden"
	"github.com/vsoc/vsoc/render/dns"
)

func mustRender(t testing.TB, p *compiler.Plan) map[string][]byte {
	t.Helper()
	files, err := Render(p)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return files
}

// clusters are the cluster names of a plan: the hub and every customer.
func clusters(p *compiler.Plan) []string {
	out := []string{HubCluster}
	for _, c := range p.Customers {
		out = append(out, c.Customer.Name)
	}
	return out
}

func TestGolden(t *testing.T) {
	golden.CheckTree(t, "kube", mustRender(t, fleettest.SamplePlan(t)))
}

func TestDeterministic(t *testing.T) {
	fleettest.CheckDeterministic(t, Render)
}

// TestFlattenMatchesKrusty is the proof behind writing rendered.yaml
// directly: for every cluster, kustomize's own build of the tree (base plus
// overlay, with its transformers and patch) gives exactly those bytes.
func TestFlattenMatchesKrusty(t *testing.T) {
	fleettest.SampleAndSynthetic(t, 25, func(t *testing.T, p *compiler.Plan) {
		files := mustRender(t, p)
		for _, cluster := range clusters(p) {
			built, err := kustomizeBuild(files, cluster)
			if err != nil {
				t.Fatalf("%v", err)
			}
			rendered := files[ClusterDir(cluster)+"/"+RenderedFile]
			if diff := cmp.Diff(string(built), string(rendered)); diff != "" {
				t.Errorf("cluster %s: rendered.yaml differs from kustomize build (-krusty +rendered):\n%s", cluster, diff)
			}
		}
	})
}

// documents splits a rendered file into objects.
func documents(t testing.TB, content []byte) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(string(content), "\n---\n") {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatalf("decoding a rendered document: %v\n%s", err, doc)
		}
		out = append(out, obj)
	}
	return out
}

func find(t testing.TB, objs []*unstructured.Unstructured, kind, namespace, name string, into any) {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetNamespace() == namespace && o.GetName() == name {
			raw, err := yaml.Marshal(o.Object)
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(raw, into); err != nil {
				t.Fatalf("decoding %s %s/%s: %v", kind, namespace, name, err)
			}
			return
		}
	}
	t.Fatalf("no %s %s/%s in the rendered output", kind, namespace, name)
}

func TestEveryObjectIsLabelled(t *testing.T) {
	p := fleettest.SamplePlan(t)
	files := mustRender(t, p)
	for _, cluster := range clusters(p) {
		for _, o := range documents(t, files[ClusterDir(cluster)+"/"+RenderedFile]) {
			labels := o.GetLabels()
			if labels[managedByLabel] != managedBy || labels[customerLabel] != cluster {
				t.Errorf("cluster %s: %s %s/%s has labels %v, want %s=%s and %s=%s",
					cluster, o.GetKind(), o.GetNamespace(), o.GetName(), labels, managedByLabel, managedBy, customerLabel, cluster)
			}
		}
	}
}

func TestProxyDeploymentAndService(t *testing.T) {
	p := fleettest.SamplePlan(t)
	files := mustRender(t, p)
	for i := range p.Customers {
		c := &p.Customers[i]
		name := c.Customer.Name
		t.Run(name, func(t *testing.T) {
			objs := documents(t, files[ClusterDir(name)+"/"+RenderedFile])
			var d appsv1.Deployment
			find(t, objs, "Deployment", compiler.ProxyNamespace, appName, &d)
			if *d.Spec.Replicas < 2 || int(*d.Spec.Replicas) != max(2, c.Customer.Proxy.Replicas) {
				t.Errorf("replicas %d, want the customer's %d (at least 2)", *d.Spec.Replicas, c.Customer.Proxy.Replicas)
			}
			spec := d.Spec.Template.Spec
			if len(spec.TopologySpreadConstraints) == 0 || spec.TopologySpreadConstraints[0].TopologyKey != zoneKey ||
				spec.TopologySpreadConstraints[0].WhenUnsatisfiable != corev1.DoNotSchedule {
				t.Errorf("replicas are not spread across zones: %+v", spec.TopologySpreadConstraints)
			}
			if sc := spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("pod security context %+v: want runAsNonRoot and seccomp RuntimeDefault", sc)
			}
			if len(spec.Containers) != 1 {
				t.Fatalf("%d containers, want 1", len(spec.Containers))
			}
			ctr := spec.Containers[0]
			if sc := ctr.SecurityContext; sc == nil || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation ||
				sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
				t.Errorf("container security context %+v: want a read-only root, no escalation, all capabilities dropped", sc)
			}
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if ctr.Resources.Requests.Name(r, "").IsZero() || ctr.Resources.Limits.Name(r, "").IsZero() {
					t.Errorf("no %s request and limit: %+v", r, ctr.Resources)
				}
			}
			if !slices.Equal(ctr.Args, []string{"--config", "/etc/vsoc-sniproxy/config.yaml"}) {
				t.Errorf("args %v", ctr.Args)
			}
			for probe, path := range map[*corev1.Probe]string{ctr.LivenessProbe: "/healthz", ctr.ReadinessProbe: "/readyz"} {
				if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != path || probe.HTTPGet.Port.StrVal != adminPortName {
					t.Errorf("probe %+v: want GET %s on the admin port", probe, path)
				}
			}
			wantPorts := []int32{compiler.AdminPort}
			for _, l := range c.Listeners {
				wantPorts = append(wantPorts, int32(l.ContainerPort))
			}
			var gotPorts []int32
			for _, cp := range ctr.Ports {
				gotPorts = append(gotPorts, cp.ContainerPort)
			}
			if !slices.Equal(gotPorts, wantPorts) {
				t.Errorf("container ports %v, want %v", gotPorts, wantPorts)
			}

			var cm corev1.ConfigMap
			find(t, objs, "ConfigMap", compiler.ProxyNamespace, configMapName, &cm)
			if !strings.Contains(cm.Data[configFile], "listeners:") {
				t.Errorf("the config map holds no proxy config: %q", cm.Data)
			}

			var svc corev1.Service
			find(t, objs, "Service", compiler.ProxyNamespace, appName, &svc)
			if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
				t.Errorf("service type %s", svc.Spec.Type)
			}
			var ips []string
			for _, ip := range c.ProxyIPs {
				ips = append(ips, ip.String())
			}
			for key, want := range map[string]string{
				"scheme":                 "internal",
				"nlb-target-type":        "ip",
				"private-ipv4-addresses": strings.Join(ips, ","),
			} {
				if got := svc.Annotations[lbAnnotation+key]; got != want {
					t.Errorf("annotation %s = %q, want %q", key, got, want)
				}
			}
			if n := len(strings.Split(svc.Annotations[lbAnnotation+"subnets"], ",")); n != len(c.ProxyIPs) {
				t.Errorf("%d subnets for %d private IPs", n, len(c.ProxyIPs))
			}
			var gotSvc, wantSvc []string
			for _, sp := range svc.Spec.Ports {
				gotSvc = append(gotSvc, sp.Name+":"+sp.TargetPort.String())
			}
			for _, l := range c.Listeners {
				wantSvc = append(wantSvc, l.Name+":"+strconv.Itoa(l.ContainerPort))
			}
			if !slices.Equal(gotSvc, wantSvc) {
				t.Errorf("service ports %v, want only the listeners %v", gotSvc, wantSvc)
			}

			coreDNS := slices.ContainsFunc(objs, func(o *unstructured.Unstructured) bool {
				return o.GetKind() == "ConfigMap" && o.GetNamespace() == "kube-system" && o.GetName() == coreDNSConfigMap
			})
			if c.Customer.DNS.Mode == "coredns" {
				var cm corev1.ConfigMap
				find(t, objs, "ConfigMap", "kube-system", coreDNSConfigMap, &cm)
				if cm.Data[coreDNSServerKey] != dns.ForwardingServerBlock(c) {
					t.Errorf("coredns-custom holds %q, want the forwarding block", cm.Data)
				}
			} else if coreDNS {
				t.Errorf("DNS mode %s but a coredns-custom ConfigMap is rendered", c.Customer.DNS.Mode)
			}
		})
	}
}

// mutate returns a copy of p whose customer name is changed by edit.
func mutate(t *testing.T, p *compiler.Plan, name string, edit func(*compiler.Customer)) *compiler.Plan {
	t.Helper()
	q := *p
	q.Customers = slices.Clone(p.Customers)
	for i := range q.Customers {
		if q.Customers[i].Customer.Name == name {
			c := *q.Customers[i].Customer
			c.Cluster.Namespaces = maps.Clone(c.Cluster.Namespaces)
			edit(&c)
			q.Customers[i].Customer = &c
			return &q
		}
	}
	t.Fatalf("no customer %s", name)
	return nil
}

// TestBadInput: what validation does not catch is refused with the place in
// the customer file and a hint, never rendered half-right.
func TestBadInput(t *testing.T) {
	p := fleettest.SamplePlan(t)
	for _, tc := range []struct {
		name  string
		plan  *compiler.Plan
		wants []string
	}{
		{
			name: "contract into an unmanaged namespace",
			plan: withContract(t, p, "wobcom", compiler.Contract{
				From: compiler.ContractPeer{Namespace: "mla"},
				To:   compiler.ContractTarget{Namespace: "billing"},
			}),
			wants: []string{"customers/wobcom.cue:", `namespace "billing"`, "hint: declare it under cluster.namespaces"},
		},
		{
			name: "namespace name that is no DNS label",
			plan: mutate(t, p, "wacker", func(c *compiler.Customer) {
				c.Cluster.Namespaces["Team_A"] = compiler.Namespace{Area: "tools"}
			}),
			wants: []string{"customer wacker", `namespace "Team_A"`, "hint:"},
		},
		{
			name: "area that is no label value",
			plan: mutate(t, p, "wacker", func(c *compiler.Customer) {
				c.Cluster.Namespaces["mla"] = compiler.Namespace{Area: "not an area"}
			}),
			wants: []string{"customers/wacker.cue:", `area "not an area"`, "hint:"},
		},
		{
			name: "namespace in the proxy's own area",
			plan: mutate(t, p, "wacker", func(c *compiler.Customer) {
				c.Cluster.Namespaces["foo"] = compiler.Namespace{Area: proxyArea}
			}),
			wants: []string{"customers/wacker.cue:", `namespace "foo"`, `area "vsoc-proxy"`, "hint:"},
		},
		{
			name: "namespace in the area the customer gave the proxy",
			plan: mutate(t, p, "wobcom", func(c *compiler.Customer) {
				c.Cluster.Namespaces["ingress"] = compiler.Namespace{Area: "edge"}
			}),
			wants: []string{"customers/wobcom.cue:", `namespace "ingress"`, `area "edge"`, "hint:"},
		},
		{
			name:  "customer named like the hub's folder",
			plan:  mutate(t, p, "documentation", func(c *compiler.Customer) { c.Name = HubCluster }),
			wants: []string{`customer "hub"`, "hint: rename the customer"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files, err := Render(tc.plan)
			if err == nil {
				t.Fatalf("rendered %d files, want an error", len(files))
			}
			t.Log(err)
			for _, want := range tc.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}
