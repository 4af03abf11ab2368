package diff

import (
	"context"
	"testing"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/render"
	"github.com/vsoc/vsoc/validate"
)

// The target: previewing a one-customer change on a 10,000-customer
// fleet costs at most 1.5 × one build of that fleet. Run both side by side:
//
//	go test ./diff -run '^$' -bench '10000$' -benchtime 1x -timeout 60m
//
// Each iteration starts with an empty compile cache, as a CI job does.

const benchFleet = 10000

func BenchmarkBuild10000(b *testing.B) {
	dir := b.TempDir() + "/customers"
	genfleet(b, benchFleet, dir)
	ctx := context.Background()
	v, err := validate.New(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
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
	b.ResetTimer()
	for b.Loop() {
		p, err := Run(ctx, Options{Dir: r.path("customers"), Base: "HEAD", Validator: v, Cache: compiler.NewCache("")})
		if err != nil {
			b.Fatal(err)
		}
		if p.Failed() || len(p.Owners) != 1 || p.Owners[0].Name != "c00042" {
			b.Fatalf("failed %v, %d owners changed; want c00042 alone", p.Failed(), len(p.Owners))
		}
	}
}
