package validate

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/vsoc/vsoc/compiler"
)

func BenchmarkZZSubject(b *testing.B) {
	f, _ := compiler.LoadDir(context.Background(), filepath.Join(repoRoot(b), "customers"), nil)
	ib, _ := newInputBuilder(f.Hub)
	conv := newConverter()
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range f.Customers {
			if _, err := ib.subject(conv, c); err != nil {
				b.Fatal(err)
			}
		}
	}
}
