// Command netpol-oracle answers "would these NetworkPolicies let this
// connection through?" with github.com/mattfenwick/cyclonus's matcher, an
// engine written independently of vsoc's renderer, so that tests can compare
// the renderer's intended reachability matrix with what Kubernetes semantics
// actually give.
//
// Usage:
//
//	netpol-oracle -probes probes.json MANIFEST_FILE_OR_DIR...
//
// Manifests are Kubernetes YAML (multi-document files, or directories walked
// recursively for *.yaml / *.yml); Namespaces and NetworkPolicies are read,
// every other kind is ignored. Probes are a JSON list (see probe). The answer
// is a JSON list on stdout, one entry per probe, in the probes' order.
// Warnings (input the matcher reads differently from Kubernetes) go to stderr.
// The exit status is 0 whatever the verdicts; 1 on bad input, 2 on bad usage.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status so that the
// oracle can be exercised in-process by its tests.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("netpol-oracle", flag.ContinueOnError)
	flags.SetOutput(stderr)
	probesPath := flags.String("probes", "", "JSON file with the list of probes (\"-\" reads stdin)")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: netpol-oracle -probes PROBES.json MANIFEST_FILE_OR_DIR...")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *probesPath == "" || flags.NArg() == 0 {
		fmt.Fprintln(stderr, "netpol-oracle: need -probes and at least one manifest file or directory")
		flags.Usage()
		return 2
	}

	set, err := loadManifests(flags.Args())
	if err != nil {
		fmt.Fprintf(stderr, "netpol-oracle: %v\n", err)
		return 1
	}
	for _, warning := range set.warnings {
		fmt.Fprintf(stderr, "netpol-oracle: warning: %s\n", warning)
	}
	probes, err := loadProbes(*probesPath, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "netpol-oracle: %v\n", err)
		return 1
	}
	verdicts, err := evaluate(set, probes)
	if err != nil {
		fmt.Fprintf(stderr, "netpol-oracle: %v\n", err)
		return 1
	}
	if err := writeVerdicts(stdout, verdicts); err != nil {
		fmt.Fprintf(stderr, "netpol-oracle: writing verdicts: %v\n", err)
		return 1
	}
	return 0
}
