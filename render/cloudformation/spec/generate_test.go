package spec

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The committed extract is what go generate produces: the test runs the //go:generate command
// of generate.go itself, writing elsewhere, and compares the bytes. It installs the npm package,
// so it runs only when asked.
func TestExtractIsReproducible(t *testing.T) {
	if os.Getenv("VSOC_REGENERATE_SPEC") == "" {
		t.Skip("set VSOC_REGENERATE_SPEC=1 to reinstall @aws-cdk/aws-service-spec with npm and compare the extract")
	}
	src, err := os.ReadFile("generate.go")
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, line := range strings.Split(string(src), "\n") {
		if cmd, ok := strings.CutPrefix(line, "//go:generate "); ok {
			args = strings.Fields(cmd)
		}
	}
	if len(args) < 2 || args[len(args)-2] != "-out" {
		t.Fatalf("generate.go: want a //go:generate line ending in -out FILE, got %q", args)
	}
	fresh := filepath.Join(t.TempDir(), "spec.json.gz")
	args[len(args)-1] = fresh
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v", strings.Join(args, " "), err)
	}
	got, err := os.ReadFile(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, embeddedExtract) {
		t.Fatal("regenerating the extract gives different bytes than the committed spec.json.gz")
	}
}
