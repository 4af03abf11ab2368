package kube

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/fleettest"
)

// TestFastYAMLMatchesLibrary: the fast encoder writes exactly what
// sigs.k8s.io/yaml writes, for every object the renderer produces (sample
// and synthetic fleets) and for values chosen to trip quoting, folding,
// block scalars and key order.
func TestFastYAMLMatchesLibrary(t *testing.T) {
	awkward := map[string]any{
		"plain":       "vsoc-sniproxy",
		"keyword":     []any{"true", "no", "Yes", "null", "~", "", "y", "off", "tRUE"},
		"numbers":     []any{"9901", "1e3", "0x1f", "1_000", "12:30", "-1", "+1", ".5", "1.", "0o17", "2001-12-14"},
		"indicators":  []any{"*.wobcom.de", ":9901", "- x", "a: b", "#c", "&a", "!t", "|", ">", "%", "@", "`", "'q'", "\"q\"", "{x}", "[x]", "a,b", "a#b", "a #b", "a:b"},
		"spaces":      []any{" lead", "trail ", "with space", "tab\there", "a  very long string with many words that will surely need folding at the eighty column limit"},
		"long":        "x0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890",
		"unicode":     []any{"grüße", "名前", "é"},
		"escapes":     []any{"a\"b", "c\\d", "<x>&y", "line\u2028sep", "nul\x00", "bell\a"},
		"multi":       "line one\nline two\n",
		"multiNoEnd":  "line one\nline two",
		"multiBlank":  "a\n\nb\n",
		"multiIndent": "  indented\nnext\n",
		"multiTrail":  "trailing \nx\n",
		"multiMany":   map[string]any{"a": "x\ny\n", "b": "10.0.0.0/8", "c": "p: q\n- r\n", "d": "last\nline", "e": "#x\n\"y\""},
		"nested":      map[string]any{"a10": 1, "a9": 2, "a": map[string]any{}, "b": []any{}, "c": []any{map[string]any{"x": 1, "y": []any{"z"}}, map[string]any{}}},
		"keys":        map[string]any{"b2": 1, "b10": 2, "B": 3, "_x": 4, "1": 5, "01": 6, "z/y": 7, "true": 8, "a b": 9, "": 10},
		"mixed":       []any{1, true, nil, -7, "s"},
		"seqOfSeq":    []any{[]any{"a", "b"}},
		"float":       1.5,
		"longKey":     map[string]any{strings.Repeat("k", 99): 1, strings.Repeat("q", 130): 2},
	}
	for name, value := range awkward {
		t.Run(name, func(t *testing.T) {
			compareEncoders(t, map[string]any{name: value})
			compareEncoders(t, []any{value, map[string]any{name: value}})
		})
	}
	fleettest.SampleAndSynthetic(t, 3, func(t *testing.T, p *compiler.Plan) {
		files := mustRender(t, p)
		for name, content := range files {
			for _, obj := range documentsOf(t, name, content) {
				if obj == nil {
					continue // the empty rendered.yaml of a hub without shared services
				}
				compareEncoders(t, obj)
				// Rendered objects must not need the slow path, or the
				// build's speed would silently be lost.
				raw, err := json.Marshal(obj)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := fastJSONToYAML(raw); err != nil {
					t.Errorf("%s: %s %v: the fast encoder declines: %v", name, obj["kind"], obj["metadata"], err)
				}
			}
		}
	})
}

func compareEncoders(t *testing.T, v any) {
	t.Helper()
	want, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := toYAML(v)
	if err != nil {
		t.Fatalf("toYAML: %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("fast encoder differs from sigs.k8s.io/yaml (-library +fast):\n%s", diff)
	}
}

// documentsOf decodes every document of a rendered file into plain values.
func documentsOf(t *testing.T, name string, content []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, doc := range strings.Split(string(content), "\n---\n") {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, obj)
	}
	return out
}
