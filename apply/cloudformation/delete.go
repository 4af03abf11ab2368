package cloudformation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"golang.org/x/sync/errgroup"
)

// Delete deletes the stacks of customers the build no longer declares,
// Parallelism at a time; it is meant to run before Apply, so that the hub's
// exports they import are released before the hub is updated. Deleting a customer's stack
// destroys its network (VPC, VPN, peering, hosted zones), so it takes the
// same consent as a destructive change set: a deletion that removes
// protected resources is refused without AllowDestroy, and without Execute
// nothing is deleted. Each stack's Customer is the customer its name says it
// belongs to ("" when its name is no customer stack's): a stack whose tags do
// not say vsoc created it for that customer is never deleted.
func (d *Driver) Delete(ctx context.Context, stacks []Stack) []Result {
	results := make([]Result, len(stacks))
	var g errgroup.Group
	g.SetLimit(d.opts.Parallelism)
	for i, st := range stacks {
		g.Go(func() error {
			res := Result{Stack: st.Name, Customer: st.Customer}
			r := &run{d: d, st: st, res: &res}
			r.recordError(ctx, r.delete(ctx))
			results[i] = res
			return nil
		})
	}
	g.Wait()
	return results
}

func (r *run) delete(ctx context.Context) error {
	stack, err := r.describe(ctx)
	if err != nil {
		return err
	}
	if stack == nil {
		r.alreadyGone()
		return nil
	}
	r.res.StackStatus = string(stack.StackStatus)
	if why := r.notCreatedForCustomer(stack); why != "" {
		r.res.Outcome, r.res.Decision = Refused, why
		r.printf("refused: %s", why)
		return nil
	}
	if stack, err = r.waitIfInProgress(ctx, stack); err != nil {
		return err
	}
	if stack == nil {
		r.alreadyGone()
		return nil
	}
	r.res.StackStatus = string(stack.StackStatus)
	if err := r.collectRemovals(ctx, stack); err != nil {
		return err
	}
	r.printChanges("stack deletion")
	if refused, err := r.refuseDeletingExportsInUse(ctx); refused || err != nil {
		return err
	}
	protected := r.protectedRemovals()
	if len(protected) > 0 && !r.d.opts.AllowDestroy {
		r.res.Outcome = Refused
		r.res.Decision = fmt.Sprintf("refused: customer %s is no longer declared, and deleting its stack would %s; review it and re-run with --allow-destroy to delete it",
			r.st.Customer, strings.Join(protected, ", "))
		r.printf("%s", r.res.Decision)
		return nil
	}
	if !r.d.opts.Execute {
		r.res.Outcome, r.res.Decision = Previewed, "dry run: customer "+r.st.Customer+" is no longer declared; re-run with --execute to delete its stack"
		r.printf("dry run: not deleted (use --execute)")
		return nil
	}
	return r.executeDelete(ctx, stack)
}

// alreadyGone records a stack that was gone by the time it was looked at:
// someone, or an earlier run, deleted it.
func (r *run) alreadyGone() {
	r.res.Outcome, r.res.Decision = Unchanged, "the stack no longer exists"
	r.printf("%s", r.res.Decision)
}

// notCreatedForCustomer is why the stack is not one vsoc created for the
// customer its name gives, "" when it is: vsoc deletes only those.
func (r *run) notCreatedForCustomer(stack *types.Stack) string {
	if r.st.Customer == "" || r.st.Customer == HubCustomer {
		return fmt.Sprintf("stack %s is tagged %s=%s but is not named as vsoc names customer stacks; vsoc never deletes a stack it did not create (delete it by hand if it is no longer needed)",
			r.st.Name, TagManagedBy, ManagedByValue)
	}
	return r.notOwned(stack)
}

// collectRemovals lists the deployed template's resources as the removals
// the deletion makes, flagging the protected ones as a change set would. A
// stack still in REVIEW_IN_PROGRESS (a creation previewed, never executed)
// has neither template nor resources.
func (r *run) collectRemovals(ctx context.Context, stack *types.Stack) error {
	r.doc = &templateDoc{}
	r.deployed = []byte("{}")
	if stack.StackStatus == types.StackStatusReviewInProgress {
		return nil
	}
	out, err := r.d.api.GetTemplate(ctx, &cfn.GetTemplateInput{StackName: aws.String(r.st.Name), TemplateStage: types.TemplateStageOriginal})
	if err != nil {
		return fmt.Errorf("getting the deployed template of %s: %w", r.st.Name, err)
	}
	r.deployed = []byte(aws.ToString(out.TemplateBody))
	if r.doc, err = parseTemplate(r.deployed); err != nil {
		return fmt.Errorf("the deployed template of %s: %w", r.st.Name, err)
	}
	for id, resource := range r.doc.Resources {
		r.res.Changes = append(r.res.Changes, Change{
			Action: string(types.ChangeActionRemove), LogicalID: id, Type: resource.Type, Protected: protectedType(resource.Type),
		})
	}
	slices.SortFunc(r.res.Changes, func(a, b Change) int { return strings.Compare(a.LogicalID, b.LogicalID) })
	return nil
}

