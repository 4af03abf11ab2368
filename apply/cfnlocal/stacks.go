package cfnlocal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vsoc/vsoc/render/cloudformation/spec"
)

// maxTemplateBody is the largest TemplateBody the service takes inline; larger
// templates must be uploaded to S3 and passed as TemplateURL.
const maxTemplateBody = 51200

const noChangesReason = "The submitted information didn't contain changes. Submit different information to create a change set."

var changeSetNamePattern = regexp.MustCompile(`^[a-zA-Z][-a-zA-Z0-9]{0,127}$`)

type stack struct {
	id, name              string
	status, statusReason  string
	created, updated      time.Time
	template              []byte   // the deployed template; nil while REVIEW_IN_PROGRESS
	imports, exports      []string // the export names template imports and exports, set with it
	tags                  []Tag
	capabilities          []string
	policy                string
	terminationProtection bool
	changeSets            []*changeSet
	lastChangeSetID       string
	events                []event // oldest first
	physicalIDs           map[string]string
}

// deploy makes body the stack's template, reading once what it imports and
// exports: ListImports and every change set's import check ask about all
// the stacks.
func (st *stack) deploy(body []byte) {
	st.template = body
	var doc any
	json.Unmarshal(body, &doc) // the change set was checked; a broken body has nothing to read
	st.imports = spec.ImportedExports(doc)
	st.exports = slices.Sorted(maps.Keys(spec.Exports(doc)))
}

type changeSet struct {
	stack                 *stack
	id, name, description string
	kind                  string // CREATE or UPDATE
	status, statusReason  string
	executionStatus       string
	created               time.Time
	template              []byte
	tags                  []Tag
	tagsSent              bool
	capabilities          []string
	changes               []spec.Change
}

type event struct {
	id, logicalID, physicalID, resourceType, status, reason string
	at                                                      time.Time
}

func inProgress(status string) bool {
	return strings.HasSuffix(status, "_IN_PROGRESS") && status != "REVIEW_IN_PROGRESS"
}

// updatable reports whether a stack in status can take an UPDATE change set.
func updatable(status string) bool {
	switch status {
	case "CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE":
		return true
	}
	return false
}

// lookup finds a stack by name or stack ID; the caller holds s.mu.
func (s *Server) lookup(nameOrID string) *stack {
	if st, ok := s.stacks[nameOrID]; ok {
		return st
	}
	for _, st := range s.stacks {
		if st.id == nameOrID {
			return st
		}
	}
	return nil
}

func (s *Server) mustLookup(nameOrID string) (*stack, *apiError) {
	st := s.lookup(nameOrID)
	if st == nil {
		return nil, validationError("Stack with id %s does not exist", nameOrID)
	}
	return st, nil
}

// stackNamed is the existing stack the request's StackName names; the caller
// holds s.mu.
func (s *Server) stackNamed(f form) (*stack, *apiError) {
	name, err := f.required("StackName")
	if err != nil {
		return nil, err
	}
	return s.mustLookup(name)
}

// lookupChangeSet finds a change set by ARN, or by name within the stack; the
// caller holds s.mu.
func (s *Server) lookupChangeSet(f form) (*stack, *changeSet, *apiError) {
	name, err := f.required("ChangeSetName")
	if err != nil {
		return nil, nil, err
	}
	if strings.HasPrefix(name, "arn:") {
		if cs, ok := s.executed[name]; ok {
			return cs.stack, cs, nil
		}
		for _, st := range s.stacks {
			for _, cs := range st.changeSets {
				if cs.id == name {
					return st, cs, nil
				}
			}
		}
		return nil, nil, newAPIError(http.StatusNotFound, "ChangeSetNotFound", "ChangeSet [%s] does not exist", name)
	}
	stackName := f.get("StackName")
	if stackName == "" {
		return nil, nil, validationError("StackName must be specified if ChangeSetName is not specified as an ARN.")
	}
	st, err := s.mustLookup(stackName)
	if err != nil {
		return nil, nil, err
	}
	for _, cs := range st.changeSets {
		if cs.name == name {
			return st, cs, nil
		}
	}
	return nil, nil, newAPIError(http.StatusNotFound, "ChangeSetNotFound", "ChangeSet [%s] does not exist", name)
}

