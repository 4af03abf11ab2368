package diff

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vsoc/vsoc/compiler"
)

func TestFileDifferences(t *testing.T) {
	tests := []struct {
		name, path, old, new string
		want                 []Difference
	}{
		{
			name: "json key order and indentation are no change",
			path: "aws/x.template.json",
			old:  `{"a": 1, "b": {"c": [1, 2]}}`,
			new:  "{\n  \"b\": {\"c\": [1, 2]},\n  \"a\": 1\n}\n",
		},
		{
			name: "json values by path, big numbers as written",
			path: "aws/x.template.json",
			old:  `{"Resources": {"Gw": {"Properties": {"BgpAsn": 4200000000, "Tags": [{"Key": "Name"}]}}}}`,
			new:  `{"Resources": {"Gw": {"Properties": {"BgpAsn": 4200000001, "Tags": [{"Key": "Name"}, {"Key": "x"}]}}}}`,
			want: []Difference{
				{Path: ".Resources.Gw.Properties.BgpAsn", Change: Changed, Old: "4200000000", New: "4200000001"},
				{Path: ".Resources.Gw.Properties.Tags[1]", Change: Added, New: `{"Key":"x"}`},
			},
		},
		{
			name: "an object inserted in a yaml stream is one addition",
			path: "kube/clusters/a/rendered.yaml",
			old:  "kind: Namespace\nmetadata: {name: a}\n---\nkind: ConfigMap\nmetadata: {name: c, namespace: a}\ndata: {k: v}\n",
			new:  "kind: Namespace\nmetadata: {name: a}\n---\nkind: Secret\nmetadata: {name: s, namespace: a}\n---\nkind: ConfigMap\nmetadata: {name: c, namespace: a}\ndata: {k: w}\n",
			want: []Difference{
				{Path: `ConfigMap a/c .data.k`, Change: Changed, Old: `"v"`, New: `"w"`},
				{Path: "Secret a/s", Change: Added, New: `{"kind":"Secret","metadata":{"name":"s","namespace":"a"}}`},
			},
		},
		{
			name: "a file inside a document is diffed by line",
			path: "kube/clusters/a/resources.yaml",
			old:  "kind: ConfigMap\nmetadata: {name: c}\ndata:\n  config.yaml: |\n    a: 1\n    b: 2\n",
			new:  "kind: ConfigMap\nmetadata: {name: c}\ndata:\n  config.yaml: |\n    a: 1\n    b: 3\n",
			want: []Difference{
				{Path: `.data["config.yaml"] line 2`, Change: Removed, Old: "b: 2"},
				{Path: `.data["config.yaml"] line 2`, Change: Added, New: "b: 3"},
			},
		},
		{
			name: "a line inserted at the top is one addition",
			path: "dns/Corefile",
			old:  "a\nb\nc\n",
			new:  "x\na\nb\nc\n",
			want: []Difference{{Path: "line 1", Change: Added, New: "x"}},
		},
		{
			name: "text by line",
			path: "ssh/a.conf",
			old:  "Host *.a\n  User x\n  Port 22\n",
			new:  "Host *.a\n  Port 22\n  ProxyCommand nc\n",
			want: []Difference{
				{Path: "line 2", Change: Removed, Old: "  User x"},
				{Path: "line 3", Change: Added, New: "  ProxyCommand nc"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fileDifferences(tt.path, []byte(tt.old), []byte(tt.new))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("differences (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOwnerOfAFile(t *testing.T) {
	fleet := func(customers ...*compiler.Customer) *compiler.Fleet { return &compiler.Fleet{Customers: customers} }
	cust := func(name string, domains ...string) *compiler.Customer {
		c := &compiler.Customer{Name: name}
		c.DNS.Domains = domains
		return c
	}
	wacker := cust("wacker", "wacker.com")
	wacker.KKP.Endpoints.UI = "kkp.cube-ops.eu" // outside its domains: a zone of its own
	// Customers may be called like a folder of the output.
	ix := newOwnerIndex(
		fleet(cust("wobcom", "wobcom.de"), cust("cube", "cube-shop.eu"), cust("old"), cust("zones", "zones.example.org")),
		fleet(cust("wobcom", "wobcom.de"), cust("cubebikes", "cube.eu"), cust("cube", "cube-shop.eu"), wacker,
			cust("zones", "zones.example.org"), cust("clusters", "clusters.example.org"), cust("forward"), cust("base")),
	)
	for path, want := range map[string]string{
		"aws/vsoc-customer-wobcom.template.json": "wobcom",
		"aws/vsoc-customer-old.template.json":    "old",
		"aws/vsoc-hub.template.json":             "",
		"proxy/cubebikes.yaml":                   "cubebikes",
		"ssh/cube.conf":                          "cube",
		"kube/clusters/wobcom/rendered.yaml":     "wobcom",
		"kube/base/deployment.yaml":              "",
		"dns/zones/cube.eu.zone":                 "cubebikes", // the domain beats the customer named "cube"
		"dns/zones/db.wobcom.de.zone":            "wobcom",
		"dns/zones/kkp.cube-ops.eu.zone":         "wacker",
		"dns/zones/clusters.example.org.zone":    "clusters",
		"dns/zones/vsoc.kubermatic.com.zone":     "",
		"dns/forward/forward.server":             "forward",
		"dns/forward/wacker.server":              "wacker",
		"dns/Corefile":                           "",
		"kube/clusters/clusters/rendered.yaml":   "clusters",
		"kube/clusters/base/kustomization.yaml":  "base",
		"kube/clusters/wacker/resources.yaml":    "wacker",
		"kube/clusters/hub/resources.yaml":       "",
		"proxy/zones.yaml":                       "zones",
		"aws/vsoc-customer-zones.template.json":  "zones",
	} {
		if got := ix.owner(path); got != want {
			t.Errorf("owner(%s) = %q, want %q", path, got, want)
		}
	}
	for name, want := range map[string]Status{"old": Removed, "cubebikes": Added, "wobcom": Changed} {
		if got := ix.status(name); got != want {
			t.Errorf("status(%s) = %s, want %s", name, got, want)
		}
	}
}
