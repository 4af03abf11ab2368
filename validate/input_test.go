package validate

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/vsoc/vsoc/compiler"
)

// toValue must give the policies exactly what encoding/json would.
func TestToValueMatchesJSON(t *testing.T) {
	f, err := compiler.LoadDir(context.Background(), filepath.Join(repoRoot(t), "customers"), compiler.NewCache(""))
	if err != nil {
		t.Fatal(err)
	}
	subjects := []any{f.Hub}
	for _, c := range f.Customers {
		subjects = append(subjects, c)
	}
	subjects = append(subjects, &compiler.Customer{Name: "empty", VPN: compiler.VPN{PreSharedKey: &compiler.PreSharedKey{Literal: true}}})
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
