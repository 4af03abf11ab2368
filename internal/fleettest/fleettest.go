// Package fleettest holds the fleets tests and benchmarks run on: the
// sample fleet of the repository (customers/), planned, rendered or copied
// for editing, and synthetic fleets of any size; and the checks every
// renderer's tests make on them (determinism, the cost per customer). Each
// call loads afresh, so a test may edit what it gets.
//
// Only tests import this package; importing it also defines -update (it
// finds the repository through package golden). The compiler's own tests
// cannot import it (it imports the compiler); they use fleetgen.
package fleettest

import (
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/fleettest/fleetgen"
	"github.com/vsoc/vsoc/internal/golden"
)

// SampleDir is the sample fleet's folder, customers/ in the repository.
func SampleDir(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(golden.RepoRoot(tb), "customers")
}

// SamplePlan loads and plans the sample fleet.
func SamplePlan(tb testing.TB) *compiler.Plan {
	tb.Helper()
	return Plan(tb, SampleDir(tb))
}

// Plan loads and plans the fleet in dir; either failing is fatal.
func Plan(tb testing.TB, dir string) *compiler.Plan {
	tb.Helper()
	fleet, err := compiler.LoadDir(tb.Context(), dir, compiler.NewCache(""))
	if err != nil {
		tb.Fatalf("loading the fleet in %s: %v", dir, err)
	}
	plan, err := compiler.NewPlan(fleet)
	if err != nil {
		tb.Fatalf("planning the fleet in %s: %v", dir, err)
	}
	return plan
}

// Customer is the plan of the customer called name; its absence is fatal.
func Customer(tb testing.TB, p *compiler.Plan, name string) *compiler.CustomerPlan {
	tb.Helper()
	for i := range p.Customers {
		if p.Customers[i].Customer.Name == name {
			return &p.Customers[i]
		}
	}
	tb.Fatalf("no customer %s in the fleet", name)
	return nil
}

// CopySample copies the sample fleet into dst (created), for tests that
// edit customer files or commit them.
func CopySample(tb testing.TB, dst string) {
	tb.Helper()
	src := SampleDir(tb)
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		content, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, content, 0o644)
	})
	if err != nil {
		tb.Fatalf("copying the sample fleet to %s: %v", dst, err)
	}
}

// WriteSynthetic writes fleetgen's fleet of n customers into a temporary
// folder and returns it.
func WriteSynthetic(tb testing.TB, n int) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "fleet")
	if err := fleetgen.Write(dir, n); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// SyntheticPlan loads and plans fleetgen's fleet of n customers.
func SyntheticPlan(tb testing.TB, n int) *compiler.Plan {
	tb.Helper()
	return Plan(tb, WriteSynthetic(tb, n))
}

// WobcomCopies plans n copies of the sample's wobcom (services, a static
// mapping, KKP endpoints), each with its own name and domain, built in
// memory: the fleet's size costs no CUE loading, only planning.
func WobcomCopies(tb testing.TB, n int) *compiler.Plan {
	tb.Helper()
	sample := SamplePlan(tb)
	template := Customer(tb, sample, "wobcom").Customer
	fleet := &compiler.Fleet{Dir: sample.Fleet.Dir, Hub: sample.Fleet.Hub}
	for i := range n {
		c := *template
		c.Name = fmt.Sprintf("customer-%05d", i)
		c.File = c.Name + ".cue"
		domain := fmt.Sprintf("c%05d.example", i)
		c.DNS.Domains = []string{domain}
		c.KKP.Endpoints = compiler.KKPEndpoints{UI: "kkp." + domain, API: "api.kkp." + domain}
		c.Proxy.Allow = []string{"*." + domain}
		c.Proxy.Static = slices.Clone(template.Proxy.Static)
		c.Proxy.Static[0].Host = "legacy-monitor." + domain
		fleet.Customers = append(fleet.Customers, &c)
	}
	plan, err := compiler.NewPlan(fleet)
	if err != nil {
		tb.Fatalf("planning %d copies of wobcom: %v", n, err)
	}
	return plan
}

// CheckDeterministic renders the sample fleet, loaded afresh each time,
// under GOMAXPROCS 1, 2 and 8: the bytes must not depend on scheduling, map
// order or the loader's parallelism.
func CheckDeterministic(t testing.TB, render func(*compiler.Plan) (map[string][]byte, error)) {
	t.Helper()
	var first map[string][]byte
	for _, procs := range []int{1, 2, 8} {
		prev := runtime.GOMAXPROCS(procs)
		files, err := render(SamplePlan(t))
		runtime.GOMAXPROCS(prev)
		if err != nil {
			t.Fatalf("GOMAXPROCS=%d: rendering the sample fleet: %v", procs, err)
		}
		if first == nil {
			first = files
			continue
		}
		if len(files) != len(first) {
			t.Fatalf("GOMAXPROCS=%d: %d files, the first build %d", procs, len(files), len(first))
		}
		for _, name := range slices.Sorted(maps.Keys(first)) {
			if !bytes.Equal(files[name], first[name]) {
				t.Errorf("GOMAXPROCS=%d: %s differs between two builds of the same fleet", procs, name)
			}
		}
	}
}

// BenchmarkRender measures render on plan (b.Loop leaves the plan's setup
// out of the time) and reports the cost per customer, the figure that says
// how a target scales with the fleet.
func BenchmarkRender(b *testing.B, plan *compiler.Plan, render func(*compiler.Plan) (map[string][]byte, error)) {
	b.Helper()
	for b.Loop() {
		if _, err := render(plan); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(max(1, len(plan.Customers))), "µs/customer")
}

// WriteOut writes a build's files (keyed by slash paths) into the folder
// out, replacing what was there, as vsoc-compile build does.
func WriteOut(tb testing.TB, out string, files map[string][]byte) {
	tb.Helper()
	if err := os.RemoveAll(out); err != nil {
		tb.Fatalf("replacing %s: %v", out, err)
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		path := filepath.Join(out, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatalf("writing %s: %v", name, err)
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			tb.Fatalf("writing %s: %v", name, err)
		}
	}
}

// Edit replaces the first old by new in the file at path, as a pull request
// to a customer file would; a file without old is fatal, so that an edit
// never silently stops applying when the sample changes.
func Edit(tb testing.TB, path, old, new string) {
	tb.Helper()
	content, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("editing %s: %v", path, err)
	}
	if !bytes.Contains(content, []byte(old)) {
		tb.Fatalf("editing %s: it does not contain %q", path, old)
	}
	if err := os.WriteFile(path, bytes.Replace(content, []byte(old), []byte(new), 1), 0o644); err != nil {
		tb.Fatalf("editing %s: %v", path, err)
	}
}

// RenderSample plans the sample fleet and renders it with render; an error
// is fatal.
func RenderSample(tb testing.TB, render func(*compiler.Plan) (map[string][]byte, error)) (*compiler.Plan, map[string][]byte) {
	tb.Helper()
	plan := SamplePlan(tb)
	files, err := render(plan)
	if err != nil {
		tb.Fatalf("rendering the sample fleet: %v", err)
	}
	return plan, files
}

// SampleAndSynthetic runs test as two subtests: on the sample fleet, whose
// customers differ in every option, and on fleetgen's fleet of n customers,
// which shows what only appears with many.
func SampleAndSynthetic(t *testing.T, n int, test func(t *testing.T, p *compiler.Plan)) {
	t.Helper()
	t.Run("sample", func(t *testing.T) { test(t, SamplePlan(t)) })
	t.Run("synthetic", func(t *testing.T) { test(t, SyntheticPlan(t, n)) })
}
