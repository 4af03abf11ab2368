package sniproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// env is a proxy in front of a small "customer network" on loopback.
type env struct {
	pki         *testPKI
	dns         *dnsServer
	tlsBackend  netip.AddrPort
	httpBackend netip.AddrPort
	legacy      netip.AddrPort // TLS on a non-standard port, reached by a static mapping
	tcpBackend  netip.AddrPort // plain HTTP on a non-standard port behind the tcp listener
	canary      *canary        // 127.0.0.1 on the TLS upstream's port: must never be dialled
	cfg         *Config
	srv         *Server
	audit       *auditLog
}

func newEnv(t *testing.T, tweak func(*Config)) *env {
	t.Helper()
	e := &env{pki: newPKI(t), dns: startDNS(t)}
	tlsLn, canaryLn := listenSamePort(t, backendIP, canaryIP)
	e.tlsBackend = serveHTTPBackend(t, tlsLn, e.pki, "tls-backend")
	e.canary = serveCanary(t, canaryLn)
	e.httpBackend = startHTTPBackend(t, backendIP, nil, "http-backend")
	e.legacy = startHTTPBackend(t, backend2IP, e.pki, "legacy-backend")
	e.tcpBackend = startHTTPBackend(t, backend2IP, nil, "tcp-backend")

	e.dns.set("www.example.test", 60, backendIP)
	e.dns.set("a.b.example.test", 60, backendIP)
	e.dns.set("vault.example.test", 60, backendIP)
	e.dns.set("metadata.example.test", 60, netip.MustParseAddr("169.254.169.254"))
	e.dns.set("loopback.example.test", 60, canaryIP)
	e.dns.set("other.example.test", 60, netip.MustParseAddr("10.20.0.5")) // another customer's VPC
	e.dns.set("hub.example.test", 60, netip.MustParseAddr("10.99.0.10"))  // the hub
	e.dns.set("ssh.example.test", 60, backend2IP)
	e.dns.set("rebind.example.test", 0, backendIP)

	e.cfg = &Config{
		Listeners: []Listener{
			{Name: "https", Address: "127.0.0.1:0", Protocol: ProtocolTLS, UpstreamPort: e.tlsBackend.Port()},
			{Name: "http", Address: "127.0.0.1:0", Protocol: ProtocolHTTP, UpstreamPort: e.httpBackend.Port()},
			{Name: "connect", Address: "127.0.0.1:0", Protocol: ProtocolConnect},
			{Name: "legacy-tcp", Address: "127.0.0.1:0", Protocol: ProtocolTCP},
		},
		Allow: []string{"*.example.test"},
		Deny:  []string{"vault.example.test"},
		Static: []StaticMapping{
			{Host: "legacy.example.test", Listener: "https", Target: e.legacy},
			{Listener: "legacy-tcp", Target: e.tcpBackend},
		},
		AllowedDestinations: []netip.Prefix{netip.PrefixFrom(backendIP, 32), netip.PrefixFrom(backend2IP, 32)},
		Resolvers:           []netip.AddrPort{e.dns.addr},
		Timeouts:            Timeouts{Handshake: Duration(2 * time.Second), Idle: Duration(10 * time.Second)},
	}
	if tweak != nil {
		tweak(e.cfg)
	}
	e.srv, e.audit = startProxy(t, e.cfg)
	return e
}

func (e *env) port(listener string) string { return portOf(e.srv.Addr(listener)) }

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found (install the Debian package providing it): %v", name, err)
	}
	return p
}

