package diff

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/golden"
	"github.com/vsoc/vsoc/validate"
)

// gitRepo is a real git repository in a temporary folder, holding a
// customers folder, as a customers repository would.
type gitRepo struct {
	t   testing.TB
	dir string
}

// newGitRepo creates an empty repository on branch main. Author and dates
// are fixed so that runs are alike.
func newGitRepo(t testing.TB) *gitRepo {
	t.Helper()
	r := &gitRepo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=vsoc test", "GIT_AUTHOR_EMAIL=test@vsoc.invalid",
		"GIT_COMMITTER_NAME=vsoc test", "GIT_COMMITTER_EMAIL=test@vsoc.invalid",
		"GIT_AUTHOR_DATE=2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z",
		"GIT_CONFIG_NOSYSTEM=1", "HOME="+r.dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commitAll commits the whole work tree.
func (r *gitRepo) commitAll(message string) string {
	r.t.Helper()
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", message)
	return r.git("rev-parse", "HEAD")
}

func (r *gitRepo) path(name string) string { return filepath.Join(r.dir, filepath.FromSlash(name)) }

func (r *gitRepo) write(name, content string) {
	r.t.Helper()
	if err := os.MkdirAll(filepath.Dir(r.path(name)), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(r.path(name), []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *gitRepo) read(name string) string {
	r.t.Helper()
	b, err := os.ReadFile(r.path(name))
	if err != nil {
		r.t.Fatal(err)
	}
	return string(b)
}

// replace edits a file, failing when old is not in it: a scenario that
// silently changes nothing would prove nothing.
func (r *gitRepo) replace(name, old, new string) {
	r.t.Helper()
	content := r.read(name)
	if !strings.Contains(content, old) {
		r.t.Fatalf("%s does not contain %q", name, old)
	}
	r.write(name, strings.Replace(content, old, new, 1))
}

// copySampleFleet copies the project's sample customers folder into the
// repository's customers folder.
func (r *gitRepo) copySampleFleet() {
	r.t.Helper()
	src := filepath.Join(golden.RepoRoot(r.t), "customers")
	entries, err := os.ReadDir(src)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != ".cue" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			r.t.Fatal(err)
		}
		r.write("customers/"+e.Name(), string(b))
	}
}

// preview runs diff in the repository as the CLI does: from its top folder,
// on the customers folder, against ref.
func (r *gitRepo) preview(ref string) (*Preview, error) {
	r.t.Helper()
	if t, ok := r.t.(*testing.T); ok {
		t.Chdir(r.dir)
	} else {
		wd, err := os.Getwd()
		if err != nil {
			r.t.Fatal(err)
		}
		if err := os.Chdir(r.dir); err != nil {
			r.t.Fatal(err)
		}
		defer os.Chdir(wd)
	}
	v, err := validate.New(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return Run(context.Background(), Options{Dir: "customers", Base: ref, Validator: v, Cache: compiler.NewCache("")})
}
