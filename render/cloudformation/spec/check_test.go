package spec

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

func loadSpec(t testing.TB) *Spec {
	t.Helper()
	s, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return s
}

// obj is shorthand for template fragments.
type obj = map[string]any

// customerTemplate is a small valid customer stack: a VPC, a subnet, a VPN gateway attached
// to it, a customer gateway and a VPN connection with tunnel options, exporting the VPC ID.
func customerTemplate() obj {
	return obj{
		"AWSTemplateFormatVersion": "2010-09-09",
		"Description":              "customer acme",
		"Parameters": obj{
			"Env":      obj{"Type": "String", "Default": "prod"},
			"AzsToUse": obj{"Type": "CommaDelimitedList", "Default": "a,b"},
		},
		"Conditions": obj{
			"IsProd": obj{"Fn::Equals": []any{obj{"Ref": "Env"}, "prod"}},
		},
		"Resources": obj{
			"Vpc": obj{"Type": "AWS::EC2::VPC", "Properties": obj{
				"CidrBlock":          "100.64.16.0/22",
				"EnableDnsSupport":   true,
				"EnableDnsHostnames": "true",
				"Tags":               []any{obj{"Key": "vsoc:customer", "Value": "acme"}},
			}},
			"SubnetA": obj{"Type": "AWS::EC2::Subnet", "Properties": obj{
				"VpcId":            obj{"Ref": "Vpc"},
				"CidrBlock":        obj{"Fn::Select": []any{0, obj{"Fn::Cidr": []any{obj{"Fn::GetAtt": []any{"Vpc", "CidrBlock"}}, 4, 8}}}},
				"AvailabilityZone": obj{"Fn::Select": []any{0, obj{"Fn::GetAZs": ""}}},
			}},
			"Vgw":           obj{"Type": "AWS::EC2::VPNGateway", "Properties": obj{"Type": "ipsec.1"}},
			"VgwAttachment": obj{"Type": "AWS::EC2::VPCGatewayAttachment", "Properties": obj{"VpcId": obj{"Ref": "Vpc"}, "VpnGatewayId": obj{"Ref": "Vgw"}}},
			"Cgw": obj{"Type": "AWS::EC2::CustomerGateway", "Properties": obj{
				"BgpAsn": 65000, "IpAddress": "198.51.100.7", "Type": "ipsec.1",
				"Tags": []any{obj{"Key": "Name", "Value": obj{"Fn::Sub": "${AWS::StackName}-cgw"}}},
			}},
			"Vpn": obj{"Type": "AWS::EC2::VPNConnection", "DependsOn": "VgwAttachment", "Properties": obj{
				"Type": "ipsec.1", "CustomerGatewayId": obj{"Ref": "Cgw"}, "VpnGatewayId": obj{"Ref": "Vgw"},
				"StaticRoutesOnly": true,
				"VpnTunnelOptionsSpecifications": []any{obj{
					"IKEVersions":                []any{obj{"Value": "ikev2"}},
					"Phase1EncryptionAlgorithms": []any{obj{"Value": "AES256"}},
					"Phase1DHGroupNumbers":       []any{obj{"Value": 20}},
					"PreSharedKey":               "{{resolve:secretsmanager:vsoc/acme/psk:SecretString:tunnel1}}",
				}},
			}},
			"Logs": obj{"Type": "AWS::Logs::LogGroup", "Properties": obj{
				"LogGroupName":    obj{"Fn::Join": []any{"/", []any{"vsoc", obj{"Ref": "AWS::StackName"}, "flow"}}},
				"RetentionInDays": obj{"Fn::If": []any{"IsProd", 365, 30}},
			}},
		},
		"Outputs": obj{
			"VpcId": obj{"Value": obj{"Ref": "Vpc"}, "Export": obj{"Name": obj{"Fn::Sub": "${AWS::StackName}-VpcId"}}},
		},
	}
}

// hubTemplate imports the customer stack's export.
func hubTemplate() obj {
	return obj{
		"Resources": obj{
			"HubVpc": obj{"Type": "AWS::EC2::VPC", "Properties": obj{"CidrBlock": "100.64.0.0/22"}},
			"Peering": obj{"Type": "AWS::EC2::VPCPeeringConnection", "Properties": obj{
				"VpcId": obj{"Ref": "HubVpc"}, "PeerVpcId": obj{"Fn::ImportValue": "customer-acme-VpcId"},
			}},
		},
	}
}

