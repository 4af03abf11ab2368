package spec

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vsoc/vsoc/internal/wording"
	"github.com/vsoc/vsoc/render/cloudformation/spec/internal/extract"
)

// object checks an object against the property definitions of a resource or nested type:
// known names, required ones present, each value of the declared type.
func (c *stackCheck) object(obj map[string]any, defs map[string]extract.Property, owner extract.Resource, typeName, path string) {
	for _, name := range sortedKeys(obj) {
		def, ok := defs[name]
		if !ok {
			c.problem(path+"."+name, "unknown property %q of %s%s", name, typeName, suggestion(name, defs))
			c.walk(obj[name], path+"."+name)
			continue
		}
		c.value(obj[name], def.Type, owner, path+"."+name)
	}
	for _, name := range sortedKeys(defs) {
		if _, present := obj[name]; defs[name].Required && !present {
			c.problem(path, "missing required property %q of %s", name, typeName)
		}
	}
}

// suggestion proposes the closest declared property name for a misspelt one.
func suggestion(name string, defs map[string]extract.Property) string {
	if best, ok := wording.Closest(name, sortedKeys(defs)); ok {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	return ""
}

// value checks one value against its declared type. Intrinsic functions are accepted where
// their result fits the type. Scalars follow CloudFormation's own coercions: a string property
// takes a number or boolean literal, an integer or number property takes a numeric string, and a
// boolean property takes "true" or "false".
func (c *stackCheck) value(v any, t extract.Type, owner extract.Resource, path string) {
	if fn, arg, ok := intrinsic(v); ok {
		if fn == "Fn::If" {
			c.ifValue(arg, t, owner, path)
			return
		}
		c.fits(c.call(fn, arg, path), fn, t, path)
		return
	}
	switch t.Kind {
	case extract.KindString:
		var literal string
		switch x := v.(type) {
		case string:
			literal = x
		case json.Number:
			literal = x.String()
		case bool:
			literal = strconv.FormatBool(x)
		default:
			c.problem(path, "expects a string, got %s", describe(v))
			return
		}
		c.allowed(literal, t, path)
	case extract.KindInteger:
		literal, ok := integerLiteral(v)
		if !ok {
			c.problem(path, "expects an integer, got %s", describe(v))
			return
		}
		c.allowed(literal, t, path)
	case extract.KindNumber:
		if !numberLiteral(v) {
			c.problem(path, "expects a number, got %s", describe(v))
		}
	case extract.KindBoolean:
		if _, isBool := v.(bool); !isBool && v != "true" && v != "false" {
			c.problem(path, "expects a boolean, got %s", describe(v))
		}
	case extract.KindJSON:
		c.walk(v, path)
	case extract.KindTag:
		c.tag(v, path)
	case extract.KindList:
		list, ok := v.([]any)
		if !ok {
			c.problem(path, "expects a list, got %s", describe(v))
			return
		}
		for i, e := range list {
			c.value(e, *t.Elem, owner, fmt.Sprintf("%s[%d]", path, i))
		}
	case extract.KindMap:
		m, ok := v.(map[string]any)
		if !ok {
			c.problem(path, "expects an object (a map), got %s", describe(v))
			return
		}
		for _, k := range sortedKeys(m) {
			c.value(m[k], *t.Elem, owner, path+"."+k)
		}
	case extract.KindRef:
		m, ok := v.(map[string]any)
		if !ok {
			c.problem(path, "expects an object (%s), got %s", t.Ref, describe(v))
			return
		}
		c.object(m, owner.Types[t.Ref], owner, t.Ref, path)
	case extract.KindUnion:
		c.union(v, t, owner, path)
	default:
		c.problem(path, "the specification declares an unknown type kind %q", t.Kind)
	}
}

func integerLiteral(v any) (string, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	default:
		return "", false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return "", false
	}
	return strconv.FormatInt(n, 10), true
}

func numberLiteral(v any) bool {
	switch x := v.(type) {
	case json.Number:
		return true
	case string:
		_, err := strconv.ParseFloat(x, 64)
		return err == nil
	}
	return false
}

