package render

import (
	"context"
	"fmt"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/validate"
)

// Result is one compilation of a customers folder. When the fleet has
// violations, Plan and Files are nil: nothing is rendered from bad input.
type Result struct {
	Fleet      *compiler.Fleet
	Violations []validate.Violation
	Plan       *compiler.Plan
	Files      Files
}

// Build loads, validates, plans and renders the fleet in sources. Malformed
// files come back as compiler.LoadErrors.
func Build(ctx context.Context, v *validate.Validator, dir string, sources []compiler.Source, cache *compiler.Cache) (*Result, error) {
	fleet, err := compiler.Load(ctx, dir, sources, cache)
	if err != nil {
		return nil, err
	}
	violations, err := v.Validate(ctx, fleet)
	if err != nil {
		return nil, fmt.Errorf("validating: %w", err)
	}
	res := &Result{Fleet: fleet, Violations: violations}
	if len(violations) > 0 {
		return res, nil
	}
	if res.Plan, err = compiler.NewPlan(fleet); err != nil {
		return nil, err
	}
	if res.Files, err = All(res.Plan, Targets()); err != nil {
		return nil, err
	}
	return res, nil
}
