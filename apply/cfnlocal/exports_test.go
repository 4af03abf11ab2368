package cfnlocal

import "testing"

// TestExportValuesFollowReplacedResources: an export's value is resolved
// against the physical IDs, whichever form names the resource, so that a
// replacement changes it; a variable of Fn::Sub's list form is not a resource.
func TestExportValuesFollowReplacedResources(t *testing.T) {
	body := []byte(`{"Outputs":{
		"Ref":      {"Value":{"Ref":"Vpc"},                                  "Export":{"Name":"ref"}},
		"GetAtt":   {"Value":{"Fn::GetAtt":["Vpc","CidrBlock"]},              "Export":{"Name":"getatt"}},
		"Sub":      {"Value":{"Fn::Sub":"${Vpc}/${Vpc.CidrBlock}"},            "Export":{"Name":"sub"}},
		"SubList":  {"Value":{"Fn::Sub":["${Vpc}:${Other}",{"Other":"x"}]},   "Export":{"Name":"sublist"}},
		"Shadowed": {"Value":{"Fn::Sub":["${Vpc}",{"Vpc":"literal"}]},        "Export":{"Name":"shadowed"}},
		"NoExport": {"Value":{"Ref":"Vpc"}}}}`)
	before := exportValues(body, map[string]string{"Vpc": "vpc-1"})
	after := exportValues(body, map[string]string{"Vpc": "vpc-2"})
	for name, changes := range map[string]bool{"ref": true, "getatt": true, "sub": true, "sublist": true, "shadowed": false} {
		if got := before[name] != after[name]; got != changes {
			t.Errorf("%s: %s → %s; want changed %v", name, before[name], after[name], changes)
		}
	}
	if len(before) != 5 {
		t.Errorf("exports %v, want the five exported outputs", before)
	}
}
