package diff

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"reflect"
	"regexp"
	"strings"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

// Difference is one difference inside a file: a value of a decoded JSON or
// YAML document at Path, or a line of a text file.
type Difference struct {
	Path   string `json:"path"` // ".Properties.BgpAsn", "ConfigMap vsoc-proxy/config .data", "line 12"
	Change Status `json:"change"`
	Old    string `json:"old,omitempty"` // compact JSON for documents, the line for text
	New    string `json:"new,omitempty"`
}

// fileDifferences compares two versions of a rendered file. JSON and YAML
// files are compared as decoded documents, so that a re-ordered or re-indented
// document is no change and a change is named by where it is; anything else
// is compared line by line.
func fileDifferences(name string, old, new []byte) []Difference {
	switch path.Ext(name) {
	case ".json":
		o, errO := decodeJSON(old)
		n, errN := decodeJSON(new)
		if errO == nil && errN == nil {
			return valueDifferences("", o, n)
		}
	case ".yaml", ".yml":
		o, errO := decodeYAMLStream(old)
		n, errN := decodeYAMLStream(new)
		if errO == nil && errN == nil {
			return documentDifferences(o, n)
		}
	}
	return lineDifferences(old, new)
}

// decodeJSON keeps numbers as written, so that 4200000000 stays 4200000000.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// document is one YAML document of a stream, named by the Kubernetes object
// it holds when it holds one.
type document struct {
	id    string
	value any
}

var documentSeparator = regexp.MustCompile(`^---\s*(#.*)?$`)

func decodeYAMLStream(b []byte) ([]document, error) {
	var docs []document
	var current bytes.Buffer
	flush := func() error {
		defer current.Reset()
		if len(bytes.TrimSpace(current.Bytes())) == 0 {
			return nil
		}
		j, err := yaml.YAMLToJSON(current.Bytes())
		if err != nil {
			return err
		}
		v, err := decodeJSON(j)
		if err != nil {
			return err
		}
		if v == nil {
			return nil
		}
		docs = append(docs, document{id: objectID(v, len(docs)), value: v})
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, len(b)+1)
	for sc.Scan() {
		if documentSeparator.Match(sc.Bytes()) {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		current.Write(sc.Bytes())
		current.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return docs, nil
}

// objectID names a Kubernetes object "Kind namespace/name"; other documents
// are named by their place in the stream.
func objectID(v any, index int) string {
	obj, _ := v.(map[string]any)
	kind, _ := obj["kind"].(string)
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	if kind == "" || name == "" {
		return fmt.Sprintf("document %d", index+1)
	}
	if ns, _ := meta["namespace"].(string); ns != "" {
		return kind + " " + ns + "/" + name
	}
	return kind + " " + name
}

// documentDifferences pairs the documents of two streams by the object they
// hold (by position when the names are not unique), so that a new object in
// the middle of a stream is one addition, not a change to every later one.
func documentDifferences(old, new []document) []Difference {
	if len(old) == 1 && len(new) == 1 && old[0].id == new[0].id {
		return valueDifferences("", old[0].value, new[0].value)
	}
	oldByID, okO := indexDocuments(old)
	newByID, okN := indexDocuments(new)
	if !okO || !okN {
		oldByID, newByID = map[string]any{}, map[string]any{}
		for i, d := range old {
			oldByID[fmt.Sprintf("document %d", i+1)] = d.value
		}
		for i, d := range new {
			newByID[fmt.Sprintf("document %d", i+1)] = d.value
		}
	}
	var out []Difference
	for _, id := range sortedKeys(union(oldByID, newByID)) {
		o, inOld := oldByID[id]
		n, inNew := newByID[id]
		switch {
		case !inOld:
			out = append(out, Difference{Path: id, Change: Added, New: compact(n)})
		case !inNew:
			out = append(out, Difference{Path: id, Change: Removed, Old: compact(o)})
		default:
			out = append(out, valueDifferences(id+" ", o, n)...)
		}
	}
	return out
}

func indexDocuments(docs []document) (map[string]any, bool) {
	byID := make(map[string]any, len(docs))
	for _, d := range docs {
		if _, dup := byID[d.id]; dup {
			return nil, false
		}
		byID[d.id] = d.value
	}
	return byID, true
}

// valueDifferences lists where two decoded documents differ, with go-cmp
// finding the differences (including the edit script of lists) and a
// reporter naming each by its path.
func valueDifferences(prefix string, old, new any) []Difference {
	r := &pathReporter{prefix: prefix}
	cmp.Equal(old, new, cmp.Reporter(r))
	return r.diffs
}

// lineDifferences is a line diff: the lines removed from old and added in
// new, along a longest common subsequence, removals first in each run.
// go-cmp pairs any two unequal strings as one modification, which turns an
// inserted line into a cascade of changes, so text gets its own diff.
func lineDifferences(old, new []byte) []Difference {
	a, b := splitLines(old), splitLines(new)
	prefix := 0
	for prefix < len(a) && prefix < len(b) && a[prefix] == b[prefix] {
		prefix++
	}
	suffix := 0
	for suffix < len(a)-prefix && suffix < len(b)-prefix && a[len(a)-1-suffix] == b[len(b)-1-suffix] {
		suffix++
	}
	a, b = a[prefix:len(a)-suffix], b[prefix:len(b)-suffix]
	lcs := commonSubsequence(a, b)
	var out []Difference
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j] && lcs(i, j) == lcs(i+1, j+1)+1:
			i, j = i+1, j+1
		case j == len(b) || (i < len(a) && lcs(i+1, j) >= lcs(i, j+1)):
			out = append(out, Difference{Path: fmt.Sprintf("line %d", prefix+i+1), Change: Removed, Old: a[i]})
			i++
		default:
			out = append(out, Difference{Path: fmt.Sprintf("line %d", prefix+j+1), Change: Added, New: b[j]})
			j++
		}
	}
	return out
}

