package cloudformation

import (
	"strings"
	"testing"

	"github.com/vsoc/vsoc/render/cloudformation/spec"
)

func TestResolverNames(t *testing.T) {
	for _, c := range []struct{ stack, what, want string }{
		// A domain's dots become hyphens.
		{"vsoc-customer-stadtwerke-bielefeld", "forward-swb-netz.de", "vsoc-customer-stadtwerke-bielefeld_forward-swb-netz-de"},
		// 66 characters: cut, and ended with the hash of the whole name. The hash is pinned:
		// a new name would replace the rule association, and with it the customer's DNS for a
		// moment.
		{"vsoc-customer-stadtwerke-bielefeld", "forward-stadtwerke-bielefeld.de", "vsoc-customer-stadtwerke-bielefeld_forward-stadtwerke-b-0c802214"},
		{"vsoc-customer-wobcom", "outbound", "vsoc-customer-wobcom_outbound"},
		// The underscore keeps customers apart whatever their names and domains hold.
		{"vsoc-customer-a", "forward-b-forward-c.de", "vsoc-customer-a_forward-b-forward-c-de"},
		{"vsoc-customer-a-forward-b", "forward-c.de", "vsoc-customer-a-forward-b_forward-c-de"},
	} {
		if got := resolverName(c.stack, c.what); got != c.want {
			t.Errorf("resolverName(%q, %q) = %q, want %q", c.stack, c.what, got, c.want)
		}
	}
}

// The longest names the schema and the policies allow (a 63-character customer name, a domain of
// about 200) still render to templates the service accepts, and two customers whose names differ
// only at the end keep different Resolver names.
func TestLongestNamesPassTheSpec(t *testing.T) {
	fleet := syntheticFleet(2)
	longDomain := strings.Repeat("d", 63) + "." + strings.Repeat("e", 63) + "." + strings.Repeat("f", 63) + ".example"
	for i, c := range fleet.Customers {
		c.Name = strings.Repeat("n", 62) + string(rune('0'+i))
		c.DNS.Mode = "route53-resolver"
		c.DNS.Domains = []string{longDomain, c.Name + ".de"}
	}
	plan := planFleet(t, fleet)
	files := render(t, plan)
	s, err := spec.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range s.Check(byStack(t, files)) {
		t.Errorf("%s", p)
	}

	seen := map[string]string{}
	for _, c := range plan.Customers {
		for id, r := range parse(t, files, c.StackName).Resources {
			if !strings.HasPrefix(r.Type, "AWS::Route53Resolver::") || r.Type == "AWS::Route53Resolver::ResolverRuleAssociation" {
				continue
			}
			name := r.Properties["Name"].(string)
			if other, dup := seen[name]; dup {
				t.Errorf("%s/%s and %s are both named %s", c.StackName, id, other, name)
			}
			seen[name] = c.StackName + "/" + id
		}
	}
}