func encode(t testing.TB, doc obj) []byte {
	t.Helper()
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func set(t testing.TB, customer, hub obj) map[string][]byte {
	return map[string][]byte{"customer-acme": encode(t, customer), "hub": encode(t, hub)}
}

func TestCheckAcceptsValidTemplates(t *testing.T) {
	s := loadSpec(t)
	if problems := s.Check(set(t, customerTemplate(), hubTemplate())); len(problems) != 0 {
		t.Fatalf("valid set reported problems:\n%s", join(problems))
	}
}

func join(problems []Problem) string {
	var b strings.Builder
	for _, p := range problems {
		fmt.Fprintln(&b, p)
	}
	return b.String()
}

func resources(doc obj) obj { return doc["Resources"].(obj) }
func props(doc obj, id string) obj {
	return resources(doc)[id].(obj)["Properties"].(obj)
}

// Each case breaks the valid set in one way and names the problem that must appear.
func TestCheckCatchesEachFault(t *testing.T) {
	cases := []struct {
		name     string
		break_   func(customer, hub obj)
		stack    string
		path     string
		contains string
	}{
		{"unknown resource type", func(c, _ obj) { resources(c)["Bucket"] = obj{"Type": "AWS::EC2::Bucket"} },
			"customer-acme", "Resources.Bucket.Type", `unknown resource type "AWS::EC2::Bucket"`},
		{"type outside the namespaces", func(c, _ obj) { resources(c)["Q"] = obj{"Type": "AWS::SQS::Queue"} },
			"customer-acme", "Resources.Q.Type", "unknown resource type"},
		{"unknown property with suggestion", func(c, _ obj) { props(c, "Vpc")["CidrBlok"] = "10.0.0.0/16" },
			"customer-acme", "Resources.Vpc.Properties.CidrBlok", `did you mean "CidrBlock"?`},
		{"unknown nested property", func(c, _ obj) {
			props(c, "Vpn")["VpnTunnelOptionsSpecifications"].([]any)[0].(obj)["PresharedKey"] = "x"
		}, "customer-acme", "Resources.Vpn.Properties.VpnTunnelOptionsSpecifications[0].PresharedKey", `did you mean "PreSharedKey"?`},
		{"missing required", func(c, _ obj) { delete(props(c, "Subnet"+"A"), "VpcId") },
			"customer-acme", "Resources.SubnetA.Properties", `missing required property "VpcId"`},
		{"missing required without Properties", func(c, _ obj) { delete(resources(c)["Vgw"].(obj), "Properties") },
			"customer-acme", "Resources.Vgw.Properties", `missing required property "Type"`},
		{"missing required nested", func(c, _ obj) {
			resources(c)["Sg"] = obj{"Type": "AWS::EC2::SecurityGroup", "Properties": obj{
				"GroupDescription": "proxy", "VpcId": obj{"Ref": "Vpc"},
				"SecurityGroupIngress": []any{obj{"CidrIp": "100.64.0.0/22", "FromPort": 443, "ToPort": 443}},
			}}
		}, "customer-acme", "Resources.Sg.Properties.SecurityGroupIngress[0]", `missing required property "IpProtocol" of Ingress`},
		{"wrong type: string for boolean", func(c, _ obj) { props(c, "Vpc")["EnableDnsSupport"] = "yes" },
			"customer-acme", "Resources.Vpc.Properties.EnableDnsSupport", "expects a boolean"},
		{"wrong type: string for integer", func(c, _ obj) { props(c, "Cgw")["BgpAsn"] = "sixty-five thousand" },
			"customer-acme", "Resources.Cgw.Properties.BgpAsn", "expects an integer"},
		{"wrong type: fraction for integer", func(c, _ obj) { props(c, "Cgw")["BgpAsn"] = 6.5 },
			"customer-acme", "Resources.Cgw.Properties.BgpAsn", "expects an integer"},
		{"wrong type: object for string", func(c, _ obj) { props(c, "Vpc")["CidrBlock"] = obj{"a": 1} },
			"customer-acme", "Resources.Vpc.Properties.CidrBlock", "expects a string"},
		{"wrong type: scalar for list", func(c, _ obj) { props(c, "Vpc")["Tags"] = "vsoc" },
			"customer-acme", "Resources.Vpc.Properties.Tags", "expects a list"},
		{"wrong type: tag without value", func(c, _ obj) { props(c, "Vpc")["Tags"] = []any{obj{"Key": "k"}} },
			"customer-acme", "Resources.Vpc.Properties.Tags[0]", "tag without Value"},
		{"not an allowed value", func(c, _ obj) { props(c, "Logs")["RetentionInDays"] = 42 },
			"customer-acme", "Resources.Logs.Properties.RetentionInDays", `"42" is not an allowed value`},
		{"not an allowed value in an Fn::If branch", func(c, _ obj) { props(c, "Logs")["RetentionInDays"] = obj{"Fn::If": []any{"IsProd", 365, 31}} },
			"customer-acme", "Resources.Logs.Properties.RetentionInDays.Fn::If[2]", `"31" is not an allowed value`},
		{"Resolver rule name with a domain's dots", func(c, _ obj) {
			resources(c)["Rule"] = obj{"Type": "AWS::Route53Resolver::ResolverRule", "Properties": obj{
				"DomainName": "acme.de", "RuleType": "FORWARD", "Name": "vsoc-customer-acme-forward-acme.de",
			}}
		}, "customer-acme", "Resources.Rule.Properties.Name", "has characters the service refuses"},
		{"Resolver rule association name over 64 characters", func(c, _ obj) {
			resources(c)["Association"] = obj{"Type": "AWS::Route53Resolver::ResolverRuleAssociation", "Properties": obj{
				"ResolverRuleId": "rslvr-rr-1", "VPCId": obj{"Ref": "Vpc"}, "Name": strings.Repeat("a", 65),
			}}
		}, "customer-acme", "Resources.Association.Properties.Name", "is 65 characters, more than the service's limit of 64"},
		{"Resolver endpoint name of digits only", func(c, _ obj) {
			resources(c)["Endpoint"] = obj{"Type": "AWS::Route53Resolver::ResolverEndpoint", "Properties": obj{
				"Direction": "OUTBOUND", "IpAddresses": []any{obj{"SubnetId": obj{"Ref": "SubnetA"}}},
				"SecurityGroupIds": []any{"sg-1"}, "Name": "12345",
			}}
		}, "customer-acme", "Resources.Endpoint.Properties.Name", "is only digits"},
		{"apostrophe in a security group rule's description", func(c, _ obj) {
			resources(c)["Sg"] = obj{"Type": "AWS::EC2::SecurityGroup", "Properties": obj{
				"GroupDescription": "resolver", "VpcId": obj{"Ref": "Vpc"},
				"SecurityGroupEgress": []any{obj{"CidrIp": "10.0.0.53/32", "IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "Description": "the customer's DNS"}},
			}}
		}, "customer-acme", "Resources.Sg.Properties.SecurityGroupEgress[0].Description", "has characters the service refuses"},
		{"log group name with a space", func(c, _ obj) { props(c, "Logs")["LogGroupName"] = "/vsoc/flow logs" },
			"customer-acme", "Resources.Logs.Properties.LogGroupName", "has characters the service refuses"},
		{"tag value over 256 characters", func(c, _ obj) {
			props(c, "Vpc")["Tags"] = []any{obj{"Key": "Name", "Value": strings.Repeat("v", 257)}}
		}, "customer-acme", "Resources.Vpc.Properties.Tags[0].Value", "tag value is 257 characters, more than the limit of 256"},
		{"list function where a string goes", func(c, _ obj) { props(c, "Vpc")["CidrBlock"] = obj{"Fn::GetAZs": ""} },
			"customer-acme", "Resources.Vpc.Properties.CidrBlock", "expects a single value, but Fn::GetAZs returns a list"},
		{"list parameter where a string goes", func(c, _ obj) { props(c, "Vpc")["CidrBlock"] = obj{"Ref": "AzsToUse"} },
			"customer-acme", "Resources.Vpc.Properties.CidrBlock", "but Ref returns a list"},
		{"string function where an object goes", func(c, _ obj) {
			props(c, "Vpn")["VpnTunnelOptionsSpecifications"] = []any{obj{"Fn::Sub": "x"}}
		}, "customer-acme", "Resources.Vpn.Properties.VpnTunnelOptionsSpecifications[0]", "expects an object"},
		{"dangling Ref", func(c, _ obj) { props(c, "SubnetA")["VpcId"] = obj{"Ref": "Vcp"} },
			"customer-acme", "Resources.SubnetA.Properties.VpcId.Ref", `refers to "Vcp", which is no resource`},
		{"dangling Ref in Fn::Sub", func(c, _ obj) { props(c, "Logs")["LogGroupName"] = obj{"Fn::Sub": "${Nope}-x-${!Literal}"} },
			"customer-acme", "Resources.Logs.Properties.LogGroupName.Fn::Sub", `refers to "Nope"`},
		{"dangling GetAtt resource", func(c, _ obj) { props(c, "Logs")["LogGroupName"] = obj{"Fn::GetAtt": "Gone.Arn"} },
			"customer-acme", "Resources.Logs.Properties.LogGroupName.Fn::GetAtt", `refers to "Gone"`},
		{"bad GetAtt attribute", func(c, _ obj) { props(c, "SubnetA")["VpcId"] = obj{"Fn::GetAtt": []any{"Vpc", "Arn"}} },
			"customer-acme", "Resources.SubnetA.Properties.VpcId.Fn::GetAtt", `has no attribute "Arn"; it has: CidrBlock, `},
		{"bad GetAtt attribute in Fn::Sub", func(c, _ obj) { props(c, "Logs")["LogGroupName"] = obj{"Fn::Sub": "${Vpc.Nonsense}"} },
			"customer-acme", "Resources.Logs.Properties.LogGroupName.Fn::Sub", `has no attribute "Nonsense"`},
		{"unknown import", func(_, h obj) { props(h, "Peering")["PeerVpcId"] = obj{"Fn::ImportValue": "customer-zeta-VpcId"} },
			"hub", "Resources.Peering.Properties.PeerVpcId.Fn::ImportValue", `imports "customer-zeta-VpcId", which no template of the set exports`},
		{"import of own export", func(c, _ obj) { props(c, "SubnetA")["VpcId"] = obj{"Fn::ImportValue": "customer-acme-VpcId"} },
			"customer-acme", "Resources.SubnetA.Properties.VpcId.Fn::ImportValue", "which this same stack exports"},
		{"import cycle between stacks", func(c, h obj) {
			h["Outputs"] = obj{"Hub": obj{"Value": obj{"Ref": "HubVpc"}, "Export": obj{"Name": "hub-VpcId"}}}
			props(c, "Vpc")["Tags"] = []any{obj{"Key": "hub", "Value": obj{"Fn::ImportValue": "hub-VpcId"}}}
		}, "customer-acme", "", "customer-acme → hub → customer-acme"},
		{"duplicate export", func(c, h obj) {
			h["Outputs"] = obj{"Dup": obj{"Value": "x", "Export": obj{"Name": "customer-acme-VpcId"}}}
		}, "hub", "Outputs.Dup.Export.Name", "already exported by stack customer-acme"},
		{"dangling DependsOn", func(c, _ obj) { resources(c)["Vpn"].(obj)["DependsOn"] = []any{"VgwAttachment", "Missing"} },
			"customer-acme", "Resources.Vpn.DependsOn", `depends on "Missing"`},
		{"circular dependency", func(c, _ obj) { resources(c)["Vgw"].(obj)["DependsOn"] = "Vpn" },
			"customer-acme", "Resources.Vgw", "circular dependency between resources (Vgw → Vpn → Vgw)"},
		{"unknown condition", func(c, _ obj) { resources(c)["Logs"].(obj)["Condition"] = "IsTest" },
			"customer-acme", "Resources.Logs.Condition", "names no condition"},
		{"unknown condition in Fn::If", func(c, _ obj) { props(c, "Logs")["RetentionInDays"] = obj{"Fn::If": []any{"IsTest", 1, 3}} },
			"customer-acme", "Resources.Logs.Properties.RetentionInDays.Fn::If[0]", `no condition named "IsTest"`},
		{"resource referenced from a condition", func(c, _ obj) {
			c["Conditions"].(obj)["Bad"] = obj{"Fn::Equals": []any{obj{"Ref": "Vpc"}, "x"}}
		}, "customer-acme", "Conditions.Bad.Fn::Equals[0].Ref", "conditions can refer only to parameters"},
		{"condition function in a property", func(c, _ obj) { props(c, "Vpc")["CidrBlock"] = obj{"Fn::Equals": []any{"a", "b"}} },
			"customer-acme", "Resources.Vpc.Properties.CidrBlock.Fn::Equals", "is a condition function"},
		{"unsupported function", func(c, _ obj) { props(c, "Vpc")["CidrBlock"] = obj{"Fn::Length": []any{}} },
			"customer-acme", "Resources.Vpc.Properties.CidrBlock.Fn::Length", "unsupported intrinsic function"},
		{"logical ID not alphanumeric", func(c, _ obj) { resources(c)["Log-Group"] = resources(c)["Logs"]; delete(resources(c), "Logs") },
			"customer-acme", "Resources.Log-Group", "must contain only letters"},
		{"unknown resource attribute", func(c, _ obj) { resources(c)["Vpc"].(obj)["DeletePolicy"] = "Retain" },
			"customer-acme", "Resources.Vpc.DeletePolicy", `unknown resource attribute "DeletePolicy"`},
		{"bad deletion policy", func(c, _ obj) { resources(c)["Vpc"].(obj)["DeletionPolicy"] = "Keep" },
			"customer-acme", "Resources.Vpc.DeletionPolicy", "must be Delete, Retain"},
		{"output without value", func(c, _ obj) { c["Outputs"].(obj)["Empty"] = obj{"Description": "x"} },
			"customer-acme", "Outputs.Empty", "missing Value"},
		{"unknown top-level section", func(c, _ obj) { c["Resource"] = obj{} },
			"customer-acme", "Resource", `unknown top-level section "Resource"`},
		{"no resources", func(_, h obj) { h["Resources"] = obj{} },
			"hub", "Resources", "a template needs at least one resource"},
		{"too many resources", func(c, _ obj) {
			for i := range MaxResources {
				resources(c)[fmt.Sprintf("Group%d", i)] = obj{"Type": "AWS::Logs::LogGroup"}
			}
		}, "customer-acme", "Resources", "more than CloudFormation's limit of 500"},
		{"too many outputs", func(c, _ obj) {
			for i := range MaxOutputs {
				c["Outputs"].(obj)[fmt.Sprintf("Out%d", i)] = obj{"Value": "x"}
			}
		}, "customer-acme", "Outputs", "more than CloudFormation's limit of 200"},
		{"too many parameters", func(c, _ obj) {
			for i := range MaxParameters {
				c["Parameters"].(obj)[fmt.Sprintf("P%d", i)] = obj{"Type": "String"}
			}
		}, "customer-acme", "Parameters", "more than CloudFormation's limit of 200"},
		{"Fn::Join of a single value", func(c, _ obj) { props(c, "Logs")["LogGroupName"] = obj{"Fn::Join": []any{"-", "x"}} },
			"customer-acme", "Resources.Logs.Properties.LogGroupName.Fn::Join[1]", "expects a list"},
		{"Fn::FindInMap of an unknown mapping", func(c, _ obj) {
			props(c, "Logs")["LogGroupName"] = obj{"Fn::FindInMap": []any{"Names", "a", "b"}}
		}, "customer-acme", "Resources.Logs.Properties.LogGroupName.Fn::FindInMap[0]", `no mapping named "Names"`},
		{"list attribute where a string goes", func(c, _ obj) {
			props(c, "SubnetA")["CidrBlock"] = obj{"Fn::GetAtt": "Vpc.CidrBlockAssociations"}
		}, "customer-acme", "Resources.SubnetA.Properties.CidrBlock", "but Fn::GetAtt returns a list"},
		{"unterminated Fn::Sub placeholder", func(c, _ obj) { props(c, "Logs")["LogGroupName"] = obj{"Fn::Sub": "${AWS::Region"} },
			"customer-acme", "Resources.Logs.Properties.LogGroupName.Fn::Sub", "unterminated"},
		{"parameter without type", func(c, _ obj) { c["Parameters"].(obj)["Size"] = obj{"Default": "1"} },
			"customer-acme", "Parameters.Size.Type", "missing parameter type"},
		{"unknown parameter type", func(c, _ obj) { c["Parameters"].(obj)["Size"] = obj{"Type": "Integer"} },
			"customer-acme", "Parameters.Size.Type", `unknown parameter type "Integer"`},
		{"export without name", func(c, _ obj) { c["Outputs"].(obj)["VpcId"].(obj)["Export"] = obj{"Value": "x"} },
			"customer-acme", "Outputs.VpcId.Export", "must be an object with only a Name"},
		{"non-literal export name", func(c, _ obj) {
			c["Outputs"].(obj)["VpcId"].(obj)["Export"] = obj{"Name": obj{"Fn::Sub": "${AWS::Region}-VpcId"}}
		}, "customer-acme", "Outputs.VpcId.Export.Name", "must be a literal string or an Fn::Sub using only ${AWS::StackName}"},
		{"body over 1 MB", func(c, _ obj) { c["Metadata"] = obj{"Padding": strings.Repeat("x", MaxBodyBytes)} },
			"customer-acme", "", "more than CloudFormation's limit of 1000000 bytes"},
	}
	s := loadSpec(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			customer, hub := customerTemplate(), hubTemplate()
			tc.break_(customer, hub)
			problems := s.Check(set(t, customer, hub))
			for _, p := range problems {
				if p.Stack == tc.stack && p.Path == tc.path && strings.Contains(p.Message, tc.contains) {
					return
				}
			}
			t.Fatalf("want a problem in %s at %q containing %q, got:\n%s", tc.stack, tc.path, tc.contains, join(problems))
		})
	}
}

func TestCheckInvalidJSON(t *testing.T) {
	problems := loadSpec(t).Check(map[string][]byte{"broken": []byte(`{"Resources": `)})
	if len(problems) != 1 || problems[0].Stack != "broken" || !strings.Contains(problems[0].Message, "not valid JSON") {
		t.Fatalf("want one invalid-JSON problem, got:\n%s", join(problems))
	}
}

// The order of problems depends only on the templates.
func TestCheckSortsProblems(t *testing.T) {
	s := loadSpec(t)
	customer := customerTemplate()
	props(customer, "Vpc")["EnableDnsSupport"] = "yes"
	props(customer, "Cgw")["BgpAsn"] = "x"
	resources(customer)["Bad"] = obj{"Type": "AWS::Nope::Nope"}
	templates := set(t, customer, hubTemplate())
	first := s.Check(templates)
	if len(first) < 3 {
		t.Fatalf("want at least 3 problems, got:\n%s", join(first))
	}
	for i := 1; i < len(first); i++ {
		a, b := first[i-1], first[i]
		if a.Stack > b.Stack || a.Stack == b.Stack && a.Path > b.Path {
			t.Fatalf("problems not sorted: %v before %v", a, b)
		}
	}
	for _, procs := range []int{1, 2, 8} {
		prev := runtime.GOMAXPROCS(procs)
		again := s.Check(templates)
		runtime.GOMAXPROCS(prev)
		if join(again) != join(first) {
			t.Fatalf("problems differ with GOMAXPROCS=%d:\n%s\nvs\n%s", procs, join(first), join(again))
		}
	}
}

func TestSpecComesFromThePinnedPackage(t *testing.T) {
	s := loadSpec(t)
	if s.Source() != "@aws-cdk/aws-service-spec@0.1.216" {
		t.Errorf("Source() = %q", s.Source())
	}
	for _, tc := range []struct{ typ, prop, attr string }{
		{"AWS::EC2::VPNConnection", "VpnTunnelOptionsSpecifications", "VpnConnectionId"},
		{"AWS::Route53Resolver::ResolverEndpoint", "IpAddresses", "ResolverEndpointId"},
		{"AWS::ElasticLoadBalancingV2::LoadBalancer", "SubnetMappings", "DNSName"},
		{"AWS::SecretsManager::Secret", "Name", "Id"},
		{"AWS::Route53::HostedZone", "VPCs", "Id"},
	} {
		if !s.HasResourceType(tc.typ) || !s.HasProperty(tc.typ, tc.prop) || !s.HasAttribute(tc.typ, tc.attr) {
			t.Errorf("spec lacks %s / property %s / attribute %s", tc.typ, tc.prop, tc.attr)
		}
	}
	if s.HasResourceType("AWS::S3::Bucket") {
		t.Error("AWS::S3::Bucket is outside the extracted namespaces but present")
	}
}
