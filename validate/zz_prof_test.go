package validate

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/vsoc/vsoc/compiler"
)

func TestZZPerPackage(t *testing.T) {
	ctx := context.Background()
	f, _ := compiler.LoadDir(ctx, filepath.Join(repoRoot(t), "customers"), nil)
	ctx = withFleetIndex(ctx, newFleetIndex(f))
	modules, _ := parsePolicies(false)
	ib, _ := newInputBuilder(f.Hub)
	var lines []string
	for _, q := range []string{"data.vsoc.rules[rule].violation[v]", "x = 1"} {
		_ = q
	}
	ids := []string{"ALL"}
	for _, m := range modules {
		if id, ok := ruleID(m); ok {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		q := "data.vsoc.rules." + lower(id) + ".violation[v]"
		if id == "ALL" {
			var parts []string
			for _, id := range ids[1:] {
				parts = append(parts, lower(id)+" = data.vsoc.rules."+lower(id)+".violation")
			}
			q = strings.Join(parts, "; ")
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
		var total time.Duration
		for _, c := range f.Customers {
			s, _ := ib.subject(c)
			runtime.LockOSThread()
			start := threadCPU()
			for range 200 {
				if _, err := pq.Eval(ctx, rego.EvalParsedInput(s.input)); err != nil {
					t.Fatal(err)
				}
			}
			total += threadCPU() - start
			runtime.UnlockOSThread()
		}
		lines = append(lines, fmt.Sprintf("%s %v", id, total/time.Duration(200*len(f.Customers))))
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
}

func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func lower(s string) string { return strings.ToLower(s) }
