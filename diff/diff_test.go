package diff

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/fleettest/fleetgen"
	"github.com/vsoc/vsoc/render"
	"github.com/vsoc/vsoc/schema"
	"github.com/vsoc/vsoc/validate"
)

// The head is the work tree as it is, uncommitted changes included; the
// base comes from git objects, and neither the work tree nor the index moves.
func TestDirtyWorkTreeIsTheHeadAndStaysUntouched(t *testing.T) {
	r := newGitRepo(t)
	r.copySampleFleet()
	r.commitAll("base fleet")
	r.replace("customers/wacker.cue", "asn: 65101", "asn: 65102")
	r.git("add", "customers/wacker.cue") // staged …
	r.replace("customers/cubebikes.cue", `"10.10.0.0/16"`, `"10.10.0.0/16", "10.11.0.0/16"`)
	r.write("customers/notes.txt", "not a customer file\n") // … unstaged and untracked
	statusBefore, indexBefore := r.git("status", "--porcelain"), r.git("diff", "--cached")
	wackerBefore := r.read("customers/wacker.cue")

	p, err := r.preview("HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if p.Failed() {
		t.Fatalf("the head fails: %+v %+v", p.HeadErrors, p.Violations)
	}
	owner(t, p, "wacker")
	owner(t, p, "cubebikes")
	if r.git("status", "--porcelain") != statusBefore || r.git("diff", "--cached") != indexBefore || r.read("customers/wacker.cue") != wackerBefore {
		t.Error("diff changed the work tree or the index")
	}
}

func TestUnknownBaseRefIsAUsageError(t *testing.T) {
	r := newGitRepo(t)
	r.copySampleFleet()
	r.commitAll("base fleet")
	for _, ref := range []string{"origin/main", "--output=x", "no such ref"} {
		_, err := r.preview(ref)
		if !errors.Is(err, ErrUnknownRef) {
			t.Errorf("base %q: %v, want ErrUnknownRef", ref, err)
		}
	}
}

// A pull request that creates the customers folder compares with nothing.
func TestBaseWithoutCustomersFolder(t *testing.T) {
	r := newGitRepo(t)
	r.write("README.md", "customers repository\n")
	r.commitAll("empty repository")
	r.copySampleFleet()

	p, err := r.preview("HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.BaseNote, "does not exist") || p.Summary.FilesChanged+p.Summary.FilesRemoved != 0 || p.Summary.FilesAdded == 0 {
		t.Errorf("note %q, summary %+v: want every file added", p.BaseNote, p.Summary)
	}
	if p.Summary.CustomersAdded != 5 {
		t.Errorf("%d customers added, want the sample fleet's 5", p.Summary.CustomersAdded)
	}
}

// A base that does not compile is reported, and the head is still previewed.
func TestMalformedBase(t *testing.T) {
	r := newGitRepo(t)
	r.copySampleFleet()
	r.replace("customers/wobcom.cue", `"10.20.0.0/16", "192.168.50.0/24"`, `"10.20.0.0/16" "192.168.50.0/24"`)
	r.commitAll("broken base")
	r.replace("customers/wobcom.cue", `"10.20.0.0/16" "192.168.50.0/24"`, `"10.20.0.0/16", "192.168.50.0/24"`)

	p, err := r.preview("HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if p.Failed() || !strings.Contains(p.BaseNote, "does not compile") || !strings.Contains(p.BaseNote, "wobcom.cue:8:") {
		t.Errorf("failed %v, note %q: want a passing head and a note naming the base's error", p.Failed(), p.BaseNote)
	}
}

