package cloudformation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/vsoc/vsoc/render/cloudformation/spec"
)

// MaxTemplateBody is the largest template CloudFormation takes inline
// (TemplateBody); a larger one would have to go through S3.
const MaxTemplateBody = 51200

type templateDoc struct {
	Resources map[string]struct {
		Type       string         `json:"Type"`
		Properties map[string]any `json:"Properties"`
	} `json:"Resources"`
}

func parseTemplate(body []byte) (*templateDoc, error) {
	var doc templateDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("template is not JSON: %w", err)
	}
	if len(doc.Resources) == 0 {
		return nil, fmt.Errorf("template has no Resources")
	}
	return &doc, nil
}

// capabilities are the acknowledgements the template needs: CAPABILITY_IAM
// for IAM resources, CAPABILITY_NAMED_IAM when one has a custom name.
func (doc *templateDoc) capabilities() []string {
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
	if need == "" {
		return nil
	}
	return []string{need}
}

// protectedTypes are the template's resource types whose replacement or
// removal the stack policy denies, sorted.
func (doc *templateDoc) protectedTypes() []string {
	var types []string
	for _, r := range doc.Resources {
		if spec.Protected(r.Type) && !slices.Contains(types, r.Type) {
			types = append(types, r.Type)
		}
	}
	slices.Sort(types)
	return types
}

// protectivePolicy is the stack policy vsoc keeps on every stack: updates
// are allowed, except replacing or deleting the protected resources, so that
// not even a change set executed by hand can drop tunnels or peerings.
func protectivePolicy(protected []string) (string, error) {
	statements := []map[string]any{
		{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
	}
	if len(protected) > 0 {
		statements = append(statements, map[string]any{
			"Effect": "Deny", "Action": []string{"Update:Replace", "Update:Delete"}, "Principal": "*", "Resource": "*",
			"Condition": map[string]any{"StringEquals": map[string]any{"ResourceType": protected}},
		})
	}
	return encodePolicy(statements)
}

// permissivePolicy is set for the one execution --allow-destroy approved;
// the protective policy is put back when it ends.
func permissivePolicy() (string, error) {
	return encodePolicy([]map[string]any{{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}})
}

func encodePolicy(statements []map[string]any) (string, error) {
	b, err := json.Marshal(map[string]any{"Statement": statements})
	if err != nil {
		return "", fmt.Errorf("encoding the stack policy: %w", err)
	}
	return string(b), nil
}

// sameJSON reports whether two JSON documents are equal as values, whatever
// their formatting and key order.
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}
