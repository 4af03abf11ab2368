// Package validate is the CI gate: the embedded rego policies, evaluated with
// OPA over the compiler's model, one subject (the hub, each customer) at a
// time and in parallel; the checks that span customers go through builtins
// backed by an index of the whole fleet.
package validate

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"golang.org/x/sync/errgroup"

	"github.com/vsoc/vsoc/compiler"
)

// Violation is one broken rule at one place.
type Violation struct {
	Rule     string       `json:"rule"` // "VSOC002"
	Pos      compiler.Pos `json:"pos"`
	Pointer  string       `json:"pointer"`  // into the model: /customers/wobcom/vpc/cidrs/0
	Customer string       `json:"customer"` // "" for the hub
	Message  string       `json:"message"`
	Hint     string       `json:"hint"`
}

// Validator holds the compiled policies; it is safe for concurrent use.
type Validator struct {
	query rego.PreparedEvalQuery
	rules map[string]Rule
}

// violationsQuery binds each rule's violation set to a variable named after
// the rule's package ("vsoc001 = data.vsoc.rules.vsoc001.violation; ..."):
// naming every package is much cheaper than enumerating data.vsoc.rules,
// which would build each package's whole document.
func violationsQuery(rules []Rule) string {
	parts := make([]string, len(rules))
	for i, r := range rules {
		pkg := strings.ToLower(r.ID)
		parts[i] = pkg + " = " + rulePackagePrefix + pkg + ".violation"
	}
	return strings.Join(parts, "; ")
}

// New compiles the embedded policies once.
func New(ctx context.Context) (*Validator, error) {
	modules, err := parsePolicies(false)
	if err != nil {
		return nil, err
	}
	rules, err := rulesOf(modules)
	if err != nil {
		return nil, err
	}
	// A builtin error (a bad argument, a missing index) fails the run rather
	// than silently making a rule undefined, which would pass bad input.
	opts := []func(*rego.Rego){rego.Query(violationsQuery(rules)), rego.StrictBuiltinErrors(true)}
	names := make([]string, 0, len(modules))
	for name := range modules {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		opts = append(opts, rego.ParsedModule(modules[name]))
	}
	for _, b := range builtins() {
		opts = append(opts, b.opt)
	}
	query, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("compiling the embedded policies: %w", err)
	}
	v := &Validator{query: query, rules: map[string]Rule{}}
	for _, r := range rules {
		v.rules[r.ID] = r
	}
	return v, nil
}

// subject is one evaluation: the hub or one customer.
type subject struct {
	customer *compiler.Customer // nil for the hub
	input    ast.Value
}

// Validate checks a loaded fleet against every rule and returns all
// violations, sorted by file, line, column and rule. The result is the same
// whatever the scheduling: subjects are evaluated independently and sorted.
func (v *Validator) Validate(ctx context.Context, f *compiler.Fleet) ([]Violation, error) {
	if f.Hub == nil {
		return nil, fmt.Errorf("validating %s: the fleet has no hub", f.Dir)
	}
	ctx = withFleetIndex(ctx, newFleetIndex(f))
	inputs, err := newInputBuilder(f.Hub)
	if err != nil {
		return nil, err
	}
	// A few long-lived workers rather than a goroutine per customer: the
	// evaluator recurses deeply, and a fresh goroutine would grow (copy) its
	// stack again for every customer.
	n := len(f.Customers) + 1 // subject 0 is the hub
	results := make([][]Violation, n)
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for range min(runtime.GOMAXPROCS(0), n) {
		g.Go(func() error {
			conv := newConverter()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return nil
				}
				if err := gctx.Err(); err != nil {
					return err
				}
				var c *compiler.Customer
				if i > 0 {
					c = f.Customers[i-1]
				}
				s, err := inputs.subject(conv, c)
				if err != nil {
					return err
				}
				if results[i], err = v.evaluate(gctx, f, s); err != nil {
					return err
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var all []Violation
	for _, r := range results {
		all = append(all, r...)
	}
	sortViolations(all)
	return all, nil
}

func (v *Validator) evaluate(ctx context.Context, f *compiler.Fleet, s subject) ([]Violation, error) {
	rs, err := v.query.Eval(ctx, rego.EvalParsedInput(s.input))
	if err != nil {
		return nil, fmt.Errorf("evaluating the policies for %s: %w", subjectName(s), err)
	}
	if len(rs) != 1 {
		return nil, fmt.Errorf("evaluating the policies for %s: %d results, want 1", subjectName(s), len(rs))
	}
	var out []Violation
	for pkg, set := range rs[0].Bindings {
		items, ok := set.([]any)
		if !ok {
			return nil, fmt.Errorf("policy result for %s: %s.violation is %T, not a set", subjectName(s), pkg, set)
		}
		for _, item := range items {
			viol, err := v.violation(f, s, pkg, item)
			if err != nil {
				return nil, fmt.Errorf("policy result for %s: %w", subjectName(s), err)
			}
			out = append(out, viol)
		}
	}
	return out, nil
}

func subjectName(s subject) string {
	if s.customer == nil {
		return "the hub"
	}
	return "customer " + s.customer.Name
}

// policyViolation is what a rule's violation set holds.
type policyViolation struct {
	Path    []any  `json:"path"`
	Message string `json:"message"`
	Hint    string `json:"hint"`
}

func (v *Validator) violation(f *compiler.Fleet, s subject, pkg string, item any) (Violation, error) {
	rule, ok := v.rules[strings.ToUpper(pkg)]
	if !ok {
		return Violation{}, fmt.Errorf("violation from package %q, which is no documented rule", pkg)
	}
	raw, err := json.Marshal(item)
	if err != nil {
		return Violation{}, fmt.Errorf("%s: %w", rule.ID, err)
	}
	var pv policyViolation
	if err := json.Unmarshal(raw, &pv); err != nil || pv.Message == "" {
		return Violation{}, fmt.Errorf("%s: violation %s is not {path, message, hint?}", rule.ID, raw)
	}
	elems := []any{"hub"}
	file := f.Hub.File
	viol := Violation{Rule: rule.ID, Message: pv.Message, Hint: cmp.Or(pv.Hint, rule.Hint)}
	if s.customer != nil {
		elems = []any{"customers", s.customer.Name}
		file = s.customer.File
		viol.Customer = s.customer.Name
	}
	for _, e := range pv.Path {
		if n, ok := e.(float64); ok {
			e = int(n)
		}
		elems = append(elems, e)
	}
	viol.Pointer = compiler.Pointer(elems...)
	viol.Pos = compiler.Pos{File: file}
	if f.Positions != nil {
		if pos, ok := f.Positions.Lookup(viol.Pointer); ok {
			viol.Pos = pos
		}
	}
	return viol, nil
}

func sortViolations(vs []Violation) {
	slices.SortFunc(vs, func(a, b Violation) int {
		return cmp.Or(
			a.Pos.Compare(b.Pos),
			cmp.Compare(a.Rule, b.Rule),
			cmp.Compare(a.Pointer, b.Pointer),
			cmp.Compare(a.Message, b.Message),
		)
	})
}
