package validate

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/types"

	"github.com/vsoc/vsoc/internal/cfnid"
)

// The policies do address arithmetic through these builtins rather than
// OPA's net.* ones: net/netip is strict (no leading zeros, no zones, tells
// host bits apart), and the fleet-wide questions need the index, which rego
// alone could only answer by comparing every pair.

// builtin is one custom function, usable both by the evaluator and by the
// rego test runner.
type builtin struct {
	decl *rego.Function
	opt  func(*rego.Rego)
}

// fleetIndexKey carries the fleet being validated to the index builtins
// through the evaluation's context: the prepared query is shared by every
// Validate call, the index belongs to one.
type fleetIndexKey struct{}

func indexFrom(bctx rego.BuiltinContext, name string) (*fleetIndex, error) {
	if bctx.Context != nil {
		if idx, ok := bctx.Context.Value(fleetIndexKey{}).(*fleetIndex); ok {
			return idx, nil
		}
	}
	return nil, fmt.Errorf("%s needs the fleet index: evaluate through validate.Validator (rego tests mock it with `with`)", name)
}

func withFleetIndex(ctx context.Context, idx *fleetIndex) context.Context {
	return context.WithValue(ctx, fleetIndexKey{}, idx)
}

func builtins() []builtin {
	ownerArgs := types.Args(
		types.Named("value", types.S),
		types.Named("customer", types.S).Description(`the declaring customer, "" for the hub or for a value no one owns`),
		types.Named("index", types.N).Description("the value's index in its list, -1 for a value no one owns"),
	)
	list := types.NewArray(nil, types.NewObject(nil, types.NewDynamicProperty(types.S, types.A)))
	return []builtin{
		fn1("vsoc.parse_prefix", "parses an IP prefix for a message: {ok, error, ipv4, network, canonical}",
			types.NewFunction(types.Args(types.S), types.A), parsePrefix),
		fn1("vsoc.parse_addr", "parses an IP address for a message: {ok, error, ipv4, canonical}",
			types.NewFunction(types.Args(types.S), types.A), parseAddr),
		fn1("vsoc.is_network", "whether s is an IPv4 network written without host bits (parse_prefix says what is wrong otherwise)",
			types.NewFunction(types.Args(types.S), types.B), isNetworkBuiltin),
		fn1("vsoc.prefix_len", "the prefix length of a CIDR, -1 if it is malformed",
			types.NewFunction(types.Args(types.S), types.N), prefixLenBuiltin),
		fn1("vsoc.is_ipv4", "whether s is an IPv4 address written canonically (parse_addr says what is wrong otherwise)",
			types.NewFunction(types.Args(types.S), types.B), isIPv4Builtin),
		fn2("vsoc.containing", "the prefixes of a collection (array, set, or an object's keys) that contain the address or prefix x, sorted",
			types.NewFunction(types.Args(types.NewAny(types.NewSet(types.S), types.NewArray(nil, types.S), types.NewObject(nil, types.NewDynamicProperty(types.S, types.A))), types.S), types.NewArray(nil, types.S)), containingBuiltin),
		fn1("vsoc.logical_id", "what a name gives a CloudFormation logical ID: every run of ASCII letters and digits starts with a capital, everything else is dropped",
			types.NewFunction(types.Args(types.S), types.S), logicalIDBuiltin),
		fn1("vsoc.dns_label", "whether s is a lower-case DNS label (letters, digits, inner hyphens; 1-63)",
			types.NewFunction(types.Args(types.S), types.B), dnsLabelBuiltin),
		fn2("vsoc.under_any", "whether a name is one of the domains or below one of them (lower-case, label-wise)",
			types.NewFunction(types.Args(types.S, types.NewArray(nil, types.S)), types.B), underAnyBuiltin),
		fn1("vsoc.dns_name", "whether s is a lower-case DNS name of at least two labels (at most 253), the last not all digits",
			types.NewFunction(types.Args(types.S), types.B), dnsNameBuiltin),
		fn2("vsoc.prefix_contains", "whether prefix a contains the address or prefix b (false if either is malformed)",
			types.NewFunction(types.Args(types.S, types.S), types.B), containsBuiltin),
		fn2("vsoc.prefix_overlaps", "whether prefixes a and b share an address (false if either is malformed)",
			types.NewFunction(types.Args(types.S, types.S), types.B), overlapsBuiltin),
		fn3("vsoc.cidr_conflicts", "the fleet's VPC, hub and Client VPN ranges overlapping a prefix: [{owner, customer, index, cidr}]",
			types.NewFunction(ownerArgs, list), cidrConflictsBuiltin),
		fn3("vsoc.domain_conflicts", "the fleet's domains equal to, above or below a domain: [{owner, customer, index, domain, relation}]",
			types.NewFunction(ownerArgs, list), nameConflictsBuiltin("vsoc.domain_conflicts", "domain", func(idx *fleetIndex) *nameIndex { return &idx.domains })),
		fn3("vsoc.kkp_zone_conflicts", "the fleet's KKP endpoints outside their customer's domains (each a zone of its own) equal to, above or below a name: [{owner, customer, index (0 ui, 1 api), endpoint, relation}]",
			types.NewFunction(ownerArgs, list), nameConflictsBuiltin("vsoc.kkp_zone_conflicts", "endpoint", func(idx *fleetIndex) *nameIndex { return &idx.kkpZones })),
		fn3("vsoc.gateway_conflicts", "the fleet's other customer gateways with an address: [{owner, customer, index}]",
			types.NewFunction(ownerArgs, list), gatewayConflictsBuiltin),
	}
}

