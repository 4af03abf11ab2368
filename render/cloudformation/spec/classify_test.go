package spec

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func classify(t *testing.T, old, new obj) []Change {
	t.Helper()
	var oldBody, newBody []byte
	if old != nil {
		oldBody = encode(t, old)
	}
	if new != nil {
		newBody = encode(t, new)
	}
	changes, err := loadSpec(t).Classify(oldBody, newBody)
	if err != nil {
		t.Fatalf("Classify: %v", err)
	}
	return changes
}

func TestClassify(t *testing.T) {
	cases := []struct {
		name   string
		change func(doc obj)
		want   []Change
	}{
		{"nothing changes", func(obj) {}, []Change{}},
		{"BgpAsn replaces the customer gateway and, through Ref, the VPN connection", func(d obj) { props(d, "Cgw")["BgpAsn"] = 65001 }, []Change{
			{LogicalID: "Cgw", Type: "AWS::EC2::CustomerGateway", Action: Replace, Properties: []string{"BgpAsn"}, Replacing: []string{"BgpAsn"}},
			{LogicalID: "Vpn", Type: "AWS::EC2::VPNConnection", Action: Replace, Properties: []string{"CustomerGatewayId"}, Replacing: []string{"CustomerGatewayId"}},
		}},
		{"Tags modify in place", func(d obj) {
			props(d, "Cgw")["Tags"] = []any{obj{"Key": "Name", "Value": "renamed"}}
		}, []Change{
			{LogicalID: "Cgw", Type: "AWS::EC2::CustomerGateway", Action: Modify, Properties: []string{"Tags"}},
		}},
		{"replacing the VPN gateway modifies its attachment and replaces the connection", func(d obj) { props(d, "Vgw")["AmazonSideAsn"] = 64512 }, []Change{
			{LogicalID: "Vgw", Type: "AWS::EC2::VPNGateway", Action: Replace, Properties: []string{"AmazonSideAsn"}, Replacing: []string{"AmazonSideAsn"}},
			{LogicalID: "VgwAttachment", Type: "AWS::EC2::VPCGatewayAttachment", Action: Modify, Properties: []string{"VpnGatewayId"}},
			{LogicalID: "Vpn", Type: "AWS::EC2::VPNConnection", Action: Replace, Properties: []string{"VpnGatewayId"}, Replacing: []string{"VpnGatewayId"}},
		}},
		{"a conditional replacement is flagged, and so are those of its dependents", func(d obj) { props(d, "Vpc")["InstanceTenancy"] = "dedicated" }, []Change{
			{LogicalID: "SubnetA", Type: "AWS::EC2::Subnet", Action: Replace, Properties: []string{"CidrBlock", "VpcId"}, Replacing: []string{"CidrBlock", "VpcId"}, Conditional: true},
			{LogicalID: "VgwAttachment", Type: "AWS::EC2::VPCGatewayAttachment", Action: Replace, Properties: []string{"VpcId"}, Replacing: []string{"VpcId"}, Conditional: true},
			{LogicalID: "Vpc", Type: "AWS::EC2::VPC", Action: Replace, Properties: []string{"InstanceTenancy"}, Replacing: []string{"InstanceTenancy"}, Conditional: true},
		}},
		{"a removed property is a change", func(d obj) { delete(props(d, "Vpc"), "Tags") }, []Change{
			{LogicalID: "Vpc", Type: "AWS::EC2::VPC", Action: Modify, Properties: []string{"Tags"}},
		}},
		{"add and remove", func(d obj) {
			delete(resources(d), "Logs")
			resources(d)["Flow"] = obj{"Type": "AWS::Logs::LogGroup"}
		}, []Change{
			{LogicalID: "Flow", Type: "AWS::Logs::LogGroup", Action: Add},
			{LogicalID: "Logs", Type: "AWS::Logs::LogGroup", Action: Remove},
		}},
		{"a type change of a logical ID replaces it", func(d obj) {
			resources(d)["Logs"] = obj{"Type": "AWS::SSM::Parameter", "Properties": obj{"Type": "String", "Value": "x"}}
		}, []Change{
			{LogicalID: "Logs", Type: "AWS::SSM::Parameter", Action: Replace, Properties: []string{"LogGroupName", "RetentionInDays", "Type", "Value"}},
		}},
		{"DependsOn alone changes nothing", func(d obj) { resources(d)["Vpn"].(obj)["DependsOn"] = []any{"VgwAttachment", "Vpc"} }, []Change{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old, new := customerTemplate(), customerTemplate()
			tc.change(new)
			got := classify(t, old, new)
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// A nested field can force replacement even when its top-level property does not.
func TestClassifyNestedReplacement(t *testing.T) {
	check := func(config obj) obj {
		return obj{"Resources": obj{"Health": obj{"Type": "AWS::Route53::HealthCheck", "Properties": obj{"HealthCheckConfig": config}}}}
	}
	base := obj{"Type": "HTTPS", "FullyQualifiedDomainName": "proxy.acme.example", "Port": 443}
	port := obj{"Type": "HTTPS", "FullyQualifiedDomainName": "proxy.acme.example", "Port": 8443}
	typ := obj{"Type": "TCP", "FullyQualifiedDomainName": "proxy.acme.example", "Port": 443}

	if got := classify(t, check(base), check(port)); len(got) != 1 || got[0].Action != Modify {
		t.Errorf("changing Port: got %+v, want one modify", got)
	}
	got := classify(t, check(base), check(typ))
	if len(got) != 1 || got[0].Action != Replace || !reflect.DeepEqual(got[0].Replacing, []string{"HealthCheckConfig"}) || got[0].Conditional {
		t.Errorf("changing Type: got %+v, want one definite replace by HealthCheckConfig", got)
	}
}

func TestClassifyWholeStack(t *testing.T) {
	added := classify(t, nil, customerTemplate())
	removed := classify(t, customerTemplate(), nil)
	wantIDs := []string{"Cgw", "Logs", "SubnetA", "Vgw", "VgwAttachment", "Vpc", "Vpn"}
	for _, tc := range []struct {
		changes []Change
		action  Action
	}{{added, Add}, {removed, Remove}} {
		var ids []string
		for _, c := range tc.changes {
			ids = append(ids, c.LogicalID)
			if c.Action != tc.action {
				t.Errorf("%s: action %s, want %s", c.LogicalID, c.Action, tc.action)
			}
		}
		if !reflect.DeepEqual(ids, wantIDs) {
			t.Errorf("%s: logical IDs %v, want %v", tc.action, ids, wantIDs)
		}
	}
	if got := classify(t, nil, nil); len(got) != 0 {
		t.Errorf("nil → nil: got %+v", got)
	}
}

func TestClassifyRejectsUnknownTypes(t *testing.T) {
	old := obj{"Resources": obj{"Q": obj{"Type": "AWS::SQS::Queue", "Properties": obj{"DelaySeconds": 1}}}}
	new := obj{"Resources": obj{"Q": obj{"Type": "AWS::SQS::Queue", "Properties": obj{"DelaySeconds": 2}}}}
	_, err := loadSpec(t).Classify(encode(t, old), encode(t, new))
	if err == nil || !strings.Contains(err.Error(), "AWS::SQS::Queue is not in the specification") {
		t.Fatalf("want an unknown-type error, got %v", err)
	}
}

func TestActionString(t *testing.T) {
	for a, want := range map[Action]string{Add: "add", Modify: "modify", Replace: "replace", Remove: "remove"} {
		if a.String() != want {
			t.Errorf("%d.String() = %q, want %q", a, a.String(), want)
		}
	}
}

func TestProtected(t *testing.T) {
	for _, typ := range []string{"AWS::EC2::VPC", "AWS::EC2::VPNConnection", "AWS::EC2::CustomerGateway", "AWS::EC2::VPNGateway",
		"AWS::EC2::VPCPeeringConnection", "AWS::EC2::Subnet", "AWS::Route53::HostedZone", "AWS::EC2::ClientVpnEndpoint"} {
		if !Protected(typ) {
			t.Errorf("Protected(%s) = false", typ)
		}
		if !loadSpec(t).HasResourceType(typ) {
			t.Errorf("protected type %s is not in the specification (misspelt?)", typ)
		}
	}
	for _, typ := range []string{"AWS::EC2::SubnetRouteTableAssociation", "AWS::Logs::LogGroup", "AWS::Route53::RecordSet"} {
		if Protected(typ) {
			t.Errorf("Protected(%s) = true", typ)
		}
	}
}

func TestExportsAndImportedExportsTakeLiteralNames(t *testing.T) {
	doc := obj{
		"Resources": obj{
			"A": obj{"Properties": obj{"VpcId": obj{"Fn::ImportValue": "hub-VpcId"}, "Tags": []any{obj{"Value": obj{"Fn::ImportValue": "hub-Zone"}}}}},
			"B": obj{"Properties": obj{"VpcId": obj{"Fn::ImportValue": "hub-VpcId"}, "Computed": obj{"Fn::ImportValue": obj{"Fn::Sub": "${Env}-x"}}}},
		},
		"Outputs": obj{
			"Vpc":    obj{"Value": obj{"Ref": "Vpc"}, "Export": obj{"Name": "me-VpcId"}},
			"Sub":    obj{"Value": "x", "Export": obj{"Name": obj{"Fn::Sub": "${AWS::StackName}-x"}}},
			"Plain":  obj{"Value": "y"},
			"Broken": "not an output",
		},
	}
	var decoded any
	if err := json.Unmarshal(mustJSON(t, doc), &decoded); err != nil {
		t.Fatal(err)
	}
	if got := ImportedExports(decoded); !reflect.DeepEqual(got, []string{"hub-VpcId", "hub-Zone"}) {
		t.Errorf("ImportedExports = %v, want each literal name once, sorted", got)
	}
	if got := Exports(decoded); len(got) != 1 || !reflect.DeepEqual(got["me-VpcId"], map[string]any{"Ref": "Vpc"}) {
		t.Errorf("Exports = %v, want only the literal me-VpcId", got)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
