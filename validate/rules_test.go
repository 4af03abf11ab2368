package validate

import (
	"fmt"
	"strings"
	"testing"
)

// Every rule is documented from its policy file, IDs are consecutive and
// stable, and explain finds them.
func TestRulesAreDocumented(t *testing.T) {
	rules := Rules()
	if len(rules) < 19 {
		t.Fatalf("%d rules, want at least VSOC001..VSOC019", len(rules))
	}
	for i, r := range rules {
		if want := fmt.Sprintf("VSOC%03d", i+1); r.ID != want {
			t.Errorf("rule %d is %s, want %s", i, r.ID, want)
		}
		if len(r.Explanation) < 150 || r.Title == "" || r.Hint == "" {
			t.Errorf("%s: explanation, title and hint must say something: %+v", r.ID, r)
		}
	}
	r, ok := Explain("vsoc002")
	if !ok || r.ID != "VSOC002" || !strings.Contains(r.Explanation, "Client VPN") {
		t.Errorf("Explain(vsoc002) = %+v, %v", r, ok)
	}
	if _, ok := Explain("VSOC999"); ok {
		t.Error("Explain(VSOC999) found a rule")
	}
}
