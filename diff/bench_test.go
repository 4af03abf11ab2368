package diff

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/render"
	"github.com/vsoc/vsoc/validate"
)

// The target: previewing a one-customer change on a 10,000-customer
// fleet costs at most 1.5 × one build of that fleet. Run both side by side:
//
//	go test ./diff -run '^$' -bench '10000$' -benchtime 1x -timeout 60m
//
// Each iteration starts with an empty compile cache, as a CI job does. The
// machine is shared, so besides wall time each benchmark reports the CPU time
// the process spent per operation (cpu-s/op), which other load does not
// inflate.

const benchFleet = 10000

func BenchmarkBuild10000(b *testing.B) {
	dir := b.TempDir() + "/customers"
	genfleet(b, benchFleet, dir)
	ctx := context.Background()
	v, err := validate.New(ctx)
	if err != nil {
		b.Fatal(err)
	}
	cpu := startCPU(b)
	for b.Loop() {
		sources, err := compiler.ReadDir(dir)
		if err != nil {
			b.Fatal(err)
		}
		res, err := render.Build(ctx, v, dir, sources, compiler.NewCache(""))
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Violations) > 0 || len(res.Files) < benchFleet {
			b.Fatalf("%d violations, %d files", len(res.Violations), len(res.Files))
		}
	}
	cpu.report()
}

func BenchmarkDiffOneChange10000(b *testing.B) {
	r := newGitRepo(b)
	genfleet(b, benchFleet, r.path("customers"))
	r.commitAll("base fleet")
	r.replace("customers/c00042.cue", `remoteSubnets: ["10.42.0.0/16"]`, `remoteSubnets: ["10.42.0.0/16", "172.16.0.0/16"]`)
	ctx := context.Background()
	v, err := validate.New(ctx)
	if err != nil {
		b.Fatal(err)
	}
	cpu := startCPU(b)
	for b.Loop() {
		p, err := Run(ctx, Options{Dir: r.path("customers"), Base: "HEAD", Validator: v, Cache: compiler.NewCache("")})
		if err != nil {
			b.Fatal(err)
		}
		if p.Failed() || len(p.Owners) != 1 || p.Owners[0].Name != "c00042" {
			b.Fatalf("failed %v, %d owners changed; want c00042 alone", p.Failed(), len(p.Owners))
		}
	}
	cpu.report()
}

// cpuClock measures the CPU time (user and system) of the test process.
type cpuClock struct {
	b     *testing.B
	start time.Duration
}

func startCPU(b *testing.B) cpuClock {
	b.ResetTimer()
	return cpuClock{b: b, start: processCPU(b)}
}

func (c cpuClock) report() {
	c.b.ReportMetric((processCPU(c.b)-c.start).Seconds()/float64(c.b.N), "cpu-s/op")
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
