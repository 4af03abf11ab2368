package fleetgen

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vsoc/vsoc/schema"

	_ "github.com/vsoc/vsoc/internal/golden" // defines -update, so that `go test ./... -update` runs this package too
)

func TestWriteWritesTheHubTheSchemaAndEveryCustomer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fleet")
	if err := Write(dir, 3); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got, want := strings.Join(names, " "), "c00000.cue c00001.cue c00002.cue hub.cue schema.cue"; got != want {
		t.Errorf("files %s, want %s", got, want)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "schema.cue")); err != nil || string(b) != string(schema.Source) {
		t.Errorf("schema.cue is not the vendored schema (%v)", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "c00001.cue"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`customers: c00001: {`, `cidrs: ["100.66.1.0/24"]`, `address: "81.1.2.1"`, `domains: ["c00001.example.com"]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("c00001.cue lacks %s:\n%s", want, b)
		}
	}
}

func TestEveryVPCFitsTheSharedAddressSpace(t *testing.T) {
	shared := netip.MustParsePrefix("100.64.0.0/10")
	hubAndPool := netip.MustParsePrefix("100.64.0.0/15")
	for _, i := range []int{0, 1, 255, 256, MaxCustomers - 1} {
		vpc := vpcCIDR(i)
		if !shared.Contains(vpc.Addr()) || hubAndPool.Overlaps(vpc) {
			t.Errorf("customer %d: VPC %s is outside 100.64.0.0/10 or overlaps the hub or the client pool", i, vpc)
		}
	}
	if vpcCIDR(0).Overlaps(vpcCIDR(1)) || vpcCIDR(255).Overlaps(vpcCIDR(256)) {
		t.Error("neighbouring customers share a VPC")
	}
}

func TestWriteRefusesSizesTheAddressPlanCannotHold(t *testing.T) {
	for _, n := range []int{0, -1, MaxCustomers + 1} {
		err := Write(t.TempDir(), n)
		if err == nil || !strings.Contains(err.Error(), "holds 1 to") {
			t.Errorf("Write(%d customers) = %v, want an error naming the limits", n, err)
		}
	}
}
