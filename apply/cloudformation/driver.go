// Package cloudformation applies rendered CloudFormation templates through
// change sets, safely by default: every stack gets a change set that is
// described and printed; a change set that replaces or removes a protected
// resource is refused unless destruction was allowed; nothing is executed
// without Execute; stacks that do not carry vsoc's tags are never touched;
// and a run that is interrupted leaves only states the next run picks up (a
// leftover change set is deleted and made anew, an operation in progress is
// waited for).
package cloudformation

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"
)

// The tags that mark a stack as vsoc's. A stack without them is left alone.
const (
	TagManagedBy   = "vsoc:managed-by"
	ManagedByValue = "vsoc"
	TagCustomer    = "vsoc:customer"
	// HubCustomer is the vsoc:customer tag of the hub stack.
	HubCustomer = "hub"
)

// changeSetPrefix starts the name of every change set vsoc creates; leftovers
// with it are vsoc's own and may be deleted.
const changeSetPrefix = "vsoc-"

// Stack is one stack to apply.
type Stack struct {
	Name     string // e.g. vsoc-customer-wobcom
	Customer string // the vsoc:customer tag: the customer's name, or HubCustomer
	Template []byte
	Source   string // the file the template was read from, for messages
}

// Options tune a Driver.
type Options struct {
	// Execute runs the change sets; without it they are created, shown and
	// deleted (a dry run).
	Execute bool
	// AllowDestroy lets a change set replace or remove protected resources.
	AllowDestroy bool
	// Parallelism is how many customer stacks are applied at once; default 4.
	Parallelism int
	// PollInterval is how often change set and stack states are polled;
	// default 5s.
	PollInterval time.Duration
	// Description is put on every change set, e.g. the commit applied.
	Description string
	// Progress receives what happens, line by line; nil discards it.
	Progress io.Writer
}

// Driver applies stacks with one CloudFormation client.
type Driver struct {
	api  *cfn.Client
	opts Options

	mu sync.Mutex // serialises lines written to Progress
}

// New returns a driver using api.
func New(api *cfn.Client, opts Options) *Driver {
	if opts.Parallelism <= 0 {
		opts.Parallelism = 4
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 5 * time.Second
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	return &Driver{api: api, opts: opts}
}

// Retryer is the SDK's standard retryer set up for CloudFormation, whose
// control plane throttles (Throttling, "Rate exceeded") readily when many
// stacks are polled at once: more attempts than the default three, capped
// exponential backoff with jitter, and no client-side retry quota, which
// would otherwise turn a burst of throttling into failed stacks.
func Retryer(maxAttempts int, maxBackoff time.Duration) func() aws.Retryer {
	return func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = maxAttempts
			o.MaxBackoff = maxBackoff
			o.Backoff = retry.NewExponentialJitterBackoff(maxBackoff)
			o.RateLimiter = ratelimit.None
		})
	}
}

