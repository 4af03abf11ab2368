package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	_ "github.com/vsoc/vsoc/internal/golden" // defines -update, so that `go test ./... -update` runs this package too
)

var kube SharedKube

func TestMain(m *testing.M) {
	code := m.Run()
	kube.Stop()
	os.Exit(code)
}

const fieldManager = "vsoc-testenv-test"

func parseYAML(t *testing.T, manifest string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &obj.Object); err != nil {
		t.Fatalf("parsing manifest: %v", err)
	}
	return obj
}

func applyYAML(t *testing.T, client dynamic.Interface, gvr schema.GroupVersionResource, manifest string) *unstructured.Unstructured {
	t.Helper()
	obj := parseYAML(t, manifest)
	var resource dynamic.ResourceInterface = client.Resource(gvr)
	if ns := obj.GetNamespace(); ns != "" {
		resource = client.Resource(gvr).Namespace(ns)
	}
	applied, err := resource.Apply(t.Context(), obj.GetName(), obj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
	if err != nil {
		t.Fatalf("server-side apply of %s %s: %v", obj.GetKind(), obj.GetName(), err)
	}
	return applied
}

func TestKubeAPIServerServerSideApply(t *testing.T) {
	env := kube.Get(t)
	if again := kube.Get(t); again != env {
		t.Fatalf("SharedKube.Get started a second server")
	}
	client, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	namespaces := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	configMaps := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	policies := schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}

	applyYAML(t, client, namespaces, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: testenv-ssa\n  labels: {team: vsoc}\n")
	for _, value := range []string{"first", "second"} {
		applyYAML(t, client, configMaps, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: testenv-ssa}\ndata:\n  mode: "+value+"\n")
		got, err := client.Resource(configMaps).Namespace("testenv-ssa").Get(t.Context(), "settings", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("reading the ConfigMap back: %v", err)
		}
		if mode, _, _ := unstructured.NestedString(got.Object, "data", "mode"); mode != value {
			t.Errorf("data.mode = %q after applying %q", mode, value)
		}
		managers := got.GetManagedFields()
		if len(managers) != 1 || managers[0].Manager != fieldManager || managers[0].Operation != metav1.ManagedFieldsOperationApply {
			t.Errorf("managedFields = %+v, want one Apply entry by %s", managers, fieldManager)
		}
	}
	ns, err := client.Resource(namespaces).Get(t.Context(), "testenv-ssa", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading the Namespace back: %v", err)
	}
	if labels := ns.GetLabels(); labels["team"] != "vsoc" || labels["kubernetes.io/metadata.name"] != "testenv-ssa" {
		t.Errorf("namespace labels = %v", labels)
	}

	// The networking API is served and validates: a bad CIDR is refused.
	applyYAML(t, client, policies, "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-all, namespace: testenv-ssa}\nspec: {podSelector: {}, policyTypes: [Ingress, Egress]}\n")
	bad := parseYAML(t, "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad, namespace: testenv-ssa}\nspec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/33}}]}]}\n")
	_, err = client.Resource(policies).Namespace("testenv-ssa").Apply(t.Context(), "bad", bad, metav1.ApplyOptions{FieldManager: fieldManager})
	if !apierrors.IsInvalid(err) {
		t.Errorf("applying a NetworkPolicy with cidr 10.0.0.0/33: err = %v, want Invalid", err)
	}

	// NamespaceLifecycle admission is on: no objects in a missing namespace.
	orphan := parseYAML(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: orphan, namespace: no-such-namespace}\n")
	_, err = client.Resource(configMaps).Namespace("no-such-namespace").Apply(t.Context(), "orphan", orphan, metav1.ApplyOptions{FieldManager: fieldManager})
	if !apierrors.IsNotFound(err) {
		t.Errorf("applying into a missing namespace: err = %v, want NotFound", err)
	}

	// RBAC is enforced: a user outside system:masters with no bindings is refused.
	nobody := rest.CopyConfig(env.Config)
	nobody.Impersonate = rest.ImpersonationConfig{UserName: "nobody"}
	nobodyClient, err := dynamic.NewForConfig(nobody)
	if err != nil {
		t.Fatal(err)
	}
	_, err = nobodyClient.Resource(configMaps).Namespace("testenv-ssa").List(t.Context(), metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("listing as an unbound user: err = %v, want Forbidden", err)
	}
}

func TestKubeconfigFile(t *testing.T) {
	env := kube.Get(t)
	config, err := clientcmd.BuildConfigFromFlags("", env.Kubeconfig)
	if err != nil {
		t.Fatalf("loading %s: %v", env.Kubeconfig, err)
	}
	disco, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	version, err := disco.ServerVersion()
	if err != nil {
		t.Fatalf("GET /version with the kubeconfig: %v", err)
	}
	if version.GitVersion != "v1.36.0" {
		t.Errorf("server version = %q, want v1.36.0", version.GitVersion)
	}
	if !strings.HasPrefix(env.URL, "https://127.0.0.1:") {
		t.Errorf("URL %s is not on loopback", env.URL)
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCoreDNSServesZone(t *testing.T) {
	dir := t.TempDir()
	port := FreeDNSPort(t)
	writeFiles(t, dir, map[string]string{
		"Corefile": fmt.Sprintf(`example.test:%d {
    bind 127.0.0.1
    file db.example.test
    errors
    log
}
.:%d {
    bind 127.0.0.1
    template IN A probe.internal {
        answer "{{ .Name }} 60 IN A 198.51.100.7"
    }
}
`, port, port),
		"db.example.test": `$ORIGIN example.test.
@   3600 IN SOA ns.example.test. hostmaster.example.test. 1 7200 3600 1209600 3600
@   3600 IN NS  ns.example.test.
ns  3600 IN A   192.0.2.1
www 3600 IN A   192.0.2.10
`,
	})
	addr := StartCoreDNS(t, dir)
	if want := fmt.Sprintf("127.0.0.1:%d", port); addr != want {
		t.Errorf("StartCoreDNS = %s, want %s", addr, want)
	}

	cases := []struct {
		net, name string
		rcode     int
		want      string // the A record's address, if any
	}{
		{"udp", "www.example.test.", dns.RcodeSuccess, "192.0.2.10"},
		{"tcp", "www.example.test.", dns.RcodeSuccess, "192.0.2.10"},
		{"udp", "missing.example.test.", dns.RcodeNameError, ""},
		{"udp", "probe.internal.", dns.RcodeSuccess, "198.51.100.7"},
	}
	for _, c := range cases {
		query := new(dns.Msg)
		query.SetQuestion(c.name, dns.TypeA)
		reply, _, err := (&dns.Client{Net: c.net}).ExchangeContext(t.Context(), query, addr)
		if err != nil {
			t.Fatalf("%s query %s: %v", c.net, c.name, err)
		}
		if reply.Rcode != c.rcode {
			t.Errorf("%s %s: rcode %s, want %s", c.net, c.name, dns.RcodeToString[reply.Rcode], dns.RcodeToString[c.rcode])
		}
		var got string
		for _, rr := range reply.Answer {
			if a, ok := rr.(*dns.A); ok {
				got = a.A.String()
			}
		}
		if got != c.want {
			t.Errorf("%s %s: A = %q, want %q (reply %v)", c.net, c.name, got, c.want, reply)
		}
	}
}

func TestCoreDNSBadCorefileIsAnError(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Corefile": ". {\n    bind 127.0.0.1\n    nosuchplugin\n}\n"})
	_, p, err := startCoreDNS(t.Context(), CoreDNSBinary(t), dir, filepath.Join(t.TempDir(), "coredns.log"))
	if p != nil {
		defer p.stop()
	}
	if err == nil || !strings.Contains(err.Error(), "nosuchplugin") {
		t.Fatalf("starting CoreDNS on an unknown directive: err = %v, want one naming nosuchplugin", err)
	}
}

func TestNetpolOracle(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"policies.yaml": `apiVersion: v1
kind: Namespace
metadata:
  name: customer-a
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: customer-a
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: api-from-vsoc
  namespace: customer-a
spec:
  podSelector:
    matchLabels: {app: api}
  ingress:
  - from:
    - ipBlock: {cidr: 10.100.0.0/16}
    ports:
    - {port: 6443, protocol: TCP}
`})
	pod := Endpoint{Namespace: "customer-a", Labels: map[string]string{"app": "api"}, IP: "10.20.0.5"}
	verdicts := CheckReachability(t, []string{dir}, []Probe{
		{Name: "hub to api", From: Endpoint{IP: "10.100.3.4"}, To: pod, Port: 6443},
		{Name: "elsewhere to api", From: Endpoint{IP: "10.101.3.4"}, To: pod, Port: 6443},
	})
	if v := verdicts[0]; !v.Allowed || strings.Join(v.Ingress.AllowedBy, ",") != "customer-a/api-from-vsoc" {
		t.Errorf("hub to api: %+v, want allowed by customer-a/api-from-vsoc", v)
	}
	if v := verdicts[1]; v.Allowed || v.Ingress.Allowed || strings.Join(v.Ingress.DeniedBy, ",") != "customer-a/api-from-vsoc,customer-a/default-deny" {
		t.Errorf("elsewhere to api: %+v, want denied at ingress by both policies", v)
	}
}

func TestModuleHashFollowsGoSum(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"go.mod": "module x\n", "go.sum": "a v1 h1:x\n", "main.go": "package main\n", "main_test.go": "package main\n"})
	before, err := moduleHash(dir)
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"main_test.go": "package main // edited\n"})
	if same, _ := moduleHash(dir); same != before {
		t.Errorf("editing a test file changed the build key")
	}
	writeFiles(t, dir, map[string]string{"go.sum": "a v2 h1:y\n"})
	if after, _ := moduleHash(dir); after == before {
		t.Errorf("changing go.sum kept the build key %s", before)
	}
}

