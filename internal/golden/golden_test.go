package golden

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// recorder stands in for the testing.TB a helper reports to, so that the
// tests can assert the failures themselves.
type recorder struct {
	testing.TB
	errors []string
	fatal  string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }

func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// record runs check against a recorder on a goroutine of its own, as a
// Fatal ends the goroutine it is called on.
func record(t *testing.T, check func(tb testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(r)
	}()
	<-done
	return r
}

func (r *recorder) failures() string {
	return strings.Join(append(r.errors, r.fatal), "\n")
}

func writeGolden(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		if err := writeFile(filepath.Join(root, filepath.FromSlash(name)), []byte(content)); err != nil {
			t.Fatal(err)
		}
	}
}

func wantContains(t *testing.T, what, text string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(text, p) {
			t.Errorf("%s does not contain %q:\n%s", what, p, text)
		}
	}
}

func TestTheUpdateFlagIsRegistered(t *testing.T) {
	f := flag.Lookup("update")
	if f == nil || f.DefValue != "false" {
		t.Fatalf("flag -update = %+v, want a boolean flag defaulting to false", f)
	}
	if got, want := Updating(), f.Value.String() == "true"; got != want {
		t.Errorf("Updating() = %v, but -update is %s", got, f.Value)
	}
}

func TestRepoRootHoldsTheMainModule(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join(RepoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(mod), "module github.com/vsoc/vsoc\n") {
		t.Errorf("RepoRoot's go.mod starts %q, want the main module", strings.SplitN(string(mod), "\n", 2)[0])
	}
	if Dir(t) != filepath.Join(RepoRoot(t), "testdata", "golden") {
		t.Errorf("Dir = %s, want testdata/golden in the repository", Dir(t))
	}
}

func TestCheckPassesOnEqualContent(t *testing.T) {
	root := t.TempDir()
	writeGolden(t, root, map[string]string{"diff/a.txt": "one\ntwo\n"})
	if r := record(t, func(tb testing.TB) { checkFile(tb, root, "diff/a.txt", []byte("one\ntwo\n"), false) }); r.failures() != "" {
		t.Errorf("equal content failed:\n%s", r.failures())
	}
}

func TestCheckShowsTheFirstDifference(t *testing.T) {
	root := t.TempDir()
	writeGolden(t, root, map[string]string{"diff/a.txt": "one\ntwo\nthree\n"})
	r := record(t, func(tb testing.TB) { checkFile(tb, root, "diff/a.txt", []byte("one\nTWO\nthree\n"), false) })
	if r.fatal != "" || len(r.errors) != 1 {
		t.Fatalf("want one error, got %q and fatal %q", r.errors, r.fatal)
	}
	wantContains(t, "the error", r.errors[0], "diff/a.txt differs", "line 2", "-two\n+TWO\n", "-update")
}

func TestCheckFailsWithoutItsGoldenFile(t *testing.T) {
	r := record(t, func(tb testing.TB) { checkFile(tb, t.TempDir(), "diff/new.txt", []byte("x"), false) })
	wantContains(t, "the fatal error", r.fatal, "new.txt does not exist", "-update")
}

func TestCheckRefusesPathsOutsideTheGoldenFolder(t *testing.T) {
	for _, name := range []string{"../escape.txt", "/etc/passwd", "diff/../../x", ".", ""} {
		r := record(t, func(tb testing.TB) { checkFile(tb, t.TempDir(), name, nil, true) })
		wantContains(t, "the fatal error for "+name, r.fatal, "want a clean slash-separated path")
	}
}

