package cloudformation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/vsoc/vsoc/apply/cfnlocal"
	"github.com/vsoc/vsoc/apply/cfnlocal/cfnlocaltest"

	_ "github.com/vsoc/vsoc/internal/golden" // defines -update, so that `go test ./... -update` runs this package too
)

// Small handcrafted stacks in the shape the renderer produces: a hub that
// exports its VPC, and customers with a VPC, a private subnet, a Site-to-Site
// VPN (gateways and connection are protected, as is the subnet) and a security
// group whose ingress rules follow the proxy's static mappings.

func hubTemplate() []byte {
	return mustJSON(map[string]any{
		"AWSTemplateFormatVersion": "2010-09-09",
		"Description":              "vsoc hub",
		"Resources": map[string]any{
			"HubVpc": map[string]any{"Type": "AWS::EC2::VPC", "Properties": map[string]any{"CidrBlock": "100.64.0.0/20"}},
		},
		"Outputs": map[string]any{
			"VpcId": map[string]any{"Value": map[string]any{"Ref": "HubVpc"}, "Export": map[string]any{"Name": "vsoc-hub-VpcId"}},
		},
	})
}

type customerParams struct {
	cidr   string
	subnet string // the private subnet's CIDR; no subnet when empty
	asn    int
	ports  []int // static mappings: one ingress rule each
	broken bool  // an unknown property, which the service rejects
}

func customerTemplate(p customerParams) []byte {
	var ingress []any
	for _, port := range p.ports {
		ingress = append(ingress, map[string]any{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "CidrIp": "100.64.0.0/20"})
	}
	sg := map[string]any{
		"GroupDescription":     "proxy load balancer",
		"VpcId":                map[string]any{"Ref": "Vpc"},
		"SecurityGroupIngress": ingress,
	}
	if p.broken {
		sg["NoSuchProperty"] = true
	}
	resources := map[string]any{
		"Vpc":        map[string]any{"Type": "AWS::EC2::VPC", "Properties": map[string]any{"CidrBlock": p.cidr}},
		"VpnGateway": map[string]any{"Type": "AWS::EC2::VPNGateway", "Properties": map[string]any{"Type": "ipsec.1", "AmazonSideAsn": 64512}},
		"VpnGatewayAttachment": map[string]any{"Type": "AWS::EC2::VPCGatewayAttachment", "Properties": map[string]any{
			"VpcId": map[string]any{"Ref": "Vpc"}, "VpnGatewayId": map[string]any{"Ref": "VpnGateway"}}},
		"CustomerGateway": map[string]any{"Type": "AWS::EC2::CustomerGateway", "Properties": map[string]any{
			"Type": "ipsec.1", "BgpAsn": p.asn, "IpAddress": "193.18.239.159"}},
		"VpnConnection": map[string]any{"Type": "AWS::EC2::VPNConnection", "Properties": map[string]any{
			"Type": "ipsec.1", "CustomerGatewayId": map[string]any{"Ref": "CustomerGateway"},
			"VpnGatewayId": map[string]any{"Ref": "VpnGateway"}, "StaticRoutesOnly": false}},
		"ProxySecurityGroup": map[string]any{"Type": "AWS::EC2::SecurityGroup", "Properties": sg},
		"Peering": map[string]any{"Type": "AWS::EC2::VPCPeeringConnection", "Properties": map[string]any{
			"VpcId": map[string]any{"Ref": "Vpc"}, "PeerVpcId": map[string]any{"Fn::ImportValue": "vsoc-hub-VpcId"}}},
	}
	if p.subnet != "" {
		resources["PrivateSubnet"] = map[string]any{"Type": "AWS::EC2::Subnet", "Properties": map[string]any{
			"VpcId": map[string]any{"Ref": "Vpc"}, "CidrBlock": p.subnet, "AvailabilityZone": "eu-central-1a"}}
	}
	return mustJSON(map[string]any{"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources})
}

func mustJSON(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err)
	}
	return b
}

type fleet struct {
	hub       []byte
	customers map[string]customerParams
}

func defaultFleet() fleet {
	return fleet{hub: hubTemplate(), customers: map[string]customerParams{
		"acme":   {cidr: "100.65.0.0/20", subnet: "100.65.0.0/22", asn: 65000, ports: []int{443}},
		"globex": {cidr: "100.66.0.0/20", subnet: "100.66.0.0/22", asn: 65001, ports: []int{443, 6443}},
	}}
}

// edit changes a customer's parameters in place (the map holds values).
func (f fleet) edit(customer string, change func(*customerParams)) {
	p := f.customers[customer]
	change(&p)
	f.customers[customer] = p
}

func (f fleet) stacks() []Stack {
	out := []Stack{{Name: "vsoc-hub", Customer: HubCustomer, Template: f.hub, Source: "out/aws/vsoc-hub.template.json"}}
	for name, p := range f.customers {
		stack := "vsoc-customer-" + name
		out = append(out, Stack{Name: stack, Customer: name, Template: customerTemplate(p), Source: "out/aws/" + stack + ".template.json"})
	}
	return out
}

type env struct {
	t      testing.TB
	server *cfnlocal.Server
	client *cfn.Client
}

