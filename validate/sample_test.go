package validate

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/golden"
)

// The bundled fleet is what `make demo` validates: it must stay clean.
func TestSampleFleetIsClean(t *testing.T) {
	ctx := context.Background()
	f, err := compiler.LoadDir(ctx, filepath.Join(golden.RepoRoot(t), "customers"), compiler.NewCache(""))
	if err != nil {
		t.Fatalf("loading the sample fleet: %v", err)
	}
	v, err := New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := v.Validate(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) > 0 {
		var b bytes.Buffer
		if err := WriteReport(&b, "text", vs); err != nil {
			t.Fatal(err)
		}
		t.Errorf("the sample fleet has violations:\n%s", b.String())
	}
}
