package compiler

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/vsoc/vsoc/internal/fleettest/fleetgen"
)

// genFleet writes fleetgen's synthetic fleet of n customers (this package's
// tests cannot use fleettest, which imports the compiler).
func genFleet(b *testing.B, n int) string {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "fleet")
	if err := fleetgen.Write(dir, n); err != nil {
		b.Fatal(err)
	}
	return dir
}

func benchmarkLoad(b *testing.B, n int) {
	dir := genFleet(b, n)
	b.ResetTimer()
	for b.Loop() {
		f, err := LoadDir(context.Background(), dir, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(f.Customers) != n {
			b.Fatalf("loaded %d customers, want %d", len(f.Customers), n)
		}
	}
}

func BenchmarkLoad1000(b *testing.B)  { benchmarkLoad(b, 1000) }
func BenchmarkLoad10000(b *testing.B) { benchmarkLoad(b, 10000) }

// BenchmarkLoad10000Warm is a re-run over an unchanged fleet: every file
// comes from the on-disk cache.
func BenchmarkLoad10000Warm(b *testing.B) {
	dir := genFleet(b, 10000)
	cache := b.TempDir()
	if _, err := LoadDir(context.Background(), dir, NewCache(cache)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		f, err := LoadDir(context.Background(), dir, NewCache(cache))
		if err != nil {
			b.Fatal(err)
		}
		if len(f.Customers) != 10000 {
			b.Fatalf("loaded %d customers", len(f.Customers))
		}
	}
}

// BenchmarkCompileOne is the cold cost of one customer file on one core.
func BenchmarkCompileOne(b *testing.B) {
	content, err := os.ReadFile("../customers/wobcom.cue")
	if err != nil {
		b.Fatal(err)
	}
	c, err := newFileCompiler()
	if err != nil {
		b.Fatal(err)
	}
	src := Source{Name: "wobcom.cue", Content: content}
	for b.Loop() {
		if _, errs := c.compile(src); errs != nil {
			b.Fatal(errs)
		}
	}
}
