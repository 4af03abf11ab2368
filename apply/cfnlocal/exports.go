package cfnlocal

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/vsoc/vsoc/render/cloudformation/spec"
)

// CloudFormation keeps an export that another stack imports as it is: an
// update that would change its value or remove it rolls back, and so does
// the deletion of its stack. The messages are the service's.

func exportUpdateInUse(export string, importers []string) string {
	return fmt.Sprintf("Export %s cannot be updated as it is in use by %s", export, strings.Join(importers, ", "))
}

func exportDeleteInUse(export string, importers []string) string {
	return fmt.Sprintf("Export %s cannot be deleted as it is in use by %s", export, strings.Join(importers, ", "))
}

// exportValues maps the export names of a template to their values resolved
// against the stack's physical IDs: a Ref, Fn::GetAtt or Fn::Sub naming a
// resource resolves to its physical ID, so an export whose text stays the same
// gets a new value when the resource it names is replaced.
func exportValues(body []byte, physicalIDs map[string]string) map[string]string {
	values := map[string]string{}
	var doc any
	if body == nil || json.Unmarshal(body, &doc) != nil {
		return values
	}
	for name, value := range spec.Exports(doc) {
		resolved, _ := json.Marshal(resolve(value, physicalIDs))
		values[name] = string(resolved)
	}
	return values
}

// subPlaceholder is a ${Name} or ${Name.Attribute} of Fn::Sub; ${!...} is a
// literal.
var subPlaceholder = regexp.MustCompile(`\$\{([^!}][^}.]*)(\.[^}]*)?\}`)

// resolve replaces the references to resources in v by their physical IDs.
func resolve(v any, physicalIDs map[string]string) any {
	switch v := v.(type) {
	case map[string]any:
		if id, ok := v["Ref"].(string); ok && len(v) == 1 && physicalIDs[id] != "" {
			return physicalIDs[id]
		}
		if target, attr, ok := getAtt(v); ok && physicalIDs[target] != "" {
			return physicalIDs[target] + "." + attr
		}
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = resolve(e, physicalIDs)
		}
		switch sub := out["Fn::Sub"].(type) {
		case string:
			out["Fn::Sub"] = substitute(sub, nil, physicalIDs)
		case []any: // [pattern, variables]: a variable's name shadows a resource's
			if len(sub) == 2 {
				pattern, _ := sub[0].(string)
				variables, _ := sub[1].(map[string]any)
				sub[0] = substitute(pattern, variables, physicalIDs)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = resolve(e, physicalIDs)
		}
		return out
	}
	return v
}

// substitute replaces the placeholders of an Fn::Sub pattern that name a
// resource (and not one of the variables) by its physical ID.
func substitute(pattern string, variables map[string]any, physicalIDs map[string]string) string {
	return subPlaceholder.ReplaceAllStringFunc(pattern, func(p string) string {
		m := subPlaceholder.FindStringSubmatch(p)
		if _, shadowed := variables[m[1]]; shadowed {
			return p
		}
		if id := physicalIDs[m[1]]; id != "" {
			return id + m[2]
		}
		return p
	})
}

// getAtt splits an Fn::GetAtt, written ["Resource", "Attribute"] or
// "Resource.Attribute".
func getAtt(v map[string]any) (target, attr string, ok bool) {
	if len(v) != 1 {
		return "", "", false
	}
	switch arg := v["Fn::GetAtt"].(type) {
	case string:
		return strings.Cut(arg, ".")
	case []any:
		if len(arg) == 2 {
			target, _ := arg[0].(string)
			attr, _ := arg[1].(string)
			return target, attr, target != "" && attr != ""
		}
	}
	return "", "", false
}

// importers are the other stacks whose deployed template imports export,
// sorted; the caller holds s.mu.
func (s *Server) importers(export, except string) []string {
	var names []string
	for name, st := range s.stacks {
		if name != except && slices.Contains(st.imports, export) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// exportInUse is why the service refuses to take the stack from the exports
// before to those after: one that another stack imports changes value or
// disappears. "" when nothing is in use.
func (s *Server) exportInUse(st *stack, before, after map[string]string) string {
	for _, export := range sortedKeys(before) {
		newValue, kept := after[export]
		if kept && newValue == before[export] {
			continue
		}
		importers := s.importers(export, st.name)
		switch {
		case len(importers) == 0:
		case kept:
			return exportUpdateInUse(export, importers)
		default:
			return exportDeleteInUse(export, importers)
		}
	}
	return ""
}

// listImports is ListImports: the stacks that import an export. As in the
// service, an export no stack imports is a ValidationError, not an empty list.
func (s *Server) listImports(f form) (any, *apiError) {
	export, err := f.required("ExportName")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	importers := s.importers(export, "")
	if len(importers) == 0 {
		return nil, validationError("Export '%s' is not imported by any stack.", export)
	}
	return &listImportsResult{Imports: importers}, nil
}
