package compiler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vsoc/vsoc/schema"
)

const sampleDir = "../customers"

func loadSample(t *testing.T) *Fleet {
	t.Helper()
	f, err := LoadDir(context.Background(), sampleDir, nil)
	if err != nil {
		t.Fatalf("loading the sample fleet: %v", err)
	}
	return f
}

func TestLoadSampleFleet(t *testing.T) {
	f := loadSample(t)
	var names []string
	for _, c := range f.Customers {
		names = append(names, c.Name)
	}
	want := []string{"cubebikes", "documentation", "stadtwerke-bielefeld", "wacker", "wobcom"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Fatalf("customers (-want +got):\n%s", diff)
	}
	if f.Hub == nil || f.Hub.CIDR != "100.65.0.0/16" {
		t.Fatalf("hub = %+v, want CIDR 100.65.0.0/16", f.Hub)
	}
	wacker := f.Customers[3]
	if got := wacker.VPC.CIDRs; len(got) != 2 || wacker.VPN.Routing != "bgp" || wacker.VPN.Gateways[0].ASN != 65101 {
		t.Errorf("wacker: cidrs %v routing %s asn %d, want two CIDRs, bgp, 65101", got, wacker.VPN.Routing, wacker.VPN.Gateways[0].ASN)
	}
	// Defaults come from the schema.
	docs := f.Customers[1]
	if docs.VPN.Tunnel.IKEVersions[0] != "ikev2" || docs.Proxy.Replicas != 2 || docs.KKP.ExposeStrategy != "Tunneling" {
		t.Errorf("documentation defaults: %+v %+v %+v", docs.VPN.Tunnel, docs.Proxy, docs.KKP)
	}
	if diff := cmp.Diff([]string{"*.docs.vsoc-demo.net"}, docs.Proxy.Allow); diff != "" {
		t.Errorf("default allowlist (-want +got):\n%s", diff)
	}
}

func TestPositionsPointAtTheWrittenValue(t *testing.T) {
	f := loadSample(t)
	wobcom := filepath.Join(sampleDir, "wobcom.cue")
	for _, tc := range []struct {
		pointer string
		want    Pos
	}{
		{Pointer("customers", "wobcom", "vpn", "gateways", 0, "address"), Pos{wobcom, 7, 41}},
		{Pointer("customers", "wobcom", "vpc", "cidrs", 0), Pos{wobcom, 5, 15}},
		// A default resolves to its nearest written ancestor.
		{Pointer("customers", "wobcom", "vpn", "tunnel", "phase1"), Pos{wobcom, 6, 2}},
		{Pointer("customers", "wobcom", "cluster", "contracts", 0, "to", "podLabels", "app.kubernetes.io/name"), Pos{wobcom, 31, 71}},
	} {
		got, ok := f.Positions.Lookup(tc.pointer)
		if !ok || got != tc.want {
			t.Errorf("Lookup(%s) = %v, %v; want %v", tc.pointer, got, ok, tc.want)
		}
	}
}

