package spec

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/vsoc/vsoc/render/cloudformation/spec/internal/extract"
)

// Action is what CloudFormation does to one resource when a stack update is applied.
type Action int

const (
	Add     Action = iota // the resource is created
	Modify                // updated in place, keeping its physical ID
	Replace               // a new resource is created and the old one deleted
	Remove                // deleted
)

func (a Action) String() string {
	switch a {
	case Add:
		return "add"
	case Modify:
		return "modify"
	case Replace:
		return "replace"
	case Remove:
		return "remove"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Change is what happens to one resource, identified by its logical ID.
type Change struct {
	LogicalID string
	Type      string // the resource type (the new one when the type changes)
	Action    Action
	// Properties are the top-level properties whose value changes, sorted. A property that
	// refers (Ref, Fn::GetAtt, Fn::Sub) to a replaced resource changes too, since the value it
	// resolves to does.
	Properties []string
	// Replacing are those of Properties that force (or may force) the replacement.
	Replacing []string
	// Conditional is set on a Replace that only may happen: every replacing property is one the
	// specification marks as causing replacement under some conditions only.
	Conditional bool
}

// Classify compares two versions of one stack's template and returns the resources that
// change, sorted by logical ID. A nil old template is a new stack (everything is added), a nil
// new one a deleted stack (everything is removed). A logical ID whose type changes is replaced.
// Only resource types and properties decide; changes to DependsOn, Metadata, policies or
// outputs alone do not update resources and are not reported.
func (s *Spec) Classify(old, new []byte) ([]Change, error) {
	oldRes, err := resourcesOf(old)
	if err != nil {
		return nil, fmt.Errorf("old template: %w", err)
	}
	newRes, err := resourcesOf(new)
	if err != nil {
		return nil, fmt.Errorf("new template: %w", err)
	}

	changes := map[string]*Change{}
	var kept []string // logical IDs present in both, same type
	for id, r := range newRes {
		o, existed := oldRes[id]
		switch {
		case !existed:
			changes[id] = &Change{LogicalID: id, Type: r.typeName, Action: Add}
		case o.typeName != r.typeName:
			changes[id] = &Change{LogicalID: id, Type: r.typeName, Action: Replace, Properties: changedProperties(o.props, r.props)}
		default:
			kept = append(kept, id)
		}
	}
	for id, o := range oldRes {
		if _, stays := newRes[id]; !stays {
			changes[id] = &Change{LogicalID: id, Type: o.typeName, Action: Remove}
		}
	}
	slices.Sort(kept)

	// A replaced resource gets a new physical ID and new attributes, so properties referring to
	// it change as well; that can replace the referrer in turn, hence the fixed point.
	for {
		replaced := map[string]bool{} // logical ID → whether the replacement is definite
		for id, ch := range changes {
			if ch.Action == Replace {
				replaced[id] = !ch.Conditional
			}
		}
		grew := false
		for _, id := range kept {
			if ch := changes[id]; ch != nil && ch.Action == Replace {
				continue
			}
			ch, err := s.classifyKept(id, oldRes[id], newRes[id], replaced)
			if err != nil {
				return nil, err
			}
			if ch == nil {
				continue
			}
			if prev := changes[id]; prev == nil || !reflect.DeepEqual(*prev, *ch) {
				grew = true
			}
			changes[id] = ch
		}
		if !grew {
			break
		}
	}

	out := make([]Change, 0, len(changes))
	for _, id := range sortedKeys(changes) {
		out = append(out, *changes[id])
	}
	return out, nil
}

type templateResource struct {
	typeName string
	props    map[string]any
}

func resourcesOf(body []byte) (map[string]templateResource, error) {
	if body == nil {
		return nil, nil
	}
	doc, err := decodeTemplate(body)
	if err != nil {
		return nil, err
	}
	resources, _ := doc["Resources"].(map[string]any)
	out := make(map[string]templateResource, len(resources))
	for id, v := range resources {
		r, _ := v.(map[string]any)
		t, ok := r["Type"].(string)
		if !ok {
			return nil, fmt.Errorf("resource %s has no Type", id)
		}
		props, _ := r["Properties"].(map[string]any)
		out[id] = templateResource{typeName: t, props: props}
	}
	return out, nil
}

func changedProperties(old, new map[string]any) []string {
	var names []string
	for _, k := range sortedKeys(union(old, new)) {
		if !reflect.DeepEqual(old[k], new[k]) {
			names = append(names, k)
		}
	}
	return names
}

func union(a, b map[string]any) map[string]any {
	u := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		u[k] = v
	}
	for k, v := range b {
		u[k] = v
	}
	return u
}

// classifyKept classifies a resource present in both versions with the same type; nil means
// it does not change.
func (s *Spec) classifyKept(id string, old, new templateResource, replaced map[string]bool) (*Change, error) {
	def, ok := s.resources[new.typeName]
	if !ok {
		return nil, fmt.Errorf("resource %s: type %s is not in the specification (%s), so its update behaviour is unknown", id, new.typeName, s.source)
	}
	ch := &Change{LogicalID: id, Type: new.typeName, Action: Modify}
	definite := false
	for _, name := range sortedKeys(union(old.props, new.props)) {
		oldV, newV := old.props[name], new.props[name]
		textChanged := !reflect.DeepEqual(oldV, newV)
		refers, definitely := refersTo(newV, replaced)
		if !textChanged && !refers {
			continue
		}
		prop, ok := def.Properties[name]
		if !ok {
			return nil, fmt.Errorf("resource %s: %s has no property %q, so its update behaviour is unknown", id, new.typeName, name)
		}
		ch.Properties = append(ch.Properties, name)
		effect := prop.Replacement
		switch {
		case textChanged:
			// A field of a nested type may force replacement even when the property does not.
			effect = strongest(effect, nestedReplacement(prop.Type, def, oldV, newV))
		case !definitely && effect == extract.ReplaceYes:
			// It changes only if a resource it refers to is replaced, which only may happen.
			effect = extract.ReplaceConditional
		}
		switch effect {
		case extract.ReplaceYes:
			definite = true
			ch.Replacing = append(ch.Replacing, name)
		case extract.ReplaceConditional:
			ch.Replacing = append(ch.Replacing, name)
		}
	}
	if len(ch.Properties) == 0 {
		return nil, nil
	}
	if len(ch.Replacing) > 0 {
		ch.Action = Replace
		ch.Conditional = !definite
	}
	return ch, nil
}

// strongest combines two replacement effects: yes beats conditional beats no.
func strongest(a, b string) string {
	if a == extract.ReplaceYes || b == extract.ReplaceYes {
		return extract.ReplaceYes
	}
	if a == extract.ReplaceConditional || b == extract.ReplaceConditional {
		return extract.ReplaceConditional
	}
	return extract.ReplaceNo
}

// nestedReplacement looks inside a changed value of a nested property type: a field of the
// nested type may force replacement even when the top-level property does not.
func nestedReplacement(t extract.Type, def extract.Resource, old, new any) string {
	switch t.Kind {
	case extract.KindRef:
		oldObj, _ := old.(map[string]any)
		newObj, _ := new.(map[string]any)
		if oldObj == nil && newObj == nil {
			return extract.ReplaceNo
		}
		effect := extract.ReplaceNo
		fields := def.Types[t.Ref]
		for k := range union(oldObj, newObj) {
			if reflect.DeepEqual(oldObj[k], newObj[k]) {
				continue
			}
			f, ok := fields[k]
			if !ok {
				continue
			}
			effect = strongest(effect, strongest(f.Replacement, nestedReplacement(f.Type, def, oldObj[k], newObj[k])))
		}
		return effect
	case extract.KindList, extract.KindMap:
		effect := extract.ReplaceNo
		for _, pair := range elementPairs(old, new) {
			if !reflect.DeepEqual(pair[0], pair[1]) {
				effect = strongest(effect, nestedReplacement(*t.Elem, def, pair[0], pair[1]))
			}
		}
		return effect
	}
	return extract.ReplaceNo
}

// elementPairs pairs the elements of two lists by index, or of two maps by key; a missing
// element is nil.
func elementPairs(old, new any) [][2]any {
	var pairs [][2]any
	oldList, oldIsList := old.([]any)
	newList, newIsList := new.([]any)
	if oldIsList || newIsList {
		for i := range max(len(oldList), len(newList)) {
			var p [2]any
			if i < len(oldList) {
				p[0] = oldList[i]
			}
			if i < len(newList) {
				p[1] = newList[i]
			}
			pairs = append(pairs, p)
		}
		return pairs
	}
	oldMap, _ := old.(map[string]any)
	newMap, _ := new.(map[string]any)
	for k := range union(oldMap, newMap) {
		pairs = append(pairs, [2]any{oldMap[k], newMap[k]})
	}
	return pairs
}

// refersTo reports whether v contains a Ref, Fn::GetAtt or Fn::Sub placeholder naming one of
// the replaced resources, and whether one of those it names is definitely replaced.
func refersTo(v any, replaced map[string]bool) (refers, definitely bool) {
	if len(replaced) == 0 {
		return false, false
	}
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			r, d := refersTo(e, replaced)
			refers, definitely = refers || r, definitely || d
		}
	case map[string]any:
		if fn, arg, ok := intrinsic(x); ok {
			for _, name := range referencedNames(fn, arg) {
				if def, ok := replaced[name]; ok {
					refers, definitely = true, definitely || def
				}
			}
		}
		for _, e := range x {
			r, d := refersTo(e, replaced)
			refers, definitely = refers || r, definitely || d
		}
	}
	return refers, definitely
}