func (s *Server) nextID() int {
	s.seq++
	return s.seq
}

func (s *Server) uuid() string {
	n := s.nextID()
	return fmt.Sprintf("%08x-5eed-4000-8000-%012x", n, n)
}

func (s *Server) arn(kind, name string) string {
	return fmt.Sprintf("arn:aws:cloudformation:%s:%s:%s/%s/%s", s.opts.Region, s.opts.Account, kind, name, s.uuid())
}

// addEvent records a stack event; the caller holds s.mu.
func (s *Server) addEvent(st *stack, logicalID, resourceType, status, reason string) {
	physical := st.physicalIDs[logicalID]
	if logicalID == st.name {
		physical = st.id
	}
	st.events = append(st.events, event{
		id: s.uuid(), logicalID: logicalID, physicalID: physical, resourceType: resourceType,
		status: status, reason: reason, at: time.Now(),
	})
}

func (s *Server) setStackStatus(st *stack, status, reason string) {
	st.status, st.statusReason = status, reason
	s.addEvent(st, st.name, "AWS::CloudFormation::Stack", status, reason)
}

func (s *Server) describeStacks(f form) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var stacks []*stack
	if name := f.get("StackName"); name != "" {
		st, err := s.mustLookup(name)
		if err != nil {
			return nil, err
		}
		stacks = []*stack{st}
	} else {
		for _, st := range s.stacks {
			stacks = append(stacks, st)
		}
		slices.SortFunc(stacks, func(a, b *stack) int { return strings.Compare(a.name, b.name) })
	}
	res := &describeStacksResult{}
	for _, st := range stacks {
		x := xmlStack{
			StackID: st.id, StackName: st.name, ChangeSetID: st.lastChangeSetID,
			CreationTime: timestamp(st.created), StackStatus: st.status, StackStatusReason: st.statusReason,
			Capabilities: st.capabilities, Tags: st.tags, EnableTerminationProtection: st.terminationProtection,
		}
		if !st.updated.IsZero() {
			x.LastUpdatedTime = timestamp(st.updated)
		}
		if desc, ok := templateDescription(st.template); ok {
			x.Description = desc
		}
		res.Stacks = append(res.Stacks, x)
	}
	return res, nil
}

func templateDescription(body []byte) (string, bool) {
	var doc struct {
		Description string `json:"Description"`
	}
	if body == nil || json.Unmarshal(body, &doc) != nil {
		return "", false
	}
	return doc.Description, doc.Description != ""
}

