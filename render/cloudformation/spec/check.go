package spec

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Problem is one fault found in a template.
type Problem struct {
	Stack   string // the key the template was given under in Check
	Path    string // where in the template, e.g. "Resources.HubVpc.Properties.CidrBlock"
	Message string // what is wrong, and how to fix it where that is not obvious
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Stack + ": " + p.Message
	}
	return p.Stack + ": " + p.Path + ": " + p.Message
}

// Check validates a set of stack templates together (the key is the stack name) and returns
// the problems sorted by stack, path and message; none means the set is valid as far as the
// specification can tell. Templates are checked together because Fn::ImportValue must name an
// Export of another template in the set, export names must be unique across the set, and stacks
// must not import from each other in a cycle (no deployment order would exist).
func (s *Spec) Check(templates map[string][]byte) []Problem {
	stacks := sortedKeys(templates)
	// Each stack is decoded and checked on its own goroutine into its own slice; the merged
	// result is sorted, so it does not depend on scheduling.
	perStack := make([][]Problem, len(stacks))
	docs := make([]map[string]any, len(stacks))
	parallel(len(stacks), func(i int) {
		body := templates[stacks[i]]
		report := collect(&perStack[i])
		if len(body) > MaxBodyBytes {
			report(stacks[i], "", "template is %d bytes, more than CloudFormation's limit of %d bytes for a template uploaded to S3; split the stack", len(body), MaxBodyBytes)
		}
		doc, err := decodeTemplate(body)
		if err != nil {
			report(stacks[i], "", "%v", err)
			return
		}
		docs[i] = doc
	})

	var problems []Problem
	report := collect(&problems)
	exports := collectExports(stacks, docs, report)
	importsFrom := make([]map[string]bool, len(stacks)) // stack index → stacks it imports from
	parallel(len(stacks), func(i int) {
		importsFrom[i] = map[string]bool{}
		if docs[i] == nil {
			return
		}
		c := &stackCheck{spec: s, stack: stacks[i], doc: docs[i], exports: exports, report: collect(&perStack[i]), importsFrom: importsFrom[i]}
		c.run()
	})
	imports := map[string][]string{}
	for i, name := range stacks {
		imports[name] = sortedKeys(importsFrom[i])
		problems = append(problems, perStack[i]...)
	}
	for _, cycle := range cycles(imports) {
		report(cycle[0], "", "stacks import each other's exports in a cycle (%s), so none can be created first; move the shared resource to one stack", strings.Join(cycle, " → "))
	}

	slices.SortFunc(problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Stack, b.Stack), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Message, b.Message))
	})
	return slices.Compact(problems)
}

// parallel runs work(0) … work(n-1) on up to GOMAXPROCS goroutines and waits for them all.
func parallel(n int, work func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				work(i)
			}
		})
	}
	wg.Wait()
}

func collect(into *[]Problem) reporter {
	return func(stack, path, format string, args ...any) {
		*into = append(*into, Problem{Stack: stack, Path: path, Message: fmt.Sprintf(format, args...)})
	}
}

type reporter func(stack, path, format string, args ...any)

// collectExports maps every export name of the set to the stack exporting it. An export name
// must be a literal or an Fn::Sub that uses only ${AWS::StackName}, so it can be known here.
func collectExports(stacks []string, docs []map[string]any, report reporter) map[string]string {
	exports := map[string]string{}
	for i, stack := range stacks {
		outputs, _ := docs[i]["Outputs"].(map[string]any)
		for _, id := range sortedKeys(outputs) {
			out, _ := outputs[id].(map[string]any)
			export, ok := out["Export"].(map[string]any)
			if !ok {
				continue
			}
			path := "Outputs." + id + ".Export.Name"
			name, ok := exportName(export["Name"], stack)
			if !ok {
				report(stack, path, "export name must be a literal string or an Fn::Sub using only ${AWS::StackName}, so imports of it can be checked")
				continue
			}
			if other, dup := exports[name]; dup {
				report(stack, path, "export name %q is already exported by stack %s; export names are unique per account and region", name, other)
				continue
			}
			exports[name] = stack
		}
	}
	return exports
}