func fn1(name, desc string, decl *types.Function, f rego.Builtin1) builtin {
	d := &rego.Function{Name: name, Description: desc, Decl: decl}
	return builtin{decl: d, opt: rego.Function1(d, f)}
}

func fn2(name, desc string, decl *types.Function, f rego.Builtin2) builtin {
	d := &rego.Function{Name: name, Description: desc, Decl: decl}
	return builtin{decl: d, opt: rego.Function2(d, f)}
}

func fn3(name, desc string, decl *types.Function, f rego.Builtin3) builtin {
	d := &rego.Function{Name: name, Description: desc, Decl: decl}
	return builtin{decl: d, opt: rego.Function3(d, f)}
}

// testerBuiltins are the same functions for OPA's test runner.
func testerBuiltins() []*tester.Builtin {
	var out []*tester.Builtin
	for _, b := range builtins() {
		out = append(out, &tester.Builtin{
			Decl: &ast.Builtin{Name: b.decl.Name, Description: b.decl.Description, Decl: b.decl.Decl},
			Func: b.opt,
		})
	}
	return out
}

func stringArg(t *ast.Term, name string) (string, error) {
	s, ok := t.Value.(ast.String)
	if !ok {
		return "", fmt.Errorf("%s: expected a string, got %s", name, ast.ValueName(t.Value))
	}
	return string(s), nil
}

func ownerArg(customer, index *ast.Term) (owner, error) {
	c, err := stringArg(customer, "customer")
	if err != nil {
		return owner{}, err
	}
	n, ok := index.Value.(ast.Number)
	if !ok {
		return owner{}, errors.New("index: expected a number")
	}
	i, ok := n.Int()
	if !ok {
		return owner{}, fmt.Errorf("index: %s is not an integer", n)
	}
	return owner{Customer: c, Index: i}, nil
}

func obj(kv ...any) *ast.Term {
	items := make([][2]*ast.Term, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		var v *ast.Term
		switch x := kv[i+1].(type) {
		case string:
			v = ast.StringTerm(x)
		case bool:
			v = ast.BooleanTerm(x)
		case int:
			v = ast.IntNumberTerm(x)
		}
		items = append(items, ast.Item(ast.StringTerm(kv[i].(string)), v))
	}
	return ast.ObjectTerm(items...)
}

func parsePrefix(_ rego.BuiltinContext, a *ast.Term) (*ast.Term, error) {
	s, err := stringArg(a, "prefix")
	if err != nil {
		return nil, err
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return obj("ok", false, "error", err.Error()), nil
	}
	return obj("ok", true, "error", "", "ipv4", p.Addr().Is4(),
		"network", p.Masked().String(), "canonical", p == p.Masked()), nil
}

func parseAddr(_ rego.BuiltinContext, a *ast.Term) (*ast.Term, error) {
	s, err := stringArg(a, "address")
	if err != nil {
		return nil, err
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return obj("ok", false, "error", err.Error()), nil
	}
	return obj("ok", true, "error", "", "ipv4", addr.Is4(), "canonical", addr.String() == s), nil
}