func runTool(t *testing.T, stdin string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, needTool(t, name), args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (e *env) curlTLS(t *testing.T, name string) (string, error) {
	return runTool(t, "", "curl", "-sS", "--max-time", "5", "--cacert", e.pki.caFile,
		"--connect-to", name+":443:127.0.0.1:"+e.port("https"), "https://"+name+"/")
}

func TestCurlThroughSNIListener(t *testing.T) {
	e := newEnv(t, nil)
	for _, name := range []string{"www.example.test", "a.b.example.test", "WWW.Example.Test"} {
		out, err := e.curlTLS(t, name)
		if err != nil || !strings.Contains(out, "tls-backend host="+name) {
			t.Fatalf("curl https://%s through the proxy: %v\n%s", name, err, out)
		}
	}
	r := e.audit.waitFor(t, map[string]any{"name": "www.example.test", "decision": "allow"})
	if r["reason"] != "allowlist" || r["target"] != e.tlsBackend.String() || r["listener"] != "https" {
		t.Errorf("audit record %v: want reason allowlist, target %s", r, e.tlsBackend)
	}
	for _, k := range []string{"time", "client", "bytes_up", "bytes_down", "duration_s"} {
		if _, ok := r[k]; !ok {
			t.Errorf("audit record lacks %q: %v", k, r)
		}
	}
	if r["bytes_up"].(float64) <= 0 || r["bytes_down"].(float64) <= 0 {
		t.Errorf("audit record counts no bytes: %v", r)
	}
}

func TestCurlThroughHostListener(t *testing.T) {
	e := newEnv(t, nil)
	out, err := runTool(t, "", "curl", "-sS", "--max-time", "5",
		"--connect-to", "www.example.test:80:127.0.0.1:"+e.port("http"), "http://www.example.test/")
	if err != nil || !strings.Contains(out, "http-backend host=www.example.test") {
		t.Fatalf("curl http through the proxy: %v\n%s", err, out)
	}
	out, err = runTool(t, "", "curl", "-sS", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}",
		"--connect-to", "nope.other.test:80:127.0.0.1:"+e.port("http"), "http://nope.other.test/")
	if err != nil || out != "403" {
		t.Fatalf("curl for a name outside the allowlist: want 403, got %q (%v)", out, err)
	}
	e.audit.waitFor(t, map[string]any{"name": "nope.other.test", "listener": "http", "decision": "refuse", "reason": "not_allowed"})
}

func TestOpenSSLSClient(t *testing.T) {
	e := newEnv(t, nil)
	out, err := runTool(t, "GET / HTTP/1.1\r\nHost: www.example.test\r\nConnection: close\r\n\r\n",
		"openssl", "s_client", "-connect", "127.0.0.1:"+e.port("https"), "-servername", "www.example.test",
		"-CAfile", e.pki.caFile, "-verify_return_error", "-ign_eof")
	if err != nil || !strings.Contains(out, "Verify return code: 0 (ok)") || !strings.Contains(out, "tls-backend host=www.example.test") {
		t.Fatalf("openssl s_client through the proxy: %v\n%s", err, out)
	}
}

func TestStaticMappings(t *testing.T) {
	e := newEnv(t, nil)
	// A static host on the SNI listener goes to its fixed target on a non-standard port, even though
	// DNS knows nothing of the name.
	out, err := e.curlTLS(t, "legacy.example.test")
	if err != nil || !strings.Contains(out, "legacy-backend") {
		t.Fatalf("static mapping on the SNI listener: %v\n%s", err, out)
	}
	e.audit.waitFor(t, map[string]any{"name": "legacy.example.test", "reason": "static", "target": e.legacy.String()})
	// The tcp listener forwards everything to its single static target.
	out, err = runTool(t, "", "curl", "-sS", "--max-time", "5", "http://127.0.0.1:"+e.port("legacy-tcp")+"/")
	if err != nil || !strings.Contains(out, "tcp-backend") {
		t.Fatalf("tcp listener static mapping: %v\n%s", err, out)
	}
	e.audit.waitFor(t, map[string]any{"listener": "legacy-tcp", "decision": "allow", "reason": "static", "target": e.tcpBackend.String()})
}