func exportName(v any, stack string) (string, bool) {
	if s, ok := v.(string); ok {
		return s, true
	}
	fn, arg, ok := intrinsic(v)
	if !ok || fn != "Fn::Sub" {
		return "", false
	}
	pattern, ok := arg.(string)
	if !ok {
		return "", false
	}
	name := strings.ReplaceAll(pattern, "${AWS::StackName}", stack)
	if strings.Contains(name, "${") {
		return "", false
	}
	return name, true
}

// stackCheck checks one template.
type stackCheck struct {
	spec    *Spec
	stack   string
	doc     map[string]any
	exports map[string]string
	report  reporter

	sections   map[string]map[string]any // the object-valued sections, read once
	resources  map[string]string         // logical ID → resource type
	parameters map[string]string         // name → parameter type
	conditions map[string]bool
	mappings   map[string]bool

	// inConditions is set while checking the Conditions section, where only parameters and
	// pseudo parameters may be referenced and the condition functions are allowed.
	inConditions bool
	// current is the resource whose properties are being checked; references found there become
	// edges of the dependency graph checked for cycles.
	current     string
	dependsOn   map[string][]string
	importsFrom map[string]bool
}

func (c *stackCheck) problem(path, format string, args ...any) {
	c.report(c.stack, path, format, args...)
}

func isTopLevelKey(k string) bool {
	switch k {
	case "AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules", "Mappings",
		"Conditions", "Transform", "Resources", "Outputs":
		return true
	}
	return false
}

func (c *stackCheck) run() {
	for _, k := range sortedKeys(c.doc) {
		if !isTopLevelKey(k) {
			c.problem(k, "unknown top-level section %q", k)
		}
	}
	if v, ok := c.doc["AWSTemplateFormatVersion"]; ok && v != "2010-09-09" {
		c.problem("AWSTemplateFormatVersion", "must be \"2010-09-09\", the only version, got %s", describe(v))
	}
	if v, ok := c.doc["Description"]; ok {
		if d, isString := v.(string); !isString {
			c.problem("Description", "must be a string, got %s", describe(v))
		} else if len(d) > MaxDescriptionLen {
			c.problem("Description", "is %d bytes, more than CloudFormation's limit of %d", len(d), MaxDescriptionLen)
		}
	}
	if _, ok := c.doc["Transform"]; ok {
		c.problem("Transform", "transforms are not supported: the template CloudFormation processes would not be the one checked here")
	}

	c.declare()
	c.checkParameters()
	c.checkConditions()
	c.checkResources()
	c.checkOutputs()
	for _, cycle := range cycles(c.dependsOn) {
		c.problem("Resources."+cycle[0], "circular dependency between resources (%s); break it, e.g. with a separate ingress/association resource", strings.Join(cycle, " → "))
	}
}

// section returns a top-level section read by declare.
func (c *stackCheck) section(name string) map[string]any { return c.sections[name] }

// declare collects the names every reference may point at, before anything is checked, so
// that forward references are fine (as they are in CloudFormation).
func (c *stackCheck) declare() {
	c.sections = map[string]map[string]any{}
	for _, name := range []string{"Parameters", "Mappings", "Conditions", "Resources", "Outputs"} {
		v, ok := c.doc[name]
		if !ok {
			continue
		}
		m, isMap := v.(map[string]any)
		if !isMap {
			c.problem(name, "must be an object, got %s", describe(v))
			continue
		}
		c.sections[name] = m
	}
	c.resources = map[string]string{}
	c.parameters = map[string]string{}
	c.conditions = map[string]bool{}
	c.mappings = map[string]bool{}
	c.dependsOn = map[string][]string{}
	for id, v := range c.section("Resources") {
		r, _ := v.(map[string]any)
		t, _ := r["Type"].(string)
		c.resources[id] = t
	}
	for id, v := range c.section("Parameters") {
		p, _ := v.(map[string]any)
		t, _ := p["Type"].(string)
		c.parameters[id] = t
	}
	for id := range c.section("Conditions") {
		c.conditions[id] = true
	}
	mappings := c.section("Mappings")
	for id := range mappings {
		c.mappings[id] = true
	}
	if len(mappings) > MaxMappings {
		c.problem("Mappings", "%d mappings, more than CloudFormation's limit of %d", len(mappings), MaxMappings)
	}
	for id := range c.resources {
		if _, clash := c.parameters[id]; clash {
			c.problem("Resources."+id, "logical ID %q is also a parameter name; they share one namespace", id)
		}
	}
}

