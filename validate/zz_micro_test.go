package validate

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/vsoc/vsoc/compiler"
)

func TestZZMicro(t *testing.T) {
	ctx := context.Background()
	f, _ := compiler.LoadDir(ctx, filepath.Join(repoRoot(t), "customers"), nil)
	ib, _ := newInputBuilder(f.Hub)
	s, _ := ib.subject(f.Customers[0])
	bodies := map[string]string{
		"empty":     ``,
		"someeq":    `violation contains v if { some x in input.customer.vpc.cidrs; x == "nope"; v := 1 }`,
		"field":     `violation contains v if { input.customer.vpc.natEgress == "nope"; v := 1 }`,
		"builtin":   `violation contains v if { some x in input.customer.vpc.cidrs; not vsoc.parse_prefix(x).valid; v := 1 }`,
		"boolbuiltin": `violation contains v if { some x in input.customer.vpc.cidrs; not vsoc.dns_label(x); v := 1 }`,
		"nativebuiltin": `violation contains v if { some x in input.customer.vpc.cidrs; not startswith(x, "1"); v := 1 }`,
		"netbuiltin": `violation contains v if { some x in input.customer.vpc.cidrs; not net.cidr_contains("100.64.0.0/10", x); v := 1 }`,
		"objbuiltin": `violation contains v if { some x in input.customer.vpc.cidrs; not vsoc.parse_addr(x).valid; v := 1 }`,
		"libfn":     `violation contains v if { some x in input.customer.vpc.cidrs; not lib.valid_prefix(x); v := 1 }`,
		"localfn":   `violation contains v if { some x in input.customer.vpc.cidrs; not ok(x); v := 1 }
ok(x) if vsoc.parse_prefix(x).valid`,
		"virtualdoc": `violation contains v if { some x in cidrs; x == "nope"; v := 1 }
cidrs := input.customer.vpc.cidrs`,
	}
	for name, body := range bodies {
		var mods []string
		for i := range 50 {
			b := body
			if i > 0 && strings.Contains(b, "\n") {
				b = b[:strings.Index(b, "\n")]
			}
			_ = b
		}
		src := "package p\nimport data.vsoc.lib\n" + strings.Repeat(strings.SplitN(body, "\n", 2)[0]+"\n", 50)
		if parts := strings.SplitN(body, "\n", 2); len(parts) == 2 {
			src += parts[1] + "\n"
		}
		mods = append(mods, src)
		opts := []func(*rego.Rego){rego.Query("x = data.p.violation"), rego.Module("p.rego", src)}
		lm, _ := parsePolicies(false)
		opts = append(opts, rego.ParsedModule(lm["policies/lib.rego"]))
		for _, b := range builtins() {
			opts = append(opts, b.opt)
		}
		if name == "empty" {
			opts[0] = rego.Query("x = 1")
		}
		pq, err := rego.New(opts...).PrepareForEval(ctx)
		if err != nil {
			t.Fatal(name, err)
		}
		runtime.LockOSThread()
		start := threadCPU()
		for range 2000 {
			if _, err := pq.Eval(ctx, rego.EvalParsedInput(s.input)); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Printf("%-10s %v per eval of 50 rules\n", name, (threadCPU()-start)/2000)
		runtime.UnlockOSThread()
	}
}
