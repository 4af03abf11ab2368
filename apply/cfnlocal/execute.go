package cfnlocal

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/vsoc/vsoc/render/cloudformation/spec"
)

func (s *Server) executeChangeSet(f form) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, cs, err := s.lookupChangeSet(f)
	if err != nil {
		return nil, err
	}
	if cs.status != "CREATE_COMPLETE" || cs.executionStatus != "AVAILABLE" {
		return nil, newAPIError(http.StatusBadRequest, "InvalidChangeSetStatus",
			"ChangeSet [%s] cannot be executed in its current status of [%s] and execution status of [%s]", cs.id, cs.status, cs.executionStatus)
	}
	if inProgress(st.status) {
		return nil, newAPIError(http.StatusBadRequest, "InvalidChangeSetStatus",
			"ChangeSet [%s] cannot be executed while the stack is in %s state", cs.id, st.status)
	}
	var policy *stackPolicy
	if st.policy != "" {
		policy, err = parsePolicy(st.policy)
		if err != nil {
			return nil, err
		}
	}
	cs.executionStatus = "EXECUTE_IN_PROGRESS"
	st.lastChangeSetID = cs.id
	creating := cs.kind == "CREATE"
	if creating {
		s.setStackStatus(st, "CREATE_IN_PROGRESS", "User Initiated")
	} else {
		s.setStackStatus(st, "UPDATE_IN_PROGRESS", "User Initiated")
	}
	s.wg.Add(1)
	go s.playExecution(st, cs, policy, maps.Clone(st.physicalIDs))
	return nil, nil
}

// playExecution applies a change set resource by resource, one step each, as
// stack events. A resource that fails (an injected fault, or an update the
// stack policy denies), or an update that would change or remove an export
// another stack imports, rolls the stack back to the template and physical
// IDs (previousIDs) it had before.
func (s *Server) playExecution(st *stack, cs *changeSet, policy *stackPolicy, previousIDs map[string]string) {
	defer s.wg.Done()
	creating := cs.kind == "CREATE"
	var done []spec.Change // applied so far, undone in reverse on rollback
	var failed *spec.Change
	failedID, failReason := "", ""
	for _, ch := range cs.changes {
		if ch.Action == spec.Remove {
			continue // removals happen in the cleanup phase, after everything else succeeded
		}
		if !s.sleep() {
			return
		}
		s.mu.Lock()
		verb := "UPDATE"
		if ch.Action == spec.Add {
			verb = "CREATE"
		}
		reason := ""
		if ch.Action == spec.Replace {
			reason = "Requested update requires the creation of a new physical resource; hence creating one."
		}
		if policy != nil && ch.Action != spec.Add {
			action := "Update:Modify"
			if ch.Action == spec.Replace {
				action = "Update:Replace"
			}
			if ok, why := policy.allows(action, ch.LogicalID, ch.Type); !ok {
				failedID, failReason = ch.LogicalID, why
			}
		}
		if r, ok := s.failures[st.name+"/"+ch.LogicalID]; ok && failedID == "" {
			delete(s.failures, st.name+"/"+ch.LogicalID)
			failedID, failReason = ch.LogicalID, r
		}
		if failedID != "" {
			s.addEvent(st, ch.LogicalID, ch.Type, verb+"_FAILED", failReason)
			failed = &ch
			s.mu.Unlock()
			break
		}
		s.addEvent(st, ch.LogicalID, ch.Type, verb+"_IN_PROGRESS", reason)
		if ch.Action == spec.Add || ch.Action == spec.Replace {
			st.physicalIDs[ch.LogicalID] = fmt.Sprintf("%s-%s", strings.ToLower(ch.LogicalID), s.uuid()[:8])
		}
		s.addEvent(st, ch.LogicalID, ch.Type, verb+"_COMPLETE", "")
		done = append(done, ch)
		s.mu.Unlock()
	}
	if failedID == "" && policy != nil {
		s.mu.Lock()
		for _, ch := range cs.changes {
			if ch.Action != spec.Remove {
				continue
			}
			if ok, why := policy.allows("Update:Delete", ch.LogicalID, ch.Type); !ok {
				failedID, failReason = ch.LogicalID, why
				s.addEvent(st, ch.LogicalID, ch.Type, "UPDATE_FAILED", why)
				break
			}
		}
		s.mu.Unlock()
	}
	if failedID != "" {
		// A resource that failed while being created may exist in part;
		// the rollback deletes it first.
		if failed != nil && failed.Action == spec.Add {
			done = append(done, *failed)
		}
		s.rollback(st, cs, done, failedResourceReason(failedID, creating), creating, previousIDs)
		return
	}
	// The outputs are updated once the resources are: only then is an
	// export's new value known.
	s.mu.Lock()
	inUse := s.exportInUse(st, exportValues(st.template, previousIDs), exportValues(cs.template, st.physicalIDs))
	s.mu.Unlock()
	if inUse != "" {
		s.rollback(st, cs, done, inUse, creating, previousIDs)
		return
	}
	s.finish(st, cs, creating)
}

