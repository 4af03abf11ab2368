package cfnid

import "testing"

func TestLogicalID(t *testing.T) {
	for _, c := range []struct {
		parts []string
		want  string
	}{
		{[]string{"eu-central-1a"}, "EuCentral1a"},
		{[]string{"gw-1"}, "Gw1"},
		{[]string{"gw1"}, "Gw1"},
		{[]string{"a-b.example"}, "ABExample"},
		{[]string{"ops-team"}, "OpsTeam"},
		{[]string{"Ops_Team"}, "OpsTeam"},
		{[]string{"Record", "x.proxy.acme.example", "A"}, "RecordXProxyAcmeExampleA"},
		{[]string{"müller"}, "MLler"}, // non-ASCII letters are dropped and start a new run
		{[]string{"--"}, ""},
	} {
		if got := LogicalID(c.parts...); got != c.want {
			t.Errorf("LogicalID(%q) = %q, want %q", c.parts, got, c.want)
		}
	}
}
