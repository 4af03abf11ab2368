package apply

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

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

func TestRemovedCustomerIsReportedNotDeleted(t *testing.T) {
	f := newFixture(t)
	if rec := f.run(t.Context(), f.options(true)); rec.Outcome != Success {
		t.Fatalf("first apply: %s", rec.Outcome)
	}
	if err := os.Remove(filepath.Join(f.customers, "documentation.cue")); err != nil {
		t.Fatal(err)
	}
	f.commit("drop documentation")
	f.build()
	rec := f.run(t.Context(), f.options(true))
	if rec.Outcome != Success || len(rec.Stacks) != len(sampleStacks)-1 {
		t.Fatalf("apply after removal: %s, %d stacks", rec.Outcome, len(rec.Stacks))
	}
	if !slices.Equal(rec.Orphaned, []string{"vsoc-customer-documentation"}) {
		t.Errorf("orphaned %v", rec.Orphaned)
	}
	if st, ok := f.server.Stack("vsoc-customer-documentation"); !ok || st.Status != "CREATE_COMPLETE" {
		t.Errorf("the removed customer's stack was touched")
	}
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
	f := newFixture(t)
	if rec := f.run(t.Context(), f.options(true)); rec.Outcome != Success {
		t.Fatalf("first apply: %s", rec.Outcome)
	}
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
