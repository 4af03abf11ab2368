package validate

import (
	"context"
	"testing"

	"github.com/vsoc/vsoc/compiler"
)

// A fleet built in Go, without the loader's defaults or positions, is
// checked (and its problems reported at the customer's file), not a crash.
func TestValidateBareFleet(t *testing.T) {
	ctx := context.Background()
	v, err := New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := &compiler.Fleet{
		Hub:       &compiler.Hub{File: "hub.cue", CIDR: "100.65.0.0/16", Domain: "vsoc.example.net"},
		Customers: []*compiler.Customer{{Name: "bare", File: "bare.cue"}},
	}
	vs, err := v.Validate(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]bool{}
	for _, viol := range vs {
		rules[viol.Rule] = true
		if viol.Pos.File == "" {
			t.Errorf("%s has no file: %+v", viol.Rule, viol)
		}
	}
	// The empty pool and the customer's empty gateway list and names.
	for _, want := range []string{"VSOC001", "VSOC004"} {
		if !rules[want] {
			t.Errorf("no %s among %v", want, vs)
		}
	}
	if _, err := v.Validate(ctx, &compiler.Fleet{}); err == nil {
		t.Error("a fleet without a hub validated")
	}
}
