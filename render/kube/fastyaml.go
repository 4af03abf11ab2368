package kube

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	yamlv2 "go.yaml.in/yaml/v2"
	"sigs.k8s.io/yaml"
)

// sigs.k8s.io/yaml encodes through JSON, re-parses that JSON with a YAML
// parser and emits it again: at 10,000 customers that alone took most of the
// build. fastYAML produces the same bytes for the shapes the renderer emits
// (mappings, sequences, strings, integers, booleans) and declines the rest,
// which then goes the slow, exact way. Scalars it cannot prove plain are
// formatted by the YAML library itself, so quoting follows it exactly;
// TestFastYAMLMatchesLibrary compares both on every rendered object and on
// awkward strings.

// errNotFast says the value needs the library's own encoder.
var errNotFast = errors.New("shape not covered by the fast YAML encoder")

// toYAML is sigs.k8s.io/yaml.Marshal, fast where possible.
func toYAML(obj any) ([]byte, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	out, err := fastJSONToYAML(raw)
	if errors.Is(err, errNotFast) {
		return yaml.JSONToYAML(raw)
	}
	return out, err
}

// fastJSONToYAML is yaml.JSONToYAML for the shapes it covers; errNotFast
// otherwise.
func fastJSONToYAML(raw []byte) ([]byte, error) {
	tree, rest, err := parseJSON(raw)
	if err != nil || len(rest) != 0 {
		return nil, errNotFast
	}
	e := &fastEncoder{scalars: map[string]string{}}
	collectStrings(tree, e.scalars)
	if err := e.formatScalars(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(raw) + len(raw)/2)
	if err := e.value(&b, tree, 0); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// maxSimpleKey is below the length (128) beyond which the library writes a
// key in the explicit "? key" form.
const maxSimpleKey = 100

// fastEncoder holds the formatted form of every one-line string of one
// value that is not a plain word, formatted by the library in one batch.
type fastEncoder struct {
	scalars map[string]string
}

// collectStrings gathers the strings (keys and values) the library has to
// format: not plain words, not multi-line (block scalars are separate).
func collectStrings(v any, into map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if !isPlainWord(k) {
				into[k] = ""
			}
			collectStrings(child, into)
		}
	case []any:
		for _, child := range v {
			collectStrings(child, into)
		}
	case string:
		if !isPlainWord(v) && !strings.Contains(v, "\n") {
			into[v] = ""
		}
	}
}

// formatScalars formats the collected strings as items of one sequence: a
// one-line string is written the same way as a sequence item and as a
// mapping value (both block context, and without a space it cannot fold).
func (e *fastEncoder) formatScalars() error {
	if len(e.scalars) == 0 {
		return nil
	}
	list := make([]string, 0, len(e.scalars))
	for s := range e.scalars {
		// Without a space there is no point to fold at, whatever the length.
		if strings.ContainsAny(s, " \t") {
			return errNotFast
		}
		list = append(list, s)
	}
	slices.Sort(list)
	// The YAML library itself, without sigs.k8s.io/yaml's JSON round trip:
	// a list of strings is the same value either way.
	out, err := yamlv2.Marshal(list)
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(list) {
		return errNotFast
	}
	for i, line := range lines {
		formatted, ok := strings.CutPrefix(line, "- ")
		if !ok {
			return errNotFast
		}
		e.scalars[list[i]] = formatted
	}
	return nil
}

// value writes a top-level value: a mapping (every object) or a sequence
// (a JSON patch).
func (e *fastEncoder) value(b *bytes.Buffer, v any, indent int) error {
	switch v := v.(type) {
	case map[string]any:
		if len(v) > 0 {
			return e.mapping(b, v, indent, false)
		}
	case []any:
		if len(v) > 0 {
			return e.sequence(b, v, indent)
		}
	}
	return errNotFast
}

