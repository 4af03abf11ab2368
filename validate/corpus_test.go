package validate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/golden"
)

// corpusLines loads and validates one case folder and renders the outcome as
// expect.txt lines: `file:line:col: VSOCnnn` per violation, or
// `file:line:col: load: <CUE's message>` per load error. Files are named
// relative to the case folder so that the expectations do not depend on
// where the repository is checked out.
func corpusLines(ctx context.Context, t *testing.T, v *Validator, dir string) []string {
	t.Helper()
	sources, err := compiler.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range sources {
		sources[i].Name = filepath.Base(sources[i].Name)
	}
	f, err := compiler.Load(ctx, ".", sources, compiler.NewCache(""))
	var loadErrs compiler.LoadErrors
	if errors.As(err, &loadErrs) {
		var lines []string
		for _, le := range loadErrs {
			line := fmt.Sprintf("%s: load: %s", le.Pos, le.Message)
			if le.Hint != "" {
				line += " (hint: " + le.Hint + ")"
			}
			lines = append(lines, line)
		}
		return lines
	}
	if err != nil {
		t.Fatalf("loading %s: %v", dir, err)
	}
	vs, err := v.Validate(ctx, f)
	if err != nil {
		t.Fatalf("validating %s: %v", dir, err)
	}
	var lines []string
	for _, viol := range vs {
		lines = append(lines, fmt.Sprintf("%s: %s", viol.Pos, viol.Rule))
	}
	return lines
}

// TestInvalidCorpus checks every case of testdata/invalid: each breaks one
// thing in a small fleet, and expect.txt lists exactly the violations (rule
// and position) or load errors it must produce.
func TestInvalidCorpus(t *testing.T) {
	ctx := context.Background()
	v, err := New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(golden.RepoRoot(t), "testdata", "invalid")
	cases, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	ruleRE := regexp.MustCompile(`: (VSOC\d{3})$`)
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		dir := filepath.Join(root, c.Name())
		t.Run(c.Name(), func(t *testing.T) {
			got := corpusLines(ctx, t, v, dir)
			expectPath := filepath.Join(dir, "expect.txt")
			if golden.Updating() {
				if err := os.WriteFile(expectPath, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			b, err := os.ReadFile(expectPath)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			want := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
			if len(want) == 0 || want[0] == "" {
				t.Fatalf("%s is empty: every case must fail", expectPath)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", c.Name(), diff)
			}
			for _, line := range want {
				if m := ruleRE.FindStringSubmatch(line); m != nil {
					covered[m[1]] = true
				}
			}
		})
	}
	var missing []string
	for _, r := range Rules() {
		if !covered[r.ID] {
			missing = append(missing, r.ID)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("rules without a corpus case: %s", strings.Join(missing, ", "))
	}
}
