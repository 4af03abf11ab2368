package validate

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/vsoc/vsoc/compiler"
)

// inputBuilder turns the model into rego input. The hub and the facts every
// customer shares are converted once; the input is handed to OPA as an
// ast.Value so that it is not converted again on every evaluation.
type inputBuilder struct {
	hub      *ast.Term
	reserved *ast.Term
}

func newInputBuilder(h *compiler.Hub) (*inputBuilder, error) {
	hub, err := toValue(reflect.ValueOf(h))
	if err != nil {
		return nil, fmt.Errorf("converting the hub for the policies: %w", err)
	}
	reserved, err := ast.InterfaceToValue(compiler.ReservedContainerPorts())
	if err != nil {
		return nil, fmt.Errorf("converting the reserved ports: %w", err)
	}
	return &inputBuilder{hub: ast.NewTerm(hub), reserved: ast.NewTerm(reserved)}, nil
}

// subject builds the input of one evaluation; c nil is the hub's. Each
// worker has its own converter.
func (b *inputBuilder) subject(conv *converter, c *compiler.Customer) (subject, error) {
	if c == nil {
		return subject{input: ast.NewObject(
			ast.Item(ast.StringTerm("scope"), ast.StringTerm("hub")),
			ast.Item(ast.StringTerm("hub"), b.hub),
			ast.Item(ast.StringTerm("facts"), ast.ObjectTerm(
				ast.Item(ast.StringTerm("reservedPorts"), b.reserved),
			)),
		)}, nil
	}
	cv, err := conv.value(reflect.ValueOf(c))
	if err != nil {
		return subject{}, fmt.Errorf("converting customer %s for the policies: %w", c.Name, err)
	}
	// The port each static mapping's listener binds in the container, as the
	// plan will allocate it (VSOC007 checks it against the reserved ones).
	containerPorts := make([]*ast.Term, len(c.Proxy.Static))
	for i, m := range c.Proxy.Static {
		containerPorts[i] = ast.IntNumberTerm(compiler.StaticContainerPort(m.Port))
	}
	return subject{customer: c, input: ast.NewObject(
		ast.Item(ast.StringTerm("scope"), ast.StringTerm("customer")),
		ast.Item(ast.StringTerm("customer"), ast.NewTerm(cv)),
		ast.Item(ast.StringTerm("hub"), b.hub),
		ast.Item(ast.StringTerm("facts"), ast.ObjectTerm(
			ast.Item(ast.StringTerm("reservedPorts"), b.reserved),
			ast.Item(ast.StringTerm("proxyNamespace"), ast.StringTerm(compiler.ProxyNamespace)),
			ast.Item(ast.StringTerm("staticContainerPorts"), ast.ArrayTerm(containerPorts...)),
		)),
	)}, nil
}

// toValue converts a model value to a rego value the way encoding/json would
// encode it (field names and omitempty from the json tags), without the JSON
// round trip ast.InterfaceToValue makes for structs: that round trip was a
// tenth of the validation's cost. Unlike encoding/json, a nil slice or map is
// an empty array or object, so that a fleet built in Go without the loader's
// defaults is still checked rather than failing count(null).
func toValue(v reflect.Value) (ast.Value, error) {
	return newConverter().value(v)
}

// converter remembers each struct type's fields, so that their tags are
// parsed once per type rather than once per value.
type converter struct {
	structs map[reflect.Type][]structField
}

type structField struct {
	index     int
	key       *ast.Term
	omitEmpty bool
}

func newConverter() *converter { return &converter{structs: map[reflect.Type][]structField{}} }

func (c *converter) fields(t reflect.Type) []structField {
	if fs, ok := c.structs[t]; ok {
		return fs
	}
	var fs []structField
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fs = append(fs, structField{index: i, key: ast.StringTerm(name), omitEmpty: opts == "omitempty"})
	}
	c.structs[t] = fs
	return fs
}

func (c *converter) value(v reflect.Value) (ast.Value, error) {
	switch v.Kind() {
	case reflect.String:
		return ast.String(v.String()), nil
	case reflect.Bool:
		return ast.Boolean(v.Bool()), nil
	case reflect.Int, reflect.Int64, reflect.Int32:
		return ast.IntNumberTerm(int(v.Int())).Value, nil
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return ast.Null{}, nil
		}
		return c.value(v.Elem())
	case reflect.Slice:
		terms := make([]*ast.Term, v.Len())
		for i := range terms {
			e, err := c.value(v.Index(i))
			if err != nil {
				return nil, err
			}
			terms[i] = ast.NewTerm(e)
		}
		return ast.NewArray(terms...), nil
	case reflect.Map:
		items := make([][2]*ast.Term, 0, v.Len())
		it := v.MapRange()
		for it.Next() {
			e, err := c.value(it.Value())
			if err != nil {
				return nil, err
			}
			items = append(items, ast.Item(ast.StringTerm(it.Key().String()), ast.NewTerm(e)))
		}
		return ast.NewObject(items...), nil
	case reflect.Struct:
		fs := c.fields(v.Type())
		items := make([][2]*ast.Term, 0, len(fs))
		for _, f := range fs {
			fv := v.Field(f.index)
			if f.omitEmpty && fv.IsZero() {
				continue
			}
			e, err := c.value(fv)
			if err != nil {
				return nil, err
			}
			items = append(items, [2]*ast.Term{f.key, ast.NewTerm(e)})
		}
		return ast.NewObject(items...), nil
	}
	return nil, fmt.Errorf("no rego form for %s", v.Type())
}