// Exports maps the literal export names of a decoded template's Outputs to their values.
func Exports(template any) map[string]any {
	top, _ := template.(map[string]any)
	outputs, _ := top["Outputs"].(map[string]any)
	exports := map[string]any{}
	for _, o := range outputs {
		out, _ := o.(map[string]any)
		export, _ := out["Export"].(map[string]any)
		if name, ok := export["Name"].(string); ok {
			exports[name] = out["Value"]
		}
	}
	return exports
}

// ImportedExports lists the export names v passes to Fn::ImportValue as literals, at any depth,
// sorted and each once. (A computed name cannot be known before the stack is deployed.)
func ImportedExports(v any) []string {
	var names []string
	collectImports(v, &names)
	slices.Sort(names)
	return slices.Compact(names)
}

func collectImports(v any, into *[]string) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			collectImports(e, into)
		}
	case map[string]any:
		if name, ok := x["Fn::ImportValue"].(string); ok && len(x) == 1 {
			*into = append(*into, name)
			return
		}
		for _, e := range x {
			collectImports(e, into)
		}
	}
}

// ReferencedResources lists the logical IDs v names with Ref, Fn::GetAtt or Fn::Sub, at any
// depth (pseudo parameters too: they name no resource), in no particular order.
func ReferencedResources(v any) []string {
	var names []string
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			names = append(names, ReferencedResources(e)...)
		}
	case map[string]any:
		if fn, arg, ok := intrinsic(x); ok {
			names = append(names, referencedNames(fn, arg)...)
		}
		for _, e := range x {
			names = append(names, ReferencedResources(e)...)
		}
	}
	return names
}

// referencedNames lists the logical IDs an intrinsic function call names directly.
func referencedNames(fn string, arg any) []string {
	switch fn {
	case "Ref":
		if s, ok := arg.(string); ok {
			return []string{s}
		}
	case "Fn::GetAtt":
		switch a := arg.(type) {
		case string:
			r, _, _ := strings.Cut(a, ".")
			return []string{r}
		case []any:
			if len(a) > 0 {
				if s, ok := a[0].(string); ok {
					return []string{s}
				}
			}
		}
	case "Fn::Sub":
		pattern, _ := arg.(string)
		if a, ok := arg.([]any); ok && len(a) > 0 {
			pattern, _ = a[0].(string)
		}
		placeholders, _ := subPlaceholders(pattern)
		names := make([]string, 0, len(placeholders))
		for _, p := range placeholders {
			name, _, _ := strings.Cut(p, ".")
			names = append(names, name)
		}
		return names
	}
	return nil
}
