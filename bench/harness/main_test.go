package main

import "testing"

// TestRoundRatios pairs the n-th value of each target (one round) and compares vsoc with the
// better peer of that round: the higher one for a rate, the lower one for a cost.
func TestRoundRatios(t *testing.T) {
	row := map[string][]float64{
		"vsoc":    {100, 90, 120},
		"nginx":   {80, 100, 100},
		"haproxy": {100, 50, 150},
	}
	lo, hi, ok := roundRatios(row, []string{"nginx", "haproxy"}, false)
	if !ok || lo != 0.8 || hi != 1.0 { // rounds: 100/100, 90/100, 120/150
		t.Fatalf("rates: %v-%v (%v), want 0.8-1", lo, hi, ok)
	}
	lo, hi, ok = roundRatios(row, []string{"nginx", "haproxy"}, true)
	if !ok || lo != 50.0/90 || hi != 100.0/120 { // rounds: 80/100, 50/90, 100/120
		t.Fatalf("costs: %v-%v (%v), want 0.56-0.83", lo, hi, ok)
	}
	if _, _, ok := roundRatios(map[string][]float64{"vsoc": {1}}, []string{"nginx", "haproxy"}, false); ok {
		t.Fatal("a ratio without peer figures")
	}
	// Another set of peers: the better of nginx-hc and HAProxy in each round.
	row["nginx-hc"] = []float64{50, 120, 60}
	lo, hi, ok = roundRatios(row, []string{"nginx-hc", "haproxy"}, false)
	if !ok || lo != 0.75 || hi != 1.0 { // rounds: 100/100, 90/120, 120/150
		t.Fatalf("rates against nginx-hc and haproxy: %v-%v (%v), want 0.75-1", lo, hi, ok)
	}
}
