package ssh

import (
	"fmt"
	"slices"
	"testing"

	"github.com/vsoc/vsoc/compiler"
)

// BenchmarkRender renders a fleet of 10,000 customers shaped like the
// sample's wobcom (services, a static mapping, KKP endpoints).
func BenchmarkRender(b *testing.B) {
	plan := syntheticPlan(b, 10000)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Render(plan); err != nil {
			b.Fatal(err)
		}
	}
}

// syntheticPlan plans n copies of the sample's wobcom, each with its own
// name and domain.
func syntheticPlan(tb testing.TB, n int) *compiler.Plan {
	tb.Helper()
	sample := samplePlan(tb)
	var template *compiler.Customer
	for _, c := range sample.Fleet.Customers {
		if c.Name == "wobcom" {
			template = c
		}
	}
	fleet := &compiler.Fleet{Dir: sample.Fleet.Dir, Hub: sample.Fleet.Hub}
	for i := range n {
		c := *template
		c.Name = fmt.Sprintf("customer-%05d", i)
		c.File = c.Name + ".cue"
		domain := fmt.Sprintf("c%05d.example", i)
		c.DNS.Domains = []string{domain}
		c.KKP.Endpoints = compiler.KKPEndpoints{UI: "kkp." + domain, API: "api.kkp." + domain}
		c.Proxy.Allow = []string{"*." + domain}
		c.Proxy.Static = slices.Clone(template.Proxy.Static)
		c.Proxy.Static[0].Host = "legacy-monitor." + domain
		fleet.Customers = append(fleet.Customers, &c)
	}
	plan, err := compiler.NewPlan(fleet)
	if err != nil {
		tb.Fatal(err)
	}
	return plan
}