func TestLoadErrorsCarryCUEPositions(t *testing.T) {
	hub, err := os.ReadFile(filepath.Join(sampleDir, "hub.cue"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, content, want string
	}{
		{"syntax", "package vsoc\n\ncustomers: bad: {\n\tvpc: cidrs: [\"100.80.0.0/16\"\n}\n", "bad.cue:5:1: "},
		{"unknown field", "package vsoc\n\ncustomers: bad: {\n\tvpcc: {}\n}\n", "bad.cue:4:2: customers.bad.vpcc: field not allowed"},
		{"wrong type", "package vsoc\n\ncustomers: bad: vpc: cidrs: [42]\n", "bad.cue:3:30: "},
		{"missing required value", "package vsoc\n\ncustomers: bad: {\n\tvpc: cidrs: [\"100.80.0.0/16\"]\n}\n", "bad.cue:3:12: customers.bad.vpn.gateways.0.address: incomplete value string (a required value is missing: set it)"},
		{"wrong customer", "package vsoc\n\ncustomers: other: {}\n", `bad.cue:3:1: bad.cue declares customers "other"`},
		{"wrong package", "package customers\n", `bad.cue:1:1: package "customers"`},
		// Each file is compiled on its own: a reference to a definition or to another file's value is not found.
		{"definition reference", "package vsoc\n\ncustomers: bad: #Customer & {}\n",
			`bad.cue:3:17: customers.bad: reference "#Customer" not found (hint: each file is compiled on its own, and vsoc applies the schema's definitions to it, so a file cannot refer to definitions (#...) or to values of other files`},
		{"value reference", "package vsoc\n\ncustomers: bad: dns: resolvers: shared\n",
			`bad.cue:3:33: customers.bad.dns.resolvers: reference "shared" not found (hint: each file is compiled on its own`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(context.Background(), "x", []Source{
				{Name: "x/hub.cue", Content: hub},
				{Name: "x/bad.cue", Content: []byte(tc.content)},
			}, nil)
			var le LoadErrors
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want LoadErrors", err)
			}
			if !strings.Contains(le.Error(), "x/"+tc.want) {
				t.Errorf("got:\n%s\nwant a line containing %q", le.Error(), "x/"+tc.want)
			}
		})
	}
}