// isNetworkBuiltin and isIPv4Builtin are the cheap checks every valid value
// goes through; the parse_* functions build the details for a message.
func isNetworkBuiltin(_ rego.BuiltinContext, a *ast.Term) (*ast.Term, error) {
	s, err := stringArg(a, "prefix")
	if err != nil {
		return nil, err
	}
	p, err := netip.ParsePrefix(s)
	return ast.BooleanTerm(err == nil && p.Addr().Is4() && p == p.Masked()), nil
}

func prefixLenBuiltin(_ rego.BuiltinContext, a *ast.Term) (*ast.Term, error) {
	s, err := stringArg(a, "prefix")
	if err != nil {
		return nil, err
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return ast.IntNumberTerm(-1), nil
	}
	return ast.IntNumberTerm(p.Bits()), nil
}

func isIPv4Builtin(_ rego.BuiltinContext, a *ast.Term) (*ast.Term, error) {
	s, err := stringArg(a, "address")
	if err != nil {
		return nil, err
	}
	addr, err := netip.ParseAddr(s)
	return ast.BooleanTerm(err == nil && addr.Is4() && addr.String() == s), nil
}

// parsePrefixOrAddr reads "a.b.c.d/n" or a lone address (as a /32).
func parsePrefixOrAddr(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

func containsBuiltin(_ rego.BuiltinContext, a, b *ast.Term) (*ast.Term, error) {
	outer, inner, ok := twoPrefixes(a, b)
	return ast.BooleanTerm(ok && outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())), nil
}

func overlapsBuiltin(_ rego.BuiltinContext, a, b *ast.Term) (*ast.Term, error) {
	x, y, ok := twoPrefixes(a, b)
	return ast.BooleanTerm(ok && x.Overlaps(y)), nil
}

func twoPrefixes(a, b *ast.Term) (netip.Prefix, netip.Prefix, bool) {
	as, aok := a.Value.(ast.String)
	bs, bok := b.Value.(ast.String)
	if !aok || !bok {
		return netip.Prefix{}, netip.Prefix{}, false
	}
	x, xok := parsePrefixOrAddr(string(as))
	y, yok := parsePrefixOrAddr(string(bs))
	return x, y, xok && yok && x.Addr().Is4() == y.Addr().Is4()
}

func containingBuiltin(_ rego.BuiltinContext, collection, x *ast.Term) (*ast.Term, error) {
	xs, ok := x.Value.(ast.String)
	if !ok {
		return nil, fmt.Errorf("x: expected a string, got %s", ast.ValueName(x.Value))
	}
	inner, ok := parsePrefixOrAddr(string(xs))
	if !ok {
		return ast.ArrayTerm(), nil
	}
	var out []string
	check := func(t *ast.Term) {
		s, ok := t.Value.(ast.String)
		if !ok {
			return
		}
		outer, ok := parsePrefixOrAddr(string(s))
		if ok && outer.Addr().Is4() == inner.Addr().Is4() && outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr()) {
			out = append(out, string(s))
		}
	}
	switch c := collection.Value.(type) {
	case *ast.Array:
		c.Foreach(check)
	case ast.Set:
		c.Foreach(check)
	case ast.Object:
		c.Foreach(func(k, _ *ast.Term) { check(k) })
	default:
		return nil, fmt.Errorf("prefixes: expected an array, a set or an object, got %s", ast.ValueName(collection.Value))
	}
	slices.Sort(out)
	terms := make([]*ast.Term, len(out))
	for i, s := range out {
		terms[i] = ast.StringTerm(s)
	}
	return ast.ArrayTerm(terms...), nil
}

// logicalIDBuiltin is the renderer's logical ID of one name. The rules derive the IDs of every
// named thing of every customer, and in rego (a regex split and two comprehensions per name) that
// was the most expensive expression of a validation.
func logicalIDBuiltin(_ rego.BuiltinContext, a *ast.Term) (*ast.Term, error) {
	s, err := stringArg(a, "name")
	if err != nil {
		return nil, err
	}
	return ast.StringTerm(cfnid.LogicalID(s)), nil
}

func dnsLabelBuiltin(_ rego.BuiltinContext, a *ast.Term) (*ast.Term, error) {
	s, err := stringArg(a, "label")
	if err != nil {
		return nil, err
	}
	return ast.BooleanTerm(isDNSLabel(s)), nil
}

