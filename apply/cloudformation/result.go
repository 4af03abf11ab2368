package cloudformation

// Outcome is how one stack's apply ended.
type Outcome string

const (
	Unchanged    Outcome = "unchanged"     // the deployed stack already matches
	Previewed    Outcome = "previewed"     // dry run: the change set was shown, not executed
	Created      Outcome = "created"       // a new stack was created
	Updated      Outcome = "updated"       // the stack was updated
	Deleted      Outcome = "deleted"       // the stack of a customer no longer declared was deleted
	Refused      Outcome = "refused"       // not done on purpose: destructive, or not vsoc's stack
	Failed       Outcome = "failed"        // the service failed it; the stack is rolled back (or, deleted, keeps what was not)
	Interrupted  Outcome = "interrupted"   // the run was cancelled; the next run picks it up
	NotAttempted Outcome = "not-attempted" // skipped because the hub stack did not apply
)

// OK reports whether the outcome leaves nothing for the operator to do.
func (o Outcome) OK() bool {
	switch o {
	case Unchanged, Previewed, Created, Updated, Deleted:
		return true
	}
	return false
}

// Result is what happened to one stack: the record the audit log keeps.
type Result struct {
	Stack         string   `json:"stack"`
	Customer      string   `json:"customer"`
	Template      string   `json:"template,omitempty"` // the file applied
	ChangeSetType string   `json:"changeSetType,omitempty"`
	ChangeSetName string   `json:"changeSetName,omitempty"`
	ChangeSetID   string   `json:"changeSetId,omitempty"`
	Changes       []Change `json:"changes,omitempty"`
	// Before names the stack this one was applied before, out of the usual
	// order, because it stops importing exports that stack deletes or changes.
	Before string `json:"before,omitempty"`
	// Decision says why the driver did what it did, in words.
	Decision    string  `json:"decision"`
	Outcome     Outcome `json:"outcome"`
	StackStatus string  `json:"stackStatus,omitempty"`
	// ExportsInUse are the exports the change set would have changed or
	// deleted while other stacks import them, why it was refused.
	ExportsInUse []ExportInUse `json:"exportsInUse,omitempty"`
	Error        string        `json:"error,omitempty"`
	FailedEvents []Event       `json:"failedEvents,omitempty"`
}

// Change is one resource change of a change set, as CloudFormation computed it.
type Change struct {
	Action      string `json:"action"` // Add, Modify, Remove, Import, Dynamic
	LogicalID   string `json:"logicalId"`
	Type        string `json:"type"`
	Replacement string `json:"replacement,omitempty"` // True, False, Conditional (Modify only)
	// Protected is set when the change replaces or removes a resource whose
	// loss is destructive for the network (spec.Protected).
	Protected bool `json:"protected,omitempty"`
}

// Event is one stack event.
type Event struct {
	Time      string `json:"time"`
	LogicalID string `json:"logicalId"`
	Type      string `json:"type"`
	Status    string `json:"status"`
	Reason    string `json:"reason,omitempty"`
}
