package spec

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/vsoc/vsoc/render/cloudformation/spec/internal/extract"
)

// result is what an intrinsic function evaluates to, as far as can be known statically.
type result int

const (
	resultScalar result = iota // a string (or number)
	resultList                 // a list of strings
	resultAny                  // unknown until deployment (Fn::Select, Fn::FindInMap, JSON attributes)
)

func (r result) String() string {
	switch r {
	case resultScalar:
		return "a single value"
	case resultList:
		return "a list"
	}
	return "any value"
}

// pseudoParameter reports whether Ref accepts name as a pseudo parameter, and what it gives.
func pseudoParameter(name string) (result, bool) {
	switch name {
	case "AWS::AccountId", "AWS::Partition", "AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix":
		return resultScalar, true
	case "AWS::NotificationARNs":
		return resultList, true
	case "AWS::NoValue": // removes the property: fits wherever a value goes
		return resultAny, true
	}
	return 0, false
}

// walk checks every intrinsic function call anywhere inside v (used where the value itself is
// free-form: JSON properties, outputs, conditions, function arguments).
func (c *stackCheck) walk(v any, path string) {
	if fn, arg, ok := intrinsic(v); ok {
		c.call(fn, arg, path)
		return
	}
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			c.walk(e, fmt.Sprintf("%s[%d]", path, i))
		}
	case map[string]any:
		for _, k := range sortedKeys(x) {
			c.walk(x[k], path+"."+k)
		}
	}
}

// call checks one intrinsic function call — its arguments and the names it refers to — and
// returns what it evaluates to.
func (c *stackCheck) call(fn string, arg any, path string) result {
	at := path + "." + fn
	switch fn {
	case "Ref":
		name, ok := arg.(string)
		if !ok {
			c.problem(at, "takes a logical ID or parameter name, got %s", describe(arg))
			return resultAny
		}
		return c.ref(name, at)
	case "Fn::GetAtt":
		return c.getAtt(arg, at)
	case "Fn::Sub":
		c.sub(arg, at)
		return resultScalar
	case "Fn::Join":
		args, ok := arg.([]any)
		if !ok || len(args) != 2 {
			c.problem(at, "takes [delimiter, list of values], got %s", describe(arg))
			return resultScalar
		}
		if _, isString := args[0].(string); !isString {
			c.problem(at+"[0]", "the delimiter must be a literal string, got %s", describe(args[0]))
		}
		c.listArg(args[1], at+"[1]", true)
		return resultScalar
	case "Fn::Select":
		args, ok := arg.([]any)
		if !ok || len(args) != 2 {
			c.problem(at, "takes [index, list], got %s", describe(arg))
			return resultAny
		}
		c.scalarArg(args[0], at+"[0]")
		c.listArg(args[1], at+"[1]", false)
		return resultAny
	case "Fn::Split":
		args, ok := arg.([]any)
		if !ok || len(args) != 2 {
			c.problem(at, "takes [delimiter, string], got %s", describe(arg))
			return resultList
		}
		c.scalarArg(args[0], at+"[0]")
		c.scalarArg(args[1], at+"[1]")
		return resultList
	case "Fn::ImportValue":
		c.importValue(arg, at)
		return resultScalar
	case "Fn::If":
		args, ok := arg.([]any)
		if !ok || len(args) != 3 {
			c.problem(at, "takes [condition, value if true, value if false], got %s", describe(arg))
			return resultAny
		}
		c.conditionName(args[0], at+"[0]")
		c.walk(args[1], at+"[1]")
		c.walk(args[2], at+"[2]")
		return resultAny
	case "Fn::Cidr":
		args, ok := arg.([]any)
		if !ok || len(args) != 3 {
			c.problem(at, "takes [ipBlock, count, cidrBits], got %s", describe(arg))
			return resultList
		}
		for i, a := range args {
			c.scalarArg(a, fmt.Sprintf("%s[%d]", at, i))
		}
		return resultList
	case "Fn::GetAZs":
		c.scalarArg(arg, at)
		return resultList
	case "Fn::Base64":
		c.scalarArg(arg, at)
		return resultScalar
	case "Fn::FindInMap":
		args, ok := arg.([]any)
		if !ok || len(args) != 3 {
			c.problem(at, "takes [map name, top-level key, second-level key], got %s", describe(arg))
			return resultAny
		}
		if name, isString := args[0].(string); isString && !c.mappings[name] {
			c.problem(at+"[0]", "no mapping named %q in the Mappings section", name)
		}
		for i, a := range args {
			c.scalarArg(a, fmt.Sprintf("%s[%d]", at, i))
		}
		return resultAny
	case "Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not", "Condition":
		if !c.inConditions {
			c.problem(at, "%s is a condition function: use it in the Conditions section and refer to the condition with Fn::If", fn)
			return resultAny
		}
		if fn == "Condition" {
			c.conditionName(arg, at)
			return resultScalar
		}
		args, ok := arg.([]any)
		if !ok {
			c.problem(at, "takes a list of arguments, got %s", describe(arg))
			return resultScalar
		}
		for i, a := range args {
			c.walk(a, fmt.Sprintf("%s[%d]", at, i))
		}
		return resultScalar
	}
	c.problem(at, "unsupported intrinsic function %s", fn)
	return resultAny
}

