package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vsoc/vsoc/compiler"
)

// TestLoadErrorsAreReportedAsViolations: a malformed file gives the same JSON shape and the same
// annotations as a violation, so that what reads one reads the other.
func TestLoadErrorsAreReportedAsViolations(t *testing.T) {
	errs := compiler.LoadErrors{{Pos: compiler.Pos{File: "wob,com:x.cue", Line: 3, Col: 7}, Pointer: "/customers/wob", Customer: "wob", Message: "customers.wob: 50% off\nnext"}}

	var out bytes.Buffer
	if err := writeLoadErrors(&out, "json", errs); err != nil {
		t.Fatal(err)
	}
	var report []map[string]any
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("the JSON report is not an array of violations: %v\n%s", err, out.String())
	}
	if len(report) != 1 || report[0]["rule"] != "CUE" || report[0]["file"] != "wob,com:x.cue" || report[0]["line"] != 3.0 || report[0]["col"] != 7.0 {
		t.Fatalf("JSON report %v, want one violation of rule CUE at wob,com:x.cue:3:7", report)
	}
	if report[0]["pointer"] != "/customers/wob" || report[0]["customer"] != "wob" {
		t.Fatalf("JSON report %v, want the pointer and customer the error is about", report)
	}

	out.Reset()
	if err := writeLoadErrors(&out, "github", errs); err != nil {
		t.Fatal(err)
	}
	want := "::error file=wob%2Ccom%3Ax.cue,line=3,col=7,title=CUE::customers.wob: 50%25 off%0Anext\n"
	if out.String() != want {
		t.Fatalf("annotation\n%q, want\n%q", out.String(), want)
	}

	out.Reset()
	if err := writeLoadErrors(&out, "text", errs); err != nil || !strings.HasPrefix(out.String(), "wob,com:x.cue:3:7: customers.wob") {
		t.Fatalf("text report %q, %v", out.String(), err)
	}
}

// TestLoadErrorHintIsAFieldOfItsOwn: in JSON a load error's hint is the
// violation's hint, not part of its message; the text report says it after
// the message; the summary counts in words.
func TestLoadErrorHintIsAFieldOfItsOwn(t *testing.T) {
	errs := compiler.LoadErrors{{Pos: compiler.Pos{File: "acme.cue", Line: 9, Col: 12}, Message: `routing: "ospf" is not one of "bgp", "static"`, Hint: "use one of them"}}
	var out bytes.Buffer
	if err := writeLoadErrors(&out, "json", errs); err != nil {
		t.Fatal(err)
	}
	var report []map[string]any
	if err := json.Unmarshal(out.Bytes(), &report); err != nil || len(report) != 1 ||
		report[0]["hint"] != "use one of them" || strings.Contains(report[0]["message"].(string), "hint") {
		t.Fatalf("JSON report %s (%v)", out.String(), err)
	}
	out.Reset()
	if err := writeLoadErrors(&out, "text", errs); err != nil {
		t.Fatal(err)
	}
	want := "acme.cue:9:12: routing: \"ospf\" is not one of \"bgp\", \"static\" (hint: use one of them)\n1 error: nothing was validated or built; fix the files above\n"
	if out.String() != want {
		t.Fatalf("text report\n%q, want\n%q", out.String(), want)
	}
}
