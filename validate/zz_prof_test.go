package validate

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/vsoc/vsoc/compiler"
)

func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestZZPerPackage(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "fleet")
	if err := exec.Command("go", "run", "../testdata/genfleet", "-n", "50", "-o", dir).Run(); err != nil {
		t.Fatal(err)
	}
	f, _ := compiler.LoadDir(ctx, dir, nil)
	ctx = withFleetIndex(ctx, newFleetIndex(f))
	modules, _ := parsePolicies(false)
	rules, _ := rulesOf(modules)
	ib, _ := newInputBuilder(f.Hub)
	conv := newConverter()
	var inputs []subject
	for _, c := range f.Customers {
		s, _ := ib.subject(conv, c)
		inputs = append(inputs, s)
	}
	ids := []string{"ALL", "NONE"}
	for _, r := range rules {
		ids = append(ids, r.ID)
	}
	var lines []string
	for _, id := range ids {
		q := "x = data.vsoc.rules." + strings.ToLower(id) + ".violation"
		switch id {
		case "ALL":
			q = violationsQuery(rules)
		case "NONE":
			q = "x = 1"
		}
		opts := []func(*rego.Rego){rego.Query(q)}
		for _, mm := range modules {
			opts = append(opts, rego.ParsedModule(mm))
		}
		for _, b := range builtins() {
			opts = append(opts, b.opt)
		}
		pq, err := rego.New(opts...).PrepareForEval(ctx)
		if err != nil {
			t.Fatal(err)
		}
		runtime.LockOSThread()
		start := threadCPU()
		for range 20 {
			for _, s := range inputs {
				if _, err := pq.Eval(ctx, rego.EvalParsedInput(s.input)); err != nil {
					t.Fatal(err)
				}
			}
		}
		lines = append(lines, fmt.Sprintf("%s %v", id, (threadCPU()-start)/time.Duration(20*len(inputs))))
		runtime.UnlockOSThread()
	}
	sort.Strings(lines)
	fmt.Fprintln(os.Stderr, strings.Join(lines, "\n"))
}