// maxLineTable bounds the longest-common-subsequence table; beyond it, the
// differing middle of two files is shown as removed and added whole.
const maxLineTable = 1 << 22

// commonSubsequence returns lcs(i, j), the length of the longest common
// subsequence of a[i:] and b[j:].
func commonSubsequence(a, b []string) func(i, j int) int {
	if (len(a)+1)*(len(b)+1) > maxLineTable {
		return func(i, j int) int { return 0 }
	}
	width := len(b) + 1
	table := make([]int32, (len(a)+1)*width)
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				table[i*width+j] = table[(i+1)*width+j+1] + 1
			} else {
				table[i*width+j] = max(table[(i+1)*width+j], table[i*width+j+1])
			}
		}
	}
	return func(i, j int) int { return int(table[i*width+j]) }
}

func splitLines(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return []string{}
	}
	return strings.Split(s, "\n")
}

// pathReporter is a cmp.Reporter that records each unequal leaf with its
// path. go-cmp's own Diff output is unstable by design (it randomises
// whitespace), so the preview, which is golden-tested, names paths itself.
type pathReporter struct {
	prefix string
	lines  bool
	steps  cmp.Path
	diffs  []Difference
}

func (r *pathReporter) PushStep(s cmp.PathStep) { r.steps = append(r.steps, s) }
func (r *pathReporter) PopStep()                { r.steps = r.steps[:len(r.steps)-1] }

func (r *pathReporter) Report(res cmp.Result) {
	if res.Equal() {
		return
	}
	vx, vy := r.steps.Last().Values()
	d := Difference{Path: r.path()}
	switch {
	case !vx.IsValid():
		d.Change, d.New = Added, r.value(vy)
	case !vy.IsValid():
		d.Change, d.Old = Removed, r.value(vx)
	default:
		if o, n, ok := multilineStrings(vx, vy); ok && !r.lines {
			// A file embedded in a document (a ConfigMap's config.yaml):
			// its changed lines say more than two long strings.
			for _, ld := range lineDifferences([]byte(o), []byte(n)) {
				ld.Path = d.Path + " " + ld.Path
				r.diffs = append(r.diffs, ld)
			}
			return
		}
		d.Change, d.Old, d.New = Changed, r.value(vx), r.value(vy)
	}
	r.diffs = append(r.diffs, d)
}

// multilineStrings returns two string values when either has several lines.
func multilineStrings(vx, vy reflect.Value) (string, string, bool) {
	for vx.Kind() == reflect.Interface && !vx.IsNil() {
		vx = vx.Elem()
	}
	for vy.Kind() == reflect.Interface && !vy.IsNil() {
		vy = vy.Elem()
	}
	if vx.Kind() != reflect.String || vy.Kind() != reflect.String {
		return "", "", false
	}
	o, n := vx.String(), vy.String()
	return o, n, strings.Contains(o, "\n") || strings.Contains(n, "\n")
}

func (r *pathReporter) value(v reflect.Value) string {
	if r.lines {
		return v.String()
	}
	return compact(v.Interface())
}

// path names the current value: ".a.b[2]" for documents (with ["key"] for
// keys that are not plain names), "line N" for text.
func (r *pathReporter) path() string {
	var b strings.Builder
	b.WriteString(r.prefix)
	for _, s := range r.steps {
		switch s := s.(type) {
		case cmp.MapIndex:
			key := s.Key().String()
			if plainKey.MatchString(key) {
				b.WriteString("." + key)
			} else {
				b.WriteString("[" + compact(key) + "]")
			}
		case cmp.SliceIndex:
			ix, iy := s.SplitKeys()
			i := iy
			if i < 0 {
				i = ix
			}
			if r.lines {
				fmt.Fprintf(&b, "line %d", i+1)
			} else {
				fmt.Fprintf(&b, "[%d]", i)
			}
		}
	}
	if b.Len() == 0 {
		return "."
	}
	return b.String()
}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// compact renders a decoded value as one line of JSON.
func compact(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}