func TestCheckWithUpdateWritesTheFile(t *testing.T) {
	root := t.TempDir()
	writeGolden(t, root, map[string]string{"diff/a.txt": "old\n"})
	if r := record(t, func(tb testing.TB) { checkFile(tb, root, "diff/a.txt", []byte("new\n"), true) }); r.failures() != "" {
		t.Errorf("-update failed:\n%s", r.failures())
	}
	if r := record(t, func(tb testing.TB) { checkFile(tb, root, "diff/sub/b.txt", []byte("b\n"), true) }); r.failures() != "" {
		t.Errorf("-update of a new file in a new folder failed:\n%s", r.failures())
	}
	for name, want := range map[string]string{"diff/a.txt": "new\n", "diff/sub/b.txt": "b\n"} {
		if got, err := os.ReadFile(filepath.Join(root, name)); err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
}

func TestCheckTreePassesOnTheSameTree(t *testing.T) {
	root := t.TempDir()
	writeGolden(t, root, map[string]string{"dns/Corefile": "c\n", "dns/zones/a.zone": "a\n"})
	files := map[string][]byte{"dns/Corefile": []byte("c\n"), "dns/zones/a.zone": []byte("a\n")}
	if r := record(t, func(tb testing.TB) { checkTree(tb, root, "dns", files, false) }); r.failures() != "" {
		t.Errorf("the same tree failed:\n%s", r.failures())
	}
}

func TestCheckTreeFailsOnMissingStaleAndChangedFiles(t *testing.T) {
	root := t.TempDir()
	writeGolden(t, root, map[string]string{"dns/Corefile": "c\n", "dns/zones/gone.zone": "g\n", "dns/zones/a.zone": "a\n"})
	files := map[string][]byte{"dns/Corefile": []byte("c\n"), "dns/zones/a.zone": []byte("A\n"), "dns/zones/new.zone": []byte("n\n")}
	r := record(t, func(tb testing.TB) { checkTree(tb, root, "dns", files, false) })
	if r.fatal != "" || len(r.errors) != 3 {
		t.Fatalf("want three errors (missing, stale, changed), got %q and fatal %q", r.errors, r.fatal)
	}
	wantContains(t, "the missing-file error", r.errors[0], "no golden file for dns/zones/new.zone", "-update")
	wantContains(t, "the stale-file error", r.errors[1], "nothing produces any more: dns/zones/gone.zone", "-update")
	wantContains(t, "the changed-file error", r.errors[2], "dns/zones/a.zone differs", "-a\n+A\n", "-update")
}

func TestCheckTreeFailsWithoutItsFolder(t *testing.T) {
	r := record(t, func(tb testing.TB) { checkTree(tb, t.TempDir(), "dns", map[string][]byte{"dns/Corefile": nil}, false) })
	wantContains(t, "the fatal error", r.fatal, "reading the golden files", "-update")
}

func TestCheckTreeRefusesFilesOutsideItsFolder(t *testing.T) {
	for _, name := range []string{"kube/x.yaml", "dns", "dns/../kube/x", "dnsx/y", "dns//y"} {
		r := record(t, func(tb testing.TB) { checkTree(tb, t.TempDir(), "dns", map[string][]byte{name: nil}, true) })
		wantContains(t, "the fatal error for "+name, r.fatal, "is not a clean path inside dns/")
	}
}

func TestCheckTreeWithUpdateReplacesOnlyItsFolder(t *testing.T) {
	root := t.TempDir()
	writeGolden(t, root, map[string]string{"dns/zones/gone.zone": "g\n", "dns/Corefile": "old\n", "kube/keep.yaml": "k\n"})
	files := map[string][]byte{"dns/Corefile": []byte("new\n"), "dns/forward/a.server": []byte("f\n")}
	if r := record(t, func(tb testing.TB) { checkTree(tb, root, "dns", files, true) }); r.failures() != "" {
		t.Fatalf("-update failed:\n%s", r.failures())
	}
	got, err := listTree(root, root)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !got["dns/Corefile"] || !got["dns/forward/a.server"] || !got["kube/keep.yaml"] {
		t.Errorf("after -update the golden files are %v; want the new dns tree and kube untouched", got)
	}
	if r := record(t, func(tb testing.TB) { checkTree(tb, root, "dns", files, false) }); r.failures() != "" {
		t.Errorf("a plain run after -update failed:\n%s", r.failures())
	}
}

func TestFirstDifference(t *testing.T) {
	long := strings.Repeat("x\n", 30)
	for _, tc := range []struct {
		name, want, got, diff string
	}{
		{"equal", "a\nb\n", "a\nb\n", ""},
		{
			"a changed line with context",
			"1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n",
			"@@ first difference at line 5 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8",
		},
		{"an added line", "a\nc\n", "a\nb\nc\n", "@@ first difference at line 2 @@\n a\n+b\n c"},
		{"the final newline", "a\n", "a", "@@ first difference at line 1 @@\n-a\n+a  (no newline at end of file)"},
		{"trailing white space", "a\n", "a \n", "@@ first difference at line 1 @@\n-a\n+\"a \""},
		{"a carriage return", "a\n", "a\r\n", "@@ first difference at line 1 @@\n-a\n+\"a\\r\""},
		{
			"a long rewrite is cut",
			long, "y\n",
			"@@ first difference at line 1 @@\n" + strings.Repeat("-x\n", shownLines) + "-… 18 more lines\n+y",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := firstDifference([]byte(tc.want), []byte(tc.got)); got != tc.diff {
				t.Errorf("firstDifference:\n%s\nwant:\n%s", got, tc.diff)
			}
		})
	}
}