func (c *stackCheck) allowed(literal string, t extract.Type, path string) {
	if len(t.Allowed) > 0 && !slices.Contains(t.Allowed, literal) {
		c.problem(path, "%q is not an allowed value (one of: %s)", literal, strings.Join(t.Allowed, ", "))
	}
}

// tag checks a {"Key": …, "Value": …} resource tag.
func (c *stackCheck) tag(v any, path string) {
	m, ok := v.(map[string]any)
	if !ok {
		c.problem(path, "expects a tag object {\"Key\": …, \"Value\": …}, got %s", describe(v))
		return
	}
	stringType := extract.Type{Kind: extract.KindString}
	for _, k := range sortedKeys(m) {
		if k != "Key" && k != "Value" {
			c.problem(path+"."+k, "unknown tag field %q (a tag has only Key and Value)", k)
			continue
		}
		c.value(m[k], stringType, extract.Resource{}, path+"."+k)
	}
	for _, k := range []string{"Key", "Value"} {
		if _, present := m[k]; !present {
			c.problem(path, "tag without %s", k)
		}
	}
	for k, max := range map[string]int{"Key": maxTagKeyChars, "Value": maxTagValueChars} {
		if s, ok := m[k].(string); ok && utf8.RuneCountInString(s) > max {
			c.problem(path+"."+k, "tag %s is %d characters, more than the limit of %d", strings.ToLower(k), utf8.RuneCountInString(s), max)
		}
	}
}

// union accepts v if it fits any member type.
func (c *stackCheck) union(v any, t extract.Type, owner extract.Resource, path string) {
	var kinds []string
	for _, member := range t.Union {
		if c.passes(func(probe *stackCheck) { probe.value(v, member, owner, path) }) {
			return
		}
		kinds = append(kinds, member.Kind)
	}
	c.problem(path, "expects one of %s, got %s", strings.Join(kinds, " or "), describe(v))
}

// passes runs a check on a copy of c that notes problems instead of reporting them, and tells
// whether there were none. The copy shares c's reference bookkeeping, so the references the
// check meets still count for the dependency and import graphs.
func (c *stackCheck) passes(check func(probe *stackCheck)) bool {
	probe := *c
	clean := true
	probe.report = func(string, string, string, ...any) { clean = false }
	check(&probe)
	return clean
}

// ifValue checks Fn::If [condition, valueIfTrue, valueIfFalse]: both branches must fit the
// type ({"Ref": "AWS::NoValue"} fits anything).
func (c *stackCheck) ifValue(arg any, t extract.Type, owner extract.Resource, path string) {
	args, ok := arg.([]any)
	if !ok || len(args) != 3 {
		c.problem(path+".Fn::If", "takes [condition, value if true, value if false], got %s", describe(arg))
		return
	}
	c.conditionName(args[0], path+".Fn::If[0]")
	for i, branch := range args[1:] {
		c.value(branch, t, owner, fmt.Sprintf("%s.Fn::If[%d]", path, i+1))
	}
}

// fits reports an intrinsic function whose result cannot be a value of type t.
func (c *stackCheck) fits(r result, fn string, t extract.Type, path string) {
	if r == resultAny || t.Kind == extract.KindJSON {
		return
	}
	var want result
	switch t.Kind {
	case extract.KindString, extract.KindInteger, extract.KindNumber, extract.KindBoolean:
		want = resultScalar
	case extract.KindList:
		want = resultList
	case extract.KindUnion:
		for _, member := range t.Union {
			if c.passes(func(probe *stackCheck) { probe.fits(r, fn, member, path) }) {
				return
			}
		}
		c.problem(path, "%s returns %s, which fits none of the accepted types", fn, r)
		return
	default:
		c.problem(path, "expects an object, but %s returns %s", fn, r)
		return
	}
	if r != want {
		c.problem(path, "expects %s, but %s returns %s", want, fn, r)
	}
}
