package fastyaml

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	// Registers -update, so that `go test ./render/... -update` runs here too.
	_ "github.com/vsoc/vsoc/internal/golden"
)

// TestSharedEncoderMatchesLibrary: one Encoder reused across many values
// (as a render worker reuses it across customers) writes exactly what
// sigs.k8s.io/yaml writes, whether a string's formatting comes from the
// cache, from a fresh batch, or after the cache started over.
func TestSharedEncoderMatchesLibrary(t *testing.T) {
	enc := NewEncoder()
	values := []any{
		map[string]any{"cidrs": []any{"10.0.0.0/8", "100.64.0.0/10"}, "port": "8443", "on": "off"},
		// The same strings again (cached), mixed with new ones (a new batch).
		map[string]any{"a": []any{"10.0.0.0/8", "*.example.com", ":9901"}, "b": map[string]any{"100.64.0.0/10": "yes"}},
		[]any{map[string]any{"op": "add", "path": "/spec/ports/-", "value": map[string]any{"containerPort": 8443}}},
		map[string]any{"multi": "line one\nline two\n", "empty": map[string]any{}, "list": []any{}},
		// A string with a space declines the fast path; the library writes it.
		map[string]any{"spaced": "two words", "cidr": "10.0.0.0/8"},
	}
	// More distinct strings than the cache holds, so that it starts over
	// at least once in the middle of the run.
	var many []any
	for i := range maxCachedScalars + 500 {
		many = append(many, fmt.Sprintf("10.%d.%d.0/24", i/256, i%256))
	}
	for i := 0; i < len(many); i += 1000 {
		values = append(values, map[string]any{"subnets": many[i:min(i+1000, len(many))], "first": many[0]})
	}
	values = append(values, values[0], values[1])
	t.Run("MarshalAll", func(t *testing.T) {
		// Batches of several objects, one of them with the string that
		// declines the batch.
		batches := [][]any{values[:4], values[:5], values[5:], values[len(values)-2:]}
		enc := NewEncoder()
		for b, batch := range batches {
			got, err := enc.MarshalAll(batch...)
			if err != nil {
				t.Fatalf("batch %d: %v", b, err)
			}
			for i, v := range batch {
				want, err := yaml.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(string(want), string(got[i])); diff != "" {
					t.Errorf("batch %d, value %d: differs from sigs.k8s.io/yaml (-library +fast):\n%s", b, i, diff)
				}
			}
		}
	})
	for i, v := range values {
		want, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := enc.Marshal(v)
		if err != nil {
			t.Fatalf("value %d: %v", i, err)
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("value %d: the shared encoder differs from sigs.k8s.io/yaml (-library +fast):\n%s", i, diff)
		}
	}
	if n := len(enc.scalars); n == 0 || n > maxCachedScalars {
		t.Errorf("the cache holds %d strings, want 1..%d", n, maxCachedScalars)
	}
}

// TestFromJSONKeepsEveryKey: an object is kept in encoding order and sorted
// while written; a repeated key (which encoding/json never writes) is left
// to the library rather than written twice.
func TestFromJSONKeepsEveryKey(t *testing.T) {
	got, err := NewEncoder().FromJSON([]byte(`{"b":1,"a10":2,"a9":3}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "a9: 3\na10: 2\nb: 1\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := NewEncoder().FromJSON([]byte(`{"a":1,"a":2}`)); err != ErrNotFast {
		t.Errorf("a repeated key: got %v, want ErrNotFast", err)
	}
}
