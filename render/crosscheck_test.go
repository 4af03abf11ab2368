package render_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vsoc/vsoc/internal/fleettest"
	"github.com/vsoc/vsoc/render"
	"github.com/vsoc/vsoc/render/cloudformation"
	"github.com/vsoc/vsoc/render/dns"
)

// The Route 53 record sets of the stacks and the hub's zone files are two
// renderings of one list, dns.Records: they must never drift apart.
func TestRoute53RecordsEqualTheDNSRecords(t *testing.T) {
	plan := fleettest.SamplePlan(t)
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

// An existing output folder is replaced only when it holds the folders
// OutputFolders names: they must be where the targets write.
func TestOutputFoldersAreWhereTheTargetsWrite(t *testing.T) {
	files, err := render.All(fleettest.SamplePlan(t), render.Targets())
	if err != nil {
		t.Fatal(err)
	}
	var tops []string
	for name := range files {
		top, _, _ := strings.Cut(name, "/")
		if !slices.Contains(tops, top) {
			tops = append(tops, top)
		}
	}
	slices.Sort(tops)
	if diff := cmp.Diff(render.OutputFolders(), tops); diff != "" {
		t.Fatalf("OutputFolders differs from the folders the targets write (-OutputFolders +written):\n%s", diff)
	}
}

// The proxy's Service names AWS resources the customer stack creates (its
// subnets and the load balancer's security group) by their Name tags: a
// rename on one side must fail here, not in the Load Balancer Controller.
func TestProxyServiceNamesResourcesOfTheStack(t *testing.T) {
	plan := fleettest.SamplePlan(t)
	files, err := render.All(plan, render.Targets())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range plan.Customers {
		var tmpl struct {
			Resources map[string]struct {
				Type       string
				Properties struct{ Tags []struct{ Key, Value string } }
			}
		}
		if err := json.Unmarshal(files[cloudformation.TemplatePath(c.StackName)], &tmpl); err != nil {
			t.Fatal(err)
		}
		named := map[string]string{} // Name tag → resource type
		for _, r := range tmpl.Resources {
			for _, tag := range r.Properties.Tags {
				if tag.Key == "Name" {
					named[tag.Value] = r.Type
				}
			}
		}
		manifests := string(files["kube/clusters/"+c.Customer.Name+"/rendered.yaml"])
		for annotation, wantType := range map[string]string{
			"service.beta.kubernetes.io/aws-load-balancer-subnets":         "AWS::EC2::Subnet",
			"service.beta.kubernetes.io/aws-load-balancer-security-groups": "AWS::EC2::SecurityGroup",
		} {
			_, rest, ok := strings.Cut(manifests, annotation+": ")
			if !ok {
				t.Fatalf("%s: the proxy Service has no %s annotation", c.Customer.Name, annotation)
			}
			value, _, _ := strings.Cut(rest, "\n")
			for _, name := range strings.Split(value, ",") {
				if named[name] != wantType {
					t.Errorf("%s: %s names %q, which the stack does not tag on a %s", c.Customer.Name, annotation, name, wantType)
				}
			}
		}
	}
}
