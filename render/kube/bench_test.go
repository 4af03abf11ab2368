package kube

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/vsoc/vsoc/compiler"
)

// syntheticPlan plans a fleet of n customers written by testdata/genfleet.
func syntheticPlan(tb testing.TB, n int) *compiler.Plan {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "fleet")
	cmd := exec.Command("go", "run", "../../testdata/genfleet", "-n", strconv.Itoa(n), "-o", dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("genfleet: %v", err)
	}
	fleet, err := compiler.LoadDir(tb.Context(), dir, compiler.NewCache(""))
	if err != nil {
		tb.Fatalf("loading the synthetic fleet: %v", err)
	}
	p, err := compiler.NewPlan(fleet)
	if err != nil {
		tb.Fatalf("planning the synthetic fleet: %v", err)
	}
	return p
}

func benchmarkRender(b *testing.B, n int) {
	p := syntheticPlan(b, n)
	b.ResetTimer()
	for b.Loop() {
		files, err := Render(p)
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := files[filepath.ToSlash(filepath.Join(ClusterDir(p.Customers[n-1].Customer.Name), RenderedFile))]; !ok {
			b.Fatal("the last customer has no rendered.yaml")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(n), "µs/customer")
}

func BenchmarkRender1000(b *testing.B)  { benchmarkRender(b, 1000) }
func BenchmarkRender10000(b *testing.B) { benchmarkRender(b, 10000) }

// BenchmarkKrustyPerCluster is what kustomize's own build costs for one
// customer cluster: the reason rendered.yaml is written directly.
func BenchmarkKrustyPerCluster(b *testing.B) {
	p := syntheticPlan(b, 1)
	files, err := Render(p)
	if err != nil {
		b.Fatal(err)
	}
	name := p.Customers[0].Customer.Name
	b.ResetTimer()
	for b.Loop() {
		if _, err := kustomizeBuild(files, name); err != nil {
			b.Fatal(err)
		}
	}
}
