// Command genfleet writes a synthetic customers repository of n customers
// that validates clean (see internal/fleettest/fleetgen).
//
//	go run ./testdata/genfleet -n 10000 -o /tmp/fleet
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/vsoc/vsoc/internal/fleettest/fleetgen"
)

func main() {
	n := flag.Int("n", 1000, "number of customers")
	out := flag.String("o", "", "output folder (created)")
	flag.Parse()
	if *out == "" || *n < 1 || *n > fleetgen.MaxCustomers {
		fmt.Fprintf(os.Stderr, "usage: genfleet -n 1..%d -o DIR\n", fleetgen.MaxCustomers)
		os.Exit(2)
	}
	if err := fleetgen.Write(*out, *n); err != nil {
		fmt.Fprintln(os.Stderr, "genfleet:", err)
		os.Exit(1)
	}
}
