package cloudformation

import (
	"testing"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/fleettest"
	"github.com/vsoc/vsoc/internal/golden"
	"github.com/vsoc/vsoc/render/cloudformation/spec"
)

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
	plan := fleettest.SamplePlan(t)
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
	golden.CheckTree(t, Dir, render(t, fleettest.SamplePlan(t)))
}

func TestDeterministic(t *testing.T) {
	fleettest.CheckDeterministic(t, Render)
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
