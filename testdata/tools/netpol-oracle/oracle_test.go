package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const manifests = `apiVersion: v1
kind: Namespace
metadata:
  name: ops
  labels:
    role: operators
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-from-ops
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: web
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          role: operators
      podSelector:
        matchLabels:
          app: console
    ports:
    - port: 443
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: console-egress
  namespace: ops
spec:
  podSelector:
    matchLabels:
      app: console
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock:
        cidr: 10.0.0.0/8
        except: [10.9.0.0/16]
  - to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: ignored
`

const probes = `[
  {"name": "console to web", "from": {"namespace": "ops", "labels": {"app": "console"}, "ip": "10.1.0.5"},
   "to": {"namespace": "shop", "labels": {"app": "web"}, "ip": "10.2.0.7"}, "port": 443},
  {"name": "console to web wrong port", "from": {"namespace": "ops", "labels": {"app": "console"}, "ip": "10.1.0.5"},
   "to": {"namespace": "shop", "labels": {"app": "web"}, "ip": "10.2.0.7"}, "port": 80},
  {"name": "internet to web", "from": {"ip": "203.0.113.9"},
   "to": {"namespace": "shop", "labels": {"app": "web"}, "ip": "10.2.0.7"}, "port": 443},
  {"name": "console to excepted block", "from": {"namespace": "ops", "labels": {"app": "console"}, "ip": "10.1.0.5"},
   "to": {"ip": "10.9.1.1"}, "port": 22},
  {"name": "console to allowed block", "from": {"namespace": "ops", "labels": {"app": "console"}, "ip": "10.1.0.5"},
   "to": {"ip": "10.8.1.1"}, "port": 22, "protocol": "UDP"}
]`

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runOracle(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

func TestVerdicts(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "all.yaml", manifests)
	probesPath := writeFile(t, t.TempDir(), "probes.json", probes)

	stdout, stderr, code := runOracle(t, "-probes", probesPath, dir)
	if code != 0 {
		t.Fatalf("exit %d, stderr: %s", code, stderr)
	}
	var got []verdict
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	want := []struct {
		name             string
		allowed          bool
		ingress, egress  bool
		ingressAllowedBy string
		egressDeniedBy   string
	}{
		{name: "console to web", allowed: true, ingress: true, egress: true, ingressAllowedBy: "shop/web-from-ops"},
		{name: "console to web wrong port", allowed: false, ingress: false, egress: true},
		{name: "internet to web", allowed: false, ingress: false, egress: true},
		{name: "console to excepted block", allowed: false, ingress: true, egress: false, egressDeniedBy: "ops/console-egress"},
		{name: "console to allowed block", allowed: true, ingress: true, egress: true},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d verdicts, want %d:\n%s", len(got), len(want), stdout)
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.name || g.Allowed != w.allowed || g.Ingress.Allowed != w.ingress || g.Egress.Allowed != w.egress {
			t.Errorf("verdict %d = %+v, want %+v", i, g, w)
		}
		if w.ingressAllowedBy != "" && strings.Join(g.Ingress.AllowedBy, ",") != w.ingressAllowedBy {
			t.Errorf("verdict %q: ingress allowedBy %v, want %s", w.name, g.Ingress.AllowedBy, w.ingressAllowedBy)
		}
		if w.egressDeniedBy != "" && strings.Join(g.Egress.DeniedBy, ",") != w.egressDeniedBy {
			t.Errorf("verdict %q: egress deniedBy %v, want %s", w.name, g.Egress.DeniedBy, w.egressDeniedBy)
		}
	}

	// Same input, same bytes: the output is compared by tests downstream.
	again, _, _ := runOracle(t, "-probes", probesPath, dir)
	if again != stdout {
		t.Errorf("output differs between runs:\n%s\n---\n%s", stdout, again)
	}
}

func TestBadInputIsAnErrorWithAPosition(t *testing.T) {
	goodProbes := writeFile(t, t.TempDir(), "probes.json", probes)
	goodManifests := writeFile(t, t.TempDir(), "m.yaml", manifests)
	cases := []struct {
		name, manifest, probes, wantErr string
	}{
		{
			name:     "bad cidr",
			manifest: "kind: Namespace\napiVersion: v1\nmetadata: {name: a}\n---\n" + strings.Replace(manifests[strings.Index(manifests, "apiVersion: networking"):], "10.0.0.0/8", "10.0.0.0/33", 1),
			wantErr:  "m.yaml:25: NetworkPolicy ops/console-egress: spec.egress[0].to[0].ipBlock.cidr",
		},
		{
			name:     "unknown field",
			manifest: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: y}\nspec: {podSelectr: {}}\n",
			wantErr:  `m.yaml:1: decoding NetworkPolicy`,
		},
		{
			name:     "bad operator",
			manifest: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: y}\nspec:\n  podSelector: {matchExpressions: [{key: a, operator: Maybe}]}\n",
			wantErr:  "spec.podSelector: invalid label selector",
		},
		{
			name:    "probe without ip",
			probes:  "[\n  {\"from\": {\"ip\": \"10.0.0.1\"},\n   \"to\": {\"namespace\": \"x\"}, \"port\": 1}]",
			wantErr: "probes.json:2:3: probe \"\": to: ip:",
		},
		{
			name:    "probe typo",
			probes:  `[{"form": {"ip": "10.0.0.1"}}]`,
			wantErr: `unknown field "form"`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			manifestPath, probesPath := goodManifests, goodProbes
			if c.manifest != "" {
				manifestPath = writeFile(t, t.TempDir(), "m.yaml", c.manifest)
			}
			if c.probes != "" {
				probesPath = writeFile(t, t.TempDir(), "probes.json", c.probes)
			}
			stdout, stderr, code := runOracle(t, "-probes", probesPath, manifestPath)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stdout %s stderr %s", code, stdout, stderr)
			}
			if !strings.Contains(stderr, c.wantErr) {
				t.Errorf("stderr %q does not contain %q", stderr, c.wantErr)
			}
		})
	}
}

func TestNotInIsWarnedAbout(t *testing.T) {
	manifest := writeFile(t, t.TempDir(), "m.yaml", `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  podSelector: {}
  ingress:
  - from:
    - podSelector:
        matchExpressions: [{key: tier, operator: NotIn, values: [db]}]
`)
	probesPath := writeFile(t, t.TempDir(), "probes.json", `[{"from": {"ip": "10.0.0.1"}, "to": {"namespace": "shop", "ip": "10.0.0.2"}, "port": 80}]`)
	_, stderr, code := runOracle(t, "-probes", probesPath, manifest)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "m.yaml:1: NetworkPolicy shop/p: spec.ingress[0].from[0].podSelector.matchExpressions[0] uses NotIn") {
		t.Errorf("no NotIn warning in stderr %q", stderr)
	}
}
