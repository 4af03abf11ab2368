package compiler

import (
	"encoding/json"
	"reflect"
	"strings"
	"unicode/utf8"

	"cuelang.org/go/cue"
)

// decodeModel fills into, a pointer to a model struct, from a concrete
// value, and reports whether it could. It gives what decodeJSON gives, at
// about half the cost: exporting a struct to JSON (and Value.Decode, which
// iterates fields the same way) sorts its fields topologically, which was a
// fifth of the time of a file, while a model struct knows its fields and
// looks each one up. Anything it does not expect (a null, a float, a
// string that is not UTF-8, an error) makes it give up, and the caller
// decodes through JSON, whose result and error messages are the reference.
//
// It relies on the schema's definitions being closed: encoding/json would
// also match a field differing only in case, which a closed value cannot
// hold.
func (ix fieldIndex) decodeModel(v cue.Value, into any) bool {
	rv := reflect.ValueOf(into)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return false
	}
	// A fresh value, so that giving up halfway leaves into as it was for
	// the JSON decoding.
	fresh := reflect.New(rv.Elem().Type())
	if !ix.decodeValue(v, fresh.Elem()) {
		return false
	}
	rv.Elem().Set(fresh.Elem())
	return true
}

var jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()

func (ix fieldIndex) decodeValue(v cue.Value, x reflect.Value) bool {
	v, _ = v.Default()
	if reflect.PointerTo(x.Type()).Implements(jsonUnmarshalerType) {
		// The model's own decoding (PreSharedKey) reads JSON.
		b, err := v.MarshalJSON()
		return err == nil && json.Unmarshal(b, x.Addr().Interface()) == nil
	}
	switch x.Kind() {
	case reflect.String:
		s, err := v.String()
		if err != nil || !utf8.ValidString(s) {
			return false
		}
		x.SetString(s)
	case reflect.Bool:
		b, err := v.Bool()
		if err != nil {
			return false
		}
		x.SetBool(b)
	case reflect.Int, reflect.Int64:
		if v.Kind() != cue.IntKind {
			return false
		}
		i, err := v.Int64()
		if err != nil || x.OverflowInt(i) {
			return false
		}
		x.SetInt(i)
	case reflect.Pointer:
		if v.Kind() == cue.NullKind {
			return false
		}
		p := reflect.New(x.Type().Elem())
		if !ix.decodeValue(v, p.Elem()) {
			return false
		}
		x.Set(p)
	case reflect.Slice:
		if v.Kind() != cue.ListKind {
			return false
		}
		it, err := v.List()
		if err != nil {
			return false
		}
		// Never nil: JSON's [] is an empty slice too.
		s := reflect.MakeSlice(x.Type(), 0, 0)
		for it.Next() {
			s = reflect.Append(s, reflect.Zero(x.Type().Elem()))
			if !ix.decodeValue(it.Value(), s.Index(s.Len()-1)) {
				return false
			}
		}
		x.Set(s)
	case reflect.Map:
		if v.Kind() != cue.StructKind || x.Type().Key().Kind() != reflect.String {
			return false
		}
		// A map's keys are not known in advance: its (small) struct is
		// iterated, in whatever order.
		m := reflect.MakeMap(x.Type())
		it, err := v.Fields()
		if err != nil {
			return false
		}
		for it.Next() {
			key := it.Selector().Unquoted()
			elem := reflect.New(x.Type().Elem()).Elem()
			if !utf8.ValidString(key) || !ix.decodeValue(it.Value(), elem) {
				return false
			}
			m.SetMapIndex(reflect.ValueOf(key).Convert(x.Type().Key()), elem)
		}
		x.Set(m)
	case reflect.Struct:
		fields, ok := ix.modelFields(x.Type())
		if !ok || v.Kind() != cue.StructKind {
			return false
		}
		for _, f := range fields {
			fv := v.LookupPath(f.path)
			if !fv.Exists() {
				continue // not in the JSON either: optional and not set
			}
			if !ix.decodeValue(fv, x.Field(f.index)) {
				return false
			}
		}
	default:
		return false
	}
	return true
}

// modelField is a struct field and the path of its value, by its JSON name.
type modelField struct {
	index int
	path  cue.Path
}

// fieldIndex holds each struct type's fields, for one goroutine; a type with
// an embedded field (which JSON would flatten) is stored as nil, and not
// decoded here.
type fieldIndex map[reflect.Type][]modelField

func (ix fieldIndex) modelFields(t reflect.Type) ([]modelField, bool) {
	if fs, ok := ix[t]; ok {
		return fs, fs != nil
	}
	fs := []modelField{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			fs = nil
			break
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fs = append(fs, modelField{index: i, path: cue.MakePath(cue.Str(name))})
	}
	ix[t] = fs
	return fs, fs != nil
}
