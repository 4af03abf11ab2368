package cloudformation

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/render/cloudformation/spec"
)

var update = flag.Bool("update", false, "rewrite the golden templates under testdata/golden/aws")

// goldenDir holds the templates of the sample fleet, keyed like Render's output.
const goldenDir = "../../testdata/golden"

// samplePlan loads and plans the sample fleet in customers/.
func samplePlan(t testing.TB) *compiler.Plan {
	t.Helper()
	fleet, err := compiler.LoadDir(context.Background(), "../../customers", compiler.NewCache(""))
	if err != nil {
		t.Fatalf("loading the sample fleet: %v", err)
	}
	plan, err := compiler.NewPlan(fleet)
	if err != nil {
		t.Fatalf("planning the sample fleet: %v", err)
	}
	return plan
}

func render(t testing.TB, p *compiler.Plan) map[string][]byte {
	t.Helper()
	out, err := Render(p)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return out
}

// byStack re-keys Render's output by stack name, as spec.Check wants it.
func byStack(t testing.TB, files map[string][]byte) map[string][]byte {
	t.Helper()
	stacks := map[string][]byte{}
	for path, body := range files {
		stack, ok := StackOf(path)
		if !ok {
			t.Fatalf("unexpected output path %q", path)
		}
		stacks[stack] = body
	}
	return stacks
}

func TestSampleFleetPassesTheSpec(t *testing.T) {
	plan := samplePlan(t)
	files := render(t, plan)
	if want := len(plan.Customers) + 1; len(files) != want {
		t.Fatalf("rendered %d templates, want %d (hub + one per customer)", len(files), want)
	}
	s, err := spec.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range s.Check(byStack(t, files)) {
		t.Errorf("%s", p)
	}
}

func TestGolden(t *testing.T) {
	files := render(t, samplePlan(t))
	if *update {
		dir := filepath.Join(goldenDir, Dir)
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for path, body := range files {
			if err := os.WriteFile(filepath.Join(goldenDir, path), body, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	entries, err := os.ReadDir(filepath.Join(goldenDir, Dir))
	if err != nil {
		t.Fatalf("reading golden files (run go test ./render/cloudformation/ -update to create them): %v", err)
	}
	var golden []string
	for _, e := range entries {
		golden = append(golden, Dir+"/"+e.Name())
	}
	var rendered []string
	for path := range files {
		rendered = append(rendered, path)
	}
	slices.Sort(rendered)
	if !slices.Equal(golden, rendered) {
		t.Fatalf("rendered files %v, golden files %v (run with -update if the change is intended)", rendered, golden)
	}
	for _, path := range rendered {
		want, err := os.ReadFile(filepath.Join(goldenDir, path))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(files[path], want) {
			t.Errorf("%s differs from its golden file (run with -update if the change is intended)", path)
		}
	}
}

func TestDeterministic(t *testing.T) {
	plan := samplePlan(t)
	var first map[string][]byte
	for _, procs := range []int{1, 2, 7} {
		prev := runtime.GOMAXPROCS(procs)
		files := render(t, plan)
		runtime.GOMAXPROCS(prev)
		if first == nil {
			first = files
			continue
		}
		if len(files) != len(first) {
			t.Fatalf("GOMAXPROCS=%d: %d files, first run %d", procs, len(files), len(first))
		}
		for path, body := range first {
			if !bytes.Equal(files[path], body) {
				t.Errorf("GOMAXPROCS=%d: %s differs from the first run", procs, path)
			}
		}
	}
}

func TestStackOf(t *testing.T) {
	for path, want := range map[string]string{
		TemplatePath("vsoc-hub"):             "vsoc-hub",
		TemplatePath("vsoc-customer-wobcom"): "vsoc-customer-wobcom",
		"aws/notes.txt":                      "",
		"kube/vsoc-hub.template.json":        "",
		"aws/sub/vsoc-hub.template.json":     "",
		"aws/.template.json":                 "",
	} {
		if got, ok := StackOf(path); got != want || ok != (want != "") {
			t.Errorf("StackOf(%q) = %q, %v; want %q", path, got, ok, want)
		}
	}
}
