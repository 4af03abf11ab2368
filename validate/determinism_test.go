package validate

import (
	"bytes"
	"context"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/golden"
)

// The same fleet gives byte-identical reports whatever the parallelism:
// subjects finish in any order, maps iterate in any order.
func TestDeterministicWhateverGOMAXPROCS(t *testing.T) {
	ctx := context.Background()
	v, err := New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A case with violations in several files and rules.
	dirs, err := filepath.Glob(filepath.Join(golden.RepoRoot(t), "testdata", "invalid", "vsoc0*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no corpus cases: %v", err)
	}
	var fleets []*compiler.Fleet
	for _, dir := range dirs {
		f, err := compiler.LoadDir(ctx, dir, compiler.NewCache(""))
		if err != nil {
			t.Fatal(err)
		}
		fleets = append(fleets, f)
	}
	var reference []byte
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for round, procs := range []int{1, 2, 8, 1, 8} {
		runtime.GOMAXPROCS(procs)
		var out bytes.Buffer
		for _, f := range fleets {
			vs, err := v.Validate(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if err := WriteReport(&out, "json", vs); err != nil {
				t.Fatal(err)
			}
		}
		if round == 0 {
			reference = out.Bytes()
			continue
		}
		if !bytes.Equal(out.Bytes(), reference) {
			t.Fatalf("GOMAXPROCS=%d gives a different report:\n%s\nfirst run:\n%s", procs, out.Bytes(), reference)
		}
	}
}