// TestUnknownFieldsNameTheirValueAndTheLikelyField: a field the schema does not declare is
// reported with the JSON pointer and customer of the value (as violations are), and the hint
// names the field it was likely meant to be, at any depth: in a list element, in a struct of
// named entries (namespaces), in the hub; or lists the fields allowed when none is close.
func TestUnknownFieldsNameTheirValueAndTheLikelyField(t *testing.T) {
	hub, err := os.ReadFile(filepath.Join(sampleDir, "hub.cue"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, file, content string
		want                LoadError
	}{
		{"top level", "bad.cue", "package vsoc\n\ncustomers: bad: {\n\tvpcc: {}\n}\n",
			LoadError{Pointer: "/customers/bad/vpcc", Customer: "bad", Hint: `did you mean "vpc"?`}},
		{"list element", "bad.cue", "package vsoc\n\ncustomers: bad: vpn: gateways: [{name: \"gw\", address: \"192.0.2.1\", asnn: 65001}]\n",
			LoadError{Pointer: "/customers/bad/vpn/gateways/0/asnn", Customer: "bad", Hint: `did you mean "asn"?`}},
		{"named entry", "bad.cue", "package vsoc\n\ncustomers: bad: cluster: namespaces: mla: aera: \"observability\"\n",
			LoadError{Pointer: "/customers/bad/cluster/namespaces/mla/aera", Customer: "bad", Hint: `did you mean "area"?`}},
		{"nothing close", "bad.cue", "package vsoc\n\ncustomers: bad: vpc: firewall: true\n",
			LoadError{Pointer: "/customers/bad/vpc/firewall", Customer: "bad", Hint: "vpc allows cidrs, availabilityZones, natEgress, logRetentionDays"}},
		{"hub", "hub.cue", strings.Replace(string(hub), "\tregion:", "\tregoin:", 1),
			LoadError{Pointer: "/hub/regoin", Hint: `did you mean "region"?`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sources := []Source{{Name: "x/" + tc.file, Content: []byte(tc.content)}}
			if tc.file != "hub.cue" {
				sources = append(sources, Source{Name: "x/hub.cue", Content: hub})
			}
			_, err := Load(context.Background(), "x", sources, nil)
			var errs LoadErrors
			if !errors.As(err, &errs) {
				t.Fatalf("err = %v, want LoadErrors", err)
			}
			var found bool
			for _, e := range errs {
				if strings.HasSuffix(e.Message, "field not allowed") {
					found = true
					got := LoadError{Pointer: e.Pointer, Customer: e.Customer, Hint: e.Hint}
					if got != tc.want {
						t.Errorf("%s: got pointer %q, customer %q, hint %q; want %q, %q, %q", e.Message, got.Pointer, got.Customer, got.Hint, tc.want.Pointer, tc.want.Customer, tc.want.Hint)
					}
				}
			}
			if !found {
				t.Fatalf("no unknown field reported:\n%v", err)
			}
		})
	}
}

func TestLoadRefusesAStaleVendoredSchema(t *testing.T) {
	_, err := Load(context.Background(), "x", []Source{{Name: "x/schema.cue", Content: []byte("package vsoc\n")}}, nil)
	if err == nil || !strings.Contains(err.Error(), "x/schema.cue:1:1: this vendored schema differs") {
		t.Fatalf("err = %v, want the vendored-schema error", err)
	}
}

// TestVendoredSchemaWithCRLFLineEndings: a checkout that converts line endings (core.autocrlf,
// eol=crlf) or adds a byte-order mark does not make the vendored schema stale.
func TestVendoredSchemaWithCRLFLineEndings(t *testing.T) {
	crlf := "\ufeff" + strings.ReplaceAll(string(schema.Source), "\n", "\r\n")
	if errs := checkVendoredSchema(Source{Name: "x/schema.cue", Content: []byte(crlf)}); errs != nil {
		t.Fatalf("a CRLF copy of the schema is refused: %v", errs)
	}
	stale := strings.Replace(crlf, "package", "// changed\r\npackage", 1)
	if errs := checkVendoredSchema(Source{Name: "x/schema.cue", Content: []byte(stale)}); errs == nil {
		t.Fatal("a changed CRLF copy of the schema is accepted")
	}
}

func TestVendoredSchemaIsCurrent(t *testing.T) {
	vendored, err := os.ReadFile(filepath.Join(sampleDir, SchemaFile))
	if err != nil {
		t.Fatal(err)
	}
	if string(vendored) != string(schema.Source) {
		t.Fatalf("customers/schema.cue differs from schema/vsoc.cue: run `go run ./cmd/vsoc-compile schema > customers/schema.cue`")
	}
}

func TestCacheServesUnchangedFilesAcrossRuns(t *testing.T) {
	dir := t.TempDir()
	first, err := LoadDir(context.Background(), sampleDir, NewCache(dir))
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	if len(entries) != 6 {
		t.Fatalf("cache holds %d entries, want 6 (hub + 5 customers)", len(entries))
	}
	second, err := LoadDir(context.Background(), sampleDir, NewCache(dir))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, second, cmp.AllowUnexported(Positions{})); diff != "" {
		t.Fatalf("a cached load differs (-first +second):\n%s", diff)
	}
}

func TestLoadIsDeterministic(t *testing.T) {
	prev := runtime.GOMAXPROCS(1)
	one := loadSample(t)
	runtime.GOMAXPROCS(4)
	four := loadSample(t)
	runtime.GOMAXPROCS(prev)
	if diff := cmp.Diff(one, four, cmp.AllowUnexported(Positions{})); diff != "" {
		t.Fatalf("loads differ with GOMAXPROCS (-1 +4):\n%s", diff)
	}
}

