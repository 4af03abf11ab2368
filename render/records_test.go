package render_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/render/cloudformation"
	"github.com/vsoc/vsoc/render/dns"
)

// The Route 53 record sets of the stacks and the hub's zone files are two
// renderings of one list, dns.Records: they must never drift apart.
func TestRoute53RecordsEqualTheDNSRecords(t *testing.T) {
	fleet, err := compiler.LoadDir(context.Background(), "../customers", nil)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := compiler.NewPlan(fleet)
	if err != nil {
		t.Fatal(err)
	}
	templates, err := cloudformation.Render(plan)
	if err != nil {
		t.Fatal(err)
	}
	var fromStacks []string
	for _, body := range templates {
		var tmpl struct {
			Resources map[string]struct {
				Type       string
				Properties struct {
					Name            string
					Type            string
					ResourceRecords []string
				}
			}
		}
		if err := json.Unmarshal(body, &tmpl); err != nil {
			t.Fatal(err)
		}
		for _, r := range tmpl.Resources {
			if r.Type != "AWS::Route53::RecordSet" {
				continue
			}
			values := slices.Clone(r.Properties.ResourceRecords)
			slices.Sort(values)
			fromStacks = append(fromStacks, strings.TrimSuffix(r.Properties.Name, ".")+" "+r.Properties.Type+" "+strings.Join(values, ","))
		}
	}
	var fromDNS []string
	for _, r := range dns.Records(plan) {
		values := make([]string, len(r.Values))
		for i, v := range r.Values {
			values[i] = v.String()
		}
		slices.Sort(values)
		fromDNS = append(fromDNS, r.Name+" "+r.Type+" "+strings.Join(values, ","))
	}
	slices.Sort(fromStacks)
	slices.Sort(fromDNS)
	if len(fromDNS) < 10 {
		t.Fatalf("only %d records: the sample fleet has more", len(fromDNS))
	}
	if diff := cmp.Diff(fromDNS, fromStacks); diff != "" {
		t.Fatalf("Route 53 record sets differ from dns.Records (-dns +stacks):\n%s", diff)
	}
}
