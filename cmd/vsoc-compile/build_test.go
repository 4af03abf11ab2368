package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vsoc/vsoc/internal/fleettest"
)

// TestBuildRefusesAnOutThatHoldsTheInput: OUT is replaced as a whole, so an OUT that holds the
// customers folder would delete it. The check of what OUT holds lets a folder named as a build's
// folders through (a customers folder called kube, dns, ...), so the input is looked for itself:
// as OUT, inside it, or reached through a symbolic link.
func TestBuildRefusesAnOutThatHoldsTheInput(t *testing.T) {
	root := t.TempDir()
	out := filepath.Join(root, "deploy")
	customers := filepath.Join(out, "kube")
	fleettest.CopySample(t, customers)
	link := filepath.Join(root, "customers")
	if err := os.Symlink(customers, link); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{customers, "-o", out},
		{link, "-o", out},
		{customers, "-o", customers},
		{filepath.Join(out, "..", "deploy", "kube"), "-o", filepath.Join(root, ".", "deploy")},
	} {
		if code := runTo(t.Context(), append([]string{"build", "--no-cache"}, args...), io.Discard); code != 2 {
			t.Errorf("build %v: status %d, want 2", args, code)
		}
		if _, err := os.Stat(filepath.Join(customers, "hub.cue")); err != nil {
			t.Fatalf("build %v deleted the customers folder it read: %v", args, err)
		}
	}
	// The same folder names elsewhere are fine.
	if code := runTo(t.Context(), []string{"build", "--no-cache", customers, "-o", filepath.Join(root, "out")}, io.Discard); code != 0 {
		t.Fatalf("build into a separate OUT: status %d, want 0", code)
	}
}

// TestBuildSummaryNamesOutOnce: an -o given with a trailing slash is named as the folder it is,
// not "out//".
func TestBuildSummaryNamesOutOnce(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	var stdout strings.Builder
	if code := runTo(t.Context(), []string{"build", "--no-cache", "-o", out + "/", filepath.Join("..", "..", "customers")}, &stdout); code != 0 {
		t.Fatalf("build: status %d", code)
	}
	if first, _, _ := strings.Cut(stdout.String(), "\n"); !strings.HasSuffix(first, " into "+out+"/") {
		t.Fatalf("summary %q, want it to end with %q", first, " into "+out+"/")
	}
}