func (s *Server) createChangeSet(f form) (any, *apiError) {
	stackName, err := f.required("StackName")
	if err != nil {
		return nil, err
	}
	name, err := f.required("ChangeSetName")
	if err != nil {
		return nil, err
	}
	if !changeSetNamePattern.MatchString(name) {
		return nil, validationError("1 validation error detected: Value '%s' at 'changeSetName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*", name)
	}
	if f.get("TemplateURL") != "" || f.get("UsePreviousTemplate") == "true" {
		return nil, validationError("this endpoint takes templates as TemplateBody only")
	}
	body, err := f.required("TemplateBody")
	if err != nil {
		return nil, err
	}
	if len(body) > maxTemplateBody {
		return nil, validationError("1 validation error detected: Value '...' at 'templateBody' failed to satisfy constraint: Member must have length less than or equal to %d", maxTemplateBody)
	}
	kind := f.get("ChangeSetType")
	if kind == "" {
		kind = "UPDATE"
	}
	if kind != "CREATE" && kind != "UPDATE" {
		return nil, validationError("1 validation error detected: Value '%s' at 'changeSetType' failed to satisfy constraint: Member must satisfy enum value set: [UPDATE, IMPORT, CREATE]", kind)
	}
	tags, tagsSent, err := f.tags()
	if err != nil {
		return nil, err
	}
	capabilities := f.list("Capabilities")

	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.lookup(stackName)
	switch {
	case kind == "UPDATE" && st == nil:
		return nil, validationError("Stack [%s] does not exist", stackName)
	case kind == "UPDATE" && st.status == "REVIEW_IN_PROGRESS":
		return nil, validationError("Stack [%s] does not exist. Use ChangeSetType CREATE to create it.", stackName)
	case kind == "UPDATE" && !updatable(st.status):
		return nil, validationError("Stack:%s is in %s state and can not be updated.", st.id, st.status)
	case kind == "CREATE" && st != nil && st.status != "REVIEW_IN_PROGRESS":
		return nil, newAPIError(http.StatusBadRequest, "AlreadyExistsException", "Stack [%s] already exists and cannot be created again with the changeSet [%s].", stackName, name)
	}
	if st != nil {
		for _, cs := range st.changeSets {
			if cs.name == name {
				return nil, newAPIError(http.StatusBadRequest, "AlreadyExistsException", "ChangeSet [%s] already exists", name)
			}
		}
	}
	if err := s.checkTemplate(stackName, []byte(body)); err != nil {
		return nil, err
	}
	if missing := missingCapabilities([]byte(body), capabilities); missing != "" {
		return nil, newAPIError(http.StatusBadRequest, "InsufficientCapabilitiesException", "Requires capabilities : [%s]", missing)
	}
	var old []byte
	if st != nil {
		old = st.template
	}
	changes, classifyErr := s.opts.Spec.Classify(old, []byte(body))
	if classifyErr != nil {
		return nil, validationError("Template format error: %v", classifyErr)
	}

	now := time.Now()
	if st == nil {
		st = &stack{id: s.arn("stack", stackName), name: stackName, created: now, tags: tags, physicalIDs: map[string]string{}}
		s.stacks[stackName] = st
		s.setStackStatus(st, "REVIEW_IN_PROGRESS", "User Initiated")
	}
	cs := &changeSet{
		stack: st, id: s.arn("changeSet", name), name: name, description: f.get("Description"), kind: kind,
		status: "CREATE_PENDING", executionStatus: "UNAVAILABLE", created: now,
		template: []byte(body), tags: tags, tagsSent: tagsSent, capabilities: capabilities, changes: changes,
	}
	noChanges := kind == "UPDATE" && sameJSON(old, cs.template) && (!tagsSent || reflect.DeepEqual(tags, st.tags))
	st.changeSets = append(st.changeSets, cs)
	s.wg.Add(1)
	go s.computeChangeSet(st.id, cs, noChanges)
	return &createChangeSetResult{ID: cs.id, StackID: st.id}, nil
}

// computeChangeSet moves a change set through its creation states, taking
// the time the real service takes to compute one.
func (s *Server) computeChangeSet(stackID string, cs *changeSet, noChanges bool) {
	defer s.wg.Done()
	for _, next := range []string{"CREATE_IN_PROGRESS", "CREATE_COMPLETE"} {
		if !s.sleep() {
			return
		}
		s.mu.Lock()
		if cs.status == "DELETED" {
			s.mu.Unlock()
			return
		}
		cs.status = next
		if next == "CREATE_COMPLETE" {
			if noChanges {
				cs.status, cs.statusReason = "FAILED", noChangesReason
			} else {
				cs.executionStatus = "AVAILABLE"
			}
		}
		s.mu.Unlock()
	}
}

func (s *Server) sleep() bool {
	select {
	case <-s.ctx.Done():
		return false
	case <-time.After(s.opts.Step):
		return true
	}
}

