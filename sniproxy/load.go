package sniproxy

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
)

// ConfigError is a problem in a config file, located at line:col where the file allows it.
type ConfigError struct {
	File string
	Line int // 0 when unknown
	Col  int
	Path string // field path, e.g. "listeners[1].address"; empty for syntax errors
	Msg  string
	Hint string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Hint != "" {
		b.WriteString(" (hint: ")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// LoadConfig reads, type-checks and validates a YAML (or JSON) config file. Every error names the
// file, the line:col and the field, with a hint.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading proxy config: %w", err)
	}
	return ParseConfig(path, data)
}

var yamlLineRe = regexp.MustCompile(`line (\d+): `)

// syntaxError is the ConfigError of a YAML syntax error, at the line yaml/v3 names.
func syntaxError(name string, err error) *ConfigError {
	ce := &ConfigError{File: name, Msg: strings.TrimPrefix(err.Error(), "yaml: "), Hint: "fix the YAML syntax"}
	if m := yamlLineRe.FindStringSubmatch(ce.Msg); m != nil {
		ce.Line, _ = strconv.Atoi(m[1])
		ce.Col = 1
		ce.Msg = strings.Replace(ce.Msg, m[0], "", 1)
	}
	return ce
}

// ParseConfig is LoadConfig on bytes already read; name is used in error messages.
func ParseConfig(name string, data []byte) (*Config, error) {
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	var doc yamlv3.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, syntaxError(name, err)
	}
	if len(doc.Content) == 0 {
		return nil, &ConfigError{File: name, Msg: "empty config", Hint: "declare at least listeners"}
	}
	// Only the first document is the config: what a "---" starts after it would be ignored, and
	// a file written as several documents (a fragment appended to be merged) is refused instead.
	// Markers around the one document ("---" before it, "---" or "..." after it) are allowed.
	for {
		var extra yamlv3.Node
		err := dec.Decode(&extra)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, syntaxError(name, err)
		}
		if len(extra.Content) == 1 && extra.Content[0].Kind == yamlv3.ScalarNode && extra.Content[0].Tag == "!!null" {
			continue // an empty document: nothing is ignored
		}
		return nil, &ConfigError{File: name, Line: extra.Line, Col: extra.Column, Msg: "a second YAML document",
			Hint: "a config is one document: merge its fields into the first one, or remove the \"---\" and what follows"}
	}
	root := doc.Content[0]
	if err := checkNode(name, root, reflect.TypeFor[Config](), ""); err != nil {
		return nil, err
	}
	cfg, err := decodeChecked(root)
	if err != nil {
		return nil, &ConfigError{File: name, Line: root.Line, Col: root.Column, Msg: err.Error()}
	}
	if err := cfg.Validate(); err != nil {
		var fe *FieldError
		if !errors.As(err, &fe) {
			return nil, &ConfigError{File: name, Msg: err.Error()}
		}
		n := lookupPath(root, fe.Path)
		return nil, &ConfigError{File: name, Line: n.Line, Col: n.Column, Path: fe.Path, Msg: fe.Msg, Hint: fe.Hint}
	}
	return cfg, nil
}

