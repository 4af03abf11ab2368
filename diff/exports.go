package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/vsoc/vsoc/render"
	"github.com/vsoc/vsoc/render/cloudformation/spec"
)

// CloudFormation does not let a stack update change the value of, or delete,
// an export another stack imports ("Export … cannot be updated as it is in
// use by …"): the update rolls back. The hub exports what customer stacks
// import (the Client VPN endpoint, its subnets and route tables, …), so a hub
// change that replaces one of those resources, or drops an availability zone,
// cannot be applied as it is. The preview reports it first, as a blocker.

// Blocker is an export the change deletes or gives a new value while stacks,
// as deployed at the base, import it.
type Blocker struct {
	Owner  string `json:"owner"` // of the exporting stack: "hub"
	Stack  string `json:"stack"`
	Export string `json:"export"`
	Action string `json:"action"` // "change" or "delete"
	// Cause is what changes it, e.g. "ClientVpnEndpoint will be REPLACED".
	Cause      string     `json:"cause"`
	ImportedBy []Importer `json:"importedBy"`
	Message    string     `json:"message"`
	// Remedy says how the change can be applied, in steps.
	Remedy string `json:"remedy"`
}

// Importer is a stack that imports an export, and the resources that do.
type Importer struct {
	Owner     string   `json:"owner"`
	Stack     string   `json:"stack"`
	Resources []string `json:"resources"`
	// StillImports is set when the head's template of the stack still
	// imports the export, so applying that stack first does not release it.
	StillImports bool `json:"stillImports,omitempty"`
	// Removed is set when the head has no such stack (a removed customer):
	// apply deletes it first, with --allow-destroy.
	Removed bool `json:"removed,omitempty"`
	// NeedsExporterFirst is set when the head's template of the stack
	// imports an export the base does not have, or another export this
	// change deletes or gives a new value: it needs the exporting stack's
	// update first, so it cannot go before it.
	NeedsExporterFirst bool `json:"needsExporterFirst,omitempty"`
}

// orderable reports whether apply gets the export change through by
// applying (or deleting) every importer before the exporting stack.
func (b Blocker) orderable() bool {
	for _, imp := range b.ImportedBy {
		if imp.StillImports || imp.NeedsExporterFirst {
			return false
		}
	}
	return true
}

// exportChange is what happens to one export between base and head.
type exportChange struct {
	owner, stack string
	delete       bool
	cause        string
}

// exportChanges finds, in every stack of the base, the exports the head
// deletes or whose value it changes: the value's text changes, or it names a
// resource that is replaced (possibly, too: CloudFormation decides that only
// while executing) or removed.
func (c comparison) exportChanges(base, head render.Files) (map[string]exportChange, error) {
	changes := map[string]exportChange{}
	for _, path := range sortedKeys(base) {
		// An export's value changes only with its template's text.
		if kindOf(path) != KindStack || bytes.Equal(base[path], head[path]) {
			continue
		}
		before := exportsOf(base[path])
		if len(before) == 0 {
			continue
		}
		after := exportsOf(head[path])
		resources, err := c.spec.Classify(base[path], head[path])
		if err != nil {
			return nil, fmt.Errorf("comparing %s: %w", path, err)
		}
		owner := c.owners.owner(path)
		if owner == "" {
			owner = hubName
		}
		for name, old := range before {
			ch := exportChange{owner: owner, stack: stackOf(path)}
			new, kept := after[name]
			switch {
			case !kept:
				ch.delete, ch.cause = true, "its output is no longer exported"
			case compact(old) != compact(new):
				ch.cause = "its value in the template changes"
			default:
				ch.cause = destroyedReference(new, resources)
			}
			if ch.cause != "" {
				changes[name] = ch
			}
		}
	}
	return changes, nil
}