func TestKubeAPIServerStopsWithTheTest(t *testing.T) {
	var env *KubeEnv
	t.Run("owner", func(t *testing.T) {
		env = KubeAPIServer(t)
		disco, err := discovery.NewDiscoveryClientForConfig(env.Config)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := disco.ServerVersion(); err != nil {
			t.Fatalf("GET /version: %v", err)
		}
	})
	if env == nil {
		t.Fatal("the owner subtest did not start a server")
	}
	for _, p := range []*process{env.apiserver, env.etcd} {
		select {
		case <-p.done:
		default:
			t.Errorf("%s still runs after the test that started it ended", p.name)
		}
	}
}

func BenchmarkKubeStart(b *testing.B) {
	binDir := mustBuild(b, kubeTool())
	for b.Loop() {
		env, err := startKube(b.Context(), binDir, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		env.stop()
	}
}

func BenchmarkCoreDNSStart(b *testing.B) {
	bin := CoreDNSBinary(b)
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Corefile"), []byte(". {\n    bind 127.0.0.1\n    whoami\n}\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_, p, err := startCoreDNS(b.Context(), bin, dir, filepath.Join(b.TempDir(), "coredns.log"))
		if err != nil {
			b.Fatal(err)
		}
		p.stop()
	}
}

func TestBuildFailureShowsCompilerOutput(t *testing.T) {
	moduleDir := t.TempDir()
	writeFiles(t, moduleDir, map[string]string{
		"go.mod":  "module example.test/broken\n\ngo 1.26\n",
		"main.go": "package main\n\nfunc main() { undefinedThing() }\n",
	})
	tl := tool{module: "broken", packages: []string{"."}, binaries: []string{"broken"}, duration: "a moment"}
	_, err := buildModule(t.Context(), tl, moduleDir, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "main.go:3:15: undefined: undefinedThing") {
		t.Fatalf("building a broken module: err = %v, want go build's message with its position", err)
	}

	writeFiles(t, moduleDir, map[string]string{"main.go": "package main\n\nfunc main() {}\n"})
	cacheDir := t.TempDir()
	first, err := buildModule(t.Context(), tl, moduleDir, cacheDir)
	if err != nil {
		t.Fatalf("building the fixed module: %v", err)
	}
	built, err := os.Stat(filepath.Join(first, "broken"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := buildModule(t.Context(), tl, moduleDir, cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := os.Stat(filepath.Join(second, "broken"))
	if err != nil {
		t.Fatal(err)
	}
	if second != first || !again.ModTime().Equal(built.ModTime()) {
		t.Errorf("second build of unchanged sources did not reuse the cache (%s vs %s)", first, second)
	}
}