// checkTemplate validates body as the template of stackName together with
// the other stacks' deployed templates, whose exports it may import.
func (s *Server) checkTemplate(stackName string, body []byte) *apiError {
	if missing := s.missingImport(stackName, body); missing != "" {
		return validationError("No export named %s found", missing)
	}
	set := map[string][]byte{stackName: body}
	for name, st := range s.stacks {
		if name != stackName && st.template != nil {
			set[name] = st.template
		}
	}
	var msgs []string
	for _, p := range s.opts.Spec.Check(set) {
		if p.Stack == stackName {
			if p.Path != "" {
				msgs = append(msgs, p.Path+": "+p.Message)
			} else {
				msgs = append(msgs, p.Message)
			}
		}
	}
	if len(msgs) > 0 {
		return validationError("Template format error: %s", strings.Join(msgs, "; "))
	}
	return nil
}

// missingImport returns the first name the template imports with
// Fn::ImportValue that no other deployed stack exports, or "".
func (s *Server) missingImport(stackName string, body []byte) string {
	var doc any
	if json.Unmarshal(body, &doc) != nil {
		return "" // spec.Check reports it
	}
	exports := map[string]bool{}
	for name, st := range s.stacks {
		if name != stackName {
			for _, n := range st.exports {
				exports[n] = true
			}
		}
	}
	for _, name := range spec.ImportedExports(doc) {
		if !exports[name] {
			return name
		}
	}
	return ""
}