func (s *Server) finish(st *stack, cs *changeSet, creating bool) {
	if !creating {
		if !s.sleep() {
			return
		}
		s.mu.Lock()
		s.setStackStatus(st, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "")
		s.mu.Unlock()
		for _, ch := range cs.changes {
			if ch.Action != spec.Remove && ch.Action != spec.Replace {
				continue
			}
			if !s.sleep() {
				return
			}
			s.mu.Lock()
			s.addEvent(st, ch.LogicalID, ch.Type, "DELETE_IN_PROGRESS", "")
			s.addEvent(st, ch.LogicalID, ch.Type, "DELETE_COMPLETE", "")
			if ch.Action == spec.Remove {
				delete(st.physicalIDs, ch.LogicalID)
			}
			s.mu.Unlock()
		}
	}
	if !s.sleep() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st.deploy(cs.template)
	if cs.tagsSent {
		st.tags = cs.tags
	}
	st.capabilities = cs.capabilities
	st.updated = time.Now()
	cs.executionStatus = "EXECUTE_COMPLETE"
	if creating {
		s.setStackStatus(st, "CREATE_COMPLETE", "")
	} else {
		s.setStackStatus(st, "UPDATE_COMPLETE", "")
	}
	s.dropChangeSets(st, cs)
}

// failedResourceReason is the service's status reason for a rollback that a
// failed resource started.
func failedResourceReason(logicalID string, creating bool) string {
	verb := "update"
	if creating {
		verb = "create"
	}
	return fmt.Sprintf("The following resource(s) failed to %s: [%s]. Rollback requested by user.", verb, logicalID)
}

// rollback undoes what an execution applied, in reverse, and leaves the
// stack with its previous template and physical IDs: UPDATE_ROLLBACK_COMPLETE,
// or ROLLBACK_COMPLETE for a failed creation (which can then only be
// deleted). reason is the stack's status reason while it rolls back.
func (s *Server) rollback(st *stack, cs *changeSet, done []spec.Change, reason string, creating bool, previousIDs map[string]string) {
	if !s.sleep() {
		return
	}
	s.mu.Lock()
	if creating {
		s.setStackStatus(st, "ROLLBACK_IN_PROGRESS", reason)
	} else {
		s.setStackStatus(st, "UPDATE_ROLLBACK_IN_PROGRESS", reason)
	}
	s.mu.Unlock()
	for i := len(done) - 1; i >= 0; i-- {
		ch := done[i]
		if !s.sleep() {
			return
		}
		s.mu.Lock()
		if ch.Action == spec.Add {
			s.addEvent(st, ch.LogicalID, ch.Type, "DELETE_IN_PROGRESS", "")
			s.addEvent(st, ch.LogicalID, ch.Type, "DELETE_COMPLETE", "")
		} else {
			s.addEvent(st, ch.LogicalID, ch.Type, "UPDATE_IN_PROGRESS", "")
			s.addEvent(st, ch.LogicalID, ch.Type, "UPDATE_COMPLETE", "")
		}
		s.mu.Unlock()
	}
	if !s.sleep() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cs.executionStatus = "EXECUTE_FAILED"
	st.physicalIDs = previousIDs
	if creating {
		s.setStackStatus(st, "ROLLBACK_COMPLETE", "")
	} else {
		s.setStackStatus(st, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "")
		s.setStackStatus(st, "UPDATE_ROLLBACK_COMPLETE", "")
	}
	s.dropChangeSets(st, cs)
}

// dropChangeSets empties the stack's change set list once one has been
// executed, as the real service does: the others were computed against a
// stack that no longer exists as it was. The executed one stays describable
// by its ARN.
func (s *Server) dropChangeSets(st *stack, executed *changeSet) {
	for _, cs := range st.changeSets {
		if cs != executed {
			cs.status = "DELETED"
		}
	}
	st.changeSets = nil
	s.executed[executed.id] = executed
}
