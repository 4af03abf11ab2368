package wording

import "testing"

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0 customers", 1: "1 customer", 2: "2 customers"} {
		if got := Count(n, "customer"); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestClosest(t *testing.T) {
	candidates := []string{"cidrs", "routing", "gateways", "Subnets"}
	for name, want := range map[string]string{
		"cidr":     "cidrs",    // one edit
		"gatways":  "gateways", // one edit
		"subnets":  "Subnets",  // case only
		"routnig":  "routing",  // two edits
		"firewall": "",         // nothing near
	} {
		got, ok := Closest(name, candidates)
		if got != want || ok != (want != "") {
			t.Errorf("Closest(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
}
