package cfnlocal_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/vsoc/vsoc/apply/cfnlocal"
	"github.com/vsoc/vsoc/apply/cfnlocal/cfnlocaltest"
	"github.com/vsoc/vsoc/render/cloudformation/spec"

	_ "github.com/vsoc/vsoc/internal/golden" // defines -update, so that `go test ./... -update` runs this package too
)

const vpcTemplate = `{"Resources":{"Vpc":{"Type":"AWS::EC2::VPC","Properties":{"CidrBlock":"100.64.0.0/20"}}}}`

type env struct {
	server *cfnlocal.Server
	url    string
	cfg    aws.Config
	cfn    *cfn.Client
}

// newEnv starts the endpoint and a real SDK client for it that does not
// retry, so that every error the endpoint answers is seen as it is.
func newEnv(t *testing.T) *env { return newEnvStep(t, time.Millisecond) }

// newEnvStep starts an endpoint whose provisioning steps take step each.
func newEnvStep(t *testing.T, step time.Duration) *env {
	t.Helper()
	server, u := cfnlocaltest.Start(t, step)
	cfg := cfnlocaltest.Config(func() aws.Retryer { return aws.NopRetryer{} })
	return &env{server: server, url: u, cfg: cfg, cfn: cfnlocaltest.Client(cfg, u)}
}

func apiError(t *testing.T, err error, code, contains string) {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want API error %s", err, code)
	}
	if apiErr.ErrorCode() != code || !strings.Contains(apiErr.ErrorMessage(), contains) {
		t.Fatalf("error %s: %s, want %s containing %q", apiErr.ErrorCode(), apiErr.ErrorMessage(), code, contains)
	}
}

func (e *env) createChangeSet(ctx context.Context, stack, name, body string, kind types.ChangeSetType) (*cfn.CreateChangeSetOutput, error) {
	return e.cfn.CreateChangeSet(ctx, &cfn.CreateChangeSetInput{
		StackName: aws.String(stack), ChangeSetName: aws.String(name), TemplateBody: aws.String(body), ChangeSetType: kind,
		Tags: []types.Tag{{Key: aws.String("vsoc:managed-by"), Value: aws.String("vsoc")}},
	})
}

func (e *env) waitChangeSet(t *testing.T, id string) *cfn.DescribeChangeSetOutput {
	t.Helper()
	w := cfn.NewChangeSetCreateCompleteWaiter(e.cfn, func(o *cfn.ChangeSetCreateCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Millisecond, 5*time.Millisecond
	})
	out, err := w.WaitForOutput(t.Context(), &cfn.DescribeChangeSetInput{ChangeSetName: aws.String(id)}, 10*time.Second)
	if err != nil {
		out, derr := e.cfn.DescribeChangeSet(t.Context(), &cfn.DescribeChangeSetInput{ChangeSetName: aws.String(id)})
		if derr == nil && out.Status == types.ChangeSetStatusFailed {
			return out
		}
		t.Fatalf("waiting for change set: %v", err)
	}
	return out
}

func (e *env) waitStack(t *testing.T, name string, status types.StackStatus) {
	t.Helper()
	w := cfn.NewStackCreateCompleteWaiter(e.cfn, func(o *cfn.StackCreateCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Millisecond, 5*time.Millisecond
	})
	if status == types.StackStatusUpdateComplete {
		uw := cfn.NewStackUpdateCompleteWaiter(e.cfn, func(o *cfn.StackUpdateCompleteWaiterOptions) {
			o.MinDelay, o.MaxDelay = time.Millisecond, 5*time.Millisecond
		})
		if err := uw.Wait(t.Context(), &cfn.DescribeStacksInput{StackName: aws.String(name)}, 10*time.Second); err != nil {
			t.Fatalf("waiting for %s: %v", status, err)
		}
		return
	}
	if err := w.Wait(t.Context(), &cfn.DescribeStacksInput{StackName: aws.String(name)}, 10*time.Second); err != nil {
		t.Fatalf("waiting for %s: %v", status, err)
	}
}

