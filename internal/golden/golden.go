// Package golden compares test output with the golden files under
// testdata/golden/ and rewrites them when the tests run with -update:
//
//	go test ./... -update
//
// It registers the -update flag once for every test binary that imports it.
// A test package without golden files imports it blank, so that the flag is
// defined there too and `go test ./... -update` does not stop at it with
// "flag provided but not defined".
//
// Only tests import this package.
package golden

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// update is the -update flag. A flag is package state by nature: the test
// binary parses it once, before any test runs, and nothing writes it later.
var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden (and other expected outputs) from this build")

// Updating reports whether the tests run with -update, for tests whose
// expected output lives outside testdata/golden (they rewrite it themselves).
func Updating() bool { return *update }

// RepoRoot is the main module's root: the first folder with a go.mod above
// this package's source file that is not inside testdata (the helper modules
// there have go.mods of their own). The source file, not the working
// directory, because some tests change into temporary repositories.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	root, err := findRoot()
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

func findRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return "", errors.New("finding the repository root: no source path for internal/golden (built with -trimpath?)")
	}
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && !underTestdata(dir) {
			return dir, nil
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("finding the repository root: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding the repository root: no go.mod above internal/golden")
		}
		dir = parent
	}
}

func underTestdata(dir string) bool {
	for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if filepath.Base(dir) == "testdata" {
			return true
		}
	}
	return false
}

// Dir is the folder of the golden files, testdata/golden in the repository.
func Dir(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(RepoRoot(tb), "testdata", "golden")
}

// Check compares got with the golden file at name, a slash-separated path
// under testdata/golden (e.g. "diff/add-customer.md"). With -update it
// writes got there first. A missing file is fatal; a different one is an
// error that shows the first difference.
func Check(tb testing.TB, name string, got []byte) {
	tb.Helper()
	checkFile(tb, Dir(tb), name, got, *update)
}

// CheckTree compares the whole folder dir under testdata/golden with files,
// keyed by slash-separated paths under testdata/golden as a build's output
// is keyed under out/ (CheckTree(t, "dns", files) with keys "dns/Corefile",
// "dns/zones/..."). Both ways: a file without its golden file fails, and so
// does a golden file nothing produces any more. With -update the folder is
// replaced by files first.
func CheckTree(tb testing.TB, dir string, files map[string][]byte) {
	tb.Helper()
	checkTree(tb, Dir(tb), dir, files, *update)
}

// hint ends every failure: the one step that makes a wanted change pass.
const hint = "if the change is intended, run the tests with -update and review the golden files' diff"

func checkFile(tb testing.TB, root, name string, got []byte, update bool) {
	tb.Helper()
	if !fs.ValidPath(name) || name == "." {
		tb.Fatalf("golden.Check(%q): want a clean slash-separated path inside testdata/golden", name)
	}
	file := filepath.Join(root, filepath.FromSlash(name))
	if update {
		if err := writeFile(file, got); err != nil {
			tb.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		tb.Fatalf("golden file %s does not exist (%s)", file, hint)
	}
	if err != nil {
		tb.Fatalf("reading the golden file: %v", err)
	}
	if diff := firstDifference(want, got); diff != "" {
		tb.Errorf("%s differs from its golden file %s (-golden +got):\n%s\n%s", name, file, diff, hint)
	}
}

func checkTree(tb testing.TB, root, dir string, files map[string][]byte, update bool) {
	tb.Helper()
	prefix := path.Clean(dir) + "/"
	for name := range files {
		if !strings.HasPrefix(name, prefix) || path.Clean(name) != name {
			tb.Fatalf("golden.CheckTree(%q): the file %q is not a clean path inside %s", dir, name, prefix)
		}
	}
	tree := filepath.Join(root, filepath.FromSlash(dir))
	if update {
		if err := os.RemoveAll(tree); err != nil {
			tb.Fatalf("removing the old golden files: %v", err)
		}
		// Sorted, so that a failure is the same one on every run.
		for _, name := range slices.Sorted(maps.Keys(files)) {
			if err := writeFile(filepath.Join(root, filepath.FromSlash(name)), files[name]); err != nil {
				tb.Fatal(err)
			}
		}
	}
	golden, err := listTree(root, tree)
	if err != nil {
		tb.Fatalf("%v (%s)", err, hint)
	}
	var missing, stale []string
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if !golden[name] {
			missing = append(missing, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(golden)) {
		if _, ok := files[name]; !ok {
			stale = append(stale, name)
		}
	}
	if len(missing) > 0 {
		tb.Errorf("no golden file for %s under %s\n%s", strings.Join(missing, ", "), root, hint)
	}
	if len(stale) > 0 {
		tb.Errorf("golden files that nothing produces any more: %s under %s\n%s", strings.Join(stale, ", "), root, hint)
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if !golden[name] {
			continue // reported as missing
		}
		want, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil {
			tb.Fatalf("reading the golden file: %v", err)
		}
		if diff := firstDifference(want, files[name]); diff != "" {
			tb.Errorf("%s differs from its golden file (-golden +got):\n%s\n%s", name, diff, hint)
		}
	}
}

// listTree returns the files below tree, keyed by their slash path relative
// to root.
func listTree(root, tree string) (map[string]bool, error) {
	files := map[string]bool{}
	err := filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = true
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the golden files: %w", err)
	}
	return files, nil
}

func writeFile(file string, content []byte) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return fmt.Errorf("writing the golden file: %w", err)
	}
	if err := os.WriteFile(file, content, 0o644); err != nil {
		return fmt.Errorf("writing the golden file: %w", err)
	}
	return nil
}