func (c *stackCheck) checkLogicalID(section, id string) {
	if !isAlphanumeric(id) {
		c.problem(section+"."+id, "logical ID %q must contain only letters A-Z, a-z and digits 0-9", id)
	}
	if len(id) > MaxLogicalIDLength {
		c.problem(section+"."+id, "logical ID is %d characters, more than CloudFormation's limit of %d", len(id), MaxLogicalIDLength)
	}
}

func isParameterKey(k string) bool {
	switch k {
	case "Type", "Default", "Description", "AllowedValues", "AllowedPattern", "ConstraintDescription",
		"MaxLength", "MinLength", "MaxValue", "MinValue", "NoEcho":
		return true
	}
	return false
}

func (c *stackCheck) checkParameters() {
	params := c.section("Parameters")
	if len(params) > MaxParameters {
		c.problem("Parameters", "%d parameters, more than CloudFormation's limit of %d", len(params), MaxParameters)
	}
	for _, id := range sortedKeys(params) {
		path := "Parameters." + id
		c.checkLogicalID("Parameters", id)
		p, ok := params[id].(map[string]any)
		if !ok {
			c.problem(path, "must be an object, got %s", describe(params[id]))
			continue
		}
		for _, k := range sortedKeys(p) {
			if !isParameterKey(k) {
				c.problem(path+"."+k, "unknown parameter attribute %q", k)
			}
		}
		t, ok := p["Type"].(string)
		switch {
		case !ok:
			c.problem(path+".Type", "missing parameter type (e.g. String, Number, CommaDelimitedList)")
		case !validParameterType(t):
			c.problem(path+".Type", "unknown parameter type %q", t)
		}
	}
}

func validParameterType(t string) bool {
	switch t {
	case "String", "Number", "List<Number>", "CommaDelimitedList":
		return true
	}
	return strings.HasPrefix(t, "AWS::") || strings.HasPrefix(t, "List<AWS::")
}

func (c *stackCheck) checkConditions() {
	conds := c.section("Conditions")
	c.inConditions = true
	defer func() { c.inConditions = false }()
	for _, id := range sortedKeys(conds) {
		c.checkLogicalID("Conditions", id)
		path := "Conditions." + id
		if _, _, ok := intrinsic(conds[id]); !ok {
			c.problem(path, "a condition must be a condition function (Fn::Equals, Fn::And, Fn::Or, Fn::Not, Condition), got %s", describe(conds[id]))
			continue
		}
		c.walk(conds[id], path)
	}
}

func isResourceKey(k string) bool {
	switch k {
	case "Type", "Properties", "DependsOn", "Condition", "DeletionPolicy", "UpdateReplacePolicy",
		"Metadata", "CreationPolicy", "UpdatePolicy":
		return true
	}
	return false
}

func isDeletionPolicy(p string) bool {
	switch p {
	case "Delete", "Retain", "RetainExceptOnCreate", "Snapshot":
		return true
	}
	return false
}

func (c *stackCheck) checkResources() {
	resources, isObject := c.sections["Resources"]
	switch {
	case c.doc["Resources"] == nil:
		c.problem("Resources", "missing: a template needs at least one resource")
	case isObject && len(resources) == 0:
		c.problem("Resources", "empty: a template needs at least one resource")
	case len(resources) > MaxResources:
		c.problem("Resources", "%d resources, more than CloudFormation's limit of %d; split the stack", len(resources), MaxResources)
	}
	for _, id := range sortedKeys(resources) {
		c.checkLogicalID("Resources", id)
		c.current = id
		c.dependsOn[id] = nil
		c.checkResource(id, resources[id])
		c.current = ""
	}
}

