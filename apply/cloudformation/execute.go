package cloudformation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/vsoc/vsoc/render/cloudformation/spec"
)

func protectedType(resourceType string) bool { return spec.Protected(resourceType) }

// execute runs the change set and follows the stack's events until it
// settles. An update runs under the protective stack policy, or under a
// permissive one for this execution only when it destroys protected
// resources (which needs AllowDestroy to get here).
func (r *run) execute(ctx context.Context, kind types.ChangeSetType, id string, destructive bool) error {
	lifted := false
	if kind == types.ChangeSetTypeUpdate {
		policy, err := protectivePolicy(r.doc.protectedTypes())
		if destructive {
			policy, err = permissivePolicy()
			r.printf("--allow-destroy: lifting the stack policy for this execution")
		}
		if err != nil {
			return err
		}
		if err := r.setPolicy(ctx, policy); err != nil {
			return err
		}
		lifted = destructive
	}
	marker, err := r.latestEventID(ctx)
	if err == nil {
		_, err = r.d.api.ExecuteChangeSet(ctx, &cfn.ExecuteChangeSetInput{
			ChangeSetName:      aws.String(id),
			ClientRequestToken: aws.String(r.res.ChangeSetName),
		})
		if err != nil {
			err = fmt.Errorf("executing change set %s of %s: %w", r.res.ChangeSetName, r.st.Name, err)
		}
	}
	if err != nil {
		if lifted {
			// Nothing was executed: the stack gets its protection back now, as a
			// later run without --allow-destroy would not execute it and so would
			// not put it back.
			err = errors.Join(err, r.reprotect(ctx))
		}
		return err
	}
	r.res.Decision = "executed"
	r.printf("executing change set %s", r.res.ChangeSetName)
	stack, events, err := r.waitStable(ctx, marker)
	if err != nil {
		return err
	}
	if stack == nil {
		return fmt.Errorf("stack %s vanished while its change set executed", r.st.Name)
	}
	r.res.StackStatus = string(stack.StackStatus)
	switch stack.StackStatus {
	case types.StackStatusCreateComplete:
		r.res.Outcome = Created
	case types.StackStatusUpdateComplete:
		r.res.Outcome = Updated
	default:
		for _, e := range events {
			if strings.HasSuffix(e.Status, "_FAILED") {
				r.res.FailedEvents = append(r.res.FailedEvents, e)
			}
		}
		r.res.Outcome = Failed
		for _, e := range r.res.FailedEvents {
			r.printf("FAILED %s (%s) %s: %s", e.LogicalID, e.Type, e.Status, e.Reason)
		}
		if kind == types.ChangeSetTypeUpdate && destructive {
			if err := r.protect(ctx, stack); err != nil {
				return err
			}
		}
		return fmt.Errorf("stack %s ended in %s %s; it is rolled back to its previous template", r.st.Name, stack.StackStatus, r.failureCause(events))
	}
	r.printf("%s", stack.StackStatus)
	return r.protect(ctx, stack)
}

// failureCause says why an execution rolled back: the first resource that
// failed or, when none did, the reason the stack gave for rolling back (an
// export other stacks import would have changed, for example).
func (r *run) failureCause(events []Event) string {
	if len(r.res.FailedEvents) > 0 {
		first := r.res.FailedEvents[0]
		return fmt.Sprintf("after %s (%s) failed: %s", first.LogicalID, first.Type, first.Reason)
	}
	for _, e := range events {
		if e.LogicalID == r.st.Name && strings.HasSuffix(e.Status, "ROLLBACK_IN_PROGRESS") && e.Reason != "" {
			return "because " + e.Reason
		}
	}
	return "(see the stack events)"
}

// protect makes sure the stack carries the protective stack policy and
// termination protection; both are set right after creation, and put back
// by any later --execute run that finds the stack unchanged, updates it or
// refuses to (e.g. after an interrupted --allow-destroy execution).
func (r *run) protect(ctx context.Context, stack *types.Stack) error {
	want, err := protectivePolicy(r.doc.protectedTypes())
	if err != nil {
		return err
	}
	got, err := r.d.api.GetStackPolicy(ctx, &cfn.GetStackPolicyInput{StackName: aws.String(r.st.Name)})
	if err != nil {
		return fmt.Errorf("getting the stack policy of %s: %w", r.st.Name, err)
	}
	if body := aws.ToString(got.StackPolicyBody); body == "" || !sameJSON([]byte(body), []byte(want)) {
		if err := r.setPolicy(ctx, want); err != nil {
			return err
		}
		r.printf("stack policy set: replacing or deleting %s is denied", listOrNone(r.doc.protectedTypes()))
	}
	if !aws.ToBool(stack.EnableTerminationProtection) {
		if err := r.setTerminationProtection(ctx, true); err != nil {
			return err
		}
		r.printf("termination protection enabled")
	}
	return nil
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}