// scalarArg checks an argument that must be a single value (a literal or a function returning one).
func (c *stackCheck) scalarArg(v any, path string) {
	if fn, arg, ok := intrinsic(v); ok {
		if r := c.call(fn, arg, path); r == resultList {
			c.problem(path, "expects a single value, but %s returns a list", fn)
		}
		return
	}
	switch v.(type) {
	case string, json.Number, bool:
	default:
		c.problem(path, "expects a single value, got %s", describe(v))
	}
}

// listArg checks an argument that must be a list: a literal list (of single values when
// scalars is set) or a function returning one.
func (c *stackCheck) listArg(v any, path string, scalars bool) {
	if fn, arg, ok := intrinsic(v); ok {
		if r := c.call(fn, arg, path); r == resultScalar {
			c.problem(path, "expects a list, but %s returns a single value", fn)
		}
		return
	}
	list, ok := v.([]any)
	if !ok {
		c.problem(path, "expects a list, got %s", describe(v))
		return
	}
	for i, e := range list {
		at := fmt.Sprintf("%s[%d]", path, i)
		if scalars {
			c.scalarArg(e, at)
		} else {
			c.walk(e, at)
		}
	}
}

// ref resolves a Ref target: a pseudo parameter, a parameter, or (outside Conditions) a resource.
func (c *stackCheck) ref(name, path string) result {
	if r, ok := pseudoParameter(name); ok {
		return r
	}
	if t, ok := c.parameters[name]; ok {
		if t == "CommaDelimitedList" || strings.Contains(t, "List<") {
			return resultList
		}
		return resultScalar
	}
	if _, ok := c.resources[name]; ok {
		if c.inConditions {
			c.problem(path, "conditions can refer only to parameters and pseudo parameters, not to the resource %q", name)
		}
		c.dependOn(name)
		return resultScalar
	}
	c.problem(path, "refers to %q, which is no resource, parameter or pseudo parameter of this template", name)
	return resultAny
}

func (c *stackCheck) dependOn(resource string) {
	if c.current != "" {
		c.dependsOn[c.current] = append(c.dependsOn[c.current], resource)
	}
}

// getAtt checks Fn::GetAtt ["Resource", "Attribute"] (or "Resource.Attribute"): the resource
// exists and its type declares the attribute.
func (c *stackCheck) getAtt(arg any, path string) result {
	var resource, attribute string
	switch a := arg.(type) {
	case string:
		resource, attribute, _ = strings.Cut(a, ".")
	case []any:
		if len(a) == 2 {
			resource, _ = a[0].(string)
			attribute, _ = a[1].(string)
		}
	}
	if resource == "" || attribute == "" {
		c.problem(path, "takes [logical ID, attribute name] as literal strings, got %s", describe(arg))
		return resultAny
	}
	return c.attribute(resource, attribute, path)
}

