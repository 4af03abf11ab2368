package diff

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vsoc/vsoc/internal/golden"
)

// A scenario is a pull request to the sample customers repository: change
// edits the work tree after the base commit, and check asserts what the
// preview must say about it, beyond the golden files.
type scenario struct {
	name   string
	change func(r *gitRepo)
	check  func(t *testing.T, p *Preview)
	// headFails is set when the head is not valid: nothing is rendered.
	headFails bool
}

var scenarios = []scenario{
	{
		name: "add-customer",
		change: func(r *gitRepo) {
			r.write("customers/newcorp.cue", `package vsoc

customers: newcorp: {
	displayName: "New Corp"
	vpc: cidrs: ["100.72.0.0/16"]
	vpn: {
		gateways: [{name: "newcorp-gw", address: "85.214.10.20"}]
		remoteSubnets: ["10.50.0.0/16"]
		preSharedKey: secretsManager: "vsoc/newcorp/vpn-psk"
	}
	dns: {
		domains: ["newcorp.io"]
		resolvers: ["10.50.0.53"]
		mode: "coredns"
	}
	access: ssoGroups: ["5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"]
}
`)
		},
		check: func(t *testing.T, p *Preview) {
			o := owner(t, p, "newcorp")
			if o.Status != Added || p.Summary.CustomersAdded != 1 || p.Summary.CustomersChanged != 0 {
				t.Errorf("newcorp %s, summary %+v: want one customer added and nothing else changed", o.Status, p.Summary)
			}
			stack := artifact(t, o, "aws/vsoc-customer-newcorp.template.json")
			if stack.Status != Added || len(stack.Resources) == 0 || !allActions(stack.Resources, "add") {
				t.Errorf("newcorp's stack: %s with %d resources; want added, every resource added", stack.Status, len(stack.Resources))
			}
			if len(p.Destructive) != 0 {
				t.Errorf("adding a customer destroys %v", p.Destructive)
			}
		},
	},
	{
		name: "change-static-mapping",
		change: func(r *gitRepo) {
			r.replace("customers/wobcom.cue", "port: 9443", "port: 9444")
		},
		check: func(t *testing.T, p *Preview) {
			o := owner(t, p, "wobcom")
			proxy := artifact(t, o, "proxy/wobcom.yaml")
			if proxy.Status != Changed || !hasDifference(proxy.Differences, "9443", "9444") {
				t.Errorf("proxy/wobcom.yaml: %s %+v; want the target port 9443 → 9444", proxy.Status, proxy.Differences)
			}
			if len(p.Destructive) != 0 || len(p.Owners) != 1 {
				t.Errorf("a static mapping's target port touches %d owners, destroys %v; want wobcom only, nothing destroyed", len(p.Owners), p.Destructive)
			}
		},
	},
	{
		name: "add-remote-subnet",
		change: func(r *gitRepo) {
			r.replace("customers/cubebikes.cue", `remoteSubnets: ["10.10.0.0/16"]`, `remoteSubnets: ["10.10.0.0/16", "10.11.0.0/16"]`)
		},
		check: func(t *testing.T, p *Preview) {
			stack := artifact(t, owner(t, p, "cubebikes"), "aws/vsoc-customer-cubebikes.template.json")
			added := 0
			for _, r := range stack.Resources {
				if r.Action == "add" && strings.Contains(r.LogicalID, "10x11x0x0x16") {
					added++
				}
			}
			if added == 0 {
				t.Errorf("no resource routes 10.11.0.0/16: %+v", stack.Resources)
			}
			if len(p.Destructive) != 0 {
				t.Errorf("adding a remote subnet destroys %v", p.Destructive)
			}
		},
	},
	{
		name: "change-bgp-asn",
		change: func(r *gitRepo) {
			r.replace("customers/wacker.cue", "asn: 65101", "asn: 65102")
		},
		check: func(t *testing.T, p *Preview) {
			if len(p.Destructive) == 0 {
				t.Fatal("changing a customer gateway's ASN is not destructive")
			}
			first := p.Destructive[0]
			if first.Type != "AWS::EC2::CustomerGateway" || !slices.Equal(first.Replacing, []string{"BgpAsn"}) ||
				!strings.Contains(first.Message, "wacker: customer gateway wacker-edge will be REPLACED (BgpAsn)") ||
				!strings.Contains(first.Message, "tunnels go down") {
				t.Errorf("first destructive change: %+v", first)
			}
		},
	},
	{
		name: "rename-customer",
		change: func(r *gitRepo) {
			content := r.read("customers/documentation.cue")
			if err := os.Remove(r.path("customers/documentation.cue")); err != nil {
				r.t.Fatal(err)
			}
			r.write("customers/docs.cue", strings.Replace(content, "customers: documentation:", "customers: docs:", 1))
		},
		check: func(t *testing.T, p *Preview) {
			if o := owner(t, p, "documentation"); o.Status != Removed || !allActions(artifact(t, o, "aws/vsoc-customer-documentation.template.json").Resources, "remove") {
				t.Errorf("documentation is %s; want removed with every resource", o.Status)
			}
			if o := owner(t, p, "docs"); o.Status != Added {
				t.Errorf("docs is %s; want added", o.Status)
			}
			vpcDestroyed := false
			for _, c := range p.Destructive {
				vpcDestroyed = vpcDestroyed || (c.Owner == "documentation" && c.Type == "AWS::EC2::VPC" && c.Action == "remove")
			}
			if !vpcDestroyed {
				t.Errorf("the rename does not destroy documentation's VPC: %v", p.Destructive)
			}
		},
	},
	{
		name: "replace-client-vpn-endpoint",
		change: func(r *gitRepo) {
			r.replace("customers/hub.cue", "100.100.0.0/22", "100.101.0.0/22")
		},
		check: func(t *testing.T, p *Preview) {
			if len(p.Blocking) != 1 {
				t.Fatalf("blocking %+v; want the Client VPN endpoint's export, which every customer imports", p.Blocking)
			}
			b := p.Blocking[0]
			if b.Export != "vsoc-hub-ClientVpnEndpointId" || b.Action != "change" || b.Cause != "ClientVpnEndpoint will be REPLACED" ||
				len(b.ImportedBy) != 5 || !b.ImportedBy[0].StillImports || !strings.Contains(b.Message, "CloudFormation refuses to update an export in use") {
				t.Errorf("blocker %+v", b)
			}
			wacker := artifact(t, owner(t, p, "wacker"), "aws/vsoc-customer-wacker.template.json")
			for _, r := range wacker.Resources {
				if strings.HasPrefix(r.LogicalID, "ClientVpn") && (r.Action != "replace" || !slices.Equal(r.Replacing, []string{"ClientVpnEndpointId"})) {
					t.Errorf("%s imports the endpoint's new ID but is %s %v; want replace (ClientVpnEndpointId)", r.LogicalID, r.Action, r.Replacing)
				}
			}
		},
	},
	{
		name: "remove-hub-availability-zone",
		change: func(r *gitRepo) {
			r.replace("customers/hub.cue", `, "eu-central-1c"]`, `]`)
		},
		check: func(t *testing.T, p *Preview) {
			// Every customer imports the zone's exports and stops in this
			// change: apply takes the customers first, nothing blocks.
			if len(p.Blocking) != 0 {
				t.Errorf("blocking %+v; want none", p.Blocking)
			}
			var exports []string
			for _, b := range p.Ordered {
				exports = append(exports, b.Export)
				if b.Action != "delete" || len(b.ImportedBy) != 5 || b.ImportedBy[0].StillImports ||
					b.Remedy != "vsoc-compile apply updates cubebikes, documentation, stadtwerke-bielefeld, wacker, wobcom, then the vsoc-hub stack" {
					t.Errorf("ordered export change %+v", b)
				}
			}
			if want := []string{"vsoc-hub-PrivateRouteTable-eu-central-1c", "vsoc-hub-PrivateSubnet-eu-central-1c"}; !slices.Equal(exports, want) {
				t.Errorf("ordered exports %v, want %v", exports, want)
			}
			// Customers without zones of their own follow the hub's: every
			// private subnet in eu-central-1c goes, with what lives in it.
			removed := map[string]bool{}
			for _, c := range p.Destructive {
				if c.Type == "AWS::EC2::Subnet" && c.Action == "remove" && strings.Contains(c.Message, "subnet private-eu-central-1c will be DESTROYED") {
					removed[c.Owner] = true
				}
			}
			for _, o := range []string{"hub", "cubebikes", "documentation", "wacker", "wobcom"} {
				if !removed[o] {
					t.Errorf("%s's subnet in eu-central-1c is not among the destructive changes: %+v", o, p.Destructive)
				}
			}
		},
	},
	{
		name:      "break-validation",
		headFails: true,
		change: func(r *gitRepo) {
			// documentation's VPC now overlaps cubebikes'.
			r.replace("customers/documentation.cue", `"100.70.0.0/16"`, `"100.69.0.0/16"`)
		},
		check: func(t *testing.T, p *Preview) {
			if !p.Failed() || len(p.Violations) == 0 {
				t.Fatalf("an overlapping VPC passes: %+v", p)
			}
			found := false
			for _, v := range p.Violations {
				found = found || (v.Rule == "VSOC002" && v.File == filepath.Join("customers", "documentation.cue") && v.Line > 0)
			}
			if !found {
				t.Errorf("no VSOC002 at customers/documentation.cue: %+v", p.Violations)
			}
		},
	},
	{
		name: "formatting-only",
		change: func(r *gitRepo) {
			r.replace("customers/cubebikes.cue", "\tdisplayName: \"Cube Bikes\"\n", "\n\n\t// Re-indented and commented; the same values.\n\tdisplayName:    \"Cube Bikes\"\n")
			r.replace("customers/cubebikes.cue", `kkp: endpoints: ui: "kkp.cube.eu"`, "kkp: {\n\t\tendpoints: {\n\t\t\tui: \"kkp.cube.eu\"\n\t\t}\n\t}")
		},
		check: func(t *testing.T, p *Preview) {
			if p.Failed() || !p.Summary.NoChanges() || len(p.Owners) != 0 {
				t.Errorf("a formatting change changes %+v", p.Summary)
			}
		},
	},
	{
		name:      "malformed-head",
		headFails: true,
		change: func(r *gitRepo) {
			r.replace("customers/wobcom.cue", `remoteSubnets: ["10.20.0.0/16", "192.168.50.0/24"]`, `remoteSubnets: ["10.20.0.0/16" "192.168.50.0/24"]`)
		},
		check: func(t *testing.T, p *Preview) {
			if !p.Failed() || len(p.HeadErrors) == 0 {
				t.Fatalf("a syntax error compiles: %+v", p)
			}
			if e := p.HeadErrors[0]; e.File != filepath.Join("customers", "wobcom.cue") || e.Line != 8 {
				t.Errorf("first error at %s, want customers/wobcom.cue:8", e.Location())
			}
		},
	},
}