// reprotect puts the protective stack policy back after a lifted one was not
// used, even when ctx is cancelled (that is often why it was not).
func (r *run) reprotect(ctx context.Context) error {
	policy, err := protectivePolicy(r.doc.protectedTypes())
	if err != nil {
		return err
	}
	ctx, cancel := cleanupContext(ctx)
	defer cancel()
	return r.setPolicy(ctx, policy)
}

// cleanupContext is for the calls that undo a step of a run that may have
// been cancelled (often why the step was not finished): it ignores ctx's
// cancellation, and is bounded by a timeout of its own.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}

func (r *run) setPolicy(ctx context.Context, body string) error {
	_, err := r.d.api.SetStackPolicy(ctx, &cfn.SetStackPolicyInput{StackName: aws.String(r.st.Name), StackPolicyBody: aws.String(body)})
	if err != nil {
		return fmt.Errorf("setting the stack policy of %s: %w", r.st.Name, err)
	}
	return nil
}

// latestEventID is the newest event of the stack, so that following it
// afterwards prints only what happens from now on.
func (r *run) latestEventID(ctx context.Context) (string, error) {
	out, err := r.d.api.DescribeStackEvents(ctx, &cfn.DescribeStackEventsInput{StackName: aws.String(r.st.Name)})
	if err != nil {
		if isNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("reading the events of %s: %w", r.st.Name, err)
	}
	if len(out.StackEvents) == 0 {
		return "", nil
	}
	return aws.ToString(out.StackEvents[0].EventId), nil
}

// waitStable polls the stack until no operation is in progress, printing
// the events newer than marker as they come ("" = from now on). It returns
// the settled stack (nil once deleted) and the events seen.
func (r *run) waitStable(ctx context.Context, marker string) (*types.Stack, []Event, error) {
	if marker == "" {
		var err error
		if marker, err = r.latestEventID(ctx); err != nil {
			return nil, nil, err
		}
	}
	var seen []Event
	for {
		stack, err := r.describe(ctx)
		if err != nil {
			return nil, seen, err
		}
		events, newest, err := r.eventsSince(ctx, marker)
		if err != nil {
			return nil, seen, err
		}
		if newest != "" {
			marker = newest
		}
		for _, e := range events {
			line := fmt.Sprintf("  %s %-40s %-36s %s", e.Time, e.LogicalID, e.Type, e.Status)
			if e.Reason != "" {
				line += ": " + e.Reason
			}
			r.printf("%s", line)
		}
		seen = append(seen, events...)
		if stack == nil || !inProgress(stack.StackStatus) {
			return stack, seen, nil
		}
		select {
		case <-ctx.Done():
			return nil, seen, fmt.Errorf("waiting for stack %s (%s): %w", r.st.Name, stack.StackStatus, ctx.Err())
		case <-time.After(r.d.opts.PollInterval):
		}
	}
}

// eventsSince returns the events newer than marker, oldest first, and the
// newest event's ID.
func (r *run) eventsSince(ctx context.Context, marker string) ([]Event, string, error) {
	var newestFirst []types.StackEvent
	p := cfn.NewDescribeStackEventsPaginator(r.d.api, &cfn.DescribeStackEventsInput{StackName: aws.String(r.st.Name)})
pages:
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if isNotFound(err) {
				break
			}
			return nil, "", fmt.Errorf("reading the events of %s: %w", r.st.Name, err)
		}
		for _, e := range page.StackEvents {
			if aws.ToString(e.EventId) == marker {
				break pages
			}
			newestFirst = append(newestFirst, e)
		}
	}
	if len(newestFirst) == 0 {
		return nil, "", nil
	}
	newest := aws.ToString(newestFirst[0].EventId)
	slices.Reverse(newestFirst)
	events := make([]Event, len(newestFirst))
	for i, e := range newestFirst {
		events[i] = Event{
			Time:      aws.ToTime(e.Timestamp).UTC().Format(time.RFC3339),
			LogicalID: aws.ToString(e.LogicalResourceId),
			Type:      aws.ToString(e.ResourceType),
			Status:    string(e.ResourceStatus),
			Reason:    aws.ToString(e.ResourceStatusReason),
		}
	}
	return events, newest, nil
}