func dnsNameBuiltin(_ rego.BuiltinContext, a *ast.Term) (*ast.Term, error) {
	s, err := stringArg(a, "name")
	if err != nil {
		return nil, err
	}
	return ast.BooleanTerm(isDNSName(s)), nil
}

func underAnyBuiltin(_ rego.BuiltinContext, name, domains *ast.Term) (*ast.Term, error) {
	n, err := stringArg(name, "name")
	if err != nil {
		return nil, err
	}
	list, ok := domains.Value.(*ast.Array)
	if !ok {
		return nil, fmt.Errorf("domains: expected an array, got %s", ast.ValueName(domains.Value))
	}
	var ds []string
	list.Foreach(func(t *ast.Term) {
		if d, ok := t.Value.(ast.String); ok {
			ds = append(ds, string(d))
		}
	})
	return ast.BooleanTerm(underAny(n, ds)), nil
}

// isDNSLabel: 1-63 lower-case letters, digits and hyphens, not starting or
// ending with a hyphen (RFC 1123).
func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// isDNSName: at least two labels, at most 253 characters, no trailing dot,
// and a top-level label that is not all digits (RFC 3696 §2). The last keeps
// out IPv4 addresses, which every label check accepts: the proxy reads
// 10.20.3.4 (and a pattern *.10.20.3.4) as an IP literal, governed by its
// allowed destinations rather than by name, and refuses it in its allowlist,
// so a KKP endpoint or domain written as an address validated and then
// failed the build.
func isDNSName(s string) bool {
	if len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !isDNSLabel(l) {
			return false
		}
	}
	return strings.Trim(labels[len(labels)-1], "0123456789") != ""
}

// conflictArgs are what every cross-customer builtin starts from: the fleet
// index, the value to look up, and who asks (so that it is not its own
// conflict).
func conflictArgs(bctx rego.BuiltinContext, builtin, what string, value, customer, index *ast.Term) (*fleetIndex, string, owner, error) {
	idx, err := indexFrom(bctx, builtin)
	if err != nil {
		return nil, "", owner{}, err
	}
	s, err := stringArg(value, what)
	if err != nil {
		return nil, "", owner{}, err
	}
	self, err := ownerArg(customer, index)
	if err != nil {
		return nil, "", owner{}, err
	}
	return idx, s, self, nil
}

func cidrConflictsBuiltin(bctx rego.BuiltinContext, value, customer, index *ast.Term) (*ast.Term, error) {
	idx, s, self, err := conflictArgs(bctx, "vsoc.cidr_conflicts", "cidr", value, customer, index)
	if err != nil {
		return nil, err
	}
	var out []*ast.Term
	for _, e := range idx.cidrConflicts(s, self) {
		out = append(out, obj("owner", e.Label, "customer", e.Customer, "index", e.Index, "cidr", e.text))
	}
	return ast.ArrayTerm(out...), nil
}

// nameConflictsBuiltin answers, for one of the index's name sets, which of its names are equal
// to, above or below the asked one; each answer names the match under key.
func nameConflictsBuiltin(builtin, key string, names func(*fleetIndex) *nameIndex) rego.Builtin3 {
	return func(bctx rego.BuiltinContext, value, customer, index *ast.Term) (*ast.Term, error) {
		idx, s, self, err := conflictArgs(bctx, builtin, key, value, customer, index)
		if err != nil {
			return nil, err
		}
		var out []*ast.Term
		for _, r := range names(idx).conflicts(s, self) {
			out = append(out, obj("owner", r.Label, "customer", r.Customer, "index", r.Index,
				key, r.name, "relation", r.Relation))
		}
		return ast.ArrayTerm(out...), nil
	}
}

func gatewayConflictsBuiltin(bctx rego.BuiltinContext, value, customer, index *ast.Term) (*ast.Term, error) {
	idx, s, self, err := conflictArgs(bctx, "vsoc.gateway_conflicts", "address", value, customer, index)
	if err != nil {
		return nil, err
	}
	var out []*ast.Term
	for _, o := range idx.gatewayConflicts(s, self) {
		out = append(out, obj("owner", o.Label, "customer", o.Customer, "index", o.Index))
	}
	return ast.ArrayTerm(out...), nil
}
