package wording

import "testing"

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0 customers", 1: "1 customer", 2: "2 customers"} {
		if got := Count(n, "customer"); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}
