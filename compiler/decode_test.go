package compiler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/parser"
	"github.com/google/go-cmp/cmp"

	"github.com/vsoc/vsoc/internal/fleettest/fleetgen"
)

// TestDecodeModelMatchesJSON: the direct decoder gives exactly what the
// JSON round trip gives, on every declaration of the sample fleet, the
// invalid-input corpus (where it validates) and a synthetic fleet, and
// does not give up on any of them.
func TestDecodeModelMatchesJSON(t *testing.T) {
	synthetic := filepath.Join(t.TempDir(), "fleet")
	if err := fleetgen.Write(synthetic, 20); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(sampleDir, "*.cue"))
	if err != nil {
		t.Fatal(err)
	}
	for _, pattern := range []string{"../testdata/invalid/*/*.cue", filepath.Join(synthetic, "*.cue")} {
		more, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, more...)
	}
	c, err := newFileCompiler()
	if err != nil {
		t.Fatal(err)
	}
	decoded := 0
	for _, name := range files {
		if filepath.Base(name) == SchemaFile {
			continue
		}
		content, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(name, content)
		if err != nil {
			continue
		}
		v := c.ctx.BuildFile(file)
		if hv := v.LookupPath(cue.ParsePath("hub")); hv.Exists() {
			decoded += compareDecoders(t, name, c.hub.Unify(hv), &Hub{}, &Hub{})
		}
		base := strings.TrimSuffix(filepath.Base(name), ".cue")
		if cv := v.LookupPath(cue.MakePath(cue.Str("customers"), cue.Str(base))); cv.Exists() {
			decl := c.empty.FillPath(cue.ParsePath("name"), base).Unify(cv)
			decoded += compareDecoders(t, name, c.customer.Unify(decl), &Customer{}, &Customer{})
		}
	}
	if decoded < 30 {
		t.Fatalf("compared %d declarations, want the sample fleet's, the corpus' and the synthetic fleet's", decoded)
	}
}

func compareDecoders[T any](t *testing.T, name string, v cue.Value, fast, viaJSON *T) int {
	t.Helper()
	if v.Validate(cue.Concrete(true)) != nil {
		return 0
	}
	if err := decodeJSON(v, viaJSON); err != nil {
		t.Errorf("%s: decoding through JSON: %v", name, err)
		return 0
	}
	if !(fieldIndex{}).decodeModel(v, fast) {
		t.Errorf("%s: the direct decoder gave up on a declaration JSON decodes", name)
		return 0
	}
	if diff := cmp.Diff(viaJSON, fast); diff != "" {
		t.Errorf("%s: direct decoding differs from JSON's (-json +direct):\n%s", name, diff)
	}
	return 1
}