// missingCapabilities returns the capability the template needs and was not
// acknowledged: IAM resources need CAPABILITY_IAM, named ones
// CAPABILITY_NAMED_IAM.
func missingCapabilities(body []byte, acknowledged []string) string {
	var doc struct {
		Resources map[string]struct {
			Type       string         `json:"Type"`
			Properties map[string]any `json:"Properties"`
		} `json:"Resources"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return ""
	}
	need := ""
	for _, r := range doc.Resources {
		if !strings.HasPrefix(r.Type, "AWS::IAM::") {
			continue
		}
		if need == "" {
			need = "CAPABILITY_IAM"
		}
		for _, p := range []string{"RoleName", "UserName", "GroupName", "ManagedPolicyName", "InstanceProfileName"} {
			if _, ok := r.Properties[p]; ok {
				need = "CAPABILITY_NAMED_IAM"
			}
		}
	}
	switch {
	case need == "":
		return ""
	case slices.Contains(acknowledged, "CAPABILITY_NAMED_IAM"):
		return ""
	case need == "CAPABILITY_IAM" && slices.Contains(acknowledged, "CAPABILITY_IAM"):
		return ""
	}
	return need
}

func sameJSON(a, b []byte) bool {
	if a == nil || b == nil {
		return false
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}

func (s *Server) describeChangeSet(f form) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, cs, err := s.lookupChangeSet(f)
	if err != nil {
		return nil, err
	}
	res := &describeChangeSetResult{
		ChangeSetName: cs.name, ChangeSetID: cs.id, StackID: st.id, StackName: st.name, Description: cs.description,
		CreationTime: timestamp(cs.created), ExecutionStatus: cs.executionStatus, Status: cs.status,
		StatusReason: cs.statusReason, Capabilities: cs.capabilities, Tags: cs.tags,
	}
	if cs.status == "CREATE_COMPLETE" || strings.HasPrefix(cs.executionStatus, "EXECUTE_") {
		for _, ch := range cs.changes {
			res.Changes = append(res.Changes, xmlChange{Type: "Resource", ResourceChange: resourceChange(st, ch)})
		}
	}
	return res, nil
}

func resourceChange(st *stack, ch spec.Change) xmlResourceChange {
	rc := xmlResourceChange{LogicalResourceID: ch.LogicalID, ResourceType: ch.Type, PhysicalResourceID: st.physicalIDs[ch.LogicalID]}
	switch ch.Action {
	case spec.Add:
		rc.Action = "Add"
	case spec.Remove:
		rc.Action = "Remove"
	case spec.Modify:
		rc.Action, rc.Replacement = "Modify", "False"
	case spec.Replace:
		rc.Action, rc.Replacement = "Modify", "True"
		if ch.Conditional {
			rc.Replacement = "Conditional"
		}
	}
	if rc.Action == "Modify" {
		rc.Scope = []string{"Properties"}
		for _, p := range ch.Properties {
			var d xmlChangeDetail
			d.Target.Attribute, d.Target.Name, d.Target.RequiresRecreation = "Properties", p, "Never"
			if slices.Contains(ch.Replacing, p) {
				d.Target.RequiresRecreation = "Always"
				if ch.Conditional {
					d.Target.RequiresRecreation = "Conditionally"
				}
			}
			d.Evaluation, d.ChangeSource = "Static", "DirectModification"
			rc.Details = append(rc.Details, d)
		}
	}
	return rc
}

func (s *Server) listChangeSets(f form) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.stackNamed(f)
	if err != nil {
		return nil, err
	}
	res := &listChangeSetsResult{}
	for _, cs := range st.changeSets {
		res.Summaries = append(res.Summaries, changeSetSummary{
			StackID: st.id, StackName: st.name, ChangeSetID: cs.id, ChangeSetName: cs.name,
			ExecutionStatus: cs.executionStatus, Status: cs.status, StatusReason: cs.statusReason,
			CreationTime: timestamp(cs.created), Description: cs.description,
		})
	}
	return res, nil
}

func (s *Server) deleteChangeSet(f form) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, cs, err := s.lookupChangeSet(f)
	if err != nil {
		return nil, err
	}
	if cs.status == "CREATE_PENDING" || cs.status == "CREATE_IN_PROGRESS" || cs.executionStatus == "EXECUTE_IN_PROGRESS" {
		return nil, newAPIError(http.StatusBadRequest, "InvalidChangeSetStatus", "Cannot delete ChangeSet %s in status %s", cs.id, cs.status)
	}
	cs.status = "DELETED"
	st.changeSets = slices.DeleteFunc(st.changeSets, func(c *changeSet) bool { return c == cs })
	return nil, nil
}

func (s *Server) describeStackEvents(f form) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.stackNamed(f)
	if err != nil {
		return nil, err
	}
	res := &describeStackEventsResult{}
	for i := len(st.events) - 1; i >= 0; i-- {
		e := st.events[i]
		res.StackEvents = append(res.StackEvents, xmlEvent{
			StackID: st.id, EventID: e.id, StackName: st.name, LogicalResourceID: e.logicalID,
			PhysicalResourceID: e.physicalID, ResourceType: e.resourceType, Timestamp: timestamp(e.at),
			ResourceStatus: e.status, ResourceStatusReason: e.reason,
		})
	}
	return res, nil
}

func (s *Server) getTemplate(f form) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.get("ChangeSetName") != "" {
		_, cs, err := s.lookupChangeSet(f)
		if err != nil {
			return nil, err
		}
		return &getTemplateResult{TemplateBody: string(cs.template), StagesAvailable: []string{"Original", "Processed"}}, nil
	}
	name, err := f.required("StackName")
	if err != nil {
		return nil, err
	}
	st, err := s.mustLookup(name)
	if err != nil {
		return nil, err
	}
	if st.template == nil {
		return nil, validationError("Stack with id %s does not have a template: it is in %s", name, st.status)
	}
	return &getTemplateResult{TemplateBody: string(st.template), StagesAvailable: []string{"Original", "Processed"}}, nil
}

func (s *Server) setStackPolicy(f form) (any, *apiError) {
	name, err := f.required("StackName")
	if err != nil {
		return nil, err
	}
	if f.get("StackPolicyURL") != "" {
		return nil, validationError("this endpoint takes stack policies as StackPolicyBody only")
	}
	body, err := f.required("StackPolicyBody")
	if err != nil {
		return nil, err
	}
	if _, err := parsePolicy(body); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.mustLookup(name)
	if err != nil {
		return nil, err
	}
	if st.status == "REVIEW_IN_PROGRESS" || st.status == "DELETE_IN_PROGRESS" {
		return nil, validationError("Stack:%s is in %s state and its policy can not be set.", st.id, st.status)
	}
	st.policy = body
	return nil, nil
}

func (s *Server) getStackPolicy(f form) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.stackNamed(f)
	if err != nil {
		return nil, err
	}
	return &getStackPolicyResult{StackPolicyBody: st.policy}, nil
}

func (s *Server) updateTerminationProtection(f form) (any, *apiError) {
	name, err := f.required("StackName")
	if err != nil {
		return nil, err
	}
	if !f.has("EnableTerminationProtection") {
		return nil, validationError("1 validation error detected: Value null at 'enableTerminationProtection' failed to satisfy constraint: Member must not be null")
	}
	enable, err := f.bool("EnableTerminationProtection")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.mustLookup(name)
	if err != nil {
		return nil, err
	}
	st.terminationProtection = enable
	return &stackIDResult{StackID: st.id}, nil
}

func (s *Server) deleteStack(f form) (any, *apiError) {
	name, err := f.required("StackName")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.lookup(name)
	if st == nil {
		return nil, nil // deleting a stack that does not exist succeeds
	}
	if st.terminationProtection {
		return nil, validationError("Stack [%s] cannot be deleted while TerminationProtection is enabled", st.name)
	}
	if inProgress(st.status) {
		return nil, validationError("Stack [%s] is in %s state and can not be deleted.", st.name, st.status)
	}
	s.setStackStatus(st, "DELETE_IN_PROGRESS", "User Initiated")
	st.changeSets = nil
	s.wg.Add(1)
	go s.playDelete(st)
	return nil, nil
}

// playDelete deletes the stack's resources one step each, unless another
// stack imports one of its exports: then the deletion fails and the stack
// keeps everything (DELETE_FAILED), as in the service. A resource that fails
// to be deleted (FailResource) ends the deletion in DELETE_FAILED too, the
// resources not yet deleted kept.
func (s *Server) playDelete(st *stack) {
	defer s.wg.Done()
	if !s.sleep() {
		return
	}
	s.mu.Lock()
	inUse := s.exportInUse(st, exportValues(st.template, st.physicalIDs), nil)
	if inUse != "" {
		s.setStackStatus(st, "DELETE_FAILED", inUse)
	}
	s.mu.Unlock()
	if inUse != "" {
		return
	}
	resources, _ := resourceTypes(st.template)
	for _, id := range sortedKeys(resources) {
		if !s.sleep() {
			return
		}
		s.mu.Lock()
		reason, failed := s.failures[st.name+"/"+id]
		if failed {
			delete(s.failures, st.name+"/"+id)
			s.addEvent(st, id, resources[id], "DELETE_FAILED", reason)
			s.setStackStatus(st, "DELETE_FAILED", fmt.Sprintf("The following resource(s) failed to delete: [%s]. ", id))
		} else {
			s.addEvent(st, id, resources[id], "DELETE_COMPLETE", "")
		}
		s.mu.Unlock()
		if failed {
			return
		}
	}
	if !s.sleep() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setStackStatus(st, "DELETE_COMPLETE", "")
	if s.stacks[st.name] == st {
		delete(s.stacks, st.name)
	}
}

// resourceTypes maps a template's logical IDs to their types.
func resourceTypes(body []byte) (map[string]string, error) {
	if body == nil {
		return map[string]string{}, nil
	}
	var doc struct {
		Resources map[string]struct {
			Type string `json:"Type"`
		} `json:"Resources"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(doc.Resources))
	for id, r := range doc.Resources {
		out[id] = r.Type
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
