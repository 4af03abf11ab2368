package validate

import (
	"context"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/fleettest"
	"github.com/vsoc/vsoc/internal/golden"
)

// loadGenFleet writes a synthetic fleet of n customers
// and loads it (loading is the compiler's cost, measured there).
func loadGenFleet(b *testing.B, n int) *compiler.Fleet {
	b.Helper()
	dir := fleettest.WriteSynthetic(b, n)
	f, err := compiler.LoadDir(context.Background(), dir, compiler.NewCache(""))
	if err != nil {
		b.Fatal(err)
	}
	return f
}

func benchmarkValidate(b *testing.B, n int) {
	f := loadGenFleet(b, n)
	ctx := context.Background()
	v, err := New(ctx)
	if err != nil {
		b.Fatal(err)
	}
	// Collect the loader's garbage now, so that it is not charged to the
	// validation.
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime(b)
	for b.Loop() {
		vs, err := v.Validate(ctx, f)
		if err != nil {
			b.Fatal(err)
		}
		if len(vs) != 0 {
			b.Fatalf("a generated fleet has %d violations, first: %s: %s: %s", len(vs), vs[0].Pos, vs[0].Rule, vs[0].Message)
		}
	}
	b.ReportMetric((cpuTime(b)-cpu).Seconds()/float64(b.N), "cpu-s/op")
}

// cpuTime is the process's user+system CPU time so far. The machine is
// shared, so wall time alone says as much about the neighbours as about
// this code; CPU seconds per op do not.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkValidate1000(b *testing.B)  { benchmarkValidate(b, 1000) }
func BenchmarkValidate10000(b *testing.B) { benchmarkValidate(b, 10000) }

// BenchmarkNew is the one-time cost of compiling the embedded policies.
func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		if _, err := New(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateSample validates the bundled fleet (a hub and 5
// customers): the per-customer cost without a large heap around it.
func BenchmarkValidateSample(b *testing.B) {
	ctx := context.Background()
	f, err := compiler.LoadDir(ctx, filepath.Join(golden.RepoRoot(b), "customers"), compiler.NewCache(""))
	if err != nil {
		b.Fatal(err)
	}
	v, err := New(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu := cpuTime(b)
	for b.Loop() {
		if _, err := v.Validate(ctx, f); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((cpuTime(b)-cpu).Seconds()/float64(b.N), "cpu-s/op")
}
