package cloudformation

import "testing"

// TestReleasesOnlyWithoutTheHubsChangedOrNewExports: a customer goes before
// the hub only if its new template needs nothing the hub's update takes away
// or brings.
func TestReleasesOnlyWithoutTheHubsChangedOrNewExports(t *testing.T) {
	changed := map[string]string{"hub-Subnet-c": "deleted"}
	existing := map[string]any{"hub-VpcId": nil, "hub-Subnet-a": nil, "hub-Subnet-c": nil}
	imports := func(names ...string) []byte {
		body := `{"Resources":{`
		for i, n := range names {
			if i > 0 {
				body += ","
			}
			body += `"R` + n + `":{"Type":"AWS::EC2::Route","Properties":{"SubnetId":{"Fn::ImportValue":"` + n + `"}}}`
		}
		return []byte(body + `}}`)
	}
	for _, c := range []struct {
		name     string
		template []byte
		want     bool
	}{
		{"stops importing the zone", imports("hub-VpcId", "hub-Subnet-a"), true},
		{"still imports the zone", imports("hub-VpcId", "hub-Subnet-c"), false},
		{"imports a zone the hub adds", imports("hub-VpcId", "hub-Subnet-d"), false},
		{"not a template", []byte("{"), false},
	} {
		if got := releases(c.template, changed, existing); got != c.want {
			t.Errorf("%s: releases = %v, want %v", c.name, got, c.want)
		}
	}
}
