package main

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/vsoc/vsoc/render/cloudformation/spec/internal/extract"

	_ "github.com/vsoc/vsoc/internal/golden" // defines -update, so that `go test ./... -update` runs this package too
)

// A miniature db.json in the package's own layout: entity tables and the usesType relation.
const miniDB = `{"idCtr": 9, "schema": {
 "resource": {"type": "entities", "entities": [
  {"$id": "1", "cloudFormationType": "AWS::Route53::HostedZone", "name": "HostedZone",
   "attributes": {"Id": {"type": {"type": "string"}}},
   "properties": {
    "Name": {"type": {"type": "string"}, "required": true, "causesReplacement": "yes"},
    "VPCs": {"type": {"type": "array", "element": {"type": "ref", "reference": {"$ref": "3"}}}},
    "HostedZoneTags": {"type": {"type": "array", "element": {"type": "tag"}}}}},
  {"$id": "2", "cloudFormationType": "AWS::Route53Resolver::ResolverRule", "name": "ResolverRule",
   "attributes": {}, "properties": {"DomainName": {"type": {"type": "string"}, "causesReplacement": "maybe"}}},
  {"$id": "4", "cloudFormationType": "AWS::Logs::LogGroup", "name": "LogGroup", "attributes": {},
   "properties": {"RetentionInDays": {"type": {"type": "integer", "allowedValues": [1, 3]}},
    "Policy": {"type": {"type": "union", "types": [{"type": "json"}, {"type": "string"}]}}}}
 ]},
 "typeDefinition": {"type": "entities", "entities": [
  {"$id": "3", "name": "VPC", "properties": {
   "VPCId": {"type": {"type": "string"}, "required": true},
   "VPCRegion": {"type": {"type": "string", "allowedValues": ["eu-west-1", "eu-central-1"]}, "required": true}}}
 ]},
 "usesType": {"type": "rel", "forward": {"1": [{"$id": "3"}]}}
}}`

func TestBuildSelectsNamespacesAndConverts(t *testing.T) {
	var db database
	if err := json.Unmarshal([]byte(miniDB), &db); err != nil {
		t.Fatal(err)
	}
	file, err := build(&db, []string{"AWS::Route53", "AWS::Logs"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(file.Namespaces, []string{"AWS::Logs", "AWS::Route53"}) {
		t.Errorf("namespaces %v", file.Namespaces)
	}
	if _, ok := file.Resources["AWS::Route53Resolver::ResolverRule"]; ok {
		t.Error("AWS::Route53 selected AWS::Route53Resolver too")
	}
	zone := file.Resources["AWS::Route53::HostedZone"]
	wantVPCs := extract.Property{Type: extract.Type{Kind: extract.KindList, Elem: &extract.Type{Kind: extract.KindRef, Ref: "VPC"}}}
	if !reflect.DeepEqual(zone.Properties["VPCs"], wantVPCs) {
		t.Errorf("VPCs = %+v", zone.Properties["VPCs"])
	}
	if p := zone.Properties["Name"]; !p.Required || p.Replacement != extract.ReplaceYes {
		t.Errorf("Name = %+v, want required and replacing", p)
	}
	if got := zone.Types["VPC"]["VPCRegion"].Type.Allowed; !reflect.DeepEqual(got, []string{"eu-west-1", "eu-central-1"}) {
		t.Errorf("VPCRegion allowed = %v", got)
	}
	logs := file.Resources["AWS::Logs::LogGroup"]
	if got := logs.Properties["RetentionInDays"].Type.Allowed; !reflect.DeepEqual(got, []string{"1", "3"}) {
		t.Errorf("RetentionInDays allowed = %v", got)
	}
	if got := logs.Properties["Policy"].Type; got.Kind != extract.KindUnion || len(got.Union) != 2 {
		t.Errorf("Policy = %+v, want a union of two", got)
	}

	resolver, err := build(&db, []string{"AWS::Route53Resolver"})
	if err != nil {
		t.Fatal(err)
	}
	if got := resolver.Resources["AWS::Route53Resolver::ResolverRule"].Properties["DomainName"].Replacement; got != extract.ReplaceConditional {
		t.Errorf(`"maybe" became %q, want %q`, got, extract.ReplaceConditional)
	}
}

func TestBuildRejectsUnknownNamespace(t *testing.T) {
	var db database
	if err := json.Unmarshal([]byte(miniDB), &db); err != nil {
		t.Fatal(err)
	}
	if _, err := build(&db, []string{"AWS::Nope"}); err == nil {
		t.Fatal("want an error for a namespace without resource types")
	}
}
