package cloudformation

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/vsoc/vsoc/render/cloudformation/spec"
)

// The hub exports what customer stacks import, and CloudFormation refuses a
// hub update that deletes or changes an export another stack still imports.
// When the hub drops an availability zone, the customers stop importing its
// subnet and route table in the same change, but only once they are updated:
// so the hub's change set is made and checked first, then those customers
// (the releasers) are updated, then the hub's change set is executed, as
// Terraform applies a dependent's change before the change of what it
// depends on. Nothing is executed unless every step can be: a hub refused for
// another reason, or a releaser that is refused, stops the sequence before
// anything runs.

// pendingChangeSet is a change set that was created and checked, and waits
// to be executed once the stacks that have to go first have been applied.
type pendingChangeSet struct {
	kind        types.ChangeSetType
	id          string
	destructive bool
}

// applyHub applies the hub into results[0], taking first the customers that
// have to stop importing its exports; it returns their indices, whose results
// are in results[1+i]. deletions are the stacks deleted before (in a dry run,
// previewed for deletion): they no longer hold the hub's exports.
func (d *Driver) applyHub(ctx context.Context, hub Stack, customers []Stack, deletions []Result, results []Result) []int {
	templates := make(map[string][]byte, len(customers))
	for _, c := range customers {
		templates[c.Name] = c.Template
	}
	released := map[string]bool{}
	for _, del := range deletions {
		if del.Outcome == Deleted || del.Outcome == Previewed {
			released[del.Stack] = true
		}
	}
	results[0] = Result{Stack: hub.Name, Customer: hub.Customer, Template: hub.Source}
	hr := &run{d: d, st: hub, res: &results[0], deferred: true, customers: templates, released: released}
	hr.recordError(ctx, hr.apply(ctx))
	if len(hr.releasers) == 0 || (hr.pending == nil && hr.res.Outcome != Previewed) {
		hr.executePending(ctx)
		return nil
	}

	var first []int
	for i, c := range customers {
		if hr.releasers[c.Name] {
			first = append(first, i)
			fmt.Fprintf(d.opts.Progress, "%s: applied before %s, as it stops importing exports the hub deletes or changes\n", c.Name, hub.Name)
		}
	}
	runs := make([]*run, len(first))
	d.each(first, func(k, i int) {
		results[1+i] = Result{Stack: customers[i].Name, Customer: customers[i].Customer, Template: customers[i].Source, Before: hub.Name}
		runs[k] = &run{d: d, st: customers[i], res: &results[1+i], deferred: true}
		runs[k].recordError(ctx, runs[k].apply(ctx))
	})
	if blocked := notApplied(runs); len(blocked) > 0 {
		for _, r := range runs {
			if r.pending != nil {
				r.abandon(ctx, "not attempted: "+strings.Join(blocked, ", ")+" did not apply, and the hub needs every customer that stops importing its exports updated first")
			}
		}
		hr.abandon(ctx, "not attempted: customers that must stop importing its exports first did not apply ("+strings.Join(blocked, ", ")+")")
		return first
	}
	d.each(allIndices(len(runs)), func(_, k int) { runs[k].executePending(ctx) })
	if failed := notApplied(runs); len(failed) > 0 {
		hr.abandon(ctx, "not attempted: customers that must stop importing its exports first did not apply ("+strings.Join(failed, ", ")+")")
		return first
	}
	hr.executePending(ctx)
	return first
}

// notApplied describes the runs that neither applied nor wait to be
// executed: "vsoc-customer-a (refused)".
func notApplied(runs []*run) []string {
	var out []string
	for _, r := range runs {
		if r.pending == nil && !r.res.Outcome.OK() {
			out = append(out, fmt.Sprintf("%s (%s)", r.st.Name, r.res.Outcome))
		}
	}
	return out
}

// executePending executes the run's change set if it waits for it. The
// export check is made again first, against the stacks as they are now: the
// releasers must have stopped importing.
func (r *run) executePending(ctx context.Context) {
	p := r.pending
	if p == nil {
		return
	}
	r.pending, r.customers = nil, nil
	refused, err := r.refuseExportsInUse(ctx, p.id)
	if err == nil && !refused {
		err = r.execute(ctx, p.kind, p.id, p.destructive)
	}
	r.recordError(ctx, err)
}

// abandon gives up the run's change set, if one waits, and records that the
// run is not attempted, and why.
func (r *run) abandon(ctx context.Context, why string) {
	if r.pending != nil {
		r.pending = nil
		// A change set left behind could be executed by hand while customers
		// still import the hub's exports: it goes even when ctx is cancelled.
		cleanup, cancel := cleanupContext(ctx)
		defer cancel()
		if err := r.deleteChangeSet(cleanup, r.res.ChangeSetID); err != nil {
			r.recordError(ctx, err)
			return
		}
	}
	r.res.Outcome, r.res.Decision = NotAttempted, why
	r.printf("%s", why)
}

// splitImporters splits the importers of the hub's changed exports in use: the
// customers whose new template imports none of the changed exports and only
// exports the deployed hub has (existing) can be updated first (releasers);
// the export changes any other stack imports stay in use (blocked).
func (r *run) splitImporters(inUse []ExportInUse, changed map[string]string, existing map[string]any) (releasers map[string]bool, blocked []ExportInUse) {
	releasers = map[string]bool{}
	verdicts := map[string]bool{} // by importer: a customer imports several of the exports
	for _, e := range inUse {
		var stay []string
		for _, name := range e.ImportedBy {
			goesFirst, decided := verdicts[name]
			if !decided {
				template, built := r.customers[name]
				goesFirst = built && releases(template, changed, existing)
				verdicts[name] = goesFirst
			}
			if goesFirst {
				releasers[name] = true
			} else {
				stay = append(stay, name)
			}
		}
		if len(stay) > 0 {
			e.ImportedBy = stay
			blocked = append(blocked, e)
		}
	}
	return releasers, blocked
}

// releases reports whether a customer's new template can be applied before
// the hub: it imports none of the hub's changed exports and only exports the
// deployed hub has.
func releases(template []byte, changed map[string]string, existing map[string]any) bool {
	var doc any
	if json.Unmarshal(template, &doc) != nil {
		return false // its own run reports the template
	}
	for _, name := range spec.ImportedExports(doc) {
		_, changes := changed[name]
		_, exists := existing[name]
		if changes || !exists {
			return false
		}
	}
	return true
}
