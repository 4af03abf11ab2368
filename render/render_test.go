package render

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vsoc/vsoc/compiler"
)

func TestWriteReplacesTheWholeFolder(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	if err := Write(out, Files{"aws/a.json": []byte("1"), "ssh/stale": []byte("old")}); err != nil {
		t.Fatal(err)
	}
	if err := Write(out, Files{"aws/a.json": []byte("2"), "dns/Corefile": []byte("c")}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(out, "aws", "a.json")); err != nil || string(b) != "2" {
		t.Fatalf("aws/a.json = %q, %v; want the new content", b, err)
	}
	if _, err := os.Stat(filepath.Join(out, "ssh", "stale")); !os.IsNotExist(err) {
		t.Fatalf("a file of the previous build survived: %v", err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".out.new-*"))
	if len(leftovers) != 0 {
		t.Fatalf("staging folders left behind: %v", leftovers)
	}
}

// TestWriteRefusesWhatIsNotABuild: an output folder given by mistake (the input folder, its
// parent, a file) is left as it is, since a build replaces the whole folder.
func TestWriteRefusesWhatIsNotABuild(t *testing.T) {
	dir := t.TempDir()
	input := filepath.Join(dir, "customers")
	file := filepath.Join(dir, "notes.txt")
	empty := filepath.Join(dir, "empty")
	for _, p := range []string{input, empty} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{filepath.Join(input, "documentation.cue"), file} {
		if err := os.WriteFile(p, []byte("keep"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for out, want := range map[string]string{
		input: "it holds documentation.cue, which a build does not write",
		dir:   "it holds customers, which a build does not write",
		file:  "it is a file, not the output of a build",
	} {
		err := Write(out, Files{"aws/a.json": []byte("new")})
		if err == nil || !strings.Contains(err.Error(), "refusing to replace "+out+": "+want) || !strings.Contains(err.Error(), "hint: ") {
			t.Errorf("Write(%s) = %v, want a refusal saying %q with a hint", out, err, want)
		}
	}
	for _, p := range []string{filepath.Join(input, "documentation.cue"), file} {
		if b, err := os.ReadFile(p); err != nil || string(b) != "keep" {
			t.Fatalf("%s holds %q, %v after the refused writes; want it untouched", p, b, err)
		}
	}
	if err := Write(empty, Files{"aws/a.json": []byte("new")}); err != nil {
		t.Fatalf("an empty folder is not replaced: %v", err)
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
	// Every failed target is reported, in the targets' order, however the renders were scheduled.
	late := func(*compiler.Plan) (map[string][]byte, error) {
		time.Sleep(20 * time.Millisecond)
		return nil, errors.New("late")
	}
	_, err = All(&compiler.Plan{}, []Target{{Name: "first", Render: late}, {Name: "second", Render: failing}})
	if err == nil || err.Error() != "rendering first: late\nrendering second: boom" {
		t.Fatalf("err = %q, want both targets' errors in the targets' order", err)
	}
}

func TestWriteLinksTheFilesThePreviousBuildHolds(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	first := Files{
		"aws/same.json":     []byte("same"),
		"aws/changed.json":  []byte("before"),
		"kube/a/edited":     []byte("as built"),
		"kube/a/chmodded":   []byte("mode"),
		"kube/a/symlinked":  []byte("link"),
		"kube/b/empty.yaml": nil,
	}
	if err := Write(out, first); err != nil {
		t.Fatal(err)
	}
	stat := func(name string) os.FileInfo {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(out, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	before := map[string]os.FileInfo{}
	for name := range first {
		before[name] = stat(name)
	}
	// What someone may have done to the previous build since: same-sized
	// edits, a changed mode, a symlink in place of a file.
	edited := filepath.Join(out, "kube", "a", "edited")
	if err := os.WriteFile(edited, []byte("by hand!"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(out, "kube", "a", "chmodded"), 0o600); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "target")
	if err := os.WriteFile(target, []byte("link"), 0o644); err != nil {
		t.Fatal(err)
	}
	symlinked := filepath.Join(out, "kube", "a", "symlinked")
	if err := os.Remove(symlinked); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, symlinked); err != nil {
		t.Fatal(err)
	}

	second := Files{}
	for name, content := range first {
		second[name] = content
	}
	second["aws/changed.json"] = []byte("after!")
	if err := Write(out, second); err != nil {
		t.Fatal(err)
	}
	for name, content := range second {
		if b, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(name))); err != nil || string(b) != string(content) {
			t.Errorf("%s = %q, %v; want %q", name, b, err, content)
		}
		fi := stat(name)
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want a plain file with 0644", name, fi.Mode())
		}
		reused := os.SameFile(fi, before[name])
		if want := name == "aws/same.json" || name == "kube/b/empty.yaml"; reused != want {
			t.Errorf("%s: reused the previous build's file = %v, want %v", name, reused, want)
		}
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "link" {
		t.Fatalf("the symlink's target = %q, %v; want it untouched", b, err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".out.*"))
	if len(leftovers) != 0 {
		t.Fatalf("staging or previous folders left behind: %v", leftovers)
	}
}

func TestRemoveTreeDoesNotFollowSymlinks(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "old")
	for _, name := range []string{"a/b/c/f", "a/g", "h", "i/j"} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(dir, "a", "b", "elsewhere")); err != nil {
		t.Fatal(err)
	}
	if err := removeTree(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s still exists: %v", dir, err)
	}
	if _, err := os.Stat(filepath.Join(outside, "keep")); err != nil {
		t.Fatalf("a file behind a symlink was removed: %v", err)
	}
}

func TestWriteReplacesASymlinkNotItsTarget(t *testing.T) {
	target := t.TempDir()
	if err := os.WriteFile(filepath.Join(target, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := os.Symlink(target, out); err != nil {
		t.Fatal(err)
	}
	if err := Write(out, Files{"keep": []byte("new")}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(target, "keep")); err != nil || string(b) != "x" {
		t.Fatalf("the previous symlink's target holds %q, %v; want it untouched", b, err)
	}
	if fi, err := os.Lstat(out); err != nil || !fi.IsDir() {
		t.Fatalf("out is %v, %v; want the new folder", fi, err)
	}
}

// TestWriteWarnsWhenThePreviousBuildStays: once the new build is in place, a previous build that
// cannot be removed (here a file made immutable) is reported as such, not as a failed build.
func TestWriteWarnsWhenThePreviousBuildStays(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	if err := Write(out, Files{"aws/a.json": []byte("previous")}); err != nil {
		t.Fatal(err)
	}
	stuck := filepath.Join(out, "aws", "a.json")
	if err := setImmutable(stuck, true); err != nil {
		t.Skipf("cannot make a file immutable here (needs root and a file system with the flag): %v", err)
	}
	var left *PreviousLeftError
	err := Write(out, Files{"aws/a.json": []byte("new")})
	if !errors.As(err, &left) {
		t.Fatalf("Write = %v, want a *PreviousLeftError", err)
	}
	defer func() {
		setImmutable(filepath.Join(left.Path, "aws", "a.json"), false)
		os.RemoveAll(left.Path)
	}()
	if b, err := os.ReadFile(stuck); err != nil || string(b) != "new" {
		t.Fatalf("%s = %q, %v; want the new build in place", stuck, b, err)
	}
	if !strings.HasPrefix(filepath.Base(left.Path), ".out.new-") || !strings.Contains(err.Error(), left.Path) {
		t.Fatalf("the error should name the leftover folder next to out: %v", err)
	}
}

// fsImmutableFlag is FS_IMMUTABLE_FL of linux/fs.h, which x/sys/unix does not name.
const fsImmutableFlag = 0x10

func setImmutable(path string, on bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	flags, err := unix.IoctlGetInt(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		return err
	}
	if on {
		flags |= fsImmutableFlag
	} else {
		flags &^= fsImmutableFlag
	}
	return unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, flags)
}
