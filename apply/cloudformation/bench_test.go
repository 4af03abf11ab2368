package cloudformation

import (
	"fmt"
	"io"
	"testing"
	"time"
)

// BenchmarkNoopApply measures a run over a deployed fleet that has not
// changed (the common case of a CI apply after an unrelated merge): per
// stack one DescribeStacks, one ListChangeSets and one GetTemplate through
// the real SDK and HTTP on loopback.
func BenchmarkNoopApply(b *testing.B) {
	for _, customers := range []int{10, 100} {
		b.Run(fmt.Sprintf("customers=%d", customers), func(b *testing.B) {
			e := newEnvStep(b, time.Millisecond)
			f := fleet{hub: hubTemplate(), customers: map[string]customerParams{}}
			for i := range customers {
				f.customers[fmt.Sprintf("c%04d", i)] = customerParams{cidr: fmt.Sprintf("100.%d.%d.0/24", 65+i/256, i%256), asn: 65000, ports: []int{443}}
			}
			opts := Options{Execute: true, Parallelism: 8, PollInterval: time.Millisecond, Progress: io.Discard}
			for _, r := range New(e.client, opts).Apply(b.Context(), f.stacks(), nil) {
				if r.Outcome != Created {
					b.Fatalf("%s: %s %s", r.Stack, r.Outcome, r.Error)
				}
			}
			b.ResetTimer()
			for b.Loop() {
				for _, r := range New(e.client, opts).Apply(b.Context(), f.stacks(), nil) {
					if r.Outcome != Unchanged {
						b.Fatalf("%s: %s", r.Stack, r.Outcome)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(customers+1), "µs/stack")
		})
	}
}