// A tls listener without an upstream port (a service on a non-standard port) serves its static
// mappings and refuses every other name, even an allowed one that resolves inside the remote
// subnets.
func TestStaticOnlyListener(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Listeners = append(c.Listeners, Listener{Name: "legacy-tls", Address: "127.0.0.1:0", Protocol: ProtocolTLS})
		c.Static = append(c.Static, StaticMapping{Host: "legacy.example.test", Listener: "legacy-tls", Target: e2eLegacy(c)})
	})
	connectTo := func(name string) (string, error) {
		return runTool(t, "", "curl", "-sS", "--max-time", "5", "--cacert", e.pki.caFile,
			"--connect-to", name+":443:127.0.0.1:"+e.port("legacy-tls"), "https://"+name+"/")
	}
	if out, err := connectTo("legacy.example.test"); err != nil || !strings.Contains(out, "legacy-backend") {
		t.Fatalf("static mapping on a static-only listener: %v\n%s", err, out)
	}
	if out, err := connectTo("www.example.test"); err == nil {
		t.Fatalf("an allowed name was routed dynamically on a static-only listener:\n%s", out)
	}
	e.audit.waitFor(t, map[string]any{"listener": "legacy-tls", "name": "www.example.test", "decision": "refuse", "reason": "no_route"})
}

// e2eLegacy is the legacy backend the default static mapping of newEnv targets.
func e2eLegacy(c *Config) netip.AddrPort {
	for _, m := range c.Static {
		if m.Host == "legacy.example.test" {
			return m.Target
		}
	}
	panic("newEnv has no legacy mapping")
}

func TestRefusals(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		name, reason, target string
	}{
		{"nope.other.test", "not_allowed", ""},
		{"example.test", "not_allowed", ""}, // the apex is not matched by *.example.test
		{"vault.example.test", "denied", ""},
		{"metadata.example.test", "destination_forbidden", "169.254.169.254:" + fmt.Sprint(e.tlsBackend.Port())},
		{"loopback.example.test", "destination_forbidden", netip.AddrPortFrom(canaryIP, e.tlsBackend.Port()).String()},
		{"other.example.test", "destination_forbidden", "10.20.0.5:" + fmt.Sprint(e.tlsBackend.Port())},
		{"hub.example.test", "destination_forbidden", "10.99.0.10:" + fmt.Sprint(e.tlsBackend.Port())},
		{"unknown.example.test", "resolve_failed", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := e.curlTLS(t, tc.name)
			if err == nil {
				t.Fatalf("curl https://%s succeeded through the proxy:\n%s", tc.name, out)
			}
			want := map[string]any{"name": tc.name, "decision": "refuse", "reason": tc.reason}
			if tc.target != "" {
				want["target"] = tc.target
			}
			e.audit.waitFor(t, want)
		})
	}
	if n := e.canary.accepted.Load(); n != 0 {
		t.Fatalf("the proxy connected %d times to 127.0.0.1", n)
	}
}

func TestDNSRebindingRefusedAtDial(t *testing.T) {
	e := newEnv(t, nil)
	if out, err := e.curlTLS(t, "rebind.example.test"); err != nil || !strings.Contains(out, "tls-backend") {
		t.Fatalf("first connection (name on an allowed address): %v\n%s", err, out)
	}
	// Same name, TTL 0: the next answer points at the proxy's own host.
	e.dns.set("rebind.example.test", 0, canaryIP)
	if out, err := e.curlTLS(t, "rebind.example.test"); err == nil {
		t.Fatalf("second connection reached %s:\n%s", canaryIP, out)
	}
	e.audit.waitFor(t, map[string]any{"name": "rebind.example.test", "decision": "allow"})
	e.audit.waitFor(t, map[string]any{"name": "rebind.example.test", "decision": "refuse", "reason": "destination_forbidden",
		"target": netip.AddrPortFrom(canaryIP, e.tlsBackend.Port()).String()})
	if n := e.canary.accepted.Load(); n != 0 {
		t.Fatalf("the proxy connected %d times to 127.0.0.1", n)
	}
}

