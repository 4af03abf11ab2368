package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/vsoc/vsoc/apply/cfnlocal"
	"github.com/vsoc/vsoc/apply/cfnlocal/cfnlocaltest"
	cfnapply "github.com/vsoc/vsoc/apply/cloudformation"
)

var sampleStacks = []string{
	"vsoc-hub", "vsoc-customer-cubebikes", "vsoc-customer-documentation",
	"vsoc-customer-stadtwerke-bielefeld", "vsoc-customer-wacker", "vsoc-customer-wobcom",
}

func TestSampleFleetLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()

	// A dry run creates nothing but the change sets it shows (and deletes).
	rec := f.run(ctx, f.options(false))
	if rec.Outcome != DryRun {
		t.Fatalf("dry run outcome %s", rec.Outcome)
	}
	if got := stackOutcomes(rec)["vsoc-hub"]; got != cfnapply.Previewed {
		t.Errorf("hub in a dry run: %s", got)
	}
	if n := f.server.Calls("ExecuteChangeSet"); n != 0 {
		t.Errorf("a dry run executed %d change sets", n)
	}

	// The first apply creates every stack, hub first.
	rec = f.run(ctx, f.options(true))
	if rec.Outcome != Success {
		t.Fatalf("first apply: %s", rec.Outcome)
	}
	if len(rec.Stacks) != len(sampleStacks) || rec.Stacks[0].Stack != "vsoc-hub" {
		t.Fatalf("stacks %v, want the hub first of %d", stackOutcomes(rec), len(sampleStacks))
	}
	for _, name := range sampleStacks {
		if got := stackOutcomes(rec)[name]; got != cfnapply.Created {
			t.Errorf("%s: %s, want created", name, got)
		}
		st, ok := f.server.Stack(name)
		if !ok || st.Status != "CREATE_COMPLETE" || !st.TerminationProtection || !strings.Contains(st.Policy, "Deny") {
			t.Errorf("%s: exists %v, %+v", name, ok, st.Status)
		}
	}
	// The audit record says who, what and which version.
	if rec.Caller.Account != "123456789012" || !strings.HasPrefix(rec.Caller.Arn, "arn:aws:iam::123456789012:") {
		t.Errorf("caller %+v", rec.Caller)
	}
	if head := f.git("rev-parse", "HEAD"); rec.Git.Commit != head || rec.Git.Dirty {
		t.Errorf("git %+v, want commit %s", rec.Git, head)
	}
	if r := stackResult(t, rec, "vsoc-customer-wobcom"); r.ChangeSetID == "" || r.ChangeSetType != "CREATE" || len(r.Changes) == 0 {
		t.Errorf("wobcom result lacks its change set: %+v", r)
	}

	// A second apply is a no-op.
	changeSets := f.server.Calls("CreateChangeSet")
	rec = f.run(ctx, f.options(true))
	for _, name := range sampleStacks {
		if got := stackOutcomes(rec)[name]; got != cfnapply.Unchanged {
			t.Errorf("second apply, %s: %s", name, got)
		}
	}
	if n := f.server.Calls("CreateChangeSet") - changeSets; n != 0 {
		t.Errorf("second apply created %d change sets", n)
	}

	// A static mapping's port changes: the customer's stack updates in
	// place, nothing protected is touched.
	f.edit("wobcom.cue", "port: 8443", "port: 8444")
	f.build()
	rec = f.run(ctx, f.options(true))
	if rec.Outcome != Success {
		t.Fatalf("static mapping change: %s", rec.Outcome)
	}
	wob := stackResult(t, rec, "vsoc-customer-wobcom")
	if wob.Outcome != cfnapply.Updated || len(wob.Changes) == 0 {
		t.Fatalf("wobcom: %+v", wob)
	}
	for _, ch := range wob.Changes {
		if ch.Protected || ch.Replacement == "True" {
			t.Errorf("static mapping change %+v replaces something", ch)
		}
	}
	for _, name := range sampleStacks {
		if got := stackOutcomes(rec)[name]; name != "vsoc-customer-wobcom" && got != cfnapply.Unchanged {
			t.Errorf("%s: %s, want unchanged", name, got)
		}
	}

	// The BGP ASN of a customer gateway changes: that replaces the gateway
	// and the VPN connection, which is refused without --allow-destroy.
	before, _ := f.server.Stack("vsoc-customer-wacker")
	f.edit("wacker.cue", "asn: 65101", "asn: 65102")
	f.build()
	rec = f.run(ctx, f.options(true))
	if rec.Outcome != Refused {
		t.Fatalf("BGP ASN change: outcome %s, want refused", rec.Outcome)
	}
	wacker := stackResult(t, rec, "vsoc-customer-wacker")
	if wacker.Outcome != cfnapply.Refused || !strings.Contains(wacker.Decision, "--allow-destroy") {
		t.Fatalf("wacker: %+v", wacker)
	}
	protected := map[string]bool{}
	for _, ch := range wacker.Changes {
		if ch.Protected {
			protected[ch.Type] = true
		}
	}
	if !protected["AWS::EC2::CustomerGateway"] || !protected["AWS::EC2::VPNConnection"] {
		t.Errorf("protected changes %v, want the customer gateway and the VPN connection", protected)
	}
	if after, _ := f.server.Stack("vsoc-customer-wacker"); after.Template != before.Template || after.Status != before.Status {
		t.Errorf("the refused stack changed: %s", after.Status)
	}

	// With --allow-destroy it goes through, and the record says so.
	opts := f.options(true)
	opts.AllowDestroy, opts.Only = true, []string{"wacker"}
	auditFile := filepath.Join(t.TempDir(), "audit.json")
	rec = f.run(ctx, opts)
	var stdout bytes.Buffer
	if err := WriteRecord(&stdout, auditFile, rec); err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != Success || len(rec.Stacks) != 1 || rec.Stacks[0].Outcome != cfnapply.Updated {
		t.Fatalf("--allow-destroy --only wacker: %s %+v", rec.Outcome, stackOutcomes(rec))
	}
	written, err := os.ReadFile(auditFile)
	if err != nil || !bytes.Equal(written, stdout.Bytes()) {
		t.Fatalf("audit file differs from stdout (%v)", err)
	}
	var decoded map[string]any
	if err := json.Unmarshal(written, &decoded); err != nil {
		t.Fatalf("audit record is not JSON: %v", err)
	}
	for _, key := range []string{"caller", "git", "stacks", "outcome", "allowDestroy"} {
		if _, ok := decoded[key]; !ok {
			t.Errorf("audit record lacks %q", key)
		}
	}
	if !strings.Contains(string(written), wacker.ChangeSetName) && !strings.Contains(string(written), "changeSetId") {
		t.Errorf("audit record lacks the change set")
	}
}