// destroyedReference names the first resource value refers to that is
// replaced or removed, as "X will be REPLACED"; "" when there is none.
func destroyedReference(value any, resources []spec.Change) string {
	refs := spec.ReferencedResources(value)
	for _, r := range resources {
		if !slices.Contains(refs, r.LogicalID) {
			continue
		}
		switch {
		case r.Action == spec.Remove:
			return r.LogicalID + " will be DESTROYED"
		case r.Action == spec.Replace && r.Conditional:
			return r.LogicalID + " may be REPLACED"
		case r.Action == spec.Replace:
			return r.LogicalID + " will be REPLACED"
		}
	}
	return ""
}

// exportsOf maps a template's literal export names to their values; nil for
// no template.
func exportsOf(body []byte) map[string]any {
	if body == nil {
		return nil
	}
	doc, err := decodeJSON(body)
	if err != nil {
		return nil // Classify reports it
	}
	return spec.Exports(doc)
}

// importsOf maps the export names a template imports (Fn::ImportValue with a
// literal name) to the logical IDs of the resources that import them, sorted.
func importsOf(body []byte) map[string][]string {
	imports, _ := interfaceOf(body)
	return imports
}

// interfaceOf reads, in one decoding, what a template imports (as importsOf)
// and the names it exports.
func interfaceOf(body []byte) (imports map[string][]string, exports map[string]any) {
	t, err := decodeTemplate(body)
	if err != nil {
		return nil, nil // Classify reports it
	}
	imports = map[string][]string{}
	for _, id := range sortedKeys(t.resources) {
		for _, name := range spec.ImportedExports(t.resources[id]) {
			imports[name] = append(imports[name], id)
		}
	}
	return imports, spec.Exports(t.rest)
}

// blockers are the export changes that stacks of the base import, by export
// name: those no order of applying gets through, and those apply gets through
// by applying the importers first (ordered).
func (c comparison) blockers(changes map[string]exportChange, base, head render.Files) (blocking, ordered []Blocker) {
	blocking, ordered = []Blocker{}, []Blocker{}
	if len(changes) == 0 {
		return blocking, ordered
	}
	// Each stack's imports, read once for every changed export (the head's
	// only for the stacks that import one).
	imports, headImports := map[string]map[string][]string{}, map[string]map[string][]string{}
	baseExports := map[string]bool{}
	for _, path := range sortedKeys(base) {
		if kindOf(path) == KindStack {
			var exports map[string]any
			imports[path], exports = interfaceOf(base[path])
			for name := range exports {
				baseExports[name] = true
			}
		}
	}
	importsAtHead := func(path string) map[string][]string {
		if _, read := headImports[path]; !read {
			headImports[path] = importsOf(head[path])
		}
		return headImports[path]
	}
	needsExporter := func(path, export string) bool {
		for name := range importsAtHead(path) {
			if _, changes := changes[name]; !baseExports[name] || (changes && name != export) {
				return true
			}
		}
		return false
	}
	for _, export := range sortedKeys(changes) {
		ch := changes[export]
		var importers []Importer
		for _, path := range sortedKeys(imports) {
			resources := imports[path][export]
			if len(resources) == 0 || stackOf(path) == ch.stack {
				continue
			}
			owner := c.owners.owner(path)
			importers = append(importers, Importer{
				Owner: owner, Stack: stackOf(path), Resources: resources,
				StillImports: len(importsAtHead(path)[export]) > 0, Removed: head[path] == nil, NeedsExporterFirst: needsExporter(path, export),
			})
		}
		if len(importers) == 0 {
			continue
		}
		if b := blocker(export, ch, importers); b.orderable() {
			ordered = append(ordered, b)
		} else {
			blocking = append(blocking, b)
		}
	}
	return blocking, ordered
}

func blocker(export string, ch exportChange, importers []Importer) Blocker {
	b := Blocker{Owner: ch.owner, Stack: ch.stack, Export: export, Action: "change", Cause: ch.cause, ImportedBy: importers}
	what, refusal := "will CHANGE", "to update"
	if ch.delete {
		b.Action, what, refusal = "delete", "will be DELETED", "to delete"
	}
	owners := make([]string, len(importers))
	for i, imp := range importers {
		owners[i] = imp.Owner
	}
	if b.orderable() {
		b.Message = fmt.Sprintf("%s: export %s %s (%s); %s import it now and stop in this change, and CloudFormation refuses %s an export in use, so apply takes them before the %s stack",
			ch.owner, export, what, ch.cause, firstOf(owners, 5), refusal, ch.stack)
	} else {
		b.Message = fmt.Sprintf("%s: export %s %s (%s) while %s import it — CloudFormation refuses %s an export in use, so the %s stack cannot be updated",
			ch.owner, export, what, ch.cause, firstOf(owners, 5), refusal, ch.stack)
	}
	b.Remedy = remedy(importers, ch.stack)
	return b
}