// fastMapping writes a non-empty mapping at indent; inline means the first
// key follows a "- " already written.
func (e *fastEncoder) mapping(b *bytes.Buffer, m map[string]any, indent int, inline bool) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	for i, k := range keys {
		if len(k) > maxSimpleKey {
			return errNotFast
		}
		if i > 0 || !inline {
			writeIndent(b, indent)
		}
		key, err := e.scalar(k)
		if err != nil {
			return err
		}
		b.WriteString(key)
		b.WriteByte(':')
		switch v := m[k].(type) {
		case map[string]any:
			if len(v) == 0 {
				b.WriteString(" {}\n")
				continue
			}
			b.WriteByte('\n')
			if err := e.mapping(b, v, indent+2, false); err != nil {
				return err
			}
		case []any:
			if len(v) == 0 {
				b.WriteString(" []\n")
				continue
			}
			b.WriteByte('\n')
			// Sequences in a mapping are not indented (the library's style).
			if err := e.sequence(b, v, indent); err != nil {
				return err
			}
		case string:
			if strings.Contains(v, "\n") {
				if err := literalBlock(b, v, indent); err != nil {
					return err
				}
				continue
			}
			s, err := e.scalar(v)
			if err != nil {
				return err
			}
			b.WriteByte(' ')
			b.WriteString(s)
			b.WriteByte('\n')
		default:
			s, err := otherScalar(v)
			if err != nil {
				return err
			}
			b.WriteByte(' ')
			b.WriteString(s)
			b.WriteByte('\n')
		}
	}
	return nil
}

func (e *fastEncoder) sequence(b *bytes.Buffer, items []any, indent int) error {
	for _, item := range items {
		writeIndent(b, indent)
		b.WriteString("- ")
		switch v := item.(type) {
		case map[string]any:
			if len(v) == 0 {
				b.WriteString("{}\n")
				continue
			}
			if err := e.mapping(b, v, indent+2, true); err != nil {
				return err
			}
		case []any:
			return errNotFast
		case string:
			if strings.Contains(v, "\n") {
				return errNotFast
			}
			s, err := e.scalar(v)
			if err != nil {
				return err
			}
			b.WriteString(s)
			b.WriteByte('\n')
		default:
			s, err := otherScalar(v)
			if err != nil {
				return err
			}
			b.WriteString(s)
			b.WriteByte('\n')
		}
	}
	return nil
}

func writeIndent(b *bytes.Buffer, n int) {
	for range n {
		b.WriteByte(' ')
	}
}

// yamlWords are the plain words YAML 1.1 (the library's resolver) reads as
// booleans or null: a string equal to one must be quoted.
var yamlWords = []string{
	"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
	"true", "True", "TRUE", "false", "False", "FALSE",
	"on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL",
}

// isPlainWord: starts with an ASCII letter, holds only letters, digits and
// ". _ / -", and is no YAML keyword. Such a string is written as it is, on
// one line, whatever the column (it has no space to fold at).
func isPlainWord(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '/' || c == '-') {
			return false
		}
	}
	return !slices.Contains(yamlWords, s)
}

// scalar is a one-line string as the library writes it.
func (e *fastEncoder) scalar(s string) (string, error) {
	if isPlainWord(s) {
		return s, nil
	}
	formatted, ok := e.scalars[s]
	if !ok {
		return "", errNotFast
	}
	return formatted, nil
}

// literalBlock writes a multi-line string as the library's "|" block,
// re-indented under its key.
func literalBlock(b *bytes.Buffer, s string, indent int) error {
	if strings.Contains(s, "\n\n") || strings.ContainsFunc(s, func(r rune) bool { return r != '\n' && unicode.IsControl(r) }) {
		return errNotFast
	}
	out, err := yamlv2.Marshal(s)
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	header := lines[0]
	if header != "|" && header != "|-" {
		return errNotFast
	}
	b.WriteByte(' ')
	b.WriteString(header)
	b.WriteByte('\n')
	for _, line := range lines[1:] {
		body, ok := strings.CutPrefix(line, "  ")
		if !ok {
			return errNotFast
		}
		writeIndent(b, indent+2)
		b.WriteString(body)
		b.WriteByte('\n')
	}
	return nil
}

func otherScalar(v any) (string, error) {
	switch v := v.(type) {
	case json.Number:
		// Integers only; floats would need the library's float formatting.
		if strings.ContainsAny(string(v), ".eE") {
			return "", errNotFast
		}
		return string(v), nil
	case bool:
		if v {
			return "true", nil
		}
		return "false", nil
	case nil:
		return "null", nil
	}
	return "", fmt.Errorf("unexpected JSON value %T", v)
}

// compareKeys orders mapping keys as the YAML library's sorter does for
// string keys: letters before other characters, and runs of digits by
// their numeric value.
func compareKeys(x, y string) int {
	if x == y {
		return 0
	}
	if keyLess(x, y) {
		return -1
	}
	return 1
}

