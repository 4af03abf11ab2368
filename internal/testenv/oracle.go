package testenv

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// NetpolOracle returns the path of the netpol-oracle CLI (cyclonus's
// NetworkPolicy matcher; see testdata/tools/netpol-oracle), building it on
// first use. CheckReachability runs it for you.
func NetpolOracle(t testing.TB) string {
	t.Helper()
	return filepath.Join(mustBuild(t, netpolOracleTool()), "netpol-oracle")
}

// Endpoint is one side of a Probe: a pod (Namespace set, Labels are its pod
// labels) or, without Namespace, a host outside the cluster. IP is always
// required, since ipBlock peers match pods by address too.
type Endpoint struct {
	Namespace string            `json:"namespace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	IP        string            `json:"ip"`
}

// Probe is one connection for the oracle to judge.
type Probe struct {
	Name     string   `json:"name,omitempty"`
	From     Endpoint `json:"from"`
	To       Endpoint `json:"to"`
	Port     int      `json:"port"`
	PortName string   `json:"portName,omitempty"` // the destination's container port name, for policies naming ports
	Protocol string   `json:"protocol,omitempty"` // TCP (default), UDP or SCTP
}

// DirectionVerdict is the oracle's answer for ingress (at the destination
// pod) or egress (at the source pod). AllowedBy and DeniedBy name the
// policies ("namespace/name") selecting that pod whose rules do or do not
// admit the traffic.
type DirectionVerdict struct {
	Allowed   bool     `json:"allowed"`
	AllowedBy []string `json:"allowedBy"`
	DeniedBy  []string `json:"deniedBy"`
}

// Verdict is the oracle's answer for one Probe.
type Verdict struct {
	Name    string           `json:"name,omitempty"`
	Allowed bool             `json:"allowed"`
	Ingress DirectionVerdict `json:"ingress"`
	Egress  DirectionVerdict `json:"egress"`
}

// CheckReachability asks the oracle about probes against the Namespaces and
// NetworkPolicies in manifests (YAML files or directories; other kinds are
// ignored) and returns one verdict per probe, in order. Bad input fails t
// with the oracle's message.
func CheckReachability(t testing.TB, manifests []string, probes []Probe) []Verdict {
	t.Helper()
	oracle := NetpolOracle(t)
	probesJSON, err := json.Marshal(probes)
	if err != nil {
		t.Fatalf("testenv: encoding probes: %v", err)
	}
	probesPath := filepath.Join(t.TempDir(), "probes.json")
	if err := os.WriteFile(probesPath, probesJSON, 0o644); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	cmd := exec.CommandContext(t.Context(), oracle, append([]string{"-probes", probesPath}, manifests...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("testenv: netpol-oracle failed (%v): %s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Logf("testenv: netpol-oracle: %s", stderr.String()) // warnings, e.g. NotIn selectors
	}
	var verdicts []Verdict
	if err := json.Unmarshal(stdout.Bytes(), &verdicts); err != nil {
		t.Fatalf("testenv: netpol-oracle output is not a verdict list: %v\n%s", err, stdout.String())
	}
	if len(verdicts) != len(probes) {
		t.Fatalf("testenv: netpol-oracle answered %d probes, asked %d", len(verdicts), len(probes))
	}
	return verdicts
}
