package validate

import (
	"fmt"
	"reflect"
	"strconv"
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

// subject builds the input of one evaluation; c nil is the hub's.
func (b *inputBuilder) subject(c *compiler.Customer) (subject, error) {
	if c == nil {
		return subject{input: ast.NewObject(
			ast.Item(ast.StringTerm("scope"), ast.StringTerm("hub")),
			ast.Item(ast.StringTerm("hub"), b.hub),
			ast.Item(ast.StringTerm("facts"), ast.ObjectTerm(
				ast.Item(ast.StringTerm("reservedPorts"), b.reserved),
			)),
		)}, nil
	}
	cv, err := toValue(reflect.ValueOf(c))
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
// tenth of the validation's cost.
func toValue(v reflect.Value) (ast.Value, error) {
	switch v.Kind() {
	case reflect.String:
		return ast.String(v.String()), nil
	case reflect.Bool:
		return ast.Boolean(v.Bool()), nil
	case reflect.Int, reflect.Int64, reflect.Int32:
		return ast.Number(strconv.FormatInt(v.Int(), 10)), nil
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return ast.Null{}, nil
		}
		return toValue(v.Elem())
	case reflect.Slice:
		if v.IsNil() {
			return ast.Null{}, nil
		}
		terms := make([]*ast.Term, v.Len())
		for i := range terms {
			e, err := toValue(v.Index(i))
			if err != nil {
				return nil, err
			}
			terms[i] = ast.NewTerm(e)
		}
		return ast.NewArray(terms...), nil
	case reflect.Map:
		if v.IsNil() {
			return ast.Null{}, nil
		}
		items := make([][2]*ast.Term, 0, v.Len())
		it := v.MapRange()
		for it.Next() {
			e, err := toValue(it.Value())
			if err != nil {
				return nil, err
			}
			items = append(items, ast.Item(ast.StringTerm(it.Key().String()), ast.NewTerm(e)))
		}
		return ast.NewObject(items...), nil
	case reflect.Struct:
		t := v.Type()
		items := make([][2]*ast.Term, 0, t.NumField())
		for i := range t.NumField() {
			name, opts, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if name == "-" || !t.Field(i).IsExported() {
				continue
			}
			if name == "" {
				name = t.Field(i).Name
			}
			fv := v.Field(i)
			if opts == "omitempty" && fv.IsZero() {
				continue
			}
			e, err := toValue(fv)
			if err != nil {
				return nil, err
			}
			items = append(items, ast.Item(ast.StringTerm(name), ast.NewTerm(e)))
		}
		return ast.NewObject(items...), nil
	}
	return nil, fmt.Errorf("no rego form for %s", v.Type())
}