// A change to every customer of a large fleet still fits in one GitHub
// comment, destructive changes first, while the JSON keeps everything.
func TestMarkdownOfAHugeChangeFitsInOneComment(t *testing.T) {
	const n = 400
	r := newGitRepo(t)
	genfleet(t, n, r.path("customers"))
	r.commitAll("base fleet")
	for i := range n {
		// Every customer gateway gets a new address: replaced, destructive.
		name := fmt.Sprintf("customers/c%05d.cue", i)
		r.replace(name, `.1"}]`, `.2"}]`)
	}

	p, err := r.preview("HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if p.Summary.CustomersChanged != n || len(p.Destructive) < n {
		t.Fatalf("%d customers changed, %d destructive changes; want %d and at least %d", p.Summary.CustomersChanged, len(p.Destructive), n, n)
	}
	md := Markdown(p)
	if len(md) > MarkdownLimit {
		t.Errorf("markdown is %d bytes, over GitHub's %d", len(md), MarkdownLimit)
	}
	caution, table := strings.Index(md, "destructive changes**"), strings.Index(md, "| customers |")
	if !strings.HasPrefix(md, MarkdownMarker) || !strings.Contains(md, "shortened") || caution < 0 || table < 0 || caution > table {
		t.Errorf("markdown lacks the marker, the shortening note, or destructive changes before the summary:\n%.2000s", md)
	}
	if !strings.Contains(md, fmt.Sprintf("| customers | 0 | %d | 0 |", n)) {
		t.Errorf("the summary table does not count %d changed customers", n)
	}

	var buf bytes.Buffer
	if err := WriteJSON(&buf, p); err != nil {
		t.Fatal(err)
	}
	var decoded Preview
	if err := json.Unmarshal(buf.Bytes(), &decoded); err != nil {
		t.Fatal(err)
	}
	if len(decoded.Destructive) != len(p.Destructive) || len(decoded.Owners) != n {
		t.Errorf("json has %d destructive changes and %d owners, want all", len(decoded.Destructive), len(decoded.Owners))
	}
}

// The same change previews byte for byte alike whatever the parallelism.
func TestDeterministic(t *testing.T) {
	r := newGitRepo(t)
	r.copySampleFleet()
	r.commitAll("base fleet")
	r.replace("customers/wacker.cue", "asn: 65101", "asn: 65102")
	r.replace("customers/wobcom.cue", "port: 9443", "port: 9444")
	var outputs []string
	for _, procs := range []int{1, runtime.NumCPU() + 3} {
		prev := runtime.GOMAXPROCS(procs)
		p, err := r.preview("HEAD")
		runtime.GOMAXPROCS(prev)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		for _, f := range Formats {
			if err := Write(&buf, f, p, TextOptions{Details: true}); err != nil {
				t.Fatal(err)
			}
		}
		outputs = append(outputs, buf.String())
	}
	if outputs[0] != outputs[1] {
		t.Errorf("previews differ with GOMAXPROCS (-one proc +several):\n%s", cmp.Diff(outputs[0], outputs[1]))
	}
}

func TestTextColour(t *testing.T) {
	r := newGitRepo(t)
	r.copySampleFleet()
	r.commitAll("base fleet")
	r.replace("customers/wacker.cue", "asn: 65101", "asn: 65102")
	p, err := r.preview("HEAD")
	if err != nil {
		t.Fatal(err)
	}
	var plain, coloured bytes.Buffer
	if err := WriteText(&plain, p, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteText(&coloured, p, TextOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "\x1b[") {
		t.Error("plain text has escape sequences")
	}
	if !strings.Contains(coloured.String(), ansiRed+"!"+ansiReset) {
		t.Error("coloured text does not mark destructive changes in red")
	}
	// Without --details the changed values stay out of the terminal.
	if strings.Contains(plain.String(), "65102") || !strings.Contains(plain.String(), "--details") {
		t.Error("text without details shows values or does not say how to see them")
	}
}

// genfleet writes a synthetic fleet with the project's generator.
func genfleet(t testing.TB, n int, dir string) {
	t.Helper()
	if err := fleetgen.Write(dir, n); err != nil {
		t.Fatalf("genfleet: %v", err)
	}
}

// renderBase renders only the changed customers of the base; it must give
// exactly the files a full build of the base gives, for every scenario, a hub
// change, and a change to a target that writes fleet-wide files. A renderer
// that makes one customer's files depend on another's fails here.
func TestBaseRenderMatchesAFullBuild(t *testing.T) {
	changes := map[string]func(r *gitRepo){
		"hub": func(r *gitRepo) {
			r.replace("customers/hub.cue", `tickets: addresses: ["100.65.10.21"]`, `tickets: addresses: ["100.65.10.22"]`)
		},
		"two customers": func(r *gitRepo) {
			r.replace("customers/wacker.cue", "asn: 65101", "asn: 65102")
			r.replace("customers/wobcom.cue", `domains: ["wobcom.de"]`, `domains: ["wobcom.de", "wobcom.net"]`)
		},
	}
	for _, sc := range scenarios {
		if !sc.headFails {
			changes[sc.name] = sc.change
		}
	}
	v, err := validate.New(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			r := newGitRepo(t)
			r.copySampleFleet()
			r.commitAll("base fleet")
			baseDir := t.TempDir()
			for _, e := range mustReadDir(t, r.path("customers")) {
				copyFile(t, filepath.Join(r.path("customers"), e), filepath.Join(baseDir, e))
			}
			change(r)

			ctx := context.Background()
			cache := compiler.NewCache("")
			headSources, err := compiler.ReadDir(r.path("customers"))
			if err != nil {
				t.Fatal(err)
			}
			head, err := render.Build(ctx, v, r.path("customers"), headSources, cache)
			if err != nil {
				t.Fatal(err)
			}
			if len(head.Violations) > 0 {
				t.Fatalf("the head has violations: %+v", head.Violations)
			}
			baseSources, err := compiler.ReadDir(baseDir)
			if err != nil {
				t.Fatal(err)
			}
			// Both folders under one name, as diff sees them.
			for i := range baseSources {
				baseSources[i].Name = filepath.Join(r.path("customers"), filepath.Base(baseSources[i].Name))
			}
			full, err := render.Build(ctx, v, r.path("customers"), baseSources, cache)
			if err != nil {
				t.Fatal(err)
			}
			got, err := renderBase(head, full.Fleet, render.Targets())
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(full.Files) {
				t.Errorf("%d files, a full build of the base has %d", len(got), len(full.Files))
			}
			for _, path := range full.Files.Paths() {
				if !bytes.Equal(got[path], full.Files[path]) {
					t.Errorf("%s differs from a full build of the base", path)
				}
			}
		})
	}
}

func mustReadDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestExportChangeOrderDependsOnWhatImportersNeed: an export change apply
// can order (its importers stop importing it and need nothing new) is not
// blocking; one whose importer still imports it, or needs an export only the
// updated hub has, is, with the remedy that fits.
func TestExportChangeOrderDependsOnWhatImportersNeed(t *testing.T) {
	ch := exportChange{owner: "hub", stack: "vsoc-hub", delete: true, cause: "its output is no longer exported"}
	for _, c := range []struct {
		name      string
		importers []Importer
		orderable bool
		remedy    string
	}{
		{"released and removed", []Importer{{Owner: "a", Stack: "vsoc-customer-a"}, {Owner: "b", Stack: "vsoc-customer-b", Removed: true}}, true,
			"vsoc-compile apply deletes the stacks of the removed customers (vsoc-customer-b, with --allow-destroy), then updates a, then the vsoc-hub stack"},
		{"still imported", []Importer{{Owner: "a", StillImports: true}, {Owner: "b"}}, false, "a still import it after this change"},
		{"needs a new export", []Importer{{Owner: "a", NeedsExporterFirst: true}, {Owner: "b"}}, false, "split the change"},
	} {
		b := blocker("vsoc-hub-Subnet-c", ch, c.importers)
		if b.orderable() != c.orderable || !strings.Contains(b.Remedy, c.remedy) {
			t.Errorf("%s: orderable %v, remedy %q; want %v and %q", c.name, b.orderable(), b.Remedy, c.orderable, c.remedy)
		}
	}
}

// TestImporterNeedingAChangedExportBlocks: the hub deletes export D and gives
// E a new value; customer x imported D and imports E instead. x cannot go
// before the hub (it needs E's new value) and the hub cannot go first (x
// imports D), so D's change is blocking, not ordered.
func TestImporterNeedingAChangedExportBlocks(t *testing.T) {
	hub := func(outputs string) []byte {
		return []byte(`{"Resources":{"A":{"Type":"AWS::EC2::VPC"},"B":{"Type":"AWS::EC2::VPC"}},"Outputs":{` + outputs + `}}`)
	}
	customer := func(export string) []byte {
		return []byte(`{"Resources":{"R":{"Type":"AWS::EC2::Route","Properties":{"RouteTableId":{"Fn::ImportValue":"` + export + `"}}}}}`)
	}
	base := render.Files{
		"aws/vsoc-hub.template.json":        hub(`"D":{"Value":{"Ref":"A"},"Export":{"Name":"hub-D"}},"E":{"Value":{"Ref":"A"},"Export":{"Name":"hub-E"}}`),
		"aws/vsoc-customer-x.template.json": customer("hub-D"),
	}
	head := render.Files{
		"aws/vsoc-hub.template.json":        hub(`"E":{"Value":{"Ref":"B"},"Export":{"Name":"hub-E"}}`),
		"aws/vsoc-customer-x.template.json": customer("hub-E"),
	}
	changes := map[string]exportChange{
		"hub-D": {owner: "hub", stack: "vsoc-hub", delete: true, cause: "its output is no longer exported"},
		"hub-E": {owner: "hub", stack: "vsoc-hub", cause: "its value in the template changes"},
	}
	blocking, ordered := comparison{}.blockers(changes, base, head)
	if len(blocking) != 1 || blocking[0].Export != "hub-D" || !blocking[0].ImportedBy[0].NeedsExporterFirst || len(ordered) != 0 {
		t.Errorf("blocking %+v, ordered %+v; want hub-D blocking, x needing the hub first", blocking, ordered)
	}
}

