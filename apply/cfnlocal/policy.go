package cfnlocal

import (
	"encoding/json"
	"fmt"
	"path"
)

// stackPolicy is a parsed stack policy: which update actions on which
// resources are allowed. Once a stack has a policy, an update a statement
// does not allow is denied, and an explicit Deny wins over any Allow.
type stackPolicy struct {
	Statement []policyStatement `json:"Statement"`
}

type policyStatement struct {
	Effect      string                           `json:"Effect"`
	Action      stringList                       `json:"Action"`
	NotAction   stringList                       `json:"NotAction"`
	Principal   string                           `json:"Principal"`
	Resource    stringList                       `json:"Resource"`
	NotResource stringList                       `json:"NotResource"`
	Condition   map[string]map[string]stringList `json:"Condition"`
}

// stringList is a policy field written as one string or a list of them.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = stringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("expected a string or a list of strings, got %s", b)
	}
	*l = many
	return nil
}

func parsePolicy(body string) (*stackPolicy, *apiError) {
	var p stackPolicy
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		return nil, validationError("Error validating stack policy: Invalid stack policy: %v", err)
	}
	if len(p.Statement) == 0 {
		return nil, validationError("Error validating stack policy: Invalid stack policy: missing Statement")
	}
	for i, st := range p.Statement {
		if st.Effect != "Allow" && st.Effect != "Deny" {
			return nil, validationError("Error validating stack policy: Statement [#%d] has invalid Effect %q", i+1, st.Effect)
		}
		if st.Principal != "*" {
			return nil, validationError("Error validating stack policy: Statement [#%d] Principal must be \"*\"", i+1)
		}
		if len(st.Action) == 0 && len(st.NotAction) == 0 {
			return nil, validationError("Error validating stack policy: Statement [#%d] needs Action or NotAction", i+1)
		}
		if len(st.Resource) == 0 && len(st.NotResource) == 0 {
			return nil, validationError("Error validating stack policy: Statement [#%d] needs Resource or NotResource", i+1)
		}
		for op := range st.Condition {
			if op != "StringEquals" && op != "StringLike" {
				return nil, validationError("Error validating stack policy: Statement [#%d] has unsupported condition %q", i+1, op)
			}
		}
	}
	return &p, nil
}

// allows reports whether the policy lets action ("Update:Modify",
// "Update:Replace", "Update:Delete") happen to the resource, and if not,
// why.
func (p *stackPolicy) allows(action, logicalID, resourceType string) (bool, string) {
	allowed := false
	for i, st := range p.Statement {
		if !st.matches(action, logicalID, resourceType) {
			continue
		}
		if st.Effect == "Deny" {
			return false, fmt.Sprintf("Action denied by stack policy: Statement [#%d] of the stack policy denies %s on LogicalResourceId/%s", i+1, action, logicalID)
		}
		allowed = true
	}
	if !allowed {
		return false, fmt.Sprintf("Action denied by stack policy: no statement of the stack policy allows %s on LogicalResourceId/%s", action, logicalID)
	}
	return true, ""
}

func (st policyStatement) matches(action, logicalID, resourceType string) bool {
	resource := "LogicalResourceId/" + logicalID
	if len(st.Action) > 0 && !anyMatch(st.Action, action) {
		return false
	}
	if len(st.NotAction) > 0 && anyMatch(st.NotAction, action) {
		return false
	}
	if len(st.Resource) > 0 && !anyMatch(st.Resource, resource) && !anyMatch(st.Resource, "*") {
		return false
	}
	if len(st.NotResource) > 0 && anyMatch(st.NotResource, resource) {
		return false
	}
	for op, keys := range st.Condition {
		for key, values := range keys {
			if key != "ResourceType" {
				return false
			}
			ok := false
			for _, v := range values {
				if op == "StringEquals" && v == resourceType {
					ok = true
				}
				if op == "StringLike" && globMatch(v, resourceType) {
					ok = true
				}
			}
			if !ok {
				return false
			}
		}
	}
	return true
}

func anyMatch(patterns []string, s string) bool {
	for _, p := range patterns {
		if globMatch(p, s) {
			return true
		}
	}
	return false
}

// globMatch matches policy wildcards (* and ?), which path.Match handles once
// the separator it treats specially cannot occur.
func globMatch(pattern, s string) bool {
	if pattern == "*" {
		return true
	}
	ok, err := path.Match(pattern, s)
	return err == nil && ok
}
