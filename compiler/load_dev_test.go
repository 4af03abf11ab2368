package compiler

import (
	"context"
	"encoding/json"
	"os"
	"testing"
)

func TestDevLoad(t *testing.T) {
	f, err := LoadDir(context.Background(), "../customers", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(f, "", " ")
	os.WriteFile("/tmp/fleet.json", b, 0o644)
	t.Log(len(f.Customers), len(f.Positions.byPointer))
	t.Log(f.Positions.Lookup("/customers/wobcom/vpn/gateways/0/address"))
	t.Log(f.Positions.Lookup("/customers/wobcom/vpn/tunnel/phase1"))
}

func TestDevPlan(t *testing.T) {
	f, err := LoadDir(context.Background(), "../customers", nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Customers {
		t.Log(c.StackName, c.CIDRs, c.Subnets, c.ProxyIPs, c.ResolverIPs, c.PublicSubnets, c.Listeners)
	}
	t.Log(p.Hub)
}
