package render

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vsoc/vsoc/compiler"
)

func TestWriteReplacesTheWholeFolder(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	if err := Write(out, Files{"aws/a.json": []byte("1"), "stale/x": []byte("old")}); err != nil {
		t.Fatal(err)
	}
	if err := Write(out, Files{"aws/a.json": []byte("2"), "dns/Corefile": []byte("c")}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(out, "aws", "a.json")); err != nil || string(b) != "2" {
		t.Fatalf("aws/a.json = %q, %v; want the new content", b, err)
	}
	if _, err := os.Stat(filepath.Join(out, "stale", "x")); !os.IsNotExist(err) {
		t.Fatalf("a file of the previous build survived: %v", err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".out.new-*"))
	if len(leftovers) != 0 {
		t.Fatalf("staging folders left behind: %v", leftovers)
	}
}

func TestFailedWriteLeavesThePreviousOutput(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	if err := Write(out, Files{"aws/a.json": []byte("previous")}); err != nil {
		t.Fatal(err)
	}
	// A file and a folder of the same name cannot both be written.
	err := Write(out, Files{"aws": []byte("x"), "aws/a.json": []byte("new")})
	if err == nil {
		t.Fatal("writing a file and a folder of the same name succeeded")
	}
	if b, err := os.ReadFile(filepath.Join(out, "aws", "a.json")); err != nil || string(b) != "previous" {
		t.Fatalf("after a failed write aws/a.json = %q, %v; want the previous build", b, err)
	}
}

func TestAllRefusesTwoTargetsWritingOnePath(t *testing.T) {
	same := func(*compiler.Plan) (map[string][]byte, error) { return map[string][]byte{"x/y": nil}, nil }
	_, err := All(&compiler.Plan{}, []Target{{Name: "a", Render: same}, {Name: "b", Render: same}})
	if err == nil || !strings.Contains(err.Error(), "both write x/y") {
		t.Fatalf("err = %v, want a collision error", err)
	}
	escape := func(*compiler.Plan) (map[string][]byte, error) { return map[string][]byte{"../etc/passwd": nil}, nil }
	if _, err := All(&compiler.Plan{}, []Target{{Name: "a", Render: escape}}); err == nil {
		t.Fatal("a path outside OUT was accepted")
	}
	failing := func(*compiler.Plan) (map[string][]byte, error) { return nil, errors.New("boom") }
	if _, err := All(&compiler.Plan{}, []Target{{Name: "a", Render: failing}}); err == nil || !strings.Contains(err.Error(), "rendering a: boom") {
		t.Fatalf("err = %v, want the target's error with its name", err)
	}
}
