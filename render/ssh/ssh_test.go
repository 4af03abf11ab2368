package ssh

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/fleettest"
	"github.com/vsoc/vsoc/internal/golden"
)

func TestRenderGolden(t *testing.T) {
	_, files := fleettest.RenderSample(t, Render)
	if len(files) != 5 {
		t.Errorf("rendered %d files, want one per sample customer (5)", len(files))
	}
	golden.CheckTree(t, "ssh", files)
}

// TestOpenSSHResolvesTheProxyCommand asks the real OpenSSH client (ssh -G
// prints the configuration it would use) which ProxyCommand applies to hosts
// inside and outside every customer's domains.
func TestOpenSSHResolvesTheProxyCommand(t *testing.T) {
	plan, files := fleettest.RenderSample(t, Render)
	dir := t.TempDir()
	for _, c := range plan.Customers {
		path := filepath.Join(dir, c.Customer.Name+".conf")
		if err := os.WriteFile(path, files["ssh/"+c.Customer.Name+".conf"], 0o644); err != nil {
			t.Fatal(err)
		}
		for _, domain := range c.Customer.DNS.Domains {
			for _, host := range []string{"somehost." + domain, "node-1.cluster.eu-west." + domain} {
				got := sshG(t, path, host)
				want := "nc -X connect -x proxy." + domain + ":3128 %h %p"
				if got["proxycommand"] != want {
					t.Errorf("%s: ssh -G %s: proxycommand %q, want %q", c.Customer.Name, host, got["proxycommand"], want)
				}
				if got["serveraliveinterval"] != "30" {
					t.Errorf("%s: ssh -G %s: serveraliveinterval %q, want 30", c.Customer.Name, host, got["serveraliveinterval"])
				}
			}
		}
		for _, host := range []string{"host.example.org", domainApex(c)} {
			if pc, ok := sshG(t, path, host)["proxycommand"]; ok {
				t.Errorf("%s: ssh -G %s: proxycommand %q for a host outside the customer's domains", c.Customer.Name, host, pc)
			}
		}
	}
}

// TestNoProxyCommandWithoutConnect renders a customer whose proxy does not
// serve CONNECT: OpenSSH must not be pointed at a closed port.
func TestNoProxyCommandWithoutConnect(t *testing.T) {
	plan := fleettest.SamplePlan(t)
	c := fleettest.Customer(t, plan, "wobcom")
	var kept []compiler.Listener
	for _, l := range c.Listeners {
		if l.Port != 3128 {
			kept = append(kept, l)
		}
	}
	c.Listeners = kept
	conf, err := Config(plan, c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(conf), "SSH to these hosts is not available") {
		t.Errorf("the config does not say why SSH is unavailable:\n%s", conf)
	}
	path := filepath.Join(t.TempDir(), "wobcom.conf")
	if err := os.WriteFile(path, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	if pc, ok := sshG(t, path, "somehost.wobcom.de")["proxycommand"]; ok {
		t.Errorf("proxycommand %q although the proxy serves no CONNECT", pc)
	}
}

func TestDomainThatWouldBreakTheFileIsRefused(t *testing.T) {
	plan := fleettest.SamplePlan(t)
	c := fleettest.Customer(t, plan, "wobcom")
	c.Customer.DNS.Domains = []string{"wobcom.de\n    ProxyCommand sh"}
	_, err := Config(plan, c)
	if err == nil {
		t.Fatal("no error for a domain with a newline")
	}
	for _, s := range []string{"customers/wobcom.cue:", "dns.domains[0]", "hint"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	fleettest.CheckDeterministic(t, Render)
}

// sshG runs `ssh -G -F conf host` and returns its settings by keyword.
func sshG(t *testing.T, conf, host string) map[string]string {
	t.Helper()
	bin, err := exec.LookPath("ssh")
	if err != nil {
		t.Fatalf("the OpenSSH client is required (Debian: openssh-client): %v", err)
	}
	cmd := exec.CommandContext(t.Context(), bin, "-G", "-F", conf, host)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ssh -G -F %s %s: %v\n%s", conf, host, err, stderr.String())
	}
	settings := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		key, value, ok := strings.Cut(line, " ")
		if ok {
			settings[key] = value
		}
	}
	return settings
}

// domainApex is a name the `Host *.<domain>` pattern does not match: the
// customer's first domain itself.
func domainApex(c compiler.CustomerPlan) string { return c.Customer.DNS.Domains[0] }
