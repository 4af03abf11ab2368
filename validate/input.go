package validate

import (
	"fmt"

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
	hub, err := ast.InterfaceToValue(h)
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
	cv, err := ast.InterfaceToValue(c)
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
