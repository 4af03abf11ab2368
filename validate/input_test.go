package validate

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/golden"
)

// toValue must give the policies exactly what encoding/json would.
func TestToValueMatchesJSON(t *testing.T) {
	f, err := compiler.LoadDir(context.Background(), filepath.Join(golden.RepoRoot(t), "customers"), compiler.NewCache(""))
	if err != nil {
		t.Fatal(err)
	}
	subjects := []any{f.Hub}
	for _, c := range f.Customers {
		subjects = append(subjects, c)
	}
	for _, s := range subjects {
		want, err := ast.InterfaceToValue(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := toValue(reflect.ValueOf(s))
		if err != nil {
			t.Fatal(err)
		}
		if got.Compare(want) != 0 {
			t.Errorf("toValue:\n%v\nencoding/json:\n%v", got, want)
		}
	}
}

// A customer built in Go without defaults has empty lists, not nulls.
func TestToValueNilIsEmpty(t *testing.T) {
	got, err := toValue(reflect.ValueOf(&compiler.Customer{Name: "bare"}))
	if err != nil {
		t.Fatal(err)
	}
	cidrs, err := got.Find(ast.MustParseRef("x.vpc.cidrs")[1:])
	if err != nil || cidrs.Compare(ast.NewArray()) != 0 {
		t.Errorf("vpc.cidrs = %v (%v), want []", cidrs, err)
	}
	services, err := got.Find(ast.MustParseRef("x.services")[1:])
	if err != nil || services.Compare(ast.NewObject()) != 0 {
		t.Errorf("services = %v (%v), want {}", services, err)
	}
	if _, err := got.Find(ast.MustParseRef("x.vpn.preSharedKey")[1:]); err == nil {
		t.Error("an omitted preSharedKey is present")
	}
}
