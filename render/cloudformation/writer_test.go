package cloudformation

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/vsoc/vsoc/internal/fleettest"
	"github.com/vsoc/vsoc/render/dns"
)

// The template writer must produce exactly what encoding/json produces for the same template.
func TestWriterMatchesEncodingJSON(t *testing.T) {
	hub := syntheticPlan(t, 1).Hub
	special := newTemplate("quotes \" backslash \\ tab \t newline \n unicode é \u2028 html <&>")
	special.add("Odd", "AWS::Logs::LogGroup", props{"Empty": props{}, "None": []any{}, "Ints": []any{int64(-1), 0, 7}, "List": []string{"a", "b"}})
	special.output("Odd", "", ref("Odd"), "export")

	templates := map[string]*template{"special": special}
	var err error
	if templates["hub"], err = hubStack(&hub, nil); err != nil {
		t.Fatal(err)
	}
	plan := fleettest.SamplePlan(t)
	for i := range plan.Customers {
		c := &plan.Customers[i]
		if templates[c.StackName], err = customerStack(&plan.Hub, c, zonesByOwner(dns.Zones(plan))[c.Customer.Name]); err != nil {
			t.Fatal(err)
		}
	}
	for name, tmpl := range templates {
		got, err := appendTemplate(nil, tmpl)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(tmpl); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%s: writer output differs from encoding/json:\n%s\nwant:\n%s", name, got, want.Bytes())
		}
	}
}

func TestWriterRejectsUnknownTypes(t *testing.T) {
	tmpl := newTemplate("x")
	tmpl.add("Bad", "AWS::Logs::LogGroup", props{"RetentionInDays": 1.5})
	if _, err := appendTemplate(nil, tmpl); err == nil {
		t.Fatal("want an error for a float64 value")
	}
}

// The writer against encoding/json on one customer template (the reason the writer exists).
func benchmarkEncode(b *testing.B, encode func(*template) error) {
	plan := syntheticPlan(b, 1)
	tmpl, err := customerStack(&plan.Hub, &plan.Customers[0], dns.Zones(plan))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := encode(tmpl); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeWriter(b *testing.B) {
	benchmarkEncode(b, func(t *template) error {
		_, err := appendTemplate(nil, t)
		return err
	})
}

func BenchmarkEncodeEncodingJSON(b *testing.B) {
	benchmarkEncode(b, func(t *template) error {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(t)
	})
}
