package diff

import (
	"bytes"
	"fmt"
	"maps"
	"reflect"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/render"
)

// renderBase returns the base's output tree without rendering the whole base
// fleet a second time. Rendering dominates a build (the Kubernetes manifests
// above all), so rendering base and head in full would cost two builds for a
// one-customer change.
//
// Customers are planned one by one from their own definition and the hub's,
// and each customer's files come from its own plan, so a customer whose
// definition is the same in base and head has the same files in both. Only
// the changed customers (added, removed, edited) are rendered for the base,
// and their files replace the head's. A target that also writes files
// depending on several customers (the hub's Corefile lists every customer's
// domains) is caught by rendering the changed customers of the head alone:
// any file that differs from the full head render means the target is not
// per-customer, and that target is rendered in full for the base. A changed
// hub changes every customer's plan: the whole base is rendered then.
func renderBase(head *render.Result, base *compiler.Fleet, targets []render.Target) (render.Files, error) {
	basePlan, err := compiler.NewPlan(base)
	if err != nil {
		return nil, err
	}
	if !reflect.DeepEqual(base.Hub, head.Fleet.Hub) {
		return render.All(basePlan, targets)
	}
	changed := changedCustomers(base, head.Fleet)
	headChanged, baseChanged := restrict(head.Plan, changed), restrict(basePlan, changed)

	files := maps.Clone(head.Files)
	for _, t := range targets {
		headPart, err := t.Render(headChanged)
		if err != nil {
			return nil, fmt.Errorf("rendering %s for the head's changed customers: %w", t.Name, err)
		}
		headOwn, baseOwn := headPart, render.Files(nil)
		if perCustomer(headPart, head.Files) {
			if baseOwn, err = t.Render(baseChanged); err != nil {
				return nil, fmt.Errorf("rendering %s for the base's changed customers: %w", t.Name, err)
			}
		} else {
			if headOwn, err = t.Render(head.Plan); err != nil {
				return nil, fmt.Errorf("rendering %s for the head: %w", t.Name, err)
			}
			if baseOwn, err = t.Render(basePlan); err != nil {
				return nil, fmt.Errorf("rendering %s for the base: %w", t.Name, err)
			}
		}
		for name := range headOwn {
			delete(files, name)
		}
		maps.Copy(files, baseOwn)
	}
	return files, nil
}

// perCustomer reports whether a target's render of some customers gave the
// same files as its render of the whole fleet.
func perCustomer(part map[string][]byte, whole render.Files) bool {
	for name, content := range part {
		if full, ok := whole[name]; !ok || !bytes.Equal(full, content) {
			return false
		}
	}
	return true
}

// changedCustomers are the customers added, removed or edited between base
// and head.
func changedCustomers(base, head *compiler.Fleet) map[string]bool {
	changed := map[string]bool{}
	inHead := map[string]*compiler.Customer{}
	for _, c := range head.Customers {
		inHead[c.Name] = c
		changed[c.Name] = true
	}
	for _, c := range base.Customers {
		h, ok := inHead[c.Name]
		changed[c.Name] = !ok || !reflect.DeepEqual(c, h)
	}
	for name, c := range changed {
		if !c {
			delete(changed, name)
		}
	}
	return changed
}

// restrict is the plan of the hub and the given customers only.
func restrict(p *compiler.Plan, customers map[string]bool) *compiler.Plan {
	fleet := *p.Fleet
	fleet.Customers = nil
	for _, c := range p.Fleet.Customers {
		if customers[c.Name] {
			fleet.Customers = append(fleet.Customers, c)
		}
	}
	sub := *p
	sub.Fleet = &fleet
	sub.Customers = nil
	for _, c := range p.Customers {
		if customers[c.Customer.Name] {
			sub.Customers = append(sub.Customers, c)
		}
	}
	return &sub
}