func TestOnlyRejectsUnknownNames(t *testing.T) {
	f := newFixture(t)
	opts := f.options(false)
	opts.Only = []string{"nosuchcustomer"}
	_, err := Run(t.Context(), opts)
	if err == nil || !strings.Contains(err.Error(), "--only nosuchcustomer") {
		t.Fatalf("err = %v", err)
	}
}

func TestMissingBuildOutputIsExplained(t *testing.T) {
	f := newFixture(t)
	opts := f.options(false)
	opts.Out = filepath.Join(t.TempDir(), "empty")
	_, err := Run(t.Context(), opts)
	if err == nil || !strings.Contains(err.Error(), "vsoc-compile build") {
		t.Fatalf("err = %v", err)
	}
}

// TestRemovedCustomerStackIsDeletedWithAllowDestroy: a customer removed from
// the fleet has its stack deleted by apply --execute --allow-destroy, after
// the other stacks; without --allow-destroy the deletion is refused (and so
// is the run), and a dry run deletes nothing.
func TestRemovedCustomerStackIsDeletedWithAllowDestroy(t *testing.T) {
	f := newDeployedFixture(t)
	f.removeCustomer("documentation")
	f.build()
	const removed = "vsoc-customer-documentation"
	untouched := func(step string) {
		t.Helper()
		if st, ok := f.server.Stack(removed); !ok || st.Status != "CREATE_COMPLETE" || !st.TerminationProtection {
			t.Errorf("%s: the removed customer's stack was touched: %+v", step, st.Status)
		}
		if n := f.server.Calls("DeleteStack"); n != 0 {
			t.Errorf("%s: %d stacks deleted", step, n)
		}
	}

	for _, execute := range []bool{false, true} {
		rec := f.run(t.Context(), f.options(execute))
		deletion := onlyDeletion(t, rec, removed)
		if rec.Outcome != Refused || deletion.Outcome != cfnapply.Refused || !strings.Contains(deletion.Decision, "--allow-destroy") ||
			!strings.Contains(deletion.Decision, "remove Vpc (AWS::EC2::VPC)") {
			t.Errorf("execute %v without --allow-destroy: run %s, deletion %s %q", execute, rec.Outcome, deletion.Outcome, deletion.Decision)
		}
		untouched(fmt.Sprintf("execute %v without --allow-destroy", execute))
	}

	dry := f.options(false)
	dry.AllowDestroy = true
	rec := f.run(t.Context(), dry)
	if deletion := onlyDeletion(t, rec, removed); rec.Outcome != DryRun || deletion.Outcome != cfnapply.Previewed || !strings.Contains(deletion.Decision, "--execute") {
		t.Errorf("dry run with --allow-destroy: run %s, deletion %+v", rec.Outcome, deletion)
	}
	untouched("dry run with --allow-destroy")

	opts := f.options(true)
	opts.AllowDestroy = true
	rec = f.run(t.Context(), opts)
	deletion := onlyDeletion(t, rec, removed)
	if rec.Outcome != Success || deletion.Outcome != cfnapply.Deleted || deletion.StackStatus != "DELETE_COMPLETE" || len(deletion.Changes) != 29 {
		t.Fatalf("--execute --allow-destroy: run %s, deletion %+v", rec.Outcome, deletion)
	}
	if _, ok := f.server.Stack(removed); ok {
		t.Errorf("the removed customer's stack still exists")
	}
	for _, name := range sampleStacks {
		if got := stackOutcomes(rec)[name]; name != removed && got != cfnapply.Unchanged {
			t.Errorf("%s: %s, want unchanged", name, got)
		}
	}
	var audit bytes.Buffer
	if err := WriteRecord(&audit, "", rec); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(audit.String(), `"deletions": [`) || !strings.Contains(audit.String(), `"outcome": "deleted"`) {
		t.Errorf("the audit record does not list the deletion:\n%s", audit.String())
	}

	// Deleted, it is no longer there to delete.
	if rec := f.run(t.Context(), opts); rec.Outcome != Success || len(rec.Deletions) != 0 {
		t.Errorf("the run after the deletion: %s, deletions %+v", rec.Outcome, rec.Deletions)
	}
}