// protectedRemovals describes the protected resources the deletion removes:
// "remove Vpc (AWS::EC2::VPC)".
func (r *run) protectedRemovals() []string {
	var removals []string
	for _, ch := range r.res.Changes {
		if ch.Protected {
			removals = append(removals, fmt.Sprintf("%s %s (%s)", verbOf(ch), ch.LogicalID, ch.Type))
		}
	}
	return removals
}

// refuseDeletingExportsInUse refuses the deletion when other stacks import
// the stack's exports, whatever --allow-destroy says: CloudFormation would
// end it in DELETE_FAILED. It reports whether it refused.
func (r *run) refuseDeletingExportsInUse(ctx context.Context) (bool, error) {
	exports, err := exportsOf(r.deployed)
	if err != nil {
		return false, err
	}
	deleted := map[string]string{}
	for name := range exports {
		deleted[name] = "deleted"
	}
	inUse, err := r.exportsInUse(ctx, deleted)
	if err != nil || len(inUse) == 0 {
		return false, err
	}
	r.refuseForExportsInUse(inUse, "CloudFormation does not delete a stack whose exports other stacks import, and the deletion would fail",
		"The importing stacks must stop importing them first")
	return true, nil
}

// executeDelete lifts the termination protection vsoc set, deletes the stack
// and follows its events until it is gone. The stack policy stays: it
// governs updates only, not the deletion of the stack. A deletion that fails
// leaves the stack with what it could not delete, protected again.
func (r *run) executeDelete(ctx context.Context, stack *types.Stack) error {
	lifted := aws.ToBool(stack.EnableTerminationProtection)
	if lifted {
		if err := r.setTerminationProtection(ctx, false); err != nil {
			return err
		}
		r.printf("--allow-destroy: termination protection lifted to delete the stack")
	}
	marker, err := r.latestEventID(ctx)
	if err == nil {
		// By ID, so that only the stack described and checked above is deleted.
		if _, err = r.d.api.DeleteStack(ctx, &cfn.DeleteStackInput{StackName: stack.StackId}); err != nil {
			err = fmt.Errorf("deleting stack %s: %w", r.st.Name, err)
		}
	}
	if err != nil {
		if lifted {
			// Nothing was deleted: the protection goes back now, even when ctx is cancelled.
			cleanup, cancel := cleanupContext(ctx)
			defer cancel()
			err = errors.Join(err, r.setTerminationProtection(cleanup, true))
		}
		return err
	}
	r.res.Decision = "deletion executed: customer " + r.st.Customer + " is no longer declared"
	r.printf("deleting the stack")
	gone, events, err := r.waitStable(ctx, marker)
	if err != nil {
		return err
	}
	if gone == nil || gone.StackStatus == types.StackStatusDeleteComplete {
		r.res.Outcome, r.res.StackStatus = Deleted, string(types.StackStatusDeleteComplete)
		r.printf("%s", types.StackStatusDeleteComplete)
		return nil
	}
	return r.deleteFailed(ctx, gone, events)
}

// deleteFailed records a deletion that ended without removing the stack
// (DELETE_FAILED), with the service's reason, and protects what is left.
func (r *run) deleteFailed(ctx context.Context, stack *types.Stack, events []Event) error {
	r.res.Outcome, r.res.StackStatus = Failed, string(stack.StackStatus)
	for _, e := range events {
		if strings.HasSuffix(e.Status, "_FAILED") && e.LogicalID != r.st.Name {
			r.res.FailedEvents = append(r.res.FailedEvents, e)
			r.printf("FAILED %s (%s) %s: %s", e.LogicalID, e.Type, e.Status, e.Reason)
		}
	}
	if err := r.protect(ctx, stack); err != nil {
		return err
	}
	return fmt.Errorf("deleting stack %s ended in %s: %s; what was not deleted is kept, with termination protection",
		r.st.Name, stack.StackStatus, r.deleteFailureCause(stack))
}

// deleteFailureCause is the first resource that failed to be deleted or,
// when none did, the stack's reason (an export other stacks import).
func (r *run) deleteFailureCause(stack *types.Stack) string {
	if len(r.res.FailedEvents) > 0 {
		first := r.res.FailedEvents[0]
		return fmt.Sprintf("%s (%s) failed: %s", first.LogicalID, first.Type, first.Reason)
	}
	return aws.ToString(stack.StackStatusReason)
}

func (r *run) setTerminationProtection(ctx context.Context, on bool) error {
	_, err := r.d.api.UpdateTerminationProtection(ctx, &cfn.UpdateTerminationProtectionInput{
		StackName: aws.String(r.st.Name), EnableTerminationProtection: aws.Bool(on),
	})
	if err != nil {
		return fmt.Errorf("setting the termination protection of %s: %w", r.st.Name, err)
	}
	return nil
}