// create makes a stack through a CREATE change set with the SDK's waiters.
func (e *env) create(t *testing.T, name, body string) {
	t.Helper()
	out, err := e.createChangeSet(t.Context(), name, "create", body, types.ChangeSetTypeCreate)
	if err != nil {
		t.Fatal(err)
	}
	e.waitChangeSet(t, aws.ToString(out.Id))
	if _, err := e.cfn.ExecuteChangeSet(t.Context(), &cfn.ExecuteChangeSetInput{ChangeSetName: out.Id}); err != nil {
		t.Fatal(err)
	}
	e.waitStack(t, name, types.StackStatusCreateComplete)
}

func TestStrictAboutWhatTheServiceRejects(t *testing.T) {
	// Slow steps: the change set is still being computed, and the stack
	// still being created, when the calls below that are refused for it
	// arrive.
	e := newEnvStep(t, 250*time.Millisecond)
	ctx := t.Context()

	_, err := e.createChangeSet(ctx, "missing", "cs", vpcTemplate, types.ChangeSetTypeUpdate)
	apiError(t, err, "ValidationError", "Stack [missing] does not exist")

	_, err = e.createChangeSet(ctx, "s", "1bad", vpcTemplate, types.ChangeSetTypeCreate)
	apiError(t, err, "ValidationError", "changeSetName")

	_, err = e.createChangeSet(ctx, "s", "cs", `{"Resources":{"Vpc":{"Type":"AWS::EC2::Vpc"}}}`, types.ChangeSetTypeCreate)
	apiError(t, err, "ValidationError", "Template format error")

	_, err = e.createChangeSet(ctx, "s", "cs", `{"Resources":{"Role":{"Type":"AWS::IAM::Role","Properties":{"RoleName":"r","AssumeRolePolicyDocument":{}}}}}`, types.ChangeSetTypeCreate)
	apiError(t, err, "InsufficientCapabilitiesException", "CAPABILITY_NAMED_IAM")

	_, err = e.createChangeSet(ctx, "s", "cs", `{"Resources":{"P":{"Type":"AWS::EC2::VPCPeeringConnection","Properties":{"VpcId":"vpc-1","PeerVpcId":{"Fn::ImportValue":"nope"}}}}}`, types.ChangeSetTypeCreate)
	apiError(t, err, "ValidationError", "No export named nope found")

	_, err = e.createChangeSet(ctx, "s", "cs", `{"Description":"`+strings.Repeat("x", 52000)+`",`+vpcTemplate[1:], types.ChangeSetTypeCreate)
	apiError(t, err, "ValidationError", "51200")

	out, err := e.createChangeSet(ctx, "s", "cs", vpcTemplate, types.ChangeSetTypeCreate)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.createChangeSet(ctx, "s", "cs", vpcTemplate, types.ChangeSetTypeCreate)
	apiError(t, err, "AlreadyExistsException", "ChangeSet [cs] already exists")

	// Executing before CloudFormation finished computing it.
	_, err = e.cfn.ExecuteChangeSet(ctx, &cfn.ExecuteChangeSetInput{ChangeSetName: out.Id})
	apiError(t, err, "InvalidChangeSetStatus", "cannot be executed")

	// The stack exists in REVIEW_IN_PROGRESS until the change set executes.
	stacks, err := e.cfn.DescribeStacks(ctx, &cfn.DescribeStacksInput{StackName: aws.String("s")})
	if err != nil || stacks.Stacks[0].StackStatus != types.StackStatusReviewInProgress {
		t.Fatalf("stack after CreateChangeSet: %v %+v", err, stacks)
	}
	_, err = e.createChangeSet(ctx, "s", "cs2", vpcTemplate, types.ChangeSetTypeUpdate)
	apiError(t, err, "ValidationError", "Use ChangeSetType CREATE")

	cs := e.waitChangeSet(t, aws.ToString(out.Id))
	if len(cs.Changes) != 1 || cs.Changes[0].ResourceChange.Action != types.ChangeActionAdd {
		t.Fatalf("changes %+v", cs.Changes)
	}
	if _, err := e.cfn.ExecuteChangeSet(ctx, &cfn.ExecuteChangeSetInput{ChangeSetName: out.Id}); err != nil {
		t.Fatal(err)
	}
	_, err = e.createChangeSet(ctx, "s", "during", vpcTemplate, types.ChangeSetTypeUpdate)
	apiError(t, err, "ValidationError", "CREATE_IN_PROGRESS state and can not be updated")
	e.waitStack(t, "s", types.StackStatusCreateComplete)

	_, err = e.createChangeSet(ctx, "s", "again", vpcTemplate, types.ChangeSetTypeCreate)
	apiError(t, err, "AlreadyExistsException", "Stack [s] already exists")

	// The same template again: the change set fails as "no changes".
	out, err = e.createChangeSet(ctx, "s", "same", vpcTemplate, types.ChangeSetTypeUpdate)
	if err != nil {
		t.Fatal(err)
	}
	if cs := e.waitChangeSet(t, aws.ToString(out.Id)); cs.Status != types.ChangeSetStatusFailed || !strings.Contains(aws.ToString(cs.StatusReason), "didn't contain changes") {
		t.Fatalf("same template: %s %s", cs.Status, aws.ToString(cs.StatusReason))
	}

	// Termination protection stops DeleteStack.
	if _, err := e.cfn.UpdateTerminationProtection(ctx, &cfn.UpdateTerminationProtectionInput{StackName: aws.String("s"), EnableTerminationProtection: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	_, err = e.cfn.DeleteStack(ctx, &cfn.DeleteStackInput{StackName: aws.String("s")})
	apiError(t, err, "ValidationError", "TerminationProtection is enabled")

	_, err = e.cfn.SetStackPolicy(ctx, &cfn.SetStackPolicyInput{StackName: aws.String("s"), StackPolicyBody: aws.String(`{"Statement":[{"Effect":"Maybe"}]}`)})
	apiError(t, err, "ValidationError", "invalid Effect")

	_, err = e.cfn.DescribeChangeSet(ctx, &cfn.DescribeChangeSetInput{StackName: aws.String("s"), ChangeSetName: aws.String("nope")})
	apiError(t, err, "ChangeSetNotFound", "nope")
}

// A name the service would refuse when creating the resource is refused with the change set:
// here the Resolver rule name vsoc rendered before names were fitted to Resolver's limit.
func TestRefusesNamesTheServiceRefuses(t *testing.T) {
	e := newEnv(t)
	const name = "vsoc-customer-stadtwerke-bielefeld-forward-stadtwerke-bielefeld.de"
	body := `{"Resources":{"Rule":{"Type":"AWS::Route53Resolver::ResolverRule","Properties":{"DomainName":"stadtwerke-bielefeld.de","RuleType":"FORWARD","Name":"` + name + `"}}}}`
	_, err := e.createChangeSet(t.Context(), "s", "cs", body, types.ChangeSetTypeCreate)
	apiError(t, err, "ValidationError", "Resources.Rule.Properties.Name: \""+name+"\" is 66 characters, more than the service's limit of 64")

	fitted := strings.Replace(body, name, "vsoc-customer-stadtwerke-bielefeld-forward-stadtwerke-b-d867df7d", 1)
	e.create(t, "s", fitted)
}

func TestReplacementComesFromTheSpecification(t *testing.T) {
	e := newEnv(t)
	e.create(t, "s", vpcTemplate)
	changed := strings.Replace(vpcTemplate, "100.64.0.0/20", "100.64.16.0/20", 1)
	changed = strings.Replace(changed, `}}}}`, `,"Tags":[{"Key":"a","Value":"b"}]}}}}`, 1)
	out, err := e.createChangeSet(t.Context(), "s", "cidr", changed, types.ChangeSetTypeUpdate)
	if err != nil {
		t.Fatal(err)
	}
	cs := e.waitChangeSet(t, aws.ToString(out.Id))
	rc := cs.Changes[0].ResourceChange
	if rc.Action != types.ChangeActionModify || rc.Replacement != types.ReplacementTrue || aws.ToString(rc.LogicalResourceId) != "Vpc" {
		t.Fatalf("CIDR change: %s replacement=%s", rc.Action, rc.Replacement)
	}
	details := map[string]types.RequiresRecreation{}
	for _, d := range rc.Details {
		details[aws.ToString(d.Target.Name)] = d.Target.RequiresRecreation
	}
	if details["CidrBlock"] != types.RequiresRecreationAlways || details["Tags"] != types.RequiresRecreationNever {
		t.Errorf("details %v", details)
	}
}

func TestFaultRollsBackWithEvents(t *testing.T) {
	e := newEnv(t)
	e.create(t, "s", vpcTemplate)
	two := `{"Resources":{"Vpc":{"Type":"AWS::EC2::VPC","Properties":{"CidrBlock":"100.64.0.0/20"}},"Igw":{"Type":"AWS::EC2::InternetGateway"}}}`
	e.server.FailResource("s", "Igw", "injected")
	out, err := e.createChangeSet(t.Context(), "s", "igw", two, types.ChangeSetTypeUpdate)
	if err != nil {
		t.Fatal(err)
	}
	e.waitChangeSet(t, aws.ToString(out.Id))
	if _, err := e.cfn.ExecuteChangeSet(t.Context(), &cfn.ExecuteChangeSetInput{ChangeSetName: out.Id}); err != nil {
		t.Fatal(err)
	}
	w := cfn.NewStackUpdateCompleteWaiter(e.cfn, func(o *cfn.StackUpdateCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Millisecond, 5*time.Millisecond
	})
	if err := w.Wait(t.Context(), &cfn.DescribeStacksInput{StackName: aws.String("s")}, 10*time.Second); err == nil {
		t.Fatal("the update completed despite the fault")
	}
	st, _ := e.server.Stack("s")
	if st.Status != "UPDATE_ROLLBACK_COMPLETE" || st.Template != vpcTemplate {
		t.Fatalf("after the fault: %s, template rolled back %v", st.Status, st.Template == vpcTemplate)
	}
	events, err := e.cfn.DescribeStackEvents(t.Context(), &cfn.DescribeStackEventsInput{StackName: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for _, ev := range events.StackEvents { // newest first, as the service lists them
		statuses = append(statuses, aws.ToString(ev.LogicalResourceId)+":"+string(ev.ResourceStatus))
	}
	want := "s:UPDATE_ROLLBACK_COMPLETE,s:UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS,Igw:DELETE_COMPLETE,Igw:DELETE_IN_PROGRESS,s:UPDATE_ROLLBACK_IN_PROGRESS,Igw:CREATE_FAILED,s:UPDATE_IN_PROGRESS"
	if got := strings.Join(statuses, ","); !strings.HasPrefix(got, want) {
		t.Errorf("events %s, want them to start with %s", got, want)
	}
}

// TestFaultFailsDeletion: a resource that cannot be deleted (a security group
// a load balancer still uses) ends the deletion in DELETE_FAILED, with the
// resource's reason in its event; the stack stays, and a later deletion,
// without the fault, removes it.
func TestFaultFailsDeletion(t *testing.T) {
	e := newEnv(t)
	e.create(t, "s", vpcTemplate)
	e.server.FailResource("s", "Vpc", "resource sg-0a1b has a dependent object")
	if _, err := e.cfn.DeleteStack(t.Context(), &cfn.DeleteStackInput{StackName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	status, reasons := e.settle(t, "s")
	if status != "DELETE_FAILED" || !slices.Contains(reasons, "DELETE_FAILED: The following resource(s) failed to delete: [Vpc]. ") {
		t.Fatalf("deletion with a fault: %s %q", status, reasons)
	}
	st, _ := e.server.Stack("s")
	if last := st.Events[len(st.Events)-2]; last.LogicalID != "Vpc" || last.Status != "DELETE_FAILED" || last.Reason != "resource sg-0a1b has a dependent object" {
		t.Errorf("the failing resource's event is %+v", last)
	}
	if _, err := e.cfn.DeleteStack(t.Context(), &cfn.DeleteStackInput{StackName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	if status, reasons := e.settle(t, "s"); status != "DELETE_COMPLETE" {
		t.Fatalf("deleting again: %s %q", status, reasons)
	}
}

func TestThrottlingSpeaksTheRealErrorCode(t *testing.T) {
	e := newEnv(t)
	e.server.Throttle(1)
	_, err := e.cfn.DescribeStacks(t.Context(), &cfn.DescribeStacksInput{})
	apiError(t, err, "Throttling", "Rate exceeded")
	if !retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool() {
		t.Errorf("the SDK does not classify %v as throttling", err)
	}
	if _, err := e.cfn.DescribeStacks(t.Context(), &cfn.DescribeStacksInput{}); err != nil {
		t.Errorf("after the throttled call: %v", err)
	}
}

func TestCallerIdentity(t *testing.T) {
	e := newEnv(t)
	client := sts.NewFromConfig(e.cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(e.url) })
	out, err := client.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Account) != "123456789012" || !strings.HasPrefix(aws.ToString(out.Arn), "arn:aws:iam::123456789012:") {
		t.Fatalf("identity %s %s", aws.ToString(out.Account), aws.ToString(out.Arn))
	}
}

func TestUnsignedRequestsAreRejected(t *testing.T) {
	e := newEnv(t)
	resp, err := http.PostForm(e.url, url.Values{"Action": {"DescribeStacks"}, "Version": {"2010-05-15"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "<Code>MissingAuthenticationToken</Code>") {
		t.Fatalf("unsigned request: %d %s", resp.StatusCode, body)
	}
}

func TestCredentialScopeIsChecked(t *testing.T) {
	e := newEnv(t)
	wrongRegion := e.cfg.Copy()
	wrongRegion.Region = "us-east-1"
	client := cfn.NewFromConfig(wrongRegion, func(o *cfn.Options) { o.BaseEndpoint = aws.String(e.url) })
	_, err := client.DescribeStacks(t.Context(), &cfn.DescribeStacksInput{})
	apiError(t, err, "SignatureDoesNotMatch", "not 'us-east-1'")
}

func TestListensOnLoopbackOnly(t *testing.T) {
	sp, err := spec.Load()
	if err != nil {
		t.Fatal(err)
	}
	server, err := cfnlocal.New(cfnlocal.Options{Spec: sp})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if _, err := server.ListenAddr("0.0.0.0:0"); err == nil || !strings.Contains(err.Error(), "not a loopback") {
		t.Fatalf("err = %v, want a refusal of a non-loopback address", err)
	}
}

// settle waits until no operation is in progress on the stack and returns its
// status and the reasons of its stack-level events, oldest first.
func (e *env) settle(t *testing.T, name string) (string, []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, ok := e.server.Stack(name)
		if !ok {
			return "DELETE_COMPLETE", nil
		}
		if !strings.HasSuffix(st.Status, "_IN_PROGRESS") || st.Status == "REVIEW_IN_PROGRESS" {
			var reasons []string
			for _, ev := range st.Events {
				if ev.LogicalID == name && ev.Reason != "" {
					reasons = append(reasons, ev.Status+": "+ev.Reason)
				}
			}
			return st.Status, reasons
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still %s", name, st.Status)
		}
		time.Sleep(time.Millisecond)
	}
}

// update executes an UPDATE change set and waits until the stack settles.
func (e *env) update(t *testing.T, name, changeSet, body string) (string, []string) {
	t.Helper()
	out, err := e.createChangeSet(t.Context(), name, changeSet, body, types.ChangeSetTypeUpdate)
	if err != nil {
		t.Fatal(err)
	}
	e.waitChangeSet(t, aws.ToString(out.Id))
	if _, err := e.cfn.ExecuteChangeSet(t.Context(), &cfn.ExecuteChangeSetInput{ChangeSetName: out.Id}); err != nil {
		t.Fatal(err)
	}
	return e.settle(t, name)
}

func exporter(cidr string, exported bool) string {
	outputs := ""
	if exported {
		outputs = `,"Outputs":{"VpcId":{"Value":{"Ref":"Vpc"},"Export":{"Name":"hub-VpcId"}}}`
	}
	return `{"Resources":{"Vpc":{"Type":"AWS::EC2::VPC","Properties":{"CidrBlock":"` + cidr + `"}}}` + outputs + `}`
}

const importer = `{"Resources":{"Subnet":{"Type":"AWS::EC2::Subnet","Properties":{"VpcId":{"Fn::ImportValue":"hub-VpcId"},"CidrBlock":"100.64.0.0/24"}}}}`

// TestExportInUseKeepsItsValue: CloudFormation refuses to change the value of,
// or remove, an export another stack imports; the update rolls back with the
// service's message, and deleting the exporting stack fails. Once nothing
// imports it, the stack may go.
func TestExportInUseKeepsItsValue(t *testing.T) {
	e := newEnv(t)
	e.create(t, "hub", exporter("100.64.0.0/20", true))
	e.create(t, "customer", importer)

	imports, err := e.cfn.ListImports(t.Context(), &cfn.ListImportsInput{ExportName: aws.String("hub-VpcId")})
	if err != nil || strings.Join(imports.Imports, ",") != "customer" {
		t.Fatalf("ListImports hub-VpcId: %v %v, want [customer]", imports, err)
	}
	_, err = e.cfn.ListImports(t.Context(), &cfn.ListImportsInput{ExportName: aws.String("nobody-imports-this")})
	apiError(t, err, "ValidationError", "Export 'nobody-imports-this' is not imported by any stack.")

	// A new CIDR replaces the VPC, so the export's value (its ID) would change.
	status, reasons := e.update(t, "hub", "replace-vpc", exporter("100.64.16.0/20", true))
	want := "UPDATE_ROLLBACK_IN_PROGRESS: Export hub-VpcId cannot be updated as it is in use by customer"
	if status != "UPDATE_ROLLBACK_COMPLETE" || !slices.Contains(reasons, want) {
		t.Fatalf("replacing the exported VPC: %s %q, want UPDATE_ROLLBACK_COMPLETE with %q", status, reasons, want)
	}
	if st, _ := e.server.Stack("hub"); st.Template != exporter("100.64.0.0/20", true) {
		t.Errorf("the rolled back hub runs %s", st.Template)
	}

	status, reasons = e.update(t, "hub", "drop-export", exporter("100.64.0.0/20", false))
	want = "UPDATE_ROLLBACK_IN_PROGRESS: Export hub-VpcId cannot be deleted as it is in use by customer"
	if status != "UPDATE_ROLLBACK_COMPLETE" || !slices.Contains(reasons, want) {
		t.Fatalf("removing the export: %s %q, want UPDATE_ROLLBACK_COMPLETE with %q", status, reasons, want)
	}

	if _, err := e.cfn.DeleteStack(t.Context(), &cfn.DeleteStackInput{StackName: aws.String("hub")}); err != nil {
		t.Fatal(err)
	}
	status, reasons = e.settle(t, "hub")
	want = "DELETE_FAILED: Export hub-VpcId cannot be deleted as it is in use by customer"
	if status != "DELETE_FAILED" || !slices.Contains(reasons, want) {
		t.Fatalf("deleting the exporting stack: %s %q, want %q", status, reasons, want)
	}

	if _, err := e.cfn.DeleteStack(t.Context(), &cfn.DeleteStackInput{StackName: aws.String("customer")}); err != nil {
		t.Fatal(err)
	}
	e.settle(t, "customer")
	if _, err := e.cfn.DeleteStack(t.Context(), &cfn.DeleteStackInput{StackName: aws.String("hub")}); err != nil {
		t.Fatal(err)
	}
	if status, reasons := e.settle(t, "hub"); status != "DELETE_COMPLETE" {
		t.Fatalf("deleting the exporting stack once nothing imports it: %s %q", status, reasons)
	}
}
