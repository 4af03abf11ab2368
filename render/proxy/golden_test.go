package proxy

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vsoc/vsoc/compiler"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden/proxy from this build")

// repoRoot walks up from the package directory to the main module's go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's working directory")
		}
		dir = parent
	}
}

// samplePlan plans the sample fleet of the repository (customers/).
func samplePlan(t testing.TB) *compiler.Plan {
	t.Helper()
	fleet, err := compiler.LoadDir(t.Context(), filepath.Join(repoRoot(t), "customers"), compiler.NewCache(""))
	if err != nil {
		t.Fatalf("loading the sample fleet: %v", err)
	}
	plan, err := compiler.NewPlan(fleet)
	if err != nil {
		t.Fatalf("planning the sample fleet: %v", err)
	}
	return plan
}

// checkGolden compares files (keyed "<sub>/...") with testdata/golden/<sub>/,
// both ways: a golden file nothing renders any more is a failure too.
func checkGolden(t *testing.T, sub string, files map[string][]byte) {
	t.Helper()
	root := filepath.Join(repoRoot(t), "testdata", "golden")
	if *update {
		if err := os.RemoveAll(filepath.Join(root, sub)); err != nil {
			t.Fatal(err)
		}
		for name, content := range files {
			path := filepath.Join(root, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	var golden []string
	err := filepath.WalkDir(filepath.Join(root, sub), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, path)
		golden = append(golden, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatalf("reading golden files (run go test -update to create them): %v", err)
	}
	var rendered []string
	for name := range files {
		rendered = append(rendered, name)
	}
	slices.Sort(rendered)
	slices.Sort(golden)
	if diff := cmp.Diff(golden, rendered); diff != "" {
		t.Errorf("rendered files differ from testdata/golden (-golden +rendered; go test -update rewrites them):\n%s", diff)
	}
	for _, name := range rendered {
		want, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil {
			continue // reported above
		}
		if diff := cmp.Diff(string(want), string(files[name])); diff != "" {
			t.Errorf("%s differs from its golden file (-golden +rendered; go test -update rewrites it):\n%s", name, diff)
		}
	}
}
