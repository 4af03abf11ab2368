package ssh

import (
	"testing"

	"github.com/vsoc/vsoc/internal/fleettest"
)

// BenchmarkRender renders a fleet of 10,000 customers shaped like the
// sample's wobcom (services, a static mapping, KKP endpoints).
func BenchmarkRender(b *testing.B) {
	fleettest.BenchmarkRender(b, fleettest.WobcomCopies(b, 10000), Render)
}