func (c *stackCheck) attribute(resource, attribute, path string) result {
	typeName, ok := c.resources[resource]
	if !ok {
		c.problem(path, "refers to %q, which is no resource of this template", resource)
		return resultAny
	}
	if c.inConditions {
		c.problem(path, "conditions cannot refer to resource attributes (%s.%s)", resource, attribute)
	}
	c.dependOn(resource)
	def, known := c.spec.resources[typeName]
	if !known {
		return resultAny // the unknown type is reported on the resource itself
	}
	t, ok := def.Attributes[attribute]
	if !ok {
		c.problem(path, "%s (%s) has no attribute %q; it has: %s", resource, typeName, attribute, strings.Join(sortedKeys(def.Attributes), ", "))
		return resultAny
	}
	switch t.Kind {
	case extract.KindList:
		return resultList
	case extract.KindString, extract.KindInteger, extract.KindNumber, extract.KindBoolean:
		return resultScalar
	}
	return resultAny
}

// sub checks Fn::Sub "string" or ["string", {variables}]: every ${Name} or ${Resource.Attribute}
// placeholder that is not one of the variables must resolve like Ref or Fn::GetAtt.
func (c *stackCheck) sub(arg any, path string) {
	var pattern string
	vars := map[string]any{}
	switch a := arg.(type) {
	case string:
		pattern = a
	case []any:
		if len(a) != 2 {
			c.problem(path, "takes a string or [string, {variables}], got a list of %d", len(a))
			return
		}
		s, ok := a[0].(string)
		if !ok {
			c.problem(path+"[0]", "must be a literal string, got %s", describe(a[0]))
			return
		}
		pattern = s
		m, ok := a[1].(map[string]any)
		if !ok {
			c.problem(path+"[1]", "must be an object of variables, got %s", describe(a[1]))
			return
		}
		vars = m
		for _, k := range sortedKeys(m) {
			c.scalarArg(m[k], path+"[1]."+k)
		}
	default:
		c.problem(path, "takes a string or [string, {variables}], got %s", describe(arg))
		return
	}
	placeholders, ok := subPlaceholders(pattern)
	if !ok {
		c.problem(path, "unterminated ${ placeholder in %q", pattern)
	}
	for _, name := range placeholders {
		if _, isVar := vars[name]; isVar {
			continue
		}
		if resource, attribute, hasDot := strings.Cut(name, "."); hasDot && !strings.HasPrefix(name, "AWS::") {
			c.attribute(resource, attribute, path)
			continue
		}
		c.ref(name, path)
	}
}

// subPlaceholders lists the names of the ${…} placeholders of an Fn::Sub string, leaving out
// the ${!Literal} escapes; ok is false if a placeholder is not terminated.
func subPlaceholders(pattern string) (names []string, ok bool) {
	for rest := pattern; ; {
		i := strings.Index(rest, "${")
		if i < 0 {
			return names, true
		}
		rest = rest[i+2:]
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return names, false
		}
		name := strings.TrimSpace(rest[:end])
		rest = rest[end+1:]
		if !strings.HasPrefix(name, "!") {
			names = append(names, name)
		}
	}
}

// importValue checks that Fn::ImportValue names an export of another template of the set.
func (c *stackCheck) importValue(arg any, path string) {
	name, ok := arg.(string)
	if !ok {
		c.problem(path, "must name the export as a literal string so the import can be checked, got %s", describe(arg))
		return
	}
	from, ok := c.exports[name]
	switch {
	case !ok:
		c.problem(path, "imports %q, which no template of the set exports", name)
	case from == c.stack:
		c.problem(path, "imports %q, which this same stack exports; use Ref or Fn::GetAtt instead", name)
	default:
		c.importsFrom[from] = true
	}
}

func (c *stackCheck) conditionName(v any, path string) {
	name, ok := v.(string)
	if !ok {
		c.problem(path, "must name a condition as a literal string, got %s", describe(v))
		return
	}
	if !c.conditions[name] {
		c.problem(path, "no condition named %q in the Conditions section", name)
	}
}