// Apply applies the hub stack, then the customer stacks, Parallelism at a
// time; customers that stop importing an export the hub deletes or changes
// are applied before the hub, which could not drop the export while they
// import it (see applyHub). deletions are the results of a Delete that ran
// before: a stack it deleted, or in a dry run would delete, no longer holds
// the hub's exports either.
//
// Results come back in the order hub, customers by name. A stack that fails
// does not stop the others, except the hub: customers import its exports, so
// when it did not apply the customers after it are not executed. A dry run
// still previews them, against the deployed hub: it changes nothing, and the
// reviewer sees every stack's change set, not only the hub's refusal.
func (d *Driver) Apply(ctx context.Context, stacks []Stack, deletions []Result) []Result {
	ordered := slices.Clone(stacks)
	slices.SortFunc(ordered, func(a, b Stack) int {
		if (a.Customer == HubCustomer) != (b.Customer == HubCustomer) {
			if a.Customer == HubCustomer {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	results := make([]Result, len(ordered))
	if len(ordered) == 0 || ordered[0].Customer != HubCustomer {
		d.each(allIndices(len(ordered)), func(_, i int) { results[i] = d.applyStack(ctx, ordered[i], false) })
		return results
	}
	customers := ordered[1:]
	first := d.applyHub(ctx, ordered[0], customers, deletions, results)
	goneFirst := make([]bool, len(customers))
	for _, i := range first {
		goneFirst[i] = true
	}
	rest := slices.DeleteFunc(allIndices(len(customers)), func(i int) bool { return goneFirst[i] })
	if d.opts.Execute && !results[0].Outcome.OK() {
		for _, i := range rest {
			results[1+i] = Result{
				Stack: customers[i].Name, Customer: customers[i].Customer, Template: customers[i].Source,
				Outcome: NotAttempted, Decision: "not attempted: the hub stack did not apply, and customer stacks import its exports",
			}
		}
		return results
	}
	hubPending := !d.opts.Execute && results[0].Outcome != Unchanged
	d.each(rest, func(_, i int) { results[1+i] = d.applyStack(ctx, customers[i], hubPending) })
	return results
}

// each calls fn(k, which[k]) for every k, Parallelism at a time, and waits.
func (d *Driver) each(which []int, fn func(k, i int)) {
	var g errgroup.Group
	g.SetLimit(d.opts.Parallelism)
	for k, i := range which {
		g.Go(func() error {
			fn(k, i)
			return nil
		})
	}
	g.Wait()
}

func allIndices(n int) []int {
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	return all
}

// run is the state of one stack's apply.
type run struct {
	d    *Driver
	st   Stack
	doc  *templateDoc
	body string // the template as sent
	// deployed is the stack's current template; nil for a new stack.
	deployed []byte
	res      *Result
	// hubPending is set for customer stacks of a dry run in which the hub
	// stack has changes that were not executed (previewed or refused).
	hubPending bool
	// released are the stacks that this dry run deletes first, so that they
	// stop importing the stack's exports.
	released map[string]bool
	// deferred stops the run before executing: the change set waits in
	// pending until the stacks that have to go first have been applied.
	deferred bool
	pending  *pendingChangeSet
	// customers are, for the hub, the customers' new templates by stack name;
	// the export check sets releasers to those that must stop importing the
	// hub's changed exports before the hub is executed (see applyHub).
	customers map[string][]byte
	releasers map[string]bool
}

func (d *Driver) applyStack(ctx context.Context, st Stack, hubPending bool) Result {
	res := Result{Stack: st.Name, Customer: st.Customer, Template: st.Source}
	r := &run{d: d, st: st, res: &res, hubPending: hubPending}
	r.recordError(ctx, r.apply(ctx))
	return res
}

// recordError puts the error that ended the stack's run, if any, in its
// result: interrupted when the run was cancelled, failed unless the outcome
// was already decided.
func (r *run) recordError(ctx context.Context, err error) {
	if err == nil || errors.Is(err, errPreviewOnly) {
		return
	}
	r.res.Error = err.Error()
	switch {
	case ctx.Err() != nil:
		r.res.Outcome = Interrupted
		if r.res.Decision == "" {
			r.res.Decision = "interrupted; the next run picks the stack up where it is"
		}
	case r.res.Outcome == "":
		r.res.Outcome = Failed
	}
	r.printf("%s: %v", r.res.Outcome, err)
}

func (r *run) printf(format string, args ...any) {
	r.d.mu.Lock()
	defer r.d.mu.Unlock()
	fmt.Fprintf(r.d.opts.Progress, "%s: %s\n", r.st.Name, fmt.Sprintf(format, args...))
}

func (r *run) apply(ctx context.Context) error {
	doc, err := parseTemplate(r.st.Template)
	if err != nil {
		return fmt.Errorf("reading %s: %w", r.st.Source, err)
	}
	r.doc = doc
	// Sent without indentation: CloudFormation's inline limit counts bytes.
	var compact bytes.Buffer
	if err := json.Compact(&compact, r.st.Template); err != nil {
		return fmt.Errorf("reading %s: %w", r.st.Source, err)
	}
	r.body = compact.String()
	if len(r.body) > MaxTemplateBody {
		return fmt.Errorf("template %s is %d bytes without indentation, more than the %d bytes CloudFormation takes inline; split the stack", r.st.Source, len(r.body), MaxTemplateBody)
	}

	stack, err := r.describe(ctx)
	if err != nil {
		return err
	}
	if stack != nil {
		if why := r.notOwned(stack); why != "" {
			r.res.Outcome, r.res.Decision, r.res.StackStatus = Refused, why, string(stack.StackStatus)
			r.printf("refused: %s", why)
			return nil
		}
		if stack, err = r.waitIfInProgress(ctx, stack); err != nil {
			return err
		}
	}
	if stack != nil { // nil when an operation waited for deleted the stack
		if stack, err = r.recover(ctx, stack); err != nil {
			return err
		}
	}
	kind := types.ChangeSetTypeUpdate
	if stack == nil || stack.StackStatus == types.StackStatusReviewInProgress {
		kind = types.ChangeSetTypeCreate
	}
	r.res.ChangeSetType = string(kind)
	if stack != nil {
		r.res.StackStatus = string(stack.StackStatus)
		if err := r.deleteLeftovers(ctx); err != nil {
			return err
		}
	}
	if kind == types.ChangeSetTypeUpdate {
		same, err := r.deployedMatches(ctx, stack)
		if err != nil {
			return err
		}
		if same {
			r.res.Outcome, r.res.Decision = Unchanged, "the deployed template and tags match"
			r.printf("unchanged (%s)", stack.StackStatus)
			if r.d.opts.Execute {
				return r.protect(ctx, stack)
			}
			return nil
		}
	}
	if err := r.changeSet(ctx, kind); err != nil || !r.d.opts.Execute || kind != types.ChangeSetTypeUpdate || r.res.Outcome != Refused {
		return err
	}
	// A refused update executes nothing, but it puts the stack's protection
	// back, which an --allow-destroy run interrupted during its execution may
	// have left lifted.
	return r.protect(ctx, stack)
}

func (r *run) describe(ctx context.Context) (*types.Stack, error) {
	out, err := r.d.api.DescribeStacks(ctx, &cfn.DescribeStacksInput{StackName: aws.String(r.st.Name)})
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("describing stack %s: %w", r.st.Name, err)
	}
	if len(out.Stacks) == 0 {
		return nil, nil
	}
	return &out.Stacks[0], nil
}

// isMissingExport recognises CloudFormation rejecting a template whose
// Fn::ImportValue names an export no stack has.
func isMissingExport(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationError" && strings.HasPrefix(apiErr.ErrorMessage(), "No export named")
}

func isNotFound(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationError" && strings.Contains(apiErr.ErrorMessage(), "does not exist")
}

func (r *run) notOwned(stack *types.Stack) string {
	tags := map[string]string{}
	for _, t := range stack.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	if tags[TagManagedBy] != ManagedByValue {
		return fmt.Sprintf("stack %s exists but is not tagged %s=%s; vsoc never touches a stack it does not own (tag it, or rename/remove it by hand)", r.st.Name, TagManagedBy, ManagedByValue)
	}
	if tags[TagCustomer] != r.st.Customer {
		return fmt.Sprintf("stack %s is tagged %s=%q, not %q; vsoc never touches another customer's stack", r.st.Name, TagCustomer, tags[TagCustomer], r.st.Customer)
	}
	return ""
}

func inProgress(s types.StackStatus) bool {
	return strings.HasSuffix(string(s), "_IN_PROGRESS") && s != types.StackStatusReviewInProgress
}

// recover brings a stack a previous run or operation left in a state that
// takes no change set back to one that does. A stack whose creation failed
// (ROLLBACK_COMPLETE) holds no resources and can only be deleted: with
// Execute it is, and the stack is created anew.
func (r *run) recover(ctx context.Context, stack *types.Stack) (*types.Stack, error) {
	switch stack.StackStatus {
	case types.StackStatusReviewInProgress, types.StackStatusCreateComplete, types.StackStatusUpdateComplete,
		types.StackStatusUpdateRollbackComplete, types.StackStatusImportComplete, types.StackStatusImportRollbackComplete:
		return stack, nil
	case types.StackStatusRollbackComplete:
		if !r.d.opts.Execute {
			r.res.Outcome = Previewed
			r.res.Decision = "the stack's creation failed earlier (ROLLBACK_COMPLETE, no resources); with --execute it is deleted and created anew"
			r.printf("%s", r.res.Decision)
			return nil, errPreviewOnly
		}
		r.printf("ROLLBACK_COMPLETE after a failed creation: deleting the empty stack to create it anew")
		if _, err := r.d.api.DeleteStack(ctx, &cfn.DeleteStackInput{StackName: stack.StackId}); err != nil {
			return nil, fmt.Errorf("deleting stack %s left in ROLLBACK_COMPLETE: %w", r.st.Name, err)
		}
		gone, _, err := r.waitStable(ctx, "")
		if err != nil {
			return nil, err
		}
		if gone != nil {
			return nil, fmt.Errorf("deleting stack %s left in ROLLBACK_COMPLETE ended in %s", r.st.Name, gone.StackStatus)
		}
		return nil, nil
	}
	return nil, fmt.Errorf("stack %s is in %s (%s), which vsoc does not repair: resolve it in the CloudFormation console (e.g. continue the update rollback) and run again",
		r.st.Name, stack.StackStatus, aws.ToString(stack.StackStatusReason))
}

// errPreviewOnly ends a dry run early after the result has been recorded.
var errPreviewOnly = errors.New("dry run")

// deleteLeftovers removes change sets earlier runs made and did not execute
// (interrupted, or refused before deletion), so that the change set of this
// run is the only one and reflects the template of this run.
func (r *run) deleteLeftovers(ctx context.Context) error {
	p := cfn.NewListChangeSetsPaginator(r.d.api, &cfn.ListChangeSetsInput{StackName: aws.String(r.st.Name)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing change sets of %s: %w", r.st.Name, err)
		}
		for _, cs := range page.Summaries {
			name := aws.ToString(cs.ChangeSetName)
			if !strings.HasPrefix(name, changeSetPrefix) || strings.HasPrefix(string(cs.ExecutionStatus), "EXECUTE_") {
				continue
			}
			if cs.Status == types.ChangeSetStatusCreatePending || cs.Status == types.ChangeSetStatusCreateInProgress {
				if _, err := r.waitChangeSet(ctx, aws.ToString(cs.ChangeSetId)); err != nil && ctx.Err() != nil {
					return err
				}
			}
			r.printf("deleting change set %s left by an earlier run (%s)", name, cs.Status)
			if _, err := r.d.api.DeleteChangeSet(ctx, &cfn.DeleteChangeSetInput{ChangeSetName: cs.ChangeSetId}); err != nil {
				return fmt.Errorf("deleting leftover change set %s of %s: %w", name, r.st.Name, err)
			}
		}
	}
	return nil
}

func (r *run) tags() []types.Tag {
	return []types.Tag{
		{Key: aws.String(TagCustomer), Value: aws.String(r.st.Customer)},
		{Key: aws.String(TagManagedBy), Value: aws.String(ManagedByValue)},
	}
}

// deployedMatches reports whether the stack already runs this template with
// vsoc's tags, in which case no change set is needed.
func (r *run) deployedMatches(ctx context.Context, stack *types.Stack) (bool, error) {
	out, err := r.d.api.GetTemplate(ctx, &cfn.GetTemplateInput{StackName: aws.String(r.st.Name), TemplateStage: types.TemplateStageOriginal})
	if err != nil {
		return false, fmt.Errorf("getting the deployed template of %s: %w", r.st.Name, err)
	}
	r.deployed = []byte(aws.ToString(out.TemplateBody))
	if !sameJSON(r.deployed, r.st.Template) {
		return false, nil
	}
	want := map[string]string{}
	for _, t := range r.tags() {
		want[*t.Key] = *t.Value
	}
	got := map[string]string{}
	for _, t := range stack.Tags {
		got[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return len(got) == len(want) && fmt.Sprint(got) == fmt.Sprint(want), nil
}

// changeSetName is derived from the template, so a re-run of the same
// commit makes the same name (leftovers are deleted first).
func (r *run) changeSetName() string {
	sum := sha256.Sum256(r.st.Template)
	return changeSetPrefix + hex.EncodeToString(sum[:8])
}

func (r *run) changeSet(ctx context.Context, kind types.ChangeSetType) error {
	name := r.changeSetName()
	r.res.ChangeSetName = name
	created, err := r.d.api.CreateChangeSet(ctx, &cfn.CreateChangeSetInput{
		StackName:     aws.String(r.st.Name),
		ChangeSetName: aws.String(name),
		ChangeSetType: kind,
		TemplateBody:  aws.String(r.body),
		Capabilities:  capabilityTypes(r.doc.capabilities()),
		Tags:          r.tags(),
		Description:   optional(r.d.opts.Description),
	})
	if err != nil {
		if r.hubPending && isMissingExport(err) {
			r.res.Outcome = Previewed
			r.res.Decision = "cannot be previewed yet: it imports exports the hub stack will only have once its change set is executed"
			r.printf("%s (%v)", r.res.Decision, err)
			return nil
		}
		return fmt.Errorf("creating change set %s for %s: %w", name, r.st.Name, err)
	}
	id := aws.ToString(created.Id)
	r.res.ChangeSetID = id
	r.printf("change set %s (%s) created, waiting for CloudFormation to compute it", name, kind)

	described, err := r.waitChangeSet(ctx, id)
	if err != nil {
		return err
	}
	if described.Status == types.ChangeSetStatusFailed {
		reason := aws.ToString(described.StatusReason)
		if noChanges(reason) {
			if err := r.deleteChangeSet(ctx, id); err != nil {
				return err
			}
			r.res.Outcome, r.res.Decision = Unchanged, "the change set had no changes and was deleted"
			r.printf("no changes; change set deleted")
			return nil
		}
		return fmt.Errorf("change set %s for %s failed: %s", name, r.st.Name, reason)
	}
	if err := r.collectChanges(ctx, id); err != nil {
		return err
	}
	r.printChanges("change set " + r.res.ChangeSetName)
	if refused, err := r.refuseExportsInUse(ctx, id); refused || err != nil {
		return err
	}

	var destructive []string
	for _, ch := range r.res.Changes {
		if ch.Protected {
			destructive = append(destructive, fmt.Sprintf("%s %s (%s)", verbOf(ch), ch.LogicalID, ch.Type))
		}
	}
	if len(destructive) > 0 && !r.d.opts.AllowDestroy {
		if err := r.deleteChangeSet(ctx, id); err != nil {
			return err
		}
		r.res.Outcome = Refused
		r.res.Decision = "refused: the change set would " + strings.Join(destructive, ", ") + "; review it and re-run with --allow-destroy to accept"
		r.printf("%s", r.res.Decision)
		return nil
	}
	if !r.d.opts.Execute {
		if err := r.deleteChangeSet(ctx, id); err != nil {
			return err
		}
		r.res.Outcome, r.res.Decision = Previewed, "dry run: change set shown and deleted; re-run with --execute to apply it"
		r.printf("dry run: not executed (use --execute)")
		return nil
	}
	if r.deferred {
		r.pending = &pendingChangeSet{kind: kind, id: id, destructive: len(destructive) > 0}
		return nil
	}
	return r.execute(ctx, kind, id, len(destructive) > 0)
}

func noChanges(reason string) bool {
	return strings.Contains(reason, "didn't contain changes") || strings.Contains(reason, "No updates are to be performed")
}

func verbOf(ch Change) string {
	if ch.Action == string(types.ChangeActionRemove) {
		return "remove"
	}
	return "replace"
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func capabilityTypes(names []string) []types.Capability {
	out := make([]types.Capability, len(names))
	for i, n := range names {
		out[i] = types.Capability(n)
	}
	return out
}

// waitChangeSet waits with the SDK's waiter until CloudFormation has
// computed the change set, and returns its description either way it ended.
func (r *run) waitChangeSet(ctx context.Context, id string) (*cfn.DescribeChangeSetOutput, error) {
	poll := r.d.opts.PollInterval
	w := cfn.NewChangeSetCreateCompleteWaiter(r.d.api, func(o *cfn.ChangeSetCreateCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = poll, 4*poll
	})
	in := &cfn.DescribeChangeSetInput{ChangeSetName: aws.String(id)}
	out, waitErr := w.WaitForOutput(ctx, in, 30*time.Minute)
	if waitErr == nil {
		return out, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("waiting for change set of %s: %w", r.st.Name, ctx.Err())
	}
	// The waiter gives up on FAILED; the description says why.
	out, err := r.d.api.DescribeChangeSet(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("waiting for change set of %s: %w (describing it: %v)", r.st.Name, waitErr, err)
	}
	if out.Status != types.ChangeSetStatusFailed {
		return nil, fmt.Errorf("waiting for change set of %s: %w", r.st.Name, waitErr)
	}
	return out, nil
}

func (r *run) collectChanges(ctx context.Context, id string) error {
	p := cfn.NewDescribeChangeSetPaginator(r.d.api, &cfn.DescribeChangeSetInput{ChangeSetName: aws.String(id)})
	r.res.Changes = nil
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("describing change set of %s: %w", r.st.Name, err)
		}
		for _, c := range page.Changes {
			rc := c.ResourceChange
			if rc == nil {
				continue
			}
			ch := Change{
				Action:      string(rc.Action),
				LogicalID:   aws.ToString(rc.LogicalResourceId),
				Type:        aws.ToString(rc.ResourceType),
				Replacement: string(rc.Replacement),
			}
			destroys := rc.Action == types.ChangeActionRemove ||
				(rc.Action == types.ChangeActionModify && rc.Replacement != types.ReplacementFalse && rc.Replacement != "")
			ch.Protected = destroys && protectedType(ch.Type)
			r.res.Changes = append(r.res.Changes, ch)
		}
	}
	slices.SortFunc(r.res.Changes, func(a, b Change) int { return strings.Compare(a.LogicalID, b.LogicalID) })
	return nil
}

// printChanges prints the resource changes of what title names (a change
// set, the stack's deletion).
func (r *run) printChanges(title string) {
	r.d.mu.Lock()
	defer r.d.mu.Unlock()
	w := r.d.opts.Progress
	fmt.Fprintf(w, "%s: %s: %d resource change(s)\n", r.st.Name, title, len(r.res.Changes))
	for _, ch := range r.res.Changes {
		line := fmt.Sprintf("%s:   %-7s %-40s %-36s", r.st.Name, ch.Action, ch.LogicalID, ch.Type)
		if ch.Replacement != "" {
			line += " replacement=" + ch.Replacement
		}
		if ch.Protected {
			line += "  PROTECTED"
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
}

func (r *run) deleteChangeSet(ctx context.Context, id string) error {
	if _, err := r.d.api.DeleteChangeSet(ctx, &cfn.DeleteChangeSetInput{ChangeSetName: aws.String(id)}); err != nil {
		return fmt.Errorf("deleting change set %s of %s: %w", r.res.ChangeSetName, r.st.Name, err)
	}
	return nil
}

// Orphans lists the stacks tagged as vsoc's that are not in known (the
// stacks of the build): customers removed from the fleet, which Delete
// deletes.
func (d *Driver) Orphans(ctx context.Context, known []string) ([]string, error) {
	var orphans []string
	p := cfn.NewDescribeStacksPaginator(d.api, &cfn.DescribeStacksInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing stacks: %w", err)
		}
		for _, s := range page.Stacks {
			name := aws.ToString(s.StackName)
			if slices.Contains(known, name) || s.StackStatus == types.StackStatusDeleteComplete {
				continue
			}
			for _, t := range s.Tags {
				if aws.ToString(t.Key) == TagManagedBy && aws.ToString(t.Value) == ManagedByValue {
					orphans = append(orphans, name)
					break
				}
			}
		}
	}
	slices.Sort(orphans)
	return orphans, nil
}

// waitIfInProgress waits for the operation in progress on stack, if there is one, to end, and
// returns the stack as it is then: nil when that operation deleted it.
func (r *run) waitIfInProgress(ctx context.Context, stack *types.Stack) (*types.Stack, error) {
	if !inProgress(stack.StackStatus) {
		return stack, nil
	}
	r.printf("%s: waiting for the operation in progress to end", stack.StackStatus)
	stack, _, err := r.waitStable(ctx, "")
	return stack, err
}