// decodeChecked decodes the tree checkNode accepted into a Config, reading the scalars as that
// check did (YAML 1.2: on, off, yes, no, y and n are strings), then through encoding/json, as
// sigs.k8s.io/yaml does, for the fields' JSON names and text unmarshalers. Decoding the file
// again with sigs.k8s.io/yaml would read it as YAML 1.1, where those words are booleans, which
// it then writes into a string field as "true" or "false".
func decodeChecked(root *yamlv3.Node) (*Config, error) {
	var tree any
	if err := root.Decode(&tree); err != nil {
		return nil, fmt.Errorf("decoding the config: %w", err)
	}
	js, err := json.Marshal(tree)
	if err != nil {
		return nil, fmt.Errorf("decoding the config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("decoding the config: %w", err)
	}
	return &cfg, nil
}

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

// integerHint is the hint of a value that should be an integer: a quoted number is a string.
const integerHint = "a whole number, without quotes"

// checkNode type-checks a YAML node against the Go type it will be decoded into, so that type
// errors, unknown fields and unparsable addresses are reported at their line:col (the JSON decoder
// behind decodeChecked knows no positions), each with a hint.
func checkNode(file string, n *yamlv3.Node, t reflect.Type, path string) error {
	at := func(n *yamlv3.Node, hint, format string, args ...any) error {
		p := strings.TrimPrefix(path, ".")
		return &ConfigError{File: file, Line: n.Line, Col: n.Column, Path: p, Msg: fmt.Sprintf(format, args...), Hint: hint}
	}
	if n.Kind == yamlv3.AliasNode {
		n = n.Alias
	}
	if n.Kind == yamlv3.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		if n.Kind != yamlv3.ScalarNode {
			return at(n, "write it as a string", "expected a string, found a %s", kindName(n))
		}
		v := reflect.New(t).Interface().(encoding.TextUnmarshaler)
		if err := v.UnmarshalText([]byte(n.Value)); err != nil {
			return at(n, textHint(t), "%v", err)
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		fields := jsonFields(t)
		if n.Kind != yamlv3.MappingNode {
			return at(n, "write its fields as key: value, among "+strings.Join(sortedKeys(fields), ", "), "expected a mapping, found a %s", kindName(n))
		}
		seen := make(map[string]bool, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" {
				return at(k, "write the fields out", "YAML merge keys are not supported")
			}
			f, ok := fields[k.Value]
			if !ok {
				return at(k, "known fields: "+strings.Join(sortedKeys(fields), ", "), "unknown field %q", k.Value)
			}
			if seen[k.Value] {
				return at(k, "remove one of them", "field %q given twice", k.Value)
			}
			seen[k.Value] = true
			if err := checkNode(file, v, f.Type, path+"."+k.Value); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		if n.Kind != yamlv3.SequenceNode {
			return at(n, "write a YAML list", "expected a list, found a %s", kindName(n))
		}
		for i, e := range n.Content {
			if err := checkNode(file, e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.String:
		if n.Kind != yamlv3.ScalarNode || n.Tag != "!!str" {
			return at(n, "quote it", "expected a string, found %s", describe(n))
		}
		return nil
	case reflect.Int, reflect.Int64, reflect.Int32:
		if n.Kind != yamlv3.ScalarNode || n.Tag != "!!int" {
			return at(n, integerHint, "expected an integer, found %s", describe(n))
		}
		if _, err := strconv.ParseInt(n.Value, 0, t.Bits()); err != nil {
			lo, hi := int64(-1)<<(t.Bits()-1), int64(1)<<(t.Bits()-1)-1
			return at(n, fmt.Sprintf("%d..%d", lo, hi), "integer %s out of range", n.Value)
		}
		return nil
	case reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
		if n.Kind != yamlv3.ScalarNode || n.Tag != "!!int" {
			return at(n, integerHint, "expected an integer, found %s", describe(n))
		}
		if _, err := strconv.ParseUint(n.Value, 0, t.Bits()); err != nil {
			return at(n, fmt.Sprintf("0..%d", uint64(1)<<t.Bits()-1), "integer %s out of range", n.Value)
		}
		return nil
	case reflect.Bool:
		if n.Kind != yamlv3.ScalarNode || n.Tag != "!!bool" {
			return at(n, "true or false", "expected a boolean, found %s", describe(n))
		}
		return nil
	}
	return at(n, "", "unsupported field type %s", t)
}

func textHint(t reflect.Type) string {
	switch t.String() {
	case "netip.Prefix":
		return "a CIDR such as \"10.20.0.0/16\""
	case "netip.AddrPort":
		return "an \"ip:port\" such as \"10.1.2.3:443\" (IPv6: \"[fd00::1]:443\")"
	case "sniproxy.Duration":
		return "a duration such as \"5s\" or \"1m30s\""
	}
	return ""
}

func kindName(n *yamlv3.Node) string {
	switch n.Kind {
	case yamlv3.MappingNode:
		return "mapping"
	case yamlv3.SequenceNode:
		return "list"
	default:
		return "scalar"
	}
}

func describe(n *yamlv3.Node) string {
	if n.Kind != yamlv3.ScalarNode {
		return "a " + kindName(n)
	}
	return fmt.Sprintf("%s %q", strings.TrimPrefix(n.Tag, "!!"), n.Value)
}

func jsonFields(t reflect.Type) map[string]reflect.StructField {
	fields := make(map[string]reflect.StructField, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = f
	}
	return fields
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var pathElemRe = regexp.MustCompile(`([A-Za-z]+)|\[(\d+)\]`)

// lookupPath returns the node a field path ("listeners[1].address") designates, or the deepest
// existing ancestor when the field is absent.
func lookupPath(root *yamlv3.Node, path string) *yamlv3.Node {
	n := root
	for _, m := range pathElemRe.FindAllStringSubmatch(path, -1) {
		next := (*yamlv3.Node)(nil)
		switch {
		case m[1] != "" && n.Kind == yamlv3.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == m[1] {
					next = n.Content[i+1]
				}
			}
		case m[2] != "" && n.Kind == yamlv3.SequenceNode:
			if i, _ := strconv.Atoi(m[2]); i < len(n.Content) {
				next = n.Content[i]
			}
		}
		if next == nil {
			return n
		}
		n = next
	}
	return n
}
