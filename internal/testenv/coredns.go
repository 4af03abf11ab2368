package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// CoreDNSBinary returns the path of the real coredns binary (v1.15.0, the
// default plugin set), building it on first use.
func CoreDNSBinary(t testing.TB) string {
	t.Helper()
	return filepath.Join(mustBuild(t, coreDNSTool()), "coredns")
}

// StartCoreDNS runs CoreDNS with corefileDir/Corefile, from corefileDir (so
// relative zone file paths resolve there), until t ends, and returns the
// address of its first plain-DNS listener (in CoreDNS's start-up listing,
// sorted by zone), e.g. "127.0.0.1:41234", once it answers queries.
//
// Server blocks without a port (". {", "example.org {") get a free port;
// a block with its own port should take it from FreeDNSPort. Without a bind
// directive CoreDNS listens on every interface; add "bind 127.0.0.1" to keep
// a test on loopback.
func StartCoreDNS(t testing.TB, corefileDir string) string {
	t.Helper()
	bin := CoreDNSBinary(t)
	addr, p, err := startCoreDNS(t.Context(), bin, corefileDir, filepath.Join(t.TempDir(), "coredns.log"))
	if p != nil {
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("testenv: last lines of %s:\n%s", p.logPath, p.logTail(8192))
			}
			p.stop()
		})
	}
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return addr
}

func startCoreDNS(ctx context.Context, bin, corefileDir, logPath string) (string, *process, error) {
	corefile, err := filepath.Abs(filepath.Join(corefileDir, "Corefile"))
	if err != nil {
		return "", nil, fmt.Errorf("locating the Corefile: %w", err)
	}
	if _, err := os.Stat(corefile); err != nil {
		return "", nil, fmt.Errorf("starting CoreDNS: %w (StartCoreDNS wants the directory holding the Corefile)", err)
	}
	port, err := freeDNSPort()
	if err != nil {
		return "", nil, err
	}
	p, err := startProcess("coredns", corefileDir, logPath, bin, "-conf", corefile, "-dns.port", strconv.Itoa(port))
	if err != nil {
		return "", nil, err
	}
	var addr netip.AddrPort
	err = p.waitFor(ctx, 30*time.Second, func(context.Context) error {
		addr, err = coreDNSListener(logPath)
		return err
	})
	if err != nil {
		return "", p, err
	}
	if err := p.waitFor(ctx, 10*time.Second, answers(addr.String())); err != nil {
		return "", p, err
	}
	return addr.String(), p, nil
}

// startupListener matches CoreDNS's start-up listing of a plain DNS server,
// "zone:port" or "zone:port on ip" (other transports carry a "proto://" prefix).
var startupListener = regexp.MustCompile(`^([^\s:/]+):(\d+)(?: on (\S+))?$`)

// coreDNSListener reads CoreDNS's output up to the version banner, which it
// prints once every server is listening, and returns the first plain DNS
// listener it listed.
func coreDNSListener(logPath string) (netip.AddrPort, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return netip.AddrPort{}, err
	}
	defer f.Close()
	var first netip.AddrPort
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := scanner.Text()
		if strings.HasPrefix(line, "CoreDNS-") {
			if !first.IsValid() {
				return netip.AddrPort{}, errors.New("CoreDNS started without a plain DNS server block; the Corefile needs one like \". { ... }\"")
			}
			return first, nil
		}
		m := startupListener.FindStringSubmatch(line)
		if m == nil || first.IsValid() {
			continue
		}
		port, err := strconv.ParseUint(m[2], 10, 16)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("CoreDNS listed %q: %w", line, err)
		}
		host := loopback()
		if m[3] != "" {
			if host, err = netip.ParseAddr(m[3]); err != nil {
				return netip.AddrPort{}, fmt.Errorf("CoreDNS listed %q: %w", line, err)
			}
			if host.IsUnspecified() {
				host = loopback()
			}
		}
		first = netip.AddrPortFrom(host, uint16(port))
	}
	if err := scanner.Err(); err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPort{}, errors.New("CoreDNS has not printed its start-up banner yet")
}

// answers is ready once the server sends any DNS response (whatever its
// rcode: the Corefile may serve nothing for the root).
func answers(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		query := new(dns.Msg)
		query.SetQuestion(".", dns.TypeNS)
		client := &dns.Client{Timeout: time.Second}
		_, _, err := client.ExchangeContext(ctx, query, addr)
		return err
	}
}
