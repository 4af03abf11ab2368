package cfnlocal

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The AWS Query protocol: a form-encoded POST with Action and Version, an XML
// answer <ActionResponse><ActionResult>…</ActionResult><ResponseMetadata/>, and
// errors as <ErrorResponse><Error><Type/><Code/><Message/></Error>.

const (
	cloudFormationVersion = "2010-05-15"
	cloudFormationXMLNS   = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
	stsVersion            = "2011-06-15"
	stsXMLNS              = "https://sts.amazonaws.com/doc/2011-06-15/"
	timeLayout            = "2006-01-02T15:04:05.000Z"
)

// apiError is an error the service answers with, in the shape the SDK's
// deserializers read.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func validationError(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "ValidationError", message: fmt.Sprintf(format, args...)}
}

func newAPIError(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

type errorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	XMLNS     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

// envelope wraps a result in <ActionResponse><ActionResult>.
type envelope struct {
	XMLName   xml.Name
	XMLNS     string `xml:"xmlns,attr"`
	Result    any
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

func writeResult(w http.ResponseWriter, xmlns, action, requestID string, result any) {
	if result == nil {
		result = &struct{}{}
	}
	env := envelope{XMLName: xml.Name{Local: action + "Response"}, XMLNS: xmlns, Result: result, RequestID: requestID}
	body, err := xml.Marshal(resultElement{name: action + "Result", env: env})
	if err != nil {
		writeError(w, xmlns, requestID, newAPIError(http.StatusInternalServerError, "InternalFailure", "encoding the response: %v", err))
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", requestID)
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(xml.Header))
	w.Write(body)
}

// resultElement marshals an envelope with the result element named after the
// action, which encoding/xml cannot do from struct tags alone.
type resultElement struct {
	name string
	env  envelope
}

func (r resultElement) MarshalXML(e *xml.Encoder, _ xml.StartElement) error {
	start := xml.StartElement{Name: r.env.XMLName, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: r.env.XMLNS}}}
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	if err := e.EncodeElement(r.env.Result, xml.StartElement{Name: xml.Name{Local: r.name}}); err != nil {
		return err
	}
	meta := struct {
		RequestID string `xml:"RequestId"`
	}{r.env.RequestID}
	if err := e.EncodeElement(meta, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}}); err != nil {
		return err
	}
	return e.EncodeToken(start.End())
}

func writeError(w http.ResponseWriter, xmlns, requestID string, e *apiError) {
	kind := "Sender"
	if e.status >= 500 {
		kind = "Receiver"
	}
	body, _ := xml.Marshal(errorResponse{XMLNS: xmlns, Type: kind, Code: e.code, Message: e.message, RequestID: requestID})
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", requestID)
	w.WriteHeader(e.status)
	w.Write([]byte(xml.Header))
	w.Write(body)
}

func timestamp(t time.Time) string { return t.UTC().Format(timeLayout) }

// form is a decoded Query request.
type form url.Values

func (f form) get(key string) string { return url.Values(f).Get(key) }

func (f form) has(key string) bool { _, ok := f[key]; return ok }

func (f form) required(key string) (string, *apiError) {
	v := f.get(key)
	if v == "" {
		return "", validationError("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", lowerFirst(key))
	}
	return v, nil
}

func (f form) bool(key string) (bool, *apiError) {
	v := f.get(key)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, validationError("invalid boolean %q for %s", v, key)
	}
	return b, nil
}

// list reads Key.member.N values in order of N.
func (f form) list(key string) []string {
	type item struct {
		n int
		v string
	}
	var items []item
	prefix := key + ".member."
	for k, vs := range f {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok || strings.Contains(rest, ".") {
			continue
		}
		n, err := strconv.Atoi(rest)
		if err != nil || len(vs) == 0 {
			continue
		}
		items = append(items, item{n, vs[0]})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].n < items[j].n })
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.v
	}
	return out
}