// TestStacksVsocDidNotCreateAreNeverDeleted: a stack with a customer stack's
// name but without vsoc's tags is not vsoc's to delete, and one tagged as
// vsoc's that vsoc would not have named so is refused, not deleted.
func TestStacksVsocDidNotCreateAreNeverDeleted(t *testing.T) {
	f := newFixture(t)
	client := cfnlocaltest.Client(cfnlocaltest.Config(cfnapply.Retryer(10, 5*time.Millisecond)), f.endpoint)
	vpc := `{"Resources":{"Vpc":{"Type":"AWS::EC2::VPC","Properties":{"CidrBlock":"10.0.0.0/16"}}}}`
	createByHand(t, client, "vsoc-customer-initech", vpc, map[string]string{"team": "network"})
	createByHand(t, client, "shared-network", vpc, map[string]string{cfnapply.TagManagedBy: cfnapply.ManagedByValue})
	untagged, _ := f.server.Stack("vsoc-customer-initech")
	tagged, _ := f.server.Stack("shared-network")

	opts := f.options(true)
	opts.AllowDestroy = true
	rec := f.run(t.Context(), opts)
	deletion := onlyDeletion(t, rec, "shared-network")
	if rec.Outcome != Refused || deletion.Outcome != cfnapply.Refused || !strings.Contains(deletion.Decision, "never deletes a stack it did not create") {
		t.Errorf("run %s, deletion %+v", rec.Outcome, deletion)
	}
	for _, was := range []cfnlocal.StackState{untagged, tagged} {
		if now, ok := f.server.Stack(was.Name); !ok || now.Status != was.Status || len(now.Events) != len(was.Events) {
			t.Errorf("%s was touched", was.Name)
		}
	}
	if n := f.server.Calls("DeleteStack"); n != 0 {
		t.Errorf("%d stacks deleted", n)
	}
}

