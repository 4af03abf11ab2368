package spec

import (
	"fmt"
	"testing"

	_ "github.com/vsoc/vsoc/internal/golden" // defines -update, so that `go test ./... -update` runs this package too
)

func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		if _, err := Load(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheck checks a set of 1,000 customer stacks plus a hub importing from each.
func BenchmarkCheck(b *testing.B) {
	s := loadSpec(b)
	templates := map[string][]byte{}
	hub := obj{"Resources": obj{"HubVpc": obj{"Type": "AWS::EC2::VPC", "Properties": obj{"CidrBlock": "100.64.0.0/22"}}}}
	for i := range 1000 {
		stack := fmt.Sprintf("customer-c%04d", i)
		templates[stack] = encode(b, customerTemplate())
		if i < MaxResources-1 { // the hub keeps within CloudFormation's resource limit
			resources(hub)[fmt.Sprintf("Peering%04d", i)] = obj{"Type": "AWS::EC2::VPCPeeringConnection", "Properties": obj{
				"VpcId": obj{"Ref": "HubVpc"}, "PeerVpcId": obj{"Fn::ImportValue": stack + "-VpcId"},
			}}
		}
	}
	templates["hub"] = encode(b, hub)
	if p := s.Check(templates); len(p) != 0 {
		b.Fatalf("benchmark set is not valid:\n%s", join(p))
	}
	b.ResetTimer()
	for b.Loop() {
		s.Check(templates)
	}
}