// TestDialGuardChecksActualAddress proves the guard sits in the connect itself: even a caller that
// skips every routing check cannot reach an address outside the allowed destinations.
func TestDialGuardChecksActualAddress(t *testing.T) {
	c := startCanary(t, netip.AddrPortFrom(canaryIP, 0))
	ok := startCanary(t, netip.AddrPortFrom(backendIP, 0))
	g := newDestinationGuard([]netip.Prefix{netip.PrefixFrom(backendIP, 32)}, nil)
	if fd, err := g.connect(c.addr); !errors.Is(err, ErrForbiddenDestination) || fd != -1 {
		t.Fatalf("connect %s: want ErrForbiddenDestination and no socket, got %d, %v", c.addr, fd, err)
	}
	// The IPv4-mapped form of a forbidden address is the same address.
	mapped := netip.AddrPortFrom(netip.AddrFrom16(c.addr.Addr().As16()), c.addr.Port())
	if _, err := g.connect(mapped); !errors.Is(err, ErrForbiddenDestination) {
		t.Fatalf("connect %s: want ErrForbiddenDestination, got %v", mapped, err)
	}
	fd, err := g.connect(ok.addr)
	if err != nil {
		t.Fatalf("connect allowed %s: %v", ok.addr, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for ok.accepted.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	rawClose(fd)
	if c.accepted.Load() != 0 || ok.accepted.Load() != 1 {
		t.Fatalf("accepted: forbidden %d (want 0), allowed %d (want 1)", c.accepted.Load(), ok.accepted.Load())
	}
}

// connectRaw sends a CONNECT for target and returns the status line.
func connectRaw(t *testing.T, proxy, target string) (string, net.Conn) {
	t.Helper()
	c, err := net.DialTimeout("tcp", proxy, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	status, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("CONNECT %s: reading status: %v", target, err)
	}
	return strings.TrimSpace(status), c
}

func TestConnectIPLiterals(t *testing.T) {
	e := newEnv(t, nil)
	proxy := "127.0.0.1:" + e.port("connect")
	for _, target := range []string{
		"169.254.169.254:80",
		e.canary.addr.String(),
		"10.20.0.5:22",
		"[::1]:22",
	} {
		status, c := connectRaw(t, proxy, target)
		c.Close()
		if !strings.HasPrefix(status, "HTTP/1.1 403") {
			t.Errorf("CONNECT %s: status %q, want 403", target, status)
		}
		e.audit.waitFor(t, map[string]any{"listener": "connect", "decision": "refuse", "reason": "destination_forbidden", "target": target})
	}
	if n := e.canary.accepted.Load(); n != 0 {
		t.Fatalf("the proxy connected %d times to 127.0.0.1", n)
	}
	// An IP literal inside the remote subnets is tunnelled; bytes sent right after the CONNECT head
	// (before the 200) are forwarded too.
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nHost: ip\r\nConnection: close\r\n\r\n", e.httpBackend)
	br := bufio.NewReader(c)
	status, _ := br.ReadString('\n')
	if !strings.HasPrefix(status, "HTTP/1.1 200") {
		t.Fatalf("CONNECT %s: status %q", e.httpBackend, status)
	}
	rest, _ := readAll(br)
	if !strings.Contains(rest, "http-backend host=ip") {
		t.Fatalf("tunnelled request got %q", rest)
	}
	// curl, a real client, gets the refusal for a forbidden literal.
	out, err := runTool(t, "", "curl", "-sS", "--max-time", "5", "-p", "-x", "http://"+proxy, "http://169.254.169.254/")
	if err == nil || !strings.Contains(out, "403") {
		t.Fatalf("curl CONNECT to 169.254.169.254: want a 403 failure, got %v\n%s", err, out)
	}
}

func readAll(br *bufio.Reader) (string, error) {
	var sb strings.Builder
	_, err := br.WriteTo(&sb)
	return sb.String(), err
}

func TestSSHThroughConnect(t *testing.T) {
	sshd := needTool(t, "sshd")
	needTool(t, "ssh")
	needTool(t, "nc")
	keygen := needTool(t, "ssh-keygen")
	e := newEnv(t, nil)
	dir := t.TempDir()
	for _, k := range []string{"hostkey", "userkey"} {
		if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, k)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	pub, err := os.ReadFile(filepath.Join(dir, "userkey.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// sshd started as root insists on its privilege-separation directory.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("creating /run/sshd: %v", err)
		}
	}
	port := freePort(t, backend2IP)
	conf := fmt.Sprintf(`ListenAddress %s
HostKey %s
PidFile none
UsePAM no
StrictModes no
AuthorizedKeysFile %s
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
LogLevel ERROR
`, netip.AddrPortFrom(backend2IP, port), filepath.Join(dir, "hostkey"), filepath.Join(dir, "authorized_keys"))
	confPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sshd, "-D", "-e", "-f", confPath)
	var sshdLog strings.Builder
	cmd.Stderr = &sshdLog
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting sshd: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitListening(t, netip.AddrPortFrom(backend2IP, port), &sshdLog)

	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	out, err := runTool(t, "", "ssh", "-F", "/dev/null", "-i", filepath.Join(dir, "userkey"),
		"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "ProxyCommand=nc -X connect -x 127.0.0.1:"+e.port("connect")+" %h %p",
		"-p", fmt.Sprint(port), me.Username+"@ssh.example.test", "echo", "hello-through-the-proxy")
	if err != nil || !strings.Contains(out, "hello-through-the-proxy") {
		t.Fatalf("ssh through CONNECT: %v\n%s\nsshd: %s", err, out, sshdLog.String())
	}
	e.audit.waitFor(t, map[string]any{"listener": "connect", "name": "ssh.example.test", "port": port, "decision": "allow",
		"target": netip.AddrPortFrom(backend2IP, port).String()})
}

func freePort(t *testing.T, ip netip.Addr) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return netip.MustParseAddrPort(ln.Addr().String()).Port()
}