// firstOf lists up to n names, and how many more there are: a fleet of
// thousands imports the hub's exports.
func firstOf(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// remedy says how the change gets through: importers that keep importing
// the export block it in any order; importers that need the new exports
// cannot go first, so the change has to be split; otherwise vsoc-compile
// apply deletes the removed importers and updates the others before the
// exporting stack.
func remedy(importers []Importer, exporter string) string {
	var keep, needNew, removed, release []string
	for _, imp := range importers {
		switch {
		case imp.StillImports:
			keep = append(keep, imp.Owner)
		case imp.NeedsExporterFirst:
			needNew = append(needNew, imp.Owner)
		case imp.Removed:
			removed = append(removed, imp.Stack)
		default:
			release = append(release, imp.Owner)
		}
	}
	switch {
	case len(keep) > 0:
		return fmt.Sprintf("%s still import it after this change, so no order of applying gets it through: "+
			"revert the change, or migrate by hand (the importing stacks must stop importing the export before it changes)", strings.Join(keep, ", "))
	case len(needNew) > 0:
		return fmt.Sprintf("%s stop importing it but import exports the %s stack adds or changes in this change, so neither can go first: "+
			"split the change, first adding what they need (apply it), then removing what they no longer import", strings.Join(needNew, ", "), exporter)
	}
	var steps []string
	if len(removed) > 0 {
		steps = append(steps, fmt.Sprintf("deletes the stacks of the removed customers (%s, with --allow-destroy)", strings.Join(removed, ", ")))
	}
	if len(release) > 0 {
		steps = append(steps, fmt.Sprintf("updates %s", strings.Join(release, ", ")))
	}
	return fmt.Sprintf("vsoc-compile apply %s, then the %s stack", strings.Join(steps, ", then "), exporter)
}

// importsReplaced rewrites a template's imports of exports that change value
// into a literal per side ("before"/"after"), so that Classify sees the
// change CloudFormation will see once the hub's new value is imported: a
// property that forces replacement replaces the importing resource.
func importsReplaced(body []byte, changes map[string]exportChange, side string) ([]byte, error) {
	if body == nil || len(changes) == 0 || !importsChanged(importsOf(body), changes) {
		return body, nil
	}
	doc, err := decodeJSON(body)
	if err != nil {
		return nil, err
	}
	return json.Marshal(replaceImports(doc, changes, side))
}

func importsChanged(imports map[string][]string, changes map[string]exportChange) bool {
	for name := range imports {
		if ch, ok := changes[name]; ok && !ch.delete {
			return true
		}
	}
	return false
}

func replaceImports(v any, changes map[string]exportChange, side string) any {
	switch v := v.(type) {
	case map[string]any:
		if name, ok := v["Fn::ImportValue"].(string); ok && len(v) == 1 {
			if ch, ok := changes[name]; ok && !ch.delete {
				return fmt.Sprintf("(%s value of export %s)", side, name)
			}
		}
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = replaceImports(e, changes, side)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = replaceImports(e, changes, side)
		}
		return out
	}
	return v
}

// unresolvedValue is what a property whose text stays the same changes to:
// the new value of a changed export it imports, or the new ID of a replaced
// resource it refers to.
func unresolvedValue(v any, changes map[string]exportChange) string {
	for _, name := range spec.ImportedExports(v) {
		if ch, ok := changes[name]; ok && !ch.delete {
			return fmt.Sprintf("(the new value of export %s: %s)", name, ch.cause)
		}
	}
	return "(the new ID of the replacement)"
}