func newEnv(t *testing.T) *env { return newEnvStep(t, time.Millisecond) }

// newEnvStep starts an endpoint whose provisioning steps take step each.
func newEnvStep(t testing.TB, step time.Duration) *env {
	t.Helper()
	server, url := cfnlocaltest.Start(t, step)
	client := cfnlocaltest.Client(cfnlocaltest.Config(Retryer(10, 5*time.Millisecond)), url)
	return &env{t: t, server: server, client: client}
}

// syncBuffer collects progress lines from parallel stacks.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	on  func(line string)
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	b.buf.Write(p)
	on := b.on
	b.mu.Unlock()
	if on != nil {
		on(string(p))
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (e *env) apply(ctx context.Context, f fleet, opts Options) ([]Result, string) {
	e.t.Helper()
	progress := &syncBuffer{}
	if forward := opts.Progress; forward != nil {
		progress.on = func(line string) { fmt.Fprint(forward, line) }
	}
	opts.Progress = progress
	opts.PollInterval = 2 * time.Millisecond
	results := New(e.client, opts).Apply(ctx, f.stacks(), nil)
	e.t.Logf("progress:\n%s", progress.String())
	return results, progress.String()
}

func outcomes(results []Result) map[string]Outcome {
	out := map[string]Outcome{}
	for _, r := range results {
		out[r.Stack] = r.Outcome
	}
	return out
}

func wantOutcomes(t *testing.T, results []Result, want map[string]Outcome) {
	t.Helper()
	got := outcomes(results)
	for stack, o := range want {
		if got[stack] != o {
			t.Errorf("%s: outcome %q, want %q (results %+v)", stack, got[stack], o, results)
		}
	}
}

func (e *env) stack(name string) cfnlocal.StackState {
	e.t.Helper()
	st, ok := e.server.Stack(name)
	if !ok {
		e.t.Fatalf("stack %s does not exist", name)
	}
	return st
}

func TestFirstApplyCreatesEveryStackSecondIsNoop(t *testing.T) {
	e := newEnv(t)
	f := defaultFleet()
	results, _ := e.apply(t.Context(), f, Options{Execute: true})
	wantOutcomes(t, results, map[string]Outcome{"vsoc-hub": Created, "vsoc-customer-acme": Created, "vsoc-customer-globex": Created})
	if results[0].Stack != "vsoc-hub" {
		t.Errorf("first result is %s, want the hub", results[0].Stack)
	}
	for _, name := range []string{"vsoc-hub", "vsoc-customer-acme"} {
		st := e.stack(name)
		if st.Status != "CREATE_COMPLETE" {
			t.Errorf("%s: status %s", name, st.Status)
		}
		if !st.TerminationProtection {
			t.Errorf("%s: termination protection is off", name)
		}
		tags := map[string]string{}
		for _, tag := range st.Tags {
			tags[tag.Key] = tag.Value
		}
		if tags[TagManagedBy] != "vsoc" || tags[TagCustomer] == "" {
			t.Errorf("%s: tags %v", name, tags)
		}
	}
	policy := e.stack("vsoc-customer-acme").Policy
	for _, want := range []string{`"Deny"`, "Update:Replace", "AWS::EC2::VPNConnection", "AWS::EC2::CustomerGateway", "AWS::EC2::VPCPeeringConnection", "AWS::EC2::Subnet"} {
		if !strings.Contains(policy, want) {
			t.Errorf("customer stack policy %s lacks %s", policy, want)
		}
	}
	var acme Result
	for _, r := range results {
		if r.Stack == "vsoc-customer-acme" {
			acme = r
		}
	}
	if acme.ChangeSetType != "CREATE" || acme.ChangeSetID == "" || len(acme.Changes) != 8 {
		t.Errorf("acme result: %+v", acme)
	}

	created := e.server.Calls("CreateChangeSet")
	results, _ = e.apply(t.Context(), f, Options{Execute: true})
	wantOutcomes(t, results, map[string]Outcome{"vsoc-hub": Unchanged, "vsoc-customer-acme": Unchanged, "vsoc-customer-globex": Unchanged})
	if n := e.server.Calls("CreateChangeSet"); n != created {
		t.Errorf("second apply created %d change sets", n-created)
	}
	if n := e.server.Calls("ExecuteChangeSet"); n != 3 {
		t.Errorf("%d executions in total, want 3", n)
	}
}

func TestStaticMappingChangeUpdatesInPlace(t *testing.T) {
	e := newEnv(t)
	f := defaultFleet()
	e.apply(t.Context(), f, Options{Execute: true})
	f.edit("acme", func(p *customerParams) { p.ports = []int{443, 3299} })

	results, out := e.apply(t.Context(), f, Options{Execute: true})
	wantOutcomes(t, results, map[string]Outcome{"vsoc-hub": Unchanged, "vsoc-customer-acme": Updated, "vsoc-customer-globex": Unchanged})
	r := results[1]
	want := []Change{{Action: "Modify", LogicalID: "ProxySecurityGroup", Type: "AWS::EC2::SecurityGroup", Replacement: "False"}}
	if fmt.Sprint(r.Changes) != fmt.Sprint(want) {
		t.Errorf("changes %+v, want %+v", r.Changes, want)
	}
	if !strings.Contains(out, "ProxySecurityGroup") || !strings.Contains(out, "UPDATE_COMPLETE") {
		t.Errorf("progress does not show the change and its events")
	}
	st := e.stack("vsoc-customer-acme")
	if st.Status != "UPDATE_COMPLETE" || !strings.Contains(st.Template, "3299") {
		t.Errorf("stack %s, template updated: %v", st.Status, strings.Contains(st.Template, "3299"))
	}
}

func TestBGPASNChangeRefusedWithoutAllowDestroy(t *testing.T) {
	e := newEnv(t)
	f := defaultFleet()
	e.apply(t.Context(), f, Options{Execute: true})
	before := e.stack("vsoc-customer-acme").Template
	f.edit("acme", func(p *customerParams) { p.asn = 65010 })

	results, out := e.apply(t.Context(), f, Options{Execute: true})
	wantOutcomes(t, results, map[string]Outcome{"vsoc-customer-acme": Refused, "vsoc-customer-globex": Unchanged})
	r := results[1]
	if !strings.Contains(r.Decision, "--allow-destroy") || !strings.Contains(r.Decision, "CustomerGateway") || !strings.Contains(r.Decision, "VpnConnection") {
		t.Errorf("decision %q does not name the protected resources and the flag", r.Decision)
	}
	if !strings.Contains(out, "PROTECTED") {
		t.Errorf("printed change set does not flag the protected replacement")
	}
	st := e.stack("vsoc-customer-acme")
	if st.Template != before || len(st.ChangeSets) != 0 {
		t.Errorf("refused stack changed: template same %v, change sets %v", st.Template == before, st.ChangeSets)
	}

	results, _ = e.apply(t.Context(), f, Options{Execute: true, AllowDestroy: true})
	wantOutcomes(t, results, map[string]Outcome{"vsoc-customer-acme": Updated})
	st = e.stack("vsoc-customer-acme")
	if !strings.Contains(st.Template, "65010") {
		t.Errorf("the ASN change was not applied")
	}
	if !strings.Contains(st.Policy, `"Deny"`) {
		t.Errorf("the protective stack policy was not restored after --allow-destroy: %s", st.Policy)
	}
}

// TestSubnetReplacementRefusedWithoutAllowDestroy: a subnet whose CIDR changes
// is replaced, and with it the addresses of what lives in it (the proxy's load
// balancer, the Resolver endpoint), so it takes --allow-destroy like a VPN.
func TestSubnetReplacementRefusedWithoutAllowDestroy(t *testing.T) {
	e := newEnv(t)
	f := defaultFleet()
	e.apply(t.Context(), f, Options{Execute: true})
	before := e.stack("vsoc-customer-acme").Template
	f.edit("acme", func(p *customerParams) { p.subnet = "100.65.4.0/22" })

	results, out := e.apply(t.Context(), f, Options{Execute: true})
	wantOutcomes(t, results, map[string]Outcome{"vsoc-customer-acme": Refused, "vsoc-customer-globex": Unchanged})
	r := results[1]
	if want := "replace PrivateSubnet (AWS::EC2::Subnet)"; !strings.Contains(r.Decision, want) || !strings.Contains(r.Decision, "--allow-destroy") {
		t.Errorf("decision %q does not name %q and the flag", r.Decision, want)
	}
	if !strings.Contains(out, "PrivateSubnet") || !strings.Contains(out, "PROTECTED") {
		t.Errorf("printed change set does not flag the subnet's replacement")
	}
	if st := e.stack("vsoc-customer-acme"); st.Template != before || len(st.ChangeSets) != 0 {
		t.Errorf("refused stack changed: template same %v, change sets %v", st.Template == before, st.ChangeSets)
	}

	results, _ = e.apply(t.Context(), f, Options{Execute: true, AllowDestroy: true})
	wantOutcomes(t, results, map[string]Outcome{"vsoc-customer-acme": Updated})
	st := e.stack("vsoc-customer-acme")
	if !strings.Contains(st.Template, "100.65.4.0/22") {
		t.Errorf("the subnet's new CIDR was not applied")
	}
	if !strings.Contains(st.Policy, `"Deny"`) || !strings.Contains(st.Policy, "AWS::EC2::Subnet") {
		t.Errorf("the protective stack policy, subnets included, was not restored after --allow-destroy: %s", st.Policy)
	}
}

func TestStackPolicyStopsDestructionBehindVsocsBack(t *testing.T) {
	// Someone executes a destructive change set by hand: the stack policy
	// vsoc set makes CloudFormation refuse it and roll back.
	e := newEnv(t)
	f := defaultFleet()
	e.apply(t.Context(), f, Options{Execute: true})
	ctx := t.Context()
	_, err := e.client.CreateChangeSet(ctx, &cfn.CreateChangeSetInput{
		StackName: aws.String("vsoc-customer-acme"), ChangeSetName: aws.String("by-hand"),
		TemplateBody: aws.String(string(customerTemplate(customerParams{cidr: "100.65.0.0/20", subnet: "100.65.0.0/22", asn: 65099, ports: []int{443}}))),
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		out, err := e.client.DescribeChangeSet(ctx, &cfn.DescribeChangeSetInput{StackName: aws.String("vsoc-customer-acme"), ChangeSetName: aws.String("by-hand")})
		return err == nil && out.Status == types.ChangeSetStatusCreateComplete
	})
	if _, err := e.client.ExecuteChangeSet(ctx, &cfn.ExecuteChangeSetInput{StackName: aws.String("vsoc-customer-acme"), ChangeSetName: aws.String("by-hand")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return e.stack("vsoc-customer-acme").Status == "UPDATE_ROLLBACK_COMPLETE" })
	denied := false
	for _, ev := range e.stack("vsoc-customer-acme").Events {
		denied = denied || strings.Contains(ev.Reason, "denied by stack policy")
	}
	if !denied {
		t.Errorf("no event says the stack policy denied the replacement")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestFailureDuringExecutionRollsBack(t *testing.T) {
	e := newEnv(t)
	f := defaultFleet()
	e.apply(t.Context(), f, Options{Execute: true})
	before := e.stack("vsoc-customer-acme").Template
	for _, name := range []string{"acme", "globex"} {
		c := f.customers[name]
		c.ports = append(c.ports, 8443)
		f.customers[name] = c
	}
	e.server.FailResource("vsoc-customer-acme", "ProxySecurityGroup", "Resource handler returned message: \"The security group rule limit was exceeded\"")

	results, out := e.apply(t.Context(), f, Options{Execute: true})
	wantOutcomes(t, results, map[string]Outcome{"vsoc-customer-acme": Failed, "vsoc-customer-globex": Updated})
	r := results[1]
	if len(r.FailedEvents) == 0 || r.FailedEvents[0].LogicalID != "ProxySecurityGroup" || !strings.Contains(r.FailedEvents[0].Reason, "rule limit") {
		t.Errorf("failed events %+v do not show the failing resource", r.FailedEvents)
	}
	if !strings.Contains(r.Error, "rolled back") || r.StackStatus != "UPDATE_ROLLBACK_COMPLETE" {
		t.Errorf("error %q, status %s", r.Error, r.StackStatus)
	}
	if !strings.Contains(out, "FAILED ProxySecurityGroup") {
		t.Errorf("progress does not show the failing event")
	}
	if st := e.stack("vsoc-customer-acme"); st.Template != before {
		t.Errorf("rolled-back stack does not have its previous template")
	}

	// The next run retries the same change and, without the fault, succeeds.
	results, _ = e.apply(t.Context(), f, Options{Execute: true})
	wantOutcomes(t, results, map[string]Outcome{"vsoc-customer-acme": Updated, "vsoc-customer-globex": Unchanged})
}

func TestFailedCreationIsRecreatedNextRun(t *testing.T) {
	e := newEnv(t)
	f := defaultFleet()
	e.server.FailResource("vsoc-customer-globex", "VpnConnection", "Resource handler returned message: \"Invalid IP address\"")
	results, _ := e.apply(t.Context(), f, Options{Execute: true})
	wantOutcomes(t, results, map[string]Outcome{"vsoc-hub": Created, "vsoc-customer-acme": Created, "vsoc-customer-globex": Failed})
	if st := e.stack("vsoc-customer-globex"); st.Status != "ROLLBACK_COMPLETE" {
		t.Fatalf("status %s", st.Status)
	}
	results, _ = e.apply(t.Context(), f, Options{})
	wantOutcomes(t, results, map[string]Outcome{"vsoc-customer-globex": Previewed})
	results, _ = e.apply(t.Context(), f, Options{Execute: true})
	wantOutcomes(t, results, map[string]Outcome{"vsoc-customer-globex": Created})
}

func TestThrottlingIsRetried(t *testing.T) {
	e := newEnv(t)
	e.server.Throttle(6)
	results, _ := e.apply(t.Context(), defaultFleet(), Options{Execute: true})
	wantOutcomes(t, results, map[string]Outcome{"vsoc-hub": Created, "vsoc-customer-acme": Created, "vsoc-customer-globex": Created})
	if n := e.server.Throttled(); n != 6 {
		t.Errorf("%d requests throttled, want 6", n)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	e := newEnv(t)
	f := defaultFleet()
	e.apply(t.Context(), f, Options{Execute: true})
	f.edit("acme", func(p *customerParams) { p.ports = []int{443, 3299} })
	results, _ := e.apply(t.Context(), f, Options{})
	wantOutcomes(t, results, map[string]Outcome{"vsoc-customer-acme": Previewed})
	if len(results[1].Changes) != 1 {
		t.Errorf("preview shows %+v", results[1].Changes)
	}
	st := e.stack("vsoc-customer-acme")
	if strings.Contains(st.Template, "3299") || st.Status != "CREATE_COMPLETE" || len(st.ChangeSets) != 0 {
		t.Errorf("dry run changed the stack: %s, change sets %v", st.Status, st.ChangeSets)
	}
}

func TestCancelledRunResumesCleanly(t *testing.T) {
	// Cancelled once the change set exists (it is left in CREATE_COMPLETE),
	// and while it executes (the stack is left UPDATE_IN_PROGRESS).
	cases := []struct{ when, resumeSays string }{
		{"waiting for CloudFormation to compute it", "left by an earlier run"},
		{"executing change set", "waiting for the operation in progress to end"},
	}
	for _, c := range cases {
		t.Run(c.when, func(t *testing.T) {
			// Steps slow enough that the stack is still in progress when the
			// second run starts.
			e := newEnvStep(t, 20*time.Millisecond)
			f := defaultFleet()
			e.apply(t.Context(), f, Options{Execute: true})
			f.edit("acme", func(p *customerParams) { p.ports = []int{443, 3299} })

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			trigger := &lineTrigger{match: "vsoc-customer-acme: ", also: c.when, fire: cancel}
			results, _ := e.apply(ctx, f, Options{Execute: true, Parallelism: 1, Progress: trigger})
			wantOutcomes(t, results, map[string]Outcome{"vsoc-customer-acme": Interrupted})

			results, out := e.apply(t.Context(), f, Options{Execute: true})
			if !strings.Contains(out, c.resumeSays) {
				t.Errorf("resumed run does not say %q", c.resumeSays)
			}
			got := outcomes(results)["vsoc-customer-acme"]
			if got != Updated && got != Unchanged {
				t.Errorf("resumed run: %s", got)
			}
			st := e.stack("vsoc-customer-acme")
			if st.Status != "UPDATE_COMPLETE" || !strings.Contains(st.Template, "3299") {
				t.Errorf("after resuming: %s, updated %v", st.Status, strings.Contains(st.Template, "3299"))
			}
			if len(st.ChangeSets) != 0 {
				t.Errorf("change sets left: %v", st.ChangeSets)
			}
		})
	}
}

// lineTrigger calls fire once, when a progress line contains match.
type lineTrigger struct {
	match string
	also  string
	fire  func()
	once  sync.Once
}

func (l *lineTrigger) Write(p []byte) (int, error) {
	if strings.Contains(string(p), l.match) && strings.Contains(string(p), l.also) {
		l.once.Do(l.fire)
	}
	return len(p), nil
}

func TestStackWithoutTagsIsLeftAlone(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	// Someone else's stack with a name vsoc would use.
	other := mustJSON(map[string]any{"Resources": map[string]any{
		"Vpc": map[string]any{"Type": "AWS::EC2::VPC", "Properties": map[string]any{"CidrBlock": "10.0.0.0/16"}}}})
	_, err := e.client.CreateChangeSet(ctx, &cfn.CreateChangeSetInput{
		StackName: aws.String("vsoc-customer-acme"), ChangeSetName: aws.String("theirs"), ChangeSetType: types.ChangeSetTypeCreate,
		TemplateBody: aws.String(string(other)), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("network")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		out, err := e.client.DescribeChangeSet(ctx, &cfn.DescribeChangeSetInput{StackName: aws.String("vsoc-customer-acme"), ChangeSetName: aws.String("theirs")})
		return err == nil && out.Status == types.ChangeSetStatusCreateComplete
	})
	if _, err := e.client.ExecuteChangeSet(ctx, &cfn.ExecuteChangeSetInput{StackName: aws.String("vsoc-customer-acme"), ChangeSetName: aws.String("theirs")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return e.stack("vsoc-customer-acme").Status == "CREATE_COMPLETE" })
	before := e.stack("vsoc-customer-acme")

	results, _ := e.apply(ctx, defaultFleet(), Options{Execute: true, AllowDestroy: true})
	wantOutcomes(t, results, map[string]Outcome{"vsoc-hub": Created, "vsoc-customer-acme": Refused, "vsoc-customer-globex": Created})
	if !strings.Contains(results[1].Decision, "not tagged vsoc:managed-by=vsoc") {
		t.Errorf("decision %q", results[1].Decision)
	}
	after := e.stack("vsoc-customer-acme")
	if after.Template != before.Template || after.Policy != "" || after.TerminationProtection || len(after.Events) != len(before.Events) || fmt.Sprint(after.ChangeSets) != fmt.Sprint(before.ChangeSets) {
		t.Errorf("vsoc touched a stack it does not own: %+v", after)
	}
}

func TestHubFailureStopsCustomers(t *testing.T) {
	e := newEnv(t)
	e.server.FailResource("vsoc-hub", "HubVpc", "Resource handler returned message: \"VPC limit exceeded\"")
	results, _ := e.apply(t.Context(), defaultFleet(), Options{Execute: true})
	wantOutcomes(t, results, map[string]Outcome{"vsoc-hub": Failed, "vsoc-customer-acme": NotAttempted, "vsoc-customer-globex": NotAttempted})
	if _, ok := e.server.Stack("vsoc-customer-acme"); ok {
		t.Errorf("a customer stack was created although the hub failed")
	}
}

func TestInvalidTemplateIsReportedByTheService(t *testing.T) {
	e := newEnv(t)
	f := defaultFleet()
	f.customers["acme"] = customerParams{cidr: "100.65.0.0/20", asn: 65000, broken: true}
	results, _ := e.apply(t.Context(), f, Options{Execute: true})
	wantOutcomes(t, results, map[string]Outcome{"vsoc-customer-acme": Failed, "vsoc-customer-globex": Created})
	if !strings.Contains(results[1].Error, "NoSuchProperty") || !strings.Contains(results[1].Error, "ValidationError") {
		t.Errorf("error %q does not carry the service's validation message", results[1].Error)
	}
}

// hubWithCIDR is the hub with another VPC CIDR, which replaces the VPC and so
// changes the value of its export vsoc-hub-VpcId, which every customer imports.
func hubWithCIDR(cidr string) []byte {
	return bytes.Replace(hubTemplate(), []byte("100.64.0.0/20"), []byte(cidr), 1)
}

// hubWithoutExport is the hub whose VPC is an output but no longer exported.
func hubWithoutExport() []byte {
	var doc map[string]any
	if err := json.Unmarshal(hubTemplate(), &doc); err != nil {
		panic(err)
	}
	delete(doc["Outputs"].(map[string]any)["VpcId"].(map[string]any), "Export")
	return mustJSON(doc)
}

func TestExportInUseIsRefusedBeforeExecution(t *testing.T) {
	e := newEnv(t)
	f := defaultFleet()
	e.apply(t.Context(), f, Options{Execute: true})
	deployed := e.stack("vsoc-hub")

	for _, tc := range []struct {
		name, change string
		hub          []byte
	}{
		{"replaced VPC", "changed (HubVpc is replaced)", hubWithCIDR("100.64.16.0/20")},
		{"export removed", "deleted", hubWithoutExport()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.hub = tc.hub
			results, _ := e.apply(t.Context(), f, Options{Execute: true, AllowDestroy: true})
			wantOutcomes(t, results, map[string]Outcome{"vsoc-hub": Refused, "vsoc-customer-acme": NotAttempted, "vsoc-customer-globex": NotAttempted})
			want := []ExportInUse{{Export: "vsoc-hub-VpcId", Change: tc.change, ImportedBy: []string{"vsoc-customer-acme", "vsoc-customer-globex"}}}
			if got := results[0].ExportsInUse; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("exports in use %v, want %v", got, want)
			}
			if d := results[0].Decision; !strings.Contains(d, "export vsoc-hub-VpcId would be "+tc.change+", but is imported by vsoc-customer-acme, vsoc-customer-globex") {
				t.Errorf("decision %q does not say which export and which stacks", d)
			}
			if after := e.stack("vsoc-hub"); after.Template != deployed.Template || len(after.Events) != len(deployed.Events) {
				t.Errorf("the hub was executed although CloudFormation would roll it back: %s", after.Status)
			}
		})
	}
}

// TestDryRunPreviewsCustomersBehindARefusedHub: a dry run executes nothing,
// so the customers' change sets are still shown when the hub is refused.
func TestDryRunPreviewsCustomersBehindARefusedHub(t *testing.T) {
	e := newEnv(t)
	f := defaultFleet()
	e.apply(t.Context(), f, Options{Execute: true})
	f.hub = hubWithCIDR("100.64.16.0/20")
	f.edit("acme", func(p *customerParams) { p.ports = []int{443, 8443} })
	results, _ := e.apply(t.Context(), f, Options{})
	wantOutcomes(t, results, map[string]Outcome{"vsoc-hub": Refused, "vsoc-customer-acme": Previewed, "vsoc-customer-globex": Unchanged})
}

// createByHand creates a stack as someone else than vsoc would: a change set
// executed by hand, with the given tags, and no protection.
func (e *env) createByHand(name string, body []byte, tags map[string]string) {
	e.t.Helper()
	ctx := context.Background()
	var sdkTags []types.Tag
	for k, v := range tags {
		sdkTags = append(sdkTags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	_, err := e.client.CreateChangeSet(ctx, &cfn.CreateChangeSetInput{
		StackName: aws.String(name), ChangeSetName: aws.String("by-hand"), ChangeSetType: types.ChangeSetTypeCreate,
		TemplateBody: aws.String(string(body)), Tags: sdkTags,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.waitFor(func() bool {
		out, err := e.client.DescribeChangeSet(ctx, &cfn.DescribeChangeSetInput{StackName: aws.String(name), ChangeSetName: aws.String("by-hand")})
		return err == nil && out.Status == types.ChangeSetStatusCreateComplete
	})
	if _, err := e.client.ExecuteChangeSet(ctx, &cfn.ExecuteChangeSetInput{StackName: aws.String(name), ChangeSetName: aws.String("by-hand")}); err != nil {
		e.t.Fatal(err)
	}
	e.waitFor(func() bool { return e.stack(name).Status == "CREATE_COMPLETE" })
}

func (e *env) waitFor(cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatal("condition not met within 10s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// deleteStacks runs the driver's deletion of stacks, as apply does after
// applying the built ones.
func (e *env) deleteStacks(ctx context.Context, opts Options, stacks ...Stack) ([]Result, string) {
	e.t.Helper()
	progress := &syncBuffer{}
	opts.Progress = progress
	opts.PollInterval = 2 * time.Millisecond
	results := New(e.client, opts).Delete(ctx, stacks)
	e.t.Logf("progress:\n%s", progress.String())
	return results, progress.String()
}

func TestDeleteRemovesTheStackAfterLiftingTerminationProtection(t *testing.T) {
	e := newEnv(t)
	f := defaultFleet()
	e.apply(t.Context(), f, Options{Execute: true})
	orphans, err := New(e.client, Options{}).Orphans(t.Context(), []string{"vsoc-hub", "vsoc-customer-acme"})
	if err != nil || fmt.Sprint(orphans) != "[vsoc-customer-globex]" {
		t.Fatalf("orphans %v (%v), want [vsoc-customer-globex]", orphans, err)
	}

	results, out := e.deleteStacks(t.Context(), Options{Execute: true, AllowDestroy: true}, Stack{Name: "vsoc-customer-globex", Customer: "globex"})
	wantOutcomes(t, results, map[string]Outcome{"vsoc-customer-globex": Deleted})
	if r := results[0]; r.StackStatus != "DELETE_COMPLETE" || len(r.Changes) != 8 || !r.Changes[0].Protected {
		t.Errorf("result %+v, want DELETE_COMPLETE and the 7 removals, CustomerGateway protected first", r)
	}
	if _, ok := e.server.Stack("vsoc-customer-globex"); ok {
		t.Errorf("the stack still exists")
	}
	if !strings.Contains(out, "termination protection lifted") || !strings.Contains(out, "DELETE_COMPLETE") {
		t.Errorf("progress does not show the protection lifted and the deletion's events")
	}
	if st := e.stack("vsoc-customer-acme"); st.Status != "CREATE_COMPLETE" {
		t.Errorf("another customer's stack changed: %s", st.Status)
	}
}

// withExport is a customer template that also exports its VPC's ID as name.
func withExport(body []byte, name string) []byte {
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		panic(err)
	}
	doc["Outputs"] = map[string]any{"VpcId": map[string]any{"Value": map[string]any{"Ref": "Vpc"}, "Export": map[string]any{"Name": name}}}
	return mustJSON(doc)
}

// TestDeleteRefusedWhileExportsAreImported: CloudFormation would end the
// deletion in DELETE_FAILED, so it is refused before anything is lifted,
// whatever --allow-destroy says, naming the export and who imports it.
func TestDeleteRefusedWhileExportsAreImported(t *testing.T) {
	e := newEnv(t)
	acme := Stack{Name: "vsoc-customer-acme", Customer: "acme", Source: "out/aws/vsoc-customer-acme.template.json",
		Template: withExport(customerTemplate(defaultFleet().customers["acme"]), "vsoc-customer-acme-VpcId")}
	hub := Stack{Name: "vsoc-hub", Customer: HubCustomer, Template: hubTemplate(), Source: "out/aws/vsoc-hub.template.json"}
	wantOutcomes(t, New(e.client, Options{Execute: true, PollInterval: 2 * time.Millisecond}).Apply(t.Context(), []Stack{hub, acme}, nil),
		map[string]Outcome{"vsoc-hub": Created, "vsoc-customer-acme": Created})
	e.createByHand("partner", []byte(`{"Resources":{"Subnet":{"Type":"AWS::EC2::Subnet","Properties":{"VpcId":{"Fn::ImportValue":"vsoc-customer-acme-VpcId"},"CidrBlock":"100.65.0.0/24"}}}}`), nil)
	before := e.stack("vsoc-customer-acme")

	results, _ := e.deleteStacks(t.Context(), Options{Execute: true, AllowDestroy: true}, Stack{Name: acme.Name, Customer: "acme"})
	wantOutcomes(t, results, map[string]Outcome{"vsoc-customer-acme": Refused})
	want := []ExportInUse{{Export: "vsoc-customer-acme-VpcId", Change: "deleted", ImportedBy: []string{"partner"}}}
	if got := results[0].ExportsInUse; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("exports in use %v, want %v", got, want)
	}
	if d := results[0].Decision; !strings.Contains(d, "export vsoc-customer-acme-VpcId would be deleted, but is imported by partner") || !strings.Contains(d, "--allow-destroy does not change this") {
		t.Errorf("decision %q", d)
	}
	if after := e.stack("vsoc-customer-acme"); !after.TerminationProtection || len(after.Events) != len(before.Events) || e.server.Calls("DeleteStack") != 0 {
		t.Errorf("the stack was touched: protected %v, %d new events", after.TerminationProtection, len(after.Events)-len(before.Events))
	}
}

// TestFailedDeletionIsReportedAndProtectedAgain: a resource the service cannot
// delete (a security group the load balancer's interfaces still use) ends the
// deletion in DELETE_FAILED; the result says which resource and why, and the
// stack gets its termination protection back. The next run deletes it.
func TestFailedDeletionIsReportedAndProtectedAgain(t *testing.T) {
	e := newEnv(t)
	e.apply(t.Context(), defaultFleet(), Options{Execute: true})
	e.server.FailResource("vsoc-customer-acme", "ProxySecurityGroup", "resource sg-0a1b2c has a dependent object")
	acme := Stack{Name: "vsoc-customer-acme", Customer: "acme"}

	results, out := e.deleteStacks(t.Context(), Options{Execute: true, AllowDestroy: true}, acme)
	wantOutcomes(t, results, map[string]Outcome{"vsoc-customer-acme": Failed})
	r := results[0]
	if r.StackStatus != "DELETE_FAILED" || len(r.FailedEvents) != 1 || r.FailedEvents[0].LogicalID != "ProxySecurityGroup" ||
		!strings.Contains(r.Error, "ProxySecurityGroup (AWS::EC2::SecurityGroup) failed: resource sg-0a1b2c has a dependent object") {
		t.Errorf("result %+v", r)
	}
	if !strings.Contains(out, "FAILED ProxySecurityGroup") {
		t.Errorf("progress does not show the failing resource")
	}
	if st := e.stack("vsoc-customer-acme"); st.Status != "DELETE_FAILED" || !st.TerminationProtection {
		t.Errorf("after the failed deletion: %s, termination protection %v", st.Status, st.TerminationProtection)
	}

	results, _ = e.deleteStacks(t.Context(), Options{Execute: true, AllowDestroy: true}, acme)
	wantOutcomes(t, results, map[string]Outcome{"vsoc-customer-acme": Deleted})
}

// TestDeleteNeverTouchesAStackVsocDidNotCreate: tagged vsoc:managed-by=vsoc,
// but not a customer stack by its name, or tagged for another customer than
// its name says: refused, and left as it is.
func TestDeleteNeverTouchesAStackVsocDidNotCreate(t *testing.T) {
	e := newEnv(t)
	vpc := []byte(`{"Resources":{"Vpc":{"Type":"AWS::EC2::VPC","Properties":{"CidrBlock":"10.0.0.0/16"}}}}`)
	e.createByHand("shared-network", vpc, map[string]string{TagManagedBy: ManagedByValue})
	e.createByHand("vsoc-customer-initech", vpc, map[string]string{TagManagedBy: ManagedByValue, TagCustomer: "hooli"})
	before := map[string]cfnlocal.StackState{"shared-network": e.stack("shared-network"), "vsoc-customer-initech": e.stack("vsoc-customer-initech")}

	results, _ := e.deleteStacks(t.Context(), Options{Execute: true, AllowDestroy: true},
		Stack{Name: "shared-network"}, Stack{Name: "vsoc-customer-initech", Customer: "initech"})
	wantOutcomes(t, results, map[string]Outcome{"shared-network": Refused, "vsoc-customer-initech": Refused})
	if d := results[0].Decision; !strings.Contains(d, "not named as vsoc names customer stacks") {
		t.Errorf("shared-network: %q", d)
	}
	if d := results[1].Decision; !strings.Contains(d, `tagged vsoc:customer="hooli", not "initech"`) {
		t.Errorf("vsoc-customer-initech: %q", d)
	}
	for name, was := range before {
		if now := e.stack(name); now.Status != was.Status || len(now.Events) != len(was.Events) || now.TerminationProtection != was.TerminationProtection {
			t.Errorf("%s was touched: %s", name, now.Status)
		}
	}
	if n := e.server.Calls("DeleteStack") + e.server.Calls("UpdateTerminationProtection") + e.server.Calls("GetTemplate"); n != 0 {
		t.Errorf("%d calls that read or change the stacks", n)
	}
}

// TestDeleteOfAnUnexecutedCreationNeedsNoAllowDestroy: a creation whose
// change set was never executed leaves the stack in REVIEW_IN_PROGRESS,
// without resources; once the customer is dropped, --execute deletes it: it
// destroys nothing.
func TestDeleteOfAnUnexecutedCreationNeedsNoAllowDestroy(t *testing.T) {
	e := newEnv(t)
	_, err := e.client.CreateChangeSet(t.Context(), &cfn.CreateChangeSetInput{
		StackName: aws.String("vsoc-customer-acme"), ChangeSetName: aws.String("vsoc-interrupted"), ChangeSetType: types.ChangeSetTypeCreate,
		TemplateBody: aws.String(`{"Resources":{"Vpc":{"Type":"AWS::EC2::VPC","Properties":{"CidrBlock":"100.65.0.0/20"}}}}`),
		Tags:         []types.Tag{{Key: aws.String(TagManagedBy), Value: aws.String(ManagedByValue)}, {Key: aws.String(TagCustomer), Value: aws.String("acme")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := e.stack("vsoc-customer-acme"); st.Status != "REVIEW_IN_PROGRESS" {
		t.Fatalf("before its change set is executed: %s", st.Status)
	}
	results, _ := e.deleteStacks(t.Context(), Options{Execute: true}, Stack{Name: "vsoc-customer-acme", Customer: "acme"})
	wantOutcomes(t, results, map[string]Outcome{"vsoc-customer-acme": Deleted})
	if len(results[0].Changes) != 0 {
		t.Errorf("removals %+v of a stack without resources", results[0].Changes)
	}
}

// TestCancelledBeforeTheHubIsInterrupted: a run cancelled before the hub's
// change set is made records every stack as interrupted, not failed.
func TestCancelledBeforeTheHubIsInterrupted(t *testing.T) {
	e := newEnv(t)
	f := defaultFleet()
	e.apply(t.Context(), f, Options{Execute: true})
	f.hub = hubWithCIDR("100.64.16.0/20")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	results := New(e.client, Options{Execute: true, PollInterval: 2 * time.Millisecond}).Apply(ctx, f.stacks(), nil)
	if results[0].Outcome != Interrupted {
		t.Errorf("hub %s %q, want interrupted", results[0].Outcome, results[0].Error)
	}
}
