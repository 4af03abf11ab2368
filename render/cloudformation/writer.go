package cloudformation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// The templates are written by a small JSON writer specialised to the values they are built
// from (objects, lists, strings, integers, booleans): at 10,000 customers, encoding/json's
// reflection and its separate indentation pass took most of the render time. The output is
// exactly what encoding/json produces for the same template (sorted keys, two-space indent, no
// HTML escaping, final newline); TestWriterMatchesEncodingJSON holds it to that.

// appendTemplate appends the template's JSON to buf.
func appendTemplate(buf []byte, t *template) ([]byte, error) {
	fields := []field{
		{"AWSTemplateFormatVersion", t.AWSTemplateFormatVersion},
		{"Description", t.Description},
	}
	if len(t.Outputs) > 0 {
		fields = append(fields, field{"Outputs", t.Outputs})
	}
	fields = append(fields, field{"Resources", t.Resources})
	buf, err := appendObject(buf, fields, 0)
	if err != nil {
		return nil, err
	}
	return append(buf, '\n'), nil
}

// field is one member of an object written from a struct, in the order encoding/json writes
// the struct's fields (declaration order, which is alphabetical for every struct here).
type field struct {
	key   string
	value any
}

func appendObject(buf []byte, fields []field, depth int) ([]byte, error) {
	if len(fields) == 0 {
		return append(buf, "{}"...), nil
	}
	buf = append(buf, '{')
	for i, f := range fields {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendNewline(buf, depth+1)
		buf = appendString(buf, f.key)
		buf = append(buf, ':', ' ')
		var err error
		if buf, err = appendValue(buf, f.value, depth+1); err != nil {
			return nil, err
		}
	}
	return append(appendNewline(buf, depth), '}'), nil
}

// appendMap writes a map with sorted keys, as encoding/json does.
func appendMap[V any](buf []byte, m map[string]V, depth int) ([]byte, error) {
	if len(m) == 0 {
		return append(buf, "{}"...), nil
	}
	var scratch [16]string // most objects have fewer keys: no allocation for them
	keys := scratch[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	buf = append(buf, '{')
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendNewline(buf, depth+1)
		buf = appendString(buf, k)
		buf = append(buf, ':', ' ')
		var err error
		if buf, err = appendValue(buf, m[k], depth+1); err != nil {
			return nil, err
		}
	}
	return append(appendNewline(buf, depth), '}'), nil
}

func appendValue(buf []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case props:
		return appendMap(buf, x, depth)
	case map[string]resource:
		return appendMap(buf, x, depth)
	case map[string]output:
		return appendMap(buf, x, depth)
	case resource:
		var scratch [5]field
		fields := scratch[:0]
		if x.DeletionPolicy != "" {
			fields = append(fields, field{"DeletionPolicy", x.DeletionPolicy})
		}
		if len(x.DependsOn) > 0 {
			fields = append(fields, field{"DependsOn", x.DependsOn})
		}
		if len(x.Properties) > 0 {
			fields = append(fields, field{"Properties", x.Properties})
		}
		fields = append(fields, field{"Type", x.Type})
		if x.UpdateReplacePolicy != "" {
			fields = append(fields, field{"UpdateReplacePolicy", x.UpdateReplacePolicy})
		}
		return appendObject(buf, fields, depth)
	case output:
		var scratch [3]field
		fields := scratch[:0]
		if x.Description != "" {
			fields = append(fields, field{"Description", x.Description})
		}
		if x.Export != nil {
			fields = append(fields, field{"Export", []field{{"Name", x.Export.Name}}})
		}
		return appendObject(buf, append(fields, field{"Value", x.Value}), depth)
	case []field:
		return appendObject(buf, x, depth)
	case tag:
		return appendObject(buf, []field{{"Key", x.Key}, {"Value", x.Value}}, depth)
	case []tag:
		list := make([]any, len(x))
		for i, t := range x {
			list[i] = t
		}
		return appendList(buf, list, depth)
	case []any:
		return appendList(buf, x, depth)
	case []string:
		list := make([]any, len(x))
		for i, s := range x {
			list[i] = s
		}
		return appendList(buf, list, depth)
	case string:
		return appendString(buf, x), nil
	case bool:
		return strconv.AppendBool(buf, x), nil
	case int:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(buf, x, 10), nil
	}
	return nil, fmt.Errorf("template value of unsupported type %T", v)
}

func appendList(buf []byte, list []any, depth int) ([]byte, error) {
	if len(list) == 0 {
		return append(buf, "[]"...), nil
	}
	buf = append(buf, '[')
	for i, e := range list {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendNewline(buf, depth+1)
		var err error
		if buf, err = appendValue(buf, e, depth+1); err != nil {
			return nil, err
		}
	}
	return append(appendNewline(buf, depth), ']'), nil
}

func appendNewline(buf []byte, depth int) []byte {
	buf = append(buf, '\n')
	for range depth {
		buf = append(buf, ' ', ' ')
	}
	return buf
}

// appendString quotes s. Printable ASCII without quotes or backslashes (nearly every string of
// a template) is written as is; anything else is left to encoding/json, so escaping is its own.
func appendString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(s) // a string always encodes
			return append(buf, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}