// TestScenarios builds each pull request as a real git history (base commit,
// head commit) and compares its preview, in every format, with the golden
// files in testdata/golden/diff.
func TestScenarios(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			r := newGitRepo(t)
			r.copySampleFleet()
			base := r.commitAll("base fleet")
			r.git("tag", "base")
			sc.change(r)
			r.commitAll(sc.name)
			statusBefore := r.git("status", "--porcelain", "--ignored")

			p, err := r.preview("base")
			if err != nil {
				t.Fatal(err)
			}
			if p.BaseCommit != base {
				t.Errorf("base commit %s, want %s", p.BaseCommit, base)
			}
			if after := r.git("status", "--porcelain", "--ignored"); after != statusBefore {
				t.Errorf("diff changed the work tree:\nbefore:\n%s\nafter:\n%s", statusBefore, after)
			}
			sc.check(t, p)

			p.BaseCommit = "0123456789abcdef0123456789abcdef01234567" // commit IDs vary with the sample fleet
			for _, format := range Formats {
				var buf bytes.Buffer
				if err := Write(&buf, format, p, TextOptions{Details: true}); err != nil {
					t.Fatal(err)
				}
				checkGolden(t, sc.name+"."+map[string]string{"text": "txt", "markdown": "md", "json": "json"}[format], buf.Bytes())
			}
		})
	}
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, "diff/"+name, got)
}

func owner(t *testing.T, p *Preview, name string) OwnerDiff {
	t.Helper()
	for _, o := range p.Owners {
		if o.Name == name && !o.Hub {
			return o
		}
	}
	t.Fatalf("the preview has no changes for %s: %+v", name, p.Owners)
	return OwnerDiff{}
}

func artifact(t *testing.T, o OwnerDiff, path string) ArtifactDiff {
	t.Helper()
	for _, a := range o.Artifacts {
		if a.Path == path {
			return a
		}
	}
	t.Fatalf("%s has no change to %s", o.Name, path)
	return ArtifactDiff{}
}

func allActions(rs []ResourceChange, action string) bool {
	for _, r := range rs {
		if r.Action != action {
			return false
		}
	}
	return len(rs) > 0
}

func hasDifference(ds []Difference, old, new string) bool {
	for _, d := range ds {
		if d.Change == Changed && strings.Contains(d.Old, old) && strings.Contains(d.New, new) {
			return true
		}
	}
	return false
}