// TestBaseWithAnOlderVendoredSchemaIsCompared: in the pull request that upgrades vsoc, the base
// vendors the older version's schema.cue; the base is still compiled (with this binary's schema)
// and compared, so a customer removed in the same change is a deletion, not hidden among
// "everything added".
func TestBaseWithAnOlderVendoredSchemaIsCompared(t *testing.T) {
	r := newGitRepo(t)
	r.copySampleFleet()
	r.write("customers/schema.cue", r.read("customers/schema.cue")+"// the previous version's schema\n")
	r.commitAll("base fleet on the previous vsoc")
	r.write("customers/schema.cue", string(schema.Source))
	if err := os.Remove(r.path("customers/wobcom.cue")); err != nil {
		t.Fatal(err)
	}
	p, err := r.preview("HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if p.BaseNote != "" || len(p.Deletions) != 1 || !strings.Contains(p.Deletions[0].Message, "vsoc-customer-wobcom") {
		t.Fatalf("base note %q, deletions %+v; want the base compared and wobcom's stack deleted", p.BaseNote, p.Deletions)
	}
}

func TestMarkdownProseKeepsCodeSpansAsTheyAre(t *testing.T) {
	for in, want := range map[string]string{
		"refresh it with `vsoc-compile schema > customers/schema.cue` <now>": "refresh it with `vsoc-compile schema > customers/schema.cue` &lt;now&gt;",
		"an odd ` backtick <b>": "an odd ` backtick &lt;b&gt;",
	} {
		if got := mdProse(in); got != want {
			t.Errorf("mdProse(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBaseSymlinkIsFollowed: a customer file committed as a symbolic link to a file elsewhere in
// the repository is read at the base as a checkout would read it; one that leads out of the
// repository is refused with the reason.
func TestBaseSymlinkIsFollowed(t *testing.T) {
	r := newGitRepo(t)
	r.copySampleFleet()
	r.write("shared/wobcom.cue", r.read("customers/wobcom.cue"))
	if err := os.Remove(r.path("customers/wobcom.cue")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../shared/wobcom.cue", r.path("customers/wobcom.cue")); err != nil {
		t.Fatal(err)
	}
	r.commitAll("wobcom's file is a link")
	r.replace("shared/wobcom.cue", `"192.168.50.0/24"]`, `"192.168.50.0/24", "10.21.0.0/16"]`)
	p, err := r.preview("HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if p.BaseNote != "" || len(p.Owners) != 1 || p.Owners[0].Name != "wobcom" || p.Owners[0].Status != Changed {
		t.Fatalf("base note %q, owners %+v; want only wobcom changed", p.BaseNote, p.Owners)
	}

	if err := os.Remove(r.path("customers/wobcom.cue")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/hostname.cue", r.path("customers/wobcom.cue")); err != nil {
		t.Fatal(err)
	}
	r.commitAll("a link out of the repository")
	if err := os.Remove(r.path("customers/wobcom.cue")); err != nil {
		t.Fatal(err)
	}
	r.write("customers/wobcom.cue", r.read("shared/wobcom.cue")) // the head is a plain file again
	if _, err := r.preview("HEAD"); err == nil || !strings.Contains(err.Error(), "does not lead to a file in the repository") {
		t.Fatalf("a link out of the repository: %v", err)
	}
}

// TestHubOutsideHubFile: the hub belongs in hub.cue. A head that declares it in a customer file
// too gets the error there, with its hint, as validate reports it (not a "second hub" in
// hub.cue). A base from before that rule, with the hub alone in another file, is read as the
// vsoc that merged it read it: the pull request that moves the hub into hub.cue previews no
// change. A base with the hub in a customer's file does not compile, and the note names it.
func TestHubOutsideHubFile(t *testing.T) {
	r := newGitRepo(t)
	r.copySampleFleet()
	hub := r.read("customers/hub.cue")
	body := hub[strings.Index(hub, "\nhub:")+1:]
	r.commitAll("base fleet")
	r.write("customers/wobcom.cue", r.read("customers/wobcom.cue")+"\n"+body)
	p, err := r.preview("HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Failed() || len(p.HeadErrors) != 1 {
		t.Fatalf("head errors %+v, want one", p.HeadErrors)
	}
	if e := p.HeadErrors[0]; e.File != filepath.Join("customers", "wobcom.cue") ||
		!strings.Contains(e.Message, "wobcom.cue declares the hub, which belongs in hub.cue") || e.Hint == "" {
		t.Errorf("head error %+v, want wobcom.cue declaring the hub, with a hint", e)
	}

	r.write("customers/wobcom.cue", strings.TrimSuffix(r.read("customers/wobcom.cue"), "\n"+body))
	if err := os.Rename(r.path("customers/hub.cue"), r.path("customers/zz.cue")); err != nil {
		t.Fatal(err)
	}
	r.commitAll("the hub in zz.cue")
	if err := os.Rename(r.path("customers/zz.cue"), r.path("customers/hub.cue")); err != nil {
		t.Fatal(err)
	}
	if p, err = r.preview("HEAD"); err != nil {
		t.Fatal(err)
	}
	if p.Failed() || p.BaseNote != "" || len(p.Owners) != 0 {
		t.Errorf("failed %v, note %q, %d owners changed: want moving the hub from zz.cue to hub.cue to change nothing", p.Failed(), p.BaseNote, len(p.Owners))
	}

	if err := os.Remove(r.path("customers/hub.cue")); err != nil {
		t.Fatal(err)
	}
	r.write("customers/wobcom.cue", r.read("customers/wobcom.cue")+"\n"+body)
	r.commitAll("the hub in wobcom.cue")
	r.write("customers/wobcom.cue", strings.TrimSuffix(r.read("customers/wobcom.cue"), "\n"+body))
	r.write("customers/hub.cue", hub)
	if p, err = r.preview("HEAD"); err != nil {
		t.Fatal(err)
	}
	if p.Failed() || !strings.Contains(p.BaseNote, "wobcom.cue declares the hub, which belongs in hub.cue") {
		t.Errorf("failed %v, note %q: want a passing head and a note naming the base's hub in wobcom.cue", p.Failed(), p.BaseNote)
	}
}

// TestBaseSkipsDotAndUnderscoreFiles: the base's files are listed as compiler.ReadDir lists the
// head's, leaving out names starting with . or _ (as cue does): a committed copy .wobcom.cue and
// a draft _next.cue are in neither, and only the real change shows.
func TestBaseSkipsDotAndUnderscoreFiles(t *testing.T) {
	r := newGitRepo(t)
	r.copySampleFleet()
	r.write("customers/.wobcom.cue", r.read("customers/wobcom.cue"))
	r.write("customers/_next.cue", "package vsoc\n\ncustomers: next: {\n")
	r.commitAll("base fleet with a hidden copy and a draft")
	r.replace("customers/wobcom.cue", `"192.168.50.0/24"]`, `"192.168.50.0/24", "10.21.0.0/16"]`)
	p, err := r.preview("HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if p.Failed() || p.BaseNote != "" || len(p.Owners) != 1 || p.Owners[0].Name != "wobcom" || p.Owners[0].Status != Changed {
		var owners []string
		for _, o := range p.Owners {
			owners = append(owners, o.Name+" "+string(o.Status))
		}
		t.Fatalf("head errors %+v, base note %q, owners %v; want only wobcom changed", p.HeadErrors, p.BaseNote, owners)
	}
	base, err := ReadRef(context.Background(), r.path("customers"), "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range base.Sources {
		if name := filepath.Base(s.Name); !compiler.IsSourceName(name) {
			t.Errorf("the base lists %s", name)
		}
	}
}
