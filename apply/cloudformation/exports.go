package cloudformation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"

	"github.com/vsoc/vsoc/render/cloudformation/spec"
)

// ExportInUse is an export the change set would change or delete while other
// stacks import it. CloudFormation does not allow that ("Export … cannot be
// updated as it is in use by …"): executing the change set would roll the
// stack back, so the driver refuses it beforehand.
type ExportInUse struct {
	Export string `json:"export"`
	// Change is what would happen to it: "deleted", or "changed" with the
	// reason, e.g. "changed (ClientVpnEndpoint is replaced)".
	Change     string   `json:"change"`
	ImportedBy []string `json:"importedBy"`
}

func (e ExportInUse) String() string {
	return fmt.Sprintf("export %s would be %s, but is imported by %s", e.Export, e.Change, strings.Join(e.ImportedBy, ", "))
}

// exportsOf maps a template's literal export names to their values.
func exportsOf(body []byte) (map[string]any, error) {
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("template is not JSON: %w", err)
	}
	return spec.Exports(doc), nil
}

// changedExports maps the deployed template's exports (before) that the change
// set deletes or whose value it changes to what happens to them: the value's
// text changes, or it names a resource the change set replaces or removes.
func changedExports(before, after map[string]any, changes []Change) map[string]string {
	changed := map[string]string{}
	for name, old := range before {
		new, kept := after[name]
		switch {
		case !kept:
			changed[name] = "deleted"
		case !sameValue(old, new):
			changed[name] = "changed (its value in the template changes)"
		default:
			for _, ch := range changes {
				if destroysPhysicalID(ch) && slices.Contains(spec.ReferencedResources(new), ch.LogicalID) {
					changed[name] = fmt.Sprintf("changed (%s is %s)", ch.LogicalID, destroyedAs(ch))
					break
				}
			}
		}
	}
	return changed
}

// destroysPhysicalID reports whether the change gives the resource a new
// physical ID (and attributes) or removes it; a conditional replacement counts,
// since CloudFormation decides it only while executing.
func destroysPhysicalID(ch Change) bool {
	return ch.Action == string(types.ChangeActionRemove) ||
		(ch.Action == string(types.ChangeActionModify) && ch.Replacement != "" && ch.Replacement != string(types.ReplacementFalse))
}

func destroyedAs(ch Change) string {
	switch {
	case ch.Action == string(types.ChangeActionRemove):
		return "removed"
	case ch.Replacement == string(types.ReplacementConditional):
		return "possibly replaced"
	}
	return "replaced"
}

func sameValue(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// exportsInUse are the changed exports other stacks import, by export name.
func (r *run) exportsInUse(ctx context.Context, changed map[string]string) ([]ExportInUse, error) {
	var inUse []ExportInUse
	for _, name := range slices.Sorted(maps.Keys(changed)) {
		importers, err := r.d.importers(ctx, name)
		if err != nil {
			return nil, err
		}
		// A dry run executes nothing, so the stacks it deleted (previewed)
		// still import the export.
		if !r.d.opts.Execute {
			importers = slices.DeleteFunc(importers, func(stack string) bool { return r.released[stack] })
		}
		if len(importers) > 0 {
			inUse = append(inUse, ExportInUse{Export: name, Change: changed[name], ImportedBy: importers})
		}
	}
	return inUse, nil
}

// importers are the stacks that import export (ListImports), sorted.
func (d *Driver) importers(ctx context.Context, export string) ([]string, error) {
	var names []string
	p := cfn.NewListImportsPaginator(d.api, &cfn.ListImportsInput{ExportName: aws.String(export)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if isNotImported(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("listing the stacks that import %s: %w", export, err)
		}
		names = append(names, page.Imports...)
	}
	slices.Sort(names)
	return names, nil
}

// isNotImported recognises ListImports' answer for an export no stack
// imports: an error, not an empty list.
func isNotImported(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationError" && strings.Contains(apiErr.ErrorMessage(), "is not imported by any stack")
}

// refuseExportsInUse refuses the change set when it changes or deletes
// exports other stacks import, whatever --allow-destroy says: CloudFormation
// would roll the update back. It reports whether it refused.
func (r *run) refuseExportsInUse(ctx context.Context, id string) (bool, error) {
	if r.deployed == nil {
		return false, nil
	}
	before, err := exportsOf(r.deployed)
	if err != nil {
		return false, fmt.Errorf("the deployed template: %w", err)
	}
	after, err := exportsOf(r.st.Template)
	if err != nil {
		return false, err
	}
	changed := changedExports(before, after, r.res.Changes)
	inUse, err := r.exportsInUse(ctx, changed)
	if err != nil || len(inUse) == 0 {
		return false, err
	}
	if r.customers != nil {
		if r.releasers, inUse = r.splitImporters(inUse, changed, before); len(inUse) == 0 {
			return false, nil
		}
		r.releasers = nil // the change cannot go through, so nobody goes first
	}
	if err := r.deleteChangeSet(ctx, id); err != nil {
		return false, err
	}
	r.refuseForExportsInUse(inUse, "CloudFormation does not change or delete an export other stacks import, and the update would roll back",
		"The importing stacks must stop importing it first (see vsoc-compile diff)")
	return true, nil
}

// refuseForExportsInUse records the refusal of an operation CloudFormation
// would not carry out because other stacks import the exports inUse: why
// says what it refuses, then what has to happen first.
func (r *run) refuseForExportsInUse(inUse []ExportInUse, why, then string) {
	reasons := make([]string, len(inUse))
	for i, e := range inUse {
		reasons[i] = e.String()
	}
	r.res.ExportsInUse = inUse
	r.res.Outcome = Refused
	r.res.Decision = "refused: " + why + ": " + strings.Join(reasons, "; ") + ". " + then + "; --allow-destroy does not change this"
	r.printf("%s", r.res.Decision)
}