func (c *stackCheck) checkResource(id string, v any) {
	path := "Resources." + id
	r, ok := v.(map[string]any)
	if !ok {
		c.problem(path, "must be an object, got %s", describe(v))
		return
	}
	for _, k := range sortedKeys(r) {
		if !isResourceKey(k) {
			c.problem(path+"."+k, "unknown resource attribute %q", k)
		}
	}
	if cond, ok := r["Condition"]; ok {
		if name, isString := cond.(string); !isString || !c.conditions[name] {
			c.problem(path+".Condition", "names no condition of the Conditions section: %s", describe(cond))
		}
	}
	for _, policy := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
		if p, ok := r[policy]; ok {
			if name, isString := p.(string); !isString || !isDeletionPolicy(name) {
				c.problem(path+"."+policy, "must be Delete, Retain, RetainExceptOnCreate or Snapshot, got %s", describe(p))
			}
		}
	}
	c.checkDependsOn(id, r["DependsOn"], path+".DependsOn")

	typeName, ok := r["Type"].(string)
	if !ok {
		c.problem(path+".Type", "missing resource type (e.g. AWS::EC2::VPC)")
		return
	}
	def, known := c.spec.resources[typeName]
	if !known {
		c.problem(path+".Type", "unknown resource type %q (the specification %s covers %s)", typeName, c.spec.source, strings.Join(c.spec.namespaces, ", "))
		return
	}
	var props map[string]any
	if p, ok := r["Properties"]; ok {
		if props, ok = p.(map[string]any); !ok {
			c.problem(path+".Properties", "must be an object, got %s", describe(p))
			return
		}
	}
	c.object(props, def.Properties, def, typeName, path+".Properties")
	c.checkTextLimits(typeName, props, path+".Properties")
}

func (c *stackCheck) checkDependsOn(id string, v any, path string) {
	var targets []string
	switch d := v.(type) {
	case nil:
		return
	case string:
		targets = []string{d}
	case []any:
		for i, t := range d {
			s, ok := t.(string)
			if !ok {
				c.problem(fmt.Sprintf("%s[%d]", path, i), "must be a logical ID string, got %s", describe(t))
				continue
			}
			targets = append(targets, s)
		}
	default:
		c.problem(path, "must be a logical ID or a list of them, got %s", describe(v))
		return
	}
	for _, t := range targets {
		if _, ok := c.resources[t]; !ok {
			c.problem(path, "depends on %q, which is not a resource of this template", t)
			continue
		}
		c.dependsOn[id] = append(c.dependsOn[id], t)
	}
}

func isOutputKey(k string) bool {
	switch k {
	case "Value", "Description", "Export", "Condition":
		return true
	}
	return false
}

func (c *stackCheck) checkOutputs() {
	outputs := c.section("Outputs")
	if len(outputs) > MaxOutputs {
		c.problem("Outputs", "%d outputs, more than CloudFormation's limit of %d", len(outputs), MaxOutputs)
	}
	for _, id := range sortedKeys(outputs) {
		path := "Outputs." + id
		c.checkLogicalID("Outputs", id)
		out, ok := outputs[id].(map[string]any)
		if !ok {
			c.problem(path, "must be an object, got %s", describe(outputs[id]))
			continue
		}
		for _, k := range sortedKeys(out) {
			if !isOutputKey(k) {
				c.problem(path+"."+k, "unknown output attribute %q", k)
			}
		}
		value, ok := out["Value"]
		if !ok {
			c.problem(path, "missing Value")
		} else {
			c.walk(value, path+".Value")
		}
		if cond, ok := out["Condition"]; ok {
			if name, isString := cond.(string); !isString || !c.conditions[name] {
				c.problem(path+".Condition", "names no condition of the Conditions section: %s", describe(cond))
			}
		}
		if e, ok := out["Export"]; ok {
			export, isMap := e.(map[string]any)
			if !isMap || len(export) != 1 || export["Name"] == nil {
				c.problem(path+".Export", "must be an object with only a Name, got %s", describe(e))
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
