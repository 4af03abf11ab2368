package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// CloudFormation quotas the checker enforces. The body limit is the one for a template uploaded
// to S3 and passed by TemplateURL ("Template may not exceed 1000000 bytes in size"), which is how
// apply submits templates; a TemplateBody passed inline is limited to 51,200 bytes.
const (
	MaxResources       = 500
	MaxOutputs         = 200
	MaxParameters      = 200
	MaxMappings        = 200
	MaxBodyBytes       = 1_000_000
	MaxLogicalIDLength = 255
	MaxDescriptionLen  = 1024
)

// decodeTemplate parses a JSON template, keeping numbers as json.Number so that integers and
// fractions stay distinguishable.
func decodeTemplate(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("template is not valid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("template has data after its top-level JSON object")
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("template must be a JSON object")
	}
	return doc, nil
}

// intrinsic reports whether v is an intrinsic function call: an object with exactly one key,
// "Ref" or "Fn::…" (or "Condition", which only conditions may use).
func intrinsic(v any) (fn string, arg any, ok bool) {
	m, isMap := v.(map[string]any)
	if !isMap || len(m) != 1 {
		return "", nil, false
	}
	for k, a := range m {
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return k, a, true
		}
	}
	return "", nil, false
}

// isAlphanumeric reports whether s is a valid logical ID: letters and digits only.
func isAlphanumeric(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// describe names a JSON value's kind for error messages.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if len(x) > 40 {
			x = x[:40] + "…"
		}
		return fmt.Sprintf("the string %q", x)
	case json.Number:
		return "the number " + x.String()
	case bool:
		return fmt.Sprintf("the boolean %t", x)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}
