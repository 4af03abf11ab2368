package validate

import (
	"bytes"
	"context"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/format"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestRegoPolicies runs the policies' own tests (policies/*_test.rego) with
// OPA's test runner and the same custom builtins the validator registers.
func TestRegoPolicies(t *testing.T) {
	modules, err := parsePolicies(true)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ch, err := tester.NewRunner().
		SetStore(inmem.New()).
		SetModules(modules).
		AddCustomBuiltins(testerBuiltins()).
		RaiseBuiltinErrors(true).
		SetTimeout(time.Minute).
		RunTests(ctx, nil)
	if err != nil {
		t.Fatalf("compiling the policies and their tests: %v", err)
	}
	tests := map[string]int{}
	for r := range ch {
		pkg := strings.TrimPrefix(r.Package, "data.")
		tests[pkg]++
		switch {
		case r.Error != nil:
			t.Errorf("%s.%s (%s): error: %v", pkg, r.Name, r.Location, r.Error)
		case r.Fail:
			t.Errorf("%s.%s (%s): failed", pkg, r.Name, r.Location)
		}
	}
	// Every rule has its tests.
	for _, r := range Rules() {
		pkg := "vsoc.rules." + strings.ToLower(r.ID) + "_test"
		if tests[pkg] < 2 {
			t.Errorf("%s has %d rego tests in %s, want at least 2", r.ID, tests[pkg], pkg)
		}
	}
}

// The policies are kept as `opa fmt` writes them.
func TestPoliciesAreFormatted(t *testing.T) {
	names, err := fs.Glob(policyFiles, "policies/*.rego")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		src, err := policyFiles.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		formatted, err := format.Source(name, src)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(formatted, src) {
			t.Errorf("%s is not formatted: run opa fmt -w on it", name)
		}
	}
}
