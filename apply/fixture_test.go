package apply

import (
	"bytes"
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vsoc/vsoc/apply/cfnlocal"
	"github.com/vsoc/vsoc/apply/cfnlocal/cfnlocaltest"
	cfnapply "github.com/vsoc/vsoc/apply/cloudformation"
	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/fleettest"
	rendercfn "github.com/vsoc/vsoc/render/cloudformation"
	renderkube "github.com/vsoc/vsoc/render/kube"
)

// fixture is a git checkout of the sample fleet, its build output (the real
// CloudFormation and Kubernetes renderers), and an in-process CloudFormation
// endpoint on loopback.
type fixture struct {
	t         *testing.T
	customers string
	out       string
	server    *cfnlocal.Server
	endpoint  string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := t.TempDir()
	f := &fixture{t: t, customers: filepath.Join(root, "customers"), out: filepath.Join(root, "out")}
	fleettest.CopySample(t, f.customers)
	f.git("init", "-q")
	f.commit("sample fleet")

	f.server, f.endpoint = cfnlocaltest.Start(t, time.Millisecond)
	f.build()
	return f
}

func (f *fixture) git(args ...string) string {
	f.t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=vsoc test", "-c", "user.email=test@vsoc.invalid", "-C", f.customers}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		f.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (f *fixture) commit(message string) {
	f.t.Helper()
	f.git("add", "-A")
	f.git("commit", "-q", "-m", message)
}

// edit replaces old by new in a customer file and commits it.
func (f *fixture) edit(file, old, new string) {
	f.t.Helper()
	fleettest.Edit(f.t, filepath.Join(f.customers, file), old, new)
	f.commit("edit " + file)
}

// newDeployedFixture is a fixture whose sample fleet has been applied once.
func newDeployedFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	if rec := f.run(t.Context(), f.options(true)); rec.Outcome != Success {
		t.Fatalf("first apply: %s", rec.Outcome)
	}
	return f
}

// removeCustomer deletes a customer's file and commits that.
func (f *fixture) removeCustomer(name string) {
	f.t.Helper()
	if err := os.Remove(filepath.Join(f.customers, name+".cue")); err != nil {
		f.t.Fatal(err)
	}
	f.commit("drop " + name)
}

// build compiles the customers folder into out with the CloudFormation and
// Kubernetes renderers, as vsoc-compile build does.
func (f *fixture) build() {
	f.t.Helper()
	plan := fleettest.Plan(f.t, f.customers)
	files := map[string][]byte{}
	for _, target := range []func(*compiler.Plan) (map[string][]byte, error){rendercfn.Render, renderkube.Render} {
		out, err := target(plan)
		if err != nil {
			f.t.Fatalf("rendering: %v", err)
		}
		maps.Copy(files, out)
	}
	fleettest.WriteOut(f.t, f.out, files)
}

func (f *fixture) options(execute bool) Options {
	return Options{
		Out:          f.out,
		CustomersDir: f.customers,
		AWS:          cfnlocaltest.Config(cfnapply.Retryer(10, 5*time.Millisecond)),
		EndpointURL:  f.endpoint,
		Execute:      execute,
		Parallelism:  3,
		PollInterval: 2 * time.Millisecond,
	}
}

func (f *fixture) run(ctx context.Context, opts Options) *Record {
	f.t.Helper()
	progress := &lockedBuffer{}
	opts.Progress = progress
	rec, err := Run(ctx, opts)
	f.t.Logf("progress:\n%s", progress.String())
	if err != nil {
		f.t.Fatalf("apply: %v", err)
	}
	return rec
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func stackOutcomes(rec *Record) map[string]cfnapply.Outcome {
	out := map[string]cfnapply.Outcome{}
	for _, s := range rec.Stacks {
		out[s.Stack] = s.Outcome
	}
	return out
}

func stackResult(t *testing.T, rec *Record, stack string) cfnapply.Result {
	t.Helper()
	for _, s := range rec.Stacks {
		if s.Stack == stack {
			return s
		}
	}
	t.Fatalf("no result for %s", stack)
	return cfnapply.Result{}
}
