package kube

import (
	"fmt"
	"testing"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/fleettest"
)

func benchmarkRender(b *testing.B, n int) {
	p := fleettest.SyntheticPlan(b, n)
	last := ClusterDir(p.Customers[n-1].Customer.Name) + "/" + RenderedFile
	fleettest.BenchmarkRender(b, p, func(p *compiler.Plan) (map[string][]byte, error) {
		files, err := Render(p)
		if _, ok := files[last]; err == nil && !ok {
			err = fmt.Errorf("the last customer has no %s", last)
		}
		return files, err
	})
}

func BenchmarkRender1000(b *testing.B)  { benchmarkRender(b, 1000) }
func BenchmarkRender10000(b *testing.B) { benchmarkRender(b, 10000) }

// BenchmarkKrustyPerCluster is what kustomize's own build costs for one
// customer cluster: the reason rendered.yaml is written directly.
func BenchmarkKrustyPerCluster(b *testing.B) {
	p := fleettest.SyntheticPlan(b, 1)
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
