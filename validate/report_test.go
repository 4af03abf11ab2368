package validate

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vsoc/vsoc/compiler"
)

var sampleViolations = []Violation{
	{Rule: "VSOC002", Pos: compiler.Pos{File: "customers/wobcom.cue", Line: 12, Col: 9}, Pointer: "/customers/wobcom/vpc/cidrs/0",
		Customer: "wobcom", Message: "VPC CIDR 100.68.0.0/16 overlaps customer cubebikes (100.68.0.0/16)", Hint: "pick a free block"},
	{Rule: "VSOC014", Pos: compiler.Pos{File: "customers/wobcom.cue", Line: 14, Col: 3}, Pointer: "/customers/wobcom/vpn/gateways/0/name",
		Customer: "wobcom", Message: "gateway name a,b: is not a DNS label\n100%"},
	{Rule: "VSOC001", Pos: compiler.Pos{File: "customers/hub.cue", Line: 7, Col: 10}, Pointer: "/hub/cidr",
		Message: "hub CIDR 10.0.0.0/16 is outside 100.64.0.0/10", Hint: "write a /16"},
}

func TestTextReport(t *testing.T) {
	var b bytes.Buffer
	if err := WriteReport(&b, "text", sampleViolations); err != nil {
		t.Fatal(err)
	}
	want := "customers/wobcom.cue:12:9: VSOC002: VPC CIDR 100.68.0.0/16 overlaps customer cubebikes (100.68.0.0/16)\n" +
		"\thint: pick a free block\n" +
		"customers/wobcom.cue:14:3: VSOC014: gateway name a,b: is not a DNS label\n100%\n" +
		"customers/hub.cue:7:10: VSOC001: hub CIDR 10.0.0.0/16 is outside 100.64.0.0/10\n" +
		"\thint: write a /16\n" +
		"3 violations in 2 files\n"
	if b.String() != want {
		t.Errorf("text report:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := WriteReport(&b, "text", sampleViolations[:1]); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.String(), "\n1 violation in 1 file\n") {
		t.Errorf("singular summary: %q", b.String())
	}
	b.Reset()
	if err := WriteReport(&b, "text", nil); err != nil || b.Len() != 0 {
		t.Errorf("a clean run prints nothing, got %q (%v)", b.String(), err)
	}
}

func TestGitHubReport(t *testing.T) {
	var b bytes.Buffer
	if err := WriteReport(&b, "github", sampleViolations); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	want := []string{
		"::error file=customers/wobcom.cue,line=12,col=9,title=VSOC002::VPC CIDR 100.68.0.0/16 overlaps customer cubebikes (100.68.0.0/16)%0Ahint: pick a free block",
		"::error file=customers/wobcom.cue,line=14,col=3,title=VSOC014::gateway name a,b: is not a DNS label%0A100%25",
		"::error file=customers/hub.cue,line=7,col=10,title=VSOC001::hub CIDR 10.0.0.0/16 is outside 100.64.0.0/10%0Ahint: write a /16",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("github report:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestJSONReport(t *testing.T) {
	var b bytes.Buffer
	if err := WriteReport(&b, "json", sampleViolations); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b.String())
	}
	if len(got) != 3 || got[0]["rule"] != "VSOC002" || got[0]["file"] != "customers/wobcom.cue" ||
		got[0]["line"] != 12.0 || got[0]["col"] != 9.0 || got[0]["pointer"] != "/customers/wobcom/vpc/cidrs/0" ||
		got[2]["customer"] != "" || got[1]["hint"] != "" {
		t.Errorf("json report: %s", b.String())
	}
	b.Reset()
	if err := WriteReport(&b, "json", nil); err != nil || strings.TrimSpace(b.String()) != "[]" {
		t.Errorf("a clean run is an empty array, got %q (%v)", b.String(), err)
	}
}

func TestUnknownFormat(t *testing.T) {
	err := WriteReport(&bytes.Buffer{}, "xml", sampleViolations)
	if err == nil || !strings.Contains(err.Error(), "text, json, github") {
		t.Errorf("want an error naming the formats, got %v", err)
	}
}