// sampleFile is a file of the sample fleet.
func sampleFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sampleDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHubBelongsInHubFile: the hub is declared in hub.cue and nowhere else. A hub in a customer
// file is an error there (not a "second hub" blamed on hub.cue, whose deletion would leave the
// misplaced one); a hub only in another file is not accepted; no hub at all stays "no hub".
func TestHubBelongsInHubFile(t *testing.T) {
	hub, docs := sampleFile(t, "hub.cue"), sampleFile(t, "documentation.cue")
	body := string(hub[strings.Index(string(hub), "\nhub:")+1:])
	docsLines := strings.Count(string(docs), "\n")
	for _, tc := range []struct {
		name    string
		sources []Source
		want    string
	}{
		{"also in a customer file", []Source{
			{Name: "x/documentation.cue", Content: []byte(string(docs) + body)},
			{Name: "x/hub.cue", Content: hub},
		}, fmt.Sprintf("x/documentation.cue:%d:1: documentation.cue declares the hub, which belongs in hub.cue (hint: ", docsLines+1)},
		{"only in another file", []Source{
			{Name: "x/documentation.cue", Content: docs},
			{Name: "x/zz.cue", Content: hub},
		}, "x/zz.cue:5:1: zz.cue declares the hub, which belongs in hub.cue (hint: "},
		{"nowhere", []Source{{Name: "x/documentation.cue", Content: docs}}, "x/hub.cue:1:1: no hub: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(context.Background(), "x", tc.sources, nil)
			var le LoadErrors
			if !errors.As(err, &le) || len(le) != 1 || !strings.HasPrefix(le.Error(), tc.want) {
				t.Fatalf("got:\n%v\nwant one error starting %q", err, tc.want)
			}
		})
	}
}

// TestCustomerNamedSchema: schema.cue is the vendored schema's name, so a customer named schema
// (or the hub) declared there is reported as such, at its declaration, and not as a stale schema
// whose hint (`vsoc-compile schema > x/schema.cue`) would overwrite the customer. A stale schema is
// still one.
func TestCustomerNamedSchema(t *testing.T) {
	hub, docs := sampleFile(t, "hub.cue"), sampleFile(t, "documentation.cue")
	customer := strings.Replace(string(docs), "documentation:", "schema:", 1)
	stale := strings.Replace(string(schema.Source), "package vsoc", "package vsoc\n\n#Old: string", 1)
	for _, tc := range []struct {
		name, content, want string
	}{
		{"customer", customer, "x/schema.cue:4:12: schema.cue is the vendored schema's file name; a customer cannot be named schema (hint: "},
		{"hub", string(hub), "x/schema.cue:5:1: schema.cue is the vendored schema's file name; the hub belongs in hub.cue (hint: "},
		{"stale schema", stale, "x/schema.cue:1:1: this vendored schema differs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := checkVendoredSchema(Source{Name: "x/schema.cue", Content: []byte(tc.content)})
			if len(errs) != 1 || !strings.HasPrefix(errs.Error(), tc.want) {
				t.Fatalf("got:\n%v\nwant one error starting %q", errs, tc.want)
			}
		})
	}
}