func waitListening(t *testing.T, ap netip.AddrPort, log fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ap.String(), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never listened: %v\n%s", ap, err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestHTTPListenerAnswersRefusals(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct{ listener, req, status, reason string }{
		{"http", "GET / HTTP/1.1\r\nHost: vault.example.test\r\n\r\n", "HTTP/1.1 403 Forbidden", "denied"},
		{"http", "GET / HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n", "HTTP/1.1 403 Forbidden", "destination_forbidden"},
		{"http", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "HTTP/1.1 400 Bad Request", "bad_request"},
		{"http", "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request", "bad_request"},
		// Larger than maxRequestHead, though it arrives whole.
		{"http", "GET / HTTP/1.1\r\nHost: www.example.test\r\nX-Pad: " + strings.Repeat("x", 40<<10) + "\r\n\r\n", "HTTP/1.1 400 Bad Request", "bad_request"},
		{"http", "CONNECT www.example.test:443 HTTP/1.1\r\n\r\n", "HTTP/1.1 405 Method Not Allowed", "connect_not_served"},
		{"connect", "GET / HTTP/1.1\r\nHost: www.example.test\r\n\r\n", "HTTP/1.1 405 Method Not Allowed", "not_connect"},
		{"connect", "CONNECT nope.other.test:22 HTTP/1.1\r\n\r\n", "HTTP/1.1 403 Forbidden", "not_allowed"},
	} {
		if got, _ := httpStatus(t, e, tc.listener, tc.req); got != tc.status {
			t.Errorf("%s %.80q: status %q, want %q", tc.listener, tc.req, got, tc.status)
		}
		e.audit.waitFor(t, map[string]any{"listener": tc.listener, "decision": "refuse", "reason": tc.reason})
	}
}

func TestTLSWithoutServerNameIsRefused(t *testing.T) {
	e := newEnv(t, nil)
	out, err := runTool(t, "", "openssl", "s_client", "-connect", "127.0.0.1:"+e.port("https"), "-noservername")
	if err == nil && strings.Contains(out, "Verify return code: 0") {
		t.Fatalf("a ClientHello without SNI was proxied:\n%s", out)
	}
	e.audit.waitFor(t, map[string]any{"listener": "https", "decision": "refuse", "reason": "no_server_name"})
}
