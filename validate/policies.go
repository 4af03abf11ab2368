package validate

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// policyFiles are the rules (vsocNNN.rego), their shared helpers (lib.rego)
// and their tests (*_test.rego).
//
//go:embed policies/*.rego
var policyFiles embed.FS

// rulePackagePrefix is where every rule lives: data.vsoc.rules.vsoc001 is
// rule VSOC001.
const rulePackagePrefix = "data.vsoc.rules."

// Rule is a policy's documentation, read from its METADATA annotation.
type Rule struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Explanation string `json:"explanation"`
	Hint        string `json:"hint"`
}

// parsePolicies parses the embedded rego files; tests are included only for
// the test runner.
func parsePolicies(withTests bool) (map[string]*ast.Module, error) {
	names, err := fs.Glob(policyFiles, "policies/*.rego")
	if err != nil {
		return nil, fmt.Errorf("listing embedded policies: %w", err)
	}
	modules := map[string]*ast.Module{}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.rego") && !withTests {
			continue
		}
		src, err := policyFiles.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("reading embedded %s: %w", name, err)
		}
		m, err := ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{ProcessAnnotation: true})
		if err != nil {
			return nil, fmt.Errorf("parsing embedded %s: %w", name, err)
		}
		modules[name] = m
	}
	return modules, nil
}

// ruleID is the ID of a rule package ("VSOC001"), or false for a helper.
func ruleID(m *ast.Module) (string, bool) {
	pkg := m.Package.Path.String()
	if !strings.HasPrefix(pkg, rulePackagePrefix) || strings.HasSuffix(pkg, "_test") {
		return "", false
	}
	return strings.ToUpper(strings.TrimPrefix(pkg, rulePackagePrefix)), true
}

// rulesOf reads every rule's documentation from its package annotation, and
// refuses a rule that lacks any of it: the explanation is what
// `vsoc-compile explain` shows.
func rulesOf(modules map[string]*ast.Module) ([]Rule, error) {
	var rules []Rule
	for name, m := range modules {
		id, ok := ruleID(m)
		if !ok {
			continue
		}
		if want := strings.ToLower(id) + ".rego"; path.Base(name) != want {
			return nil, fmt.Errorf("%s: rule %s belongs in %s", name, id, want)
		}
		var doc *ast.Annotations
		for _, a := range m.Annotations {
			if a.Scope == "package" {
				doc = a
			}
		}
		if doc == nil {
			return nil, fmt.Errorf("%s: rule %s has no package METADATA annotation", name, id)
		}
		hint, _ := doc.Custom["hint"].(string)
		r := Rule{ID: id, Title: doc.Title, Explanation: doc.Description, Hint: hint}
		if r.Title == "" || r.Explanation == "" || r.Hint == "" {
			return nil, fmt.Errorf("%s: rule %s needs title, description and custom.hint in its METADATA", name, id)
		}
		rules = append(rules, r)
	}
	slices.SortFunc(rules, func(a, b Rule) int { return strings.Compare(a.ID, b.ID) })
	return rules, nil
}

// Rules lists every rule, by ID, as documented in the policies.
func Rules() []Rule {
	modules, err := parsePolicies(false)
	if err != nil {
		// The policies are compiled into the binary and checked by its tests.
		panic(fmt.Sprintf("embedded policies: %v", err))
	}
	rules, err := rulesOf(modules)
	if err != nil {
		panic(fmt.Sprintf("embedded policies: %v", err))
	}
	return rules
}

// Explain returns the documentation of one rule; id is case-insensitive.
func Explain(id string) (Rule, bool) {
	for _, r := range Rules() {
		if strings.EqualFold(r.ID, id) {
			return r, true
		}
	}
	return Rule{}, false
}