// TestReadDirSkipsDotAndUnderscoreFiles: ReadDir reads the files cue/load reads. Names starting
// with . or _ are left out: an Emacs lock file (a dangling symbolic link .#acme.cue) made every
// command fail, and a copy .documentation.cue declared the customer twice.
func TestReadDirSkipsDotAndUnderscoreFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"hub.cue", "documentation.cue"} {
		b, err := os.ReadFile(filepath.Join(sampleDir, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, as := range []string{name, "." + name, "_" + name} {
			if err := os.WriteFile(filepath.Join(dir, as), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Symlink("user@host.1234:1700000000", filepath.Join(dir, ".#documentation.cue")); err != nil {
		t.Fatal(err)
	}
	sources, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range sources {
		names = append(names, filepath.Base(s.Name))
	}
	if diff := cmp.Diff([]string{"documentation.cue", "hub.cue"}, names); diff != "" {
		t.Fatalf("files read (-want +got):\n%s", diff)
	}
	if _, err := Load(context.Background(), dir, sources, nil); err != nil {
		t.Fatal(err)
	}
}

// TestOneFindingPerDisjunction: CUE reports an empty disjunction as a header ("N errors in empty
// disjunction:") and then every alternative's error, nested disjunctions included (errors as CUE
// gave them for the schema's fields). Each becomes one error: the header goes, and an
// alternative another one covers (the default) is left out.
func TestOneFindingPerDisjunction(t *testing.T) {
	at := func(line, col int, msg string) LoadError {
		return LoadError{Pos: Pos{File: "x.cue", Line: line, Col: col}, Message: msg}
	}
	for _, tc := range []struct {
		name string
		in   LoadErrors
		want LoadErrors
	}{
		{"type and its default (bool | *false)", LoadErrors{
			at(6, 14, `c.natEgress: 2 errors in empty disjunction:`),
			at(6, 14, `c.natEgress: conflicting values "yes" and bool (mismatched types string and bool)`),
			at(6, 14, `c.natEgress: conflicting values "yes" and false (mismatched types string and bool)`),
		}, LoadErrors{at(6, 14, `c.natEgress: conflicting values "yes" and bool (mismatched types string and bool)`)}},
		{"bound and its default (#ASN | *65000)", LoadErrors{
			at(7, 62, `c.asn: 2 errors in empty disjunction:`),
			at(7, 62, `c.asn: conflicting values 65000 and -1`),
			at(7, 62, `c.asn: invalid value -1 (out of bound >=0)`),
		}, LoadErrors{at(7, 62, `c.asn: invalid value -1 (out of bound >=0)`)}},
		{"literals", LoadErrors{
			at(12, 33, `c.mode: 2 errors in empty disjunction:`),
			at(12, 33, `c.mode: conflicting values "route53-resolver" and "x"`),
			at(12, 33, `c.mode: conflicting values "coredns" and "x"`),
		}, LoadErrors{{Pos: Pos{File: "x.cue", Line: 12, Col: 33}, Message: `c.mode: "x" is not one of "coredns", "route53-resolver"`, Hint: "use one of them"}}},
		{"an element of a list, and the default list", LoadErrors{
			at(9, 64, `c.ikeVersions: 4 errors in empty disjunction:`),
			at(9, 64, `c.ikeVersions: incompatible list lengths (1 and 2)`),
			at(9, 87, `c.ikeVersions.1: 2 errors in empty disjunction:`),
			at(9, 87, `c.ikeVersions.1: conflicting values 5 and "ikev1" (mismatched types int and string)`),
			at(9, 87, `c.ikeVersions.1: conflicting values 5 and "ikev2" (mismatched types int and string)`),
			at(10, 1, `c.other: field not allowed`),
		}, LoadErrors{
			{Pos: Pos{File: "x.cue", Line: 9, Col: 87}, Message: `c.ikeVersions.1: 5 is not one of "ikev1", "ikev2"`, Hint: "use one of them"},
			at(10, 1, `c.other: field not allowed`),
		}},
		{"an element against the default list's", LoadErrors{
			at(5, 40, `c.ports: 3 errors in empty disjunction:`),
			at(5, 40, `c.ports: incompatible list lengths (2 and 4)`),
			at(5, 52, `c.ports: conflicting values "x" and int (mismatched types string and int)`),
			at(5, 52, `c.ports.1: conflicting values "x" and 443 (mismatched types string and int)`),
		}, LoadErrors{at(5, 52, `c.ports: conflicting values "x" and int (mismatched types string and int)`)}},
		{"types", LoadErrors{
			at(9, 17, `c.preSharedKey: 2 errors in empty disjunction:`),
			at(9, 17, `c.preSharedKey: conflicting values 5 and string (mismatched types int and string)`),
			at(9, 17, `c.preSharedKey: conflicting values 5 and {secretsManager:string} (mismatched types int and struct)`),
		}, LoadErrors{at(9, 17, `c.preSharedKey: conflicting values 5 and (string | {secretsManager:string})`)}},
		{"structs", LoadErrors{
			at(30, 4, `c.from: 2 errors in empty disjunction:`),
			at(30, 11, `c.from.namespace: field not allowed`),
			at(30, 36, `c.from.area: field not allowed`),
		}, LoadErrors{at(30, 4, `c.from: no alternative allows it: namespace: field not allowed; area: field not allowed`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, collapseChoices(tc.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