func keyLess(x, y string) bool {
	// Stack buffers: keys are short, and this runs for every key of every
	// object.
	var abuf, bbuf [64]rune
	ar, br := appendRunes(abuf[:0], x), appendRunes(bbuf[:0], y)
	for i := 0; i < len(ar) && i < len(br); i++ {
		if ar[i] == br[i] {
			continue
		}
		al, bl := unicode.IsLetter(ar[i]), unicode.IsLetter(br[i])
		if al && bl {
			return ar[i] < br[i]
		}
		if al || bl {
			return bl
		}
		var ai, bi int
		var an, bn int64
		if ar[i] == '0' || br[i] == '0' {
			for j := i - 1; j >= 0 && unicode.IsDigit(ar[j]); j-- {
				if ar[j] != '0' {
					an, bn = 1, 1
					break
				}
			}
		}
		for ai = i; ai < len(ar) && unicode.IsDigit(ar[ai]); ai++ {
			an = an*10 + int64(ar[ai]-'0')
		}
		for bi = i; bi < len(br) && unicode.IsDigit(br[bi]); bi++ {
			bn = bn*10 + int64(br[bi]-'0')
		}
		if an != bn {
			return an < bn
		}
		if ai != bi {
			return ai < bi
		}
		return ar[i] < br[i]
	}
	return len(ar) < len(br)
}

func appendRunes(dst []rune, s string) []rune {
	for _, r := range s {
		dst = append(dst, r)
	}
	return dst
}

// parseJSON reads one value of encoding/json's compact output into maps,
// slices, strings, json.Numbers, booleans and nil (what json.Decoder with
// UseNumber gives, without its reflection). It returns the unread rest;
// anything unexpected is errNotFast, and the library decodes it instead.
func parseJSON(in []byte) (any, []byte, error) {
	if len(in) == 0 {
		return nil, nil, errNotFast
	}
	switch c := in[0]; {
	case c == '{':
		m := map[string]any{}
		in = in[1:]
		if len(in) > 0 && in[0] == '}' {
			return m, in[1:], nil
		}
		for {
			key, rest, err := parseJSON(in)
			if err != nil {
				return nil, nil, err
			}
			k, ok := key.(string)
			if !ok || len(rest) == 0 || rest[0] != ':' {
				return nil, nil, errNotFast
			}
			value, rest, err := parseJSON(rest[1:])
			if err != nil {
				return nil, nil, err
			}
			m[k] = value
			if len(rest) == 0 {
				return nil, nil, errNotFast
			}
			switch rest[0] {
			case ',':
				in = rest[1:]
			case '}':
				return m, rest[1:], nil
			default:
				return nil, nil, errNotFast
			}
		}
	case c == '[':
		list := []any{}
		in = in[1:]
		if len(in) > 0 && in[0] == ']' {
			return list, in[1:], nil
		}
		for {
			value, rest, err := parseJSON(in)
			if err != nil {
				return nil, nil, err
			}
			list = append(list, value)
			if len(rest) == 0 {
				return nil, nil, errNotFast
			}
			switch rest[0] {
			case ',':
				in = rest[1:]
			case ']':
				return list, rest[1:], nil
			default:
				return nil, nil, errNotFast
			}
		}
	case c == '"':
		end := 1
		escaped := false
		for ; end < len(in) && in[end] != '"'; end++ {
			if in[end] == '\\' {
				escaped = true
				end++
			}
		}
		if end >= len(in) {
			return nil, nil, errNotFast
		}
		if !escaped {
			return string(in[1:end]), in[end+1:], nil
		}
		var str string
		if err := json.Unmarshal(in[:end+1], &str); err != nil {
			return nil, nil, errNotFast
		}
		return str, in[end+1:], nil
	case c == '-' || c >= '0' && c <= '9':
		end := 1
		for end < len(in) && strings.IndexByte("0123456789.eE+-", in[end]) >= 0 {
			end++
		}
		return json.Number(in[:end]), in[end:], nil
	case bytes.HasPrefix(in, []byte("true")):
		return true, in[4:], nil
	case bytes.HasPrefix(in, []byte("false")):
		return false, in[5:], nil
	case bytes.HasPrefix(in, []byte("null")):
		return nil, in[4:], nil
	}
	return nil, nil, errNotFast
}
