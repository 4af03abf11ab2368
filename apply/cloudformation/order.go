package cloudformation

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/vsoc/vsoc/render/cloudformation/spec"
)

// The hub exports what customer stacks import, and CloudFormation refuses a
// hub update that deletes or changes an export another stack still imports.
// When the hub drops an availability zone, the customers stop importing its
// subnet and route table in the same change, but only once they are updated:
// so Apply updates those customers first, as Terraform applies a dependent's
// change before the change of what it depends on. Stacks deleted before Apply
// (removed customers) release the hub's exports the same way.

// releasers are the customers (indices into customers) to apply before the
// hub: each imports, as deployed, an export the hub's new template deletes or
// gives another value, and its new template imports none of those exports,
// nor any export the deployed hub does not have yet (it would need the new hub
// first). The others keep their place after the hub; if one of them still
// imports a changed export, the hub's own check refuses the change and says
// why.
func (d *Driver) releasers(ctx context.Context, hub Stack, customers []Stack) ([]int, error) {
	deployed, err := d.deployedTemplate(ctx, hub.Name)
	if err != nil || deployed == nil {
		return nil, err
	}
	changed, err := changedExports(deployed, hub.Template, nil)
	if err != nil || len(changed) == 0 {
		return nil, err
	}
	existing, err := exportsOf(deployed)
	if err != nil {
		return nil, err
	}
	index := make(map[string]int, len(customers))
	for i, c := range customers {
		index[c.Name] = i
	}
	chosen := map[int]bool{}
	for _, export := range slices.Sorted(maps.Keys(changed)) {
		importers, err := d.importers(ctx, export)
		if err != nil {
			return nil, err
		}
		for _, name := range importers {
			if i, ok := index[name]; ok && releases(customers[i].Template, changed, existing) {
				chosen[i] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(chosen)), nil
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

// deployedTemplate is the template stack runs, nil when there is no such
// stack or it has no template yet (a creation previewed, never executed).
func (d *Driver) deployedTemplate(ctx context.Context, stack string) ([]byte, error) {
	described, err := d.api.DescribeStacks(ctx, &cfn.DescribeStacksInput{StackName: aws.String(stack)})
	switch {
	case isNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("describing stack %s: %w", stack, err)
	case len(described.Stacks) == 0 || described.Stacks[0].StackStatus == types.StackStatusReviewInProgress:
		return nil, nil
	}
	out, err := d.api.GetTemplate(ctx, &cfn.GetTemplateInput{StackName: aws.String(stack), TemplateStage: types.TemplateStageOriginal})
	if err != nil {
		return nil, fmt.Errorf("getting the deployed template of %s: %w", stack, err)
	}
	return []byte(aws.ToString(out.TemplateBody)), nil
}