// createByHand creates a stack with tags through a change set executed by
// hand, as someone else than vsoc would.
func createByHand(t *testing.T, client *cfn.Client, name, body string, tags map[string]string) {
	t.Helper()
	var sdkTags []types.Tag
	for k, v := range tags {
		sdkTags = append(sdkTags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	created, err := client.CreateChangeSet(t.Context(), &cfn.CreateChangeSetInput{
		StackName: aws.String(name), ChangeSetName: aws.String("by-hand"), ChangeSetType: types.ChangeSetTypeCreate,
		TemplateBody: aws.String(body), Tags: sdkTags,
	})
	if err != nil {
		t.Fatal(err)
	}
	waiter := cfn.NewChangeSetCreateCompleteWaiter(client, func(o *cfn.ChangeSetCreateCompleteWaiterOptions) { o.MinDelay = time.Millisecond })
	if err := waiter.Wait(t.Context(), &cfn.DescribeChangeSetInput{ChangeSetName: created.Id}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := client.ExecuteChangeSet(t.Context(), &cfn.ExecuteChangeSetInput{ChangeSetName: created.Id}); err != nil {
		t.Fatal(err)
	}
	stackWaiter := cfn.NewStackCreateCompleteWaiter(client, func(o *cfn.StackCreateCompleteWaiterOptions) { o.MinDelay = time.Millisecond })
	if err := stackWaiter.Wait(t.Context(), &cfn.DescribeStacksInput{StackName: aws.String(name)}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

// onlyDeletion is the one deletion of the run, of stack.
func onlyDeletion(t *testing.T, rec *Record, stack string) cfnapply.Result {
	t.Helper()
	if len(rec.Deletions) != 1 || rec.Deletions[0].Stack != stack {
		t.Fatalf("deletions %+v, want only %s", rec.Deletions, stack)
	}
	return rec.Deletions[0]
}

func TestExecutionFailureIsReportedAndTheNextRunRecovers(t *testing.T) {
	f := newFixture(t)
	f.server.FailResource("vsoc-customer-wobcom", "HubPeering", "Resource handler returned message: \"VpcPeeringConnection limit exceeded\"")
	rec := f.run(t.Context(), f.options(true))
	if rec.Outcome != Failed {
		t.Fatalf("outcome %s, want failed", rec.Outcome)
	}
	wob := stackResult(t, rec, "vsoc-customer-wobcom")
	if wob.Outcome != cfnapply.Failed || wob.StackStatus != "ROLLBACK_COMPLETE" || len(wob.FailedEvents) == 0 ||
		wob.FailedEvents[0].LogicalID != "HubPeering" || !strings.Contains(wob.FailedEvents[0].Reason, "limit exceeded") {
		t.Fatalf("wobcom: %+v", wob)
	}
	for _, name := range sampleStacks {
		if got := stackOutcomes(rec)[name]; name != "vsoc-customer-wobcom" && got != cfnapply.Created {
			t.Errorf("%s: %s; the other stacks should be reported as done", name, got)
		}
	}
	// The failed creation left an empty stack; the next run replaces it.
	rec = f.run(t.Context(), f.options(true))
	if rec.Outcome != Success || stackOutcomes(rec)["vsoc-customer-wobcom"] != cfnapply.Created {
		t.Fatalf("recovery run: %s %v", rec.Outcome, stackOutcomes(rec))
	}
}

// TestHubExportInUseRefusesTheRun: a new Client VPN client CIDR replaces the
// endpoint whose ID every customer stack imports. CloudFormation would roll
// the hub back, so apply refuses it up front and says why; the run is refused
// (not failed), and a dry run still previews the customers.
func TestHubExportInUseRefusesTheRun(t *testing.T) {
	f := newDeployedFixture(t)
	f.edit("hub.cue", "100.100.0.0/22", "100.101.0.0/22")
	f.build()

	dry := f.run(t.Context(), f.options(false))
	hub := stackResult(t, dry, "vsoc-hub")
	if dry.Outcome != Refused || hub.Outcome != cfnapply.Refused {
		t.Fatalf("dry run: %s, hub %s; want refused", dry.Outcome, hub.Outcome)
	}
	if len(hub.ExportsInUse) != 1 || hub.ExportsInUse[0].Export != "vsoc-hub-ClientVpnEndpointId" || len(hub.ExportsInUse[0].ImportedBy) != len(sampleStacks)-1 ||
		!strings.Contains(hub.Decision, "vsoc-hub-ClientVpnEndpointId would be changed (ClientVpnEndpoint is replaced)") {
		t.Errorf("hub: %s, exports in use %+v", hub.Decision, hub.ExportsInUse)
	}
	if got := stackOutcomes(dry)["vsoc-customer-wacker"]; got != cfnapply.Previewed {
		t.Errorf("dry run: wacker %s, want its change set previewed", got)
	}

	opts := f.options(true)
	opts.AllowDestroy = true
	rec := f.run(t.Context(), opts)
	if rec.Outcome != Refused || stackOutcomes(rec)["vsoc-hub"] != cfnapply.Refused || stackOutcomes(rec)["vsoc-customer-wacker"] != cfnapply.NotAttempted {
		t.Fatalf("--execute --allow-destroy: %s %v; want refused, customers not attempted", rec.Outcome, stackOutcomes(rec))
	}
	if st, _ := f.server.Stack("vsoc-hub"); st.Status != "CREATE_COMPLETE" {
		t.Errorf("the hub was executed: %s", st.Status)
	}
}

// TestHubZoneRemovalAppliesItsImportersFirst: the hub drops an availability
// zone whose subnet and route table every customer imports, and a customer
// leaves in the same change. CloudFormation would refuse the hub's update
// while any stack imports them, so one run deletes the removed customer and
// updates the other customers (which stop importing the zone) before the hub.
func TestHubZoneRemovalAppliesItsImportersFirst(t *testing.T) {
	f := newDeployedFixture(t)
	f.edit("hub.cue", `, "eu-central-1c"]`, `]`)
	f.removeCustomer("documentation")
	f.build()
	const removed = "vsoc-customer-documentation"

	dry := f.options(false)
	dry.AllowDestroy = true
	rec := f.run(t.Context(), dry)
	for name, got := range stackOutcomes(rec) {
		if got != cfnapply.Previewed {
			t.Errorf("dry run: %s %s, want previewed (the hub too: its importers go first)", name, got)
		}
	}
	if rec.Outcome != DryRun || onlyDeletion(t, rec, removed).Outcome != cfnapply.Previewed {
		t.Fatalf("dry run: %s, deletion %+v", rec.Outcome, rec.Deletions)
	}

	// Without --allow-destroy the customers' subnets in the zone stay, so
	// they keep importing the hub's, and the hub is refused.
	rec = f.run(t.Context(), f.options(false))
	if hub := stackResult(t, rec, "vsoc-hub"); rec.Outcome != Refused || hub.Outcome != cfnapply.Refused || len(hub.ExportsInUse) != 2 {
		t.Errorf("dry run without --allow-destroy: %s, hub %s %+v", rec.Outcome, hub.Outcome, hub.ExportsInUse)
	}

	opts := f.options(true)
	opts.AllowDestroy = true
	rec = f.run(t.Context(), opts)
	if rec.Outcome != Success || onlyDeletion(t, rec, removed).Outcome != cfnapply.Deleted {
		t.Fatalf("--execute --allow-destroy: %s %v, deletions %+v", rec.Outcome, stackOutcomes(rec), rec.Deletions)
	}
	// The hub's update went through: CloudFormation would have rolled it
	// back had a customer still imported the zone's exports.
	for name, got := range stackOutcomes(rec) {
		if got != cfnapply.Updated {
			t.Errorf("%s: %s, want updated", name, got)
		}
		if before := stackResult(t, rec, name).Before; (name == "vsoc-hub") != (before == "") || (before != "" && before != "vsoc-hub") {
			t.Errorf("%s: applied before %q; the audit record should say each customer went before vsoc-hub", name, before)
		}
	}
	hub, _ := f.server.Stack("vsoc-hub")
	if strings.Contains(hub.Template, "eu-central-1c") {
		t.Errorf("the hub still has eu-central-1c")
	}
}

// TestNothingGoesBeforeAHubThatCannotApply: the customers that stop
// importing a dropped zone go before the hub only when the hub's change set
// would then be executed; otherwise nothing is changed, as before ordering.
func TestNothingGoesBeforeAHubThatCannotApply(t *testing.T) {
	for _, c := range []struct {
		name         string
		edits        [][2]string
		allowDestroy bool
		why          string
	}{
		// Every customer keeps importing the replaced endpoint's ID.
		{"zone dropped and Client VPN endpoint replaced", [][2]string{{`, "eu-central-1c"]`, `]`}, {"100.100.0.0/22", "100.101.0.0/22"}}, true, "vsoc-hub-ClientVpnEndpointId would be changed"},
		// The hub's own subnet removal is destructive.
		{"zone dropped without --allow-destroy", [][2]string{{`, "eu-central-1c"]`, `]`}}, false, "--allow-destroy"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newDeployedFixture(t)
			for _, e := range c.edits {
				f.edit("hub.cue", e[0], e[1])
			}
			f.build()
			for _, execute := range []bool{false, true} {
				opts := f.options(execute)
				opts.AllowDestroy = c.allowDestroy
				rec := f.run(t.Context(), opts)
				hub := stackResult(t, rec, "vsoc-hub")
				if rec.Outcome != Refused || hub.Outcome != cfnapply.Refused || !strings.Contains(hub.Decision, c.why) {
					t.Errorf("execute %v: run %s, hub %s %q; want refused for %q", execute, rec.Outcome, hub.Outcome, hub.Decision, c.why)
				}
				for _, name := range sampleStacks[1:] {
					if got, want := stackOutcomes(rec)[name], map[bool]cfnapply.Outcome{false: cfnapply.Previewed, true: cfnapply.NotAttempted}[execute]; got != want &&
						!(got == cfnapply.Refused && !c.allowDestroy && !execute) { // a dry run previews the customers, whose subnet removals are refused
						t.Errorf("execute %v: %s %s, want %s", execute, name, got, want)
					}
				}
			}
			if n := f.server.Calls("ExecuteChangeSet"); n != len(sampleStacks) {
				t.Errorf("%d change sets executed, want only the first apply's %d", n, len(sampleStacks))
			}
		})
	}
}

// TestAFailedReleaserLeavesTheHubAsItWas: a customer that has to stop
// importing a dropped zone before the hub fails to update (and rolls back,
// still importing it): the hub is not attempted and keeps the zone, and the
// next run finishes the change.
func TestAFailedReleaserLeavesTheHubAsItWas(t *testing.T) {
	f := newDeployedFixture(t)
	f.edit("hub.cue", `, "eu-central-1c"]`, `]`)
	f.edit("wobcom.cue", `"192.168.50.0/24"]`, `"192.168.50.0/24", "10.21.0.0/16"]`)
	f.build()
	f.server.FailResource("vsoc-customer-wobcom", "RemoteRouteTo10x21x0x0x16", "Resource handler returned message: \"route limit exceeded\"")

	opts := f.options(true)
	opts.AllowDestroy = true
	rec := f.run(t.Context(), opts)
	hub := stackResult(t, rec, "vsoc-hub")
	if rec.Outcome != Failed || stackOutcomes(rec)["vsoc-customer-wobcom"] != cfnapply.Failed ||
		hub.Outcome != cfnapply.NotAttempted || !strings.Contains(hub.Decision, "vsoc-customer-wobcom (failed)") {
		t.Fatalf("run %s %v; hub %q", rec.Outcome, stackOutcomes(rec), hub.Decision)
	}
	if st, _ := f.server.Stack("vsoc-hub"); !strings.Contains(st.Template, "eu-central-1c") || len(st.ChangeSets) != 0 {
		t.Errorf("the hub changed or kept its change set: %d change sets", len(st.ChangeSets))
	}
	if rec := f.run(t.Context(), opts); rec.Outcome != Success || stackOutcomes(rec)["vsoc-hub"] != cfnapply.Updated {
		t.Errorf("the next run: %s %v", rec.Outcome, stackOutcomes(rec))
	}
}

// cancelAfter cancels the run as soon as a request it matches has been
// answered: between lifting a stack's protection and using it, say.
type cancelAfter struct {
	cancel context.CancelFunc
	match  func(form url.Values) bool
}

func (c cancelAfter) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := http.DefaultTransport.RoundTrip(req)
	if form, _ := url.ParseQuery(string(body)); c.match(form) {
		c.cancel()
	}
	return resp, err
}

// policyLifted matches the setting of a stack policy that denies nothing.
func policyLifted(form url.Values) bool {
	return form.Get("Action") == "SetStackPolicy" && !strings.Contains(form.Get("StackPolicyBody"), "Deny")
}

// terminationProtectionLifted matches the lifting of a stack's termination
// protection.
func terminationProtectionLifted(form url.Values) bool {
	return form.Get("Action") == "UpdateTerminationProtection" && form.Get("EnableTerminationProtection") == "false"
}

// TestInterruptedAllowDestroyRunPutsProtectionBack: a run cancelled after it
// lifted a stack's policy for a destructive change, before executing it,
// puts the protective policy back, so a later run without --allow-destroy
// does not find the stack unprotected.
func TestInterruptedAllowDestroyRunPutsProtectionBack(t *testing.T) {
	f := newDeployedFixture(t)
	f.edit("hub.cue", `, "eu-central-1c"]`, `]`)
	f.build()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	opts := f.options(true)
	opts.AllowDestroy, opts.Parallelism = true, 1
	opts.AWS.HTTPClient = &http.Client{Transport: cancelAfter{cancel, policyLifted}}
	if rec := f.run(ctx, opts); rec.Outcome != Interrupted {
		t.Fatalf("run %s, want interrupted", rec.Outcome)
	}
	for _, name := range sampleStacks {
		if st, _ := f.server.Stack(name); !strings.Contains(st.Policy, `"Deny"`) {
			t.Errorf("%s is left with the lifted stack policy %s", name, st.Policy)
		}
	}
	if n := f.server.Calls("ExecuteChangeSet"); n != len(sampleStacks) {
		t.Errorf("%d change sets executed, want only the first apply's %d", n, len(sampleStacks))
	}
}

// TestRefusedUpdatePutsProtectionBack: a stack found with its policy lifted
// (an --allow-destroy execution interrupted while it ran) gets it back from
// an --execute run that refuses its destructive change.
func TestRefusedUpdatePutsProtectionBack(t *testing.T) {
	f := newDeployedFixture(t)
	client := cfnlocaltest.Client(cfnlocaltest.Config(cfnapply.Retryer(10, 5*time.Millisecond)), f.endpoint)
	if _, err := client.SetStackPolicy(t.Context(), &cfn.SetStackPolicyInput{StackName: aws.String("vsoc-hub"),
		StackPolicyBody: aws.String(`{"Statement":[{"Effect":"Allow","Action":"Update:*","Principal":"*","Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	f.edit("hub.cue", `, "eu-central-1c"]`, `]`)
	f.build()
	rec := f.run(t.Context(), f.options(true))
	if hub := stackResult(t, rec, "vsoc-hub"); hub.Outcome != cfnapply.Refused {
		t.Fatalf("hub %s, want refused", hub.Outcome)
	}
	if st, _ := f.server.Stack("vsoc-hub"); !strings.Contains(st.Policy, `"Deny"`) {
		t.Errorf("the refused hub keeps the lifted policy %s", st.Policy)
	}
}

// TestUnusableKubeconfigStopsTheRunBeforeAWS: a kubeconfig that cannot be
// read, or that has a context for none of the clusters, is reported before
// any stack is touched (it used to be read after the stacks were applied,
// and the run ended without an audit record).
func TestUnusableKubeconfigStopsTheRunBeforeAWS(t *testing.T) {
	f := newFixture(t)
	elsewhere := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(elsewhere, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: elsewhere, context: {cluster: c, user: u}}]
current-context: elsewhere
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		filepath.Join(t.TempDir(), "missing"): "reading kubeconfig",
		elsewhere:                             "has a context for none of the 6 clusters",
	} {
		opts := f.options(true)
		opts.Kubeconfig = path
		if _, err := Run(t.Context(), opts); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("kubeconfig %s: error %v, want %q", path, err, want)
		}
	}
	if n := f.server.Calls("GetCallerIdentity") + f.server.Calls("DescribeStacks"); n != 0 {
		t.Errorf("%d AWS calls made before the kubeconfig was found unusable", n)
	}
}

// TestInterruptedDeletionPutsTerminationProtectionBack: a run cancelled after
// it lifted a removed customer's termination protection, before deleting the
// stack, protects it again.
func TestInterruptedDeletionPutsTerminationProtectionBack(t *testing.T) {
	f := newDeployedFixture(t)
	f.removeCustomer("documentation")
	f.build()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	opts := f.options(true)
	opts.AllowDestroy = true
	opts.AWS.HTTPClient = &http.Client{Transport: cancelAfter{cancel, terminationProtectionLifted}}
	if rec := f.run(ctx, opts); rec.Outcome != Interrupted {
		t.Fatalf("run %s, want interrupted", rec.Outcome)
	}
	if st, ok := f.server.Stack("vsoc-customer-documentation"); !ok || !st.TerminationProtection || f.server.Calls("DeleteStack") != 0 {
		t.Errorf("the removed customer's stack: exists %v, termination protection %v, %d deletions; want it kept and protected",
			ok, st.TerminationProtection, f.server.Calls("DeleteStack"))
	}
}