// tags reads Tags.member.N.Key/Value; present reports whether Tags was sent at all.
func (f form) tags() (tags []Tag, present bool, err *apiError) {
	prefix := "Tags.member."
	byN := map[int]*Tag{}
	for k, vs := range f {
		if k == "Tags" {
			present = true
			continue
		}
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		present = true
		num, field, ok := strings.Cut(rest, ".")
		n, convErr := strconv.Atoi(num)
		if !ok || convErr != nil || len(vs) == 0 {
			return nil, true, validationError("malformed tag parameter %s", k)
		}
		t := byN[n]
		if t == nil {
			t = &Tag{}
			byN[n] = t
		}
		switch field {
		case "Key":
			t.Key = vs[0]
		case "Value":
			t.Value = vs[0]
		default:
			return nil, true, validationError("malformed tag parameter %s", k)
		}
	}
	ns := make([]int, 0, len(byN))
	for n := range byN {
		ns = append(ns, n)
	}
	sort.Ints(ns)
	for _, n := range ns {
		t := byN[n]
		if t.Key == "" {
			return nil, true, validationError("1 validation error detected: Value null at 'tags.%d.member.key' failed to satisfy constraint: Member must not be null", n)
		}
		tags = append(tags, *t)
	}
	if len(tags) > 50 {
		return nil, true, validationError("1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50")
	}
	return tags, present, nil
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// XML shapes of the results, named and nested as the SDK's deserializers expect.

// Tag is a stack tag.
type Tag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type xmlStack struct {
	StackID                     string   `xml:"StackId"`
	StackName                   string   `xml:"StackName"`
	ChangeSetID                 string   `xml:"ChangeSetId,omitempty"`
	Description                 string   `xml:"Description,omitempty"`
	CreationTime                string   `xml:"CreationTime"`
	LastUpdatedTime             string   `xml:"LastUpdatedTime,omitempty"`
	StackStatus                 string   `xml:"StackStatus"`
	StackStatusReason           string   `xml:"StackStatusReason,omitempty"`
	DisableRollback             bool     `xml:"DisableRollback"`
	Capabilities                []string `xml:"Capabilities>member"`
	Tags                        []Tag    `xml:"Tags>member"`
	EnableTerminationProtection bool     `xml:"EnableTerminationProtection"`
}

type describeStacksResult struct {
	Stacks []xmlStack `xml:"Stacks>member"`
}

type createChangeSetResult struct {
	ID      string `xml:"Id"`
	StackID string `xml:"StackId"`
}

type xmlChangeDetail struct {
	Target struct {
		Attribute          string `xml:"Attribute"`
		Name               string `xml:"Name"`
		RequiresRecreation string `xml:"RequiresRecreation"`
	} `xml:"Target"`
	Evaluation   string `xml:"Evaluation"`
	ChangeSource string `xml:"ChangeSource"`
}

type xmlResourceChange struct {
	Action             string            `xml:"Action"`
	LogicalResourceID  string            `xml:"LogicalResourceId"`
	PhysicalResourceID string            `xml:"PhysicalResourceId,omitempty"`
	ResourceType       string            `xml:"ResourceType"`
	Replacement        string            `xml:"Replacement,omitempty"`
	Scope              []string          `xml:"Scope>member"`
	Details            []xmlChangeDetail `xml:"Details>member"`
}

type xmlChange struct {
	Type           string            `xml:"Type"`
	ResourceChange xmlResourceChange `xml:"ResourceChange"`
}

type describeChangeSetResult struct {
	ChangeSetName   string      `xml:"ChangeSetName"`
	ChangeSetID     string      `xml:"ChangeSetId"`
	StackID         string      `xml:"StackId"`
	StackName       string      `xml:"StackName"`
	Description     string      `xml:"Description,omitempty"`
	CreationTime    string      `xml:"CreationTime"`
	ExecutionStatus string      `xml:"ExecutionStatus"`
	Status          string      `xml:"Status"`
	StatusReason    string      `xml:"StatusReason,omitempty"`
	Capabilities    []string    `xml:"Capabilities>member"`
	Tags            []Tag       `xml:"Tags>member"`
	Changes         []xmlChange `xml:"Changes>member"`
}

type changeSetSummary struct {
	StackID         string `xml:"StackId"`
	StackName       string `xml:"StackName"`
	ChangeSetID     string `xml:"ChangeSetId"`
	ChangeSetName   string `xml:"ChangeSetName"`
	ExecutionStatus string `xml:"ExecutionStatus"`
	Status          string `xml:"Status"`
	StatusReason    string `xml:"StatusReason,omitempty"`
	CreationTime    string `xml:"CreationTime"`
	Description     string `xml:"Description,omitempty"`
}

type listChangeSetsResult struct {
	Summaries []changeSetSummary `xml:"Summaries>member"`
}

type xmlEvent struct {
	StackID              string `xml:"StackId"`
	EventID              string `xml:"EventId"`
	StackName            string `xml:"StackName"`
	LogicalResourceID    string `xml:"LogicalResourceId"`
	PhysicalResourceID   string `xml:"PhysicalResourceId,omitempty"`
	ResourceType         string `xml:"ResourceType"`
	Timestamp            string `xml:"Timestamp"`
	ResourceStatus       string `xml:"ResourceStatus"`
	ResourceStatusReason string `xml:"ResourceStatusReason,omitempty"`
}

type describeStackEventsResult struct {
	StackEvents []xmlEvent `xml:"StackEvents>member"`
	NextToken   string     `xml:"NextToken,omitempty"`
}

type getTemplateResult struct {
	TemplateBody    string   `xml:"TemplateBody"`
	StagesAvailable []string `xml:"StagesAvailable>member"`
}

type getStackPolicyResult struct {
	StackPolicyBody string `xml:"StackPolicyBody,omitempty"`
}

type stackIDResult struct {
	StackID string `xml:"StackId"`
}

type callerIdentityResult struct {
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
	Arn     string `xml:"Arn"`
}

type listImportsResult struct {
	Imports []string `xml:"Imports>member"`
}
