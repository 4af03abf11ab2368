package sniproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitGoroutines waits until the goroutine count is back to at most want.
func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= want {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines left, want at most %d:\n%s", n, want, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSilentClientsAreClosedByTheHandshakeTimeout(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Timeouts.Handshake = Duration(300 * time.Millisecond) })
	baseline := runtime.NumGoroutine()
	const n = 1000
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	addr := e.srv.Addr("https").String()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	start := time.Now()
	var wg sync.WaitGroup
	var closedByProxy atomic.Int64
	for _, c := range conns {
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Read(make([]byte, 1)); errors.Is(err, io.EOF) {
				closedByProxy.Add(1)
			}
		}(c)
	}
	wg.Wait()
	if got := closedByProxy.Load(); got != n {
		t.Fatalf("%d of %d silent connections were closed by the proxy (after %s)", got, n, time.Since(start))
	}
	waitActive(t, e.srv, 0)
	// Our own reader goroutines are gone too, so the proxy must be back to where it started.
	waitGoroutines(t, baseline)
	e.srv.auditBuf.flush()
	timeouts := 0
	for _, r := range e.audit.records(t) {
		if r["reason"] == "handshake_timeout" && r["decision"] == "refuse" {
			timeouts++
		}
	}
	if timeouts != n {
		t.Fatalf("%d handshake_timeout audit lines, want %d", timeouts, n)
	}
}

func TestMaxConnections(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxConnections = 3 })
	addr := e.srv.Addr("https").String()
	var held []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.srv.Active() != 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("connection beyond maxConnections: want EOF, got %v", err)
	}
	e.audit.waitFor(t, map[string]any{"decision": "refuse", "reason": "max_connections"})
	_ = held
}

// proxiedClient is an HTTPS client whose connections go through the proxy's SNI listener; it counts
// the connections it had to open.
func proxiedClient(e *env, dials *atomic.Int64) *http.Client {
	addr := e.srv.Addr("https").String()
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				dials.Add(1)
				var d net.Dialer
				return d.DialContext(ctx, "tcp", addr)
			},
			TLSClientConfig:     &tls.Config{RootCAs: e.pki.pool},
			MaxIdleConnsPerHost: 1,
			MaxConnsPerHost:     1,
		},
	}
}

func TestReloadUnderLoadKeepsOpenConnections(t *testing.T) {
	e := newEnv(t, nil)
	e.dns.set("www2.example.test", 60, backendIP)
	const clients = 16
	var (
		stop     atomic.Bool
		failures atomic.Int64
		requests atomic.Int64
		wg       sync.WaitGroup
	)
	dials := make([]atomic.Int64, clients)
	served := make([]atomic.Int64, clients) // requests each client had answered
	firstErr := make(chan error, 1)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cl := proxiedClient(e, &dials[i])
			defer cl.CloseIdleConnections()
			for !stop.Load() {
				resp, err := cl.Get("https://www2.example.test/")
				if err == nil {
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				if err != nil {
					failures.Add(1)
					select {
					case firstErr <- err:
					default:
					}
					return
				}
				requests.Add(1)
				served[i].Add(1)
			}
		}(i)
	}
	waitRequests := func(atLeast int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for requests.Load() < atLeast && failures.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	// Every client has its connection: one that is still deciding where it goes when a reload
	// completes is decided by the new config (TestReloadDecidesConnectionsStillDeciding).
	allServed := func() bool {
		for i := range served {
			if served[i].Load() == 0 {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(10 * time.Second); !allServed() && failures.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}

	// Reload repeatedly: each new config denies www2 (for new connections), the next allows it again.
	for i := 0; i < 10; i++ {
		next := *e.cfg
		if i%2 == 0 {
			next.Deny = []string{"vault.example.test", "www2.example.test"}
		}
		if err := e.srv.Reload(&next); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		time.Sleep(30 * time.Millisecond)
	}
	// An invalid config is refused and changes nothing.
	gen := e.srv.Generation()
	if err := e.srv.Reload(&Config{}); err == nil {
		t.Fatal("an empty config was accepted")
	}
	if e.srv.Generation() != gen {
		t.Fatal("a refused config changed the generation")
	}
	// Leave www2 denied for new connections.
	denied := *e.cfg
	denied.Deny = []string{"vault.example.test", "www2.example.test"}
	if err := e.srv.Reload(&denied); err != nil {
		t.Fatal(err)
	}
	// Traffic keeps flowing on the connections opened before the reloads.
	afterReloads := requests.Load()
	waitRequests(afterReloads + 2*clients)
	stop.Store(true)
	wg.Wait()
	select {
	case err := <-firstErr:
		t.Fatalf("%d of %d clients failed during reloads: %v", failures.Load(), clients, err)
	default:
	}
	for i := range dials {
		if d := dials[i].Load(); d != 1 {
			t.Fatalf("client %d opened %d connections: an established connection was dropped", i, d)
		}
	}
	if got := requests.Load(); got < afterReloads+2*clients {
		t.Fatalf("only %d requests after the reloads (%d before)", got-afterReloads, afterReloads)
	}
	// New connections see the new config.
	if out, err := e.curlTLS(t, "www2.example.test"); err == nil {
		t.Fatalf("new connection to a name denied by the reloaded config succeeded:\n%s", out)
	}
	e.audit.waitFor(t, map[string]any{"name": "www2.example.test", "reason": "denied", "config_generation": e.srv.Generation()})
}

// TestReloadDecidesConnectionsStillDeciding: a connection accepted before a reload, whose client
// was still sending its head or whose DNS lookup was still running when the reload completed, is
// decided by the new config. A client cannot open connections before a revocation and use them
// after it.
func TestReloadDecidesConnectionsStillDeciding(t *testing.T) {
	e := newEnv(t, nil)
	connect := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", "127.0.0.1:"+e.port("connect"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return c, bufio.NewReader(c)
	}
	status := func(r *bufio.Reader) string {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the status: %v", err)
		}
		return strings.TrimSpace(line)
	}

	// The head ends after a reload that takes the destination away.
	c, r := connect()
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\n", e.httpBackend)
	waitActive(t, e.srv, 1)
	withoutBackend := *e.cfg
	withoutBackend.AllowedDestinations = []netip.Prefix{netip.PrefixFrom(backend2IP, 32)}
	if err := e.srv.Reload(&withoutBackend); err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(c, "\r\n")
	if got := status(r); got != "HTTP/1.1 403 Forbidden" {
		t.Errorf("a head ended after the reload: %q, want 403 (the destination was taken away)", got)
	}
	e.audit.waitFor(t, map[string]any{"listener": "connect", "decision": "refuse", "reason": "destination_forbidden", "config_generation": 2.0})

	// The reload comes while the name is being resolved.
	e.dns.slow(time.Second)
	c, r = connect()
	before := e.dns.queries.Load()
	fmt.Fprintf(c, "CONNECT ssh.example.test:%d HTTP/1.1\r\n\r\n", e.httpBackend.Port())
	for deadline := time.Now().Add(5 * time.Second); e.dns.queries.Load() == before; {
		if time.Now().After(deadline) {
			t.Fatal("the proxy never asked the DNS server")
		}
		time.Sleep(5 * time.Millisecond)
	}
	denied := *e.cfg
	denied.Deny = append(slices.Clone(e.cfg.Deny), "ssh.example.test")
	if err := e.srv.Reload(&denied); err != nil {
		t.Fatal(err)
	}
	if got := status(r); got != "HTTP/1.1 403 Forbidden" {
		t.Errorf("a lookup that ended after the reload: %q, want 403 (the name is denied now)", got)
	}
	e.audit.waitFor(t, map[string]any{"listener": "connect", "name": "ssh.example.test", "decision": "refuse", "reason": "denied", "config_generation": 3.0})
}

func TestReloadAddsAndRemovesListeners(t *testing.T) {
	e := newEnv(t, nil)
	next := *e.cfg
	next.Listeners = append(append([]Listener(nil), e.cfg.Listeners...),
		Listener{Name: "kube-api", Address: "127.0.0.1:0", Protocol: ProtocolTLS, UpstreamPort: e.tlsBackend.Port()})
	if err := e.srv.Reload(&next); err != nil {
		t.Fatal(err)
	}
	added := e.srv.Addr("kube-api")
	if added == nil {
		t.Fatal("listener added by reload is not bound")
	}
	out, err := runTool(t, "", "curl", "-sS", "--max-time", "5", "--cacert", e.pki.caFile,
		"--connect-to", "www.example.test:443:127.0.0.1:"+portOf(added), "https://www.example.test/")
	if err != nil || !strings.Contains(out, "tls-backend") {
		t.Fatalf("curl through the added listener: %v\n%s", err, out)
	}
	if err := e.srv.Reload(e.cfg); err != nil {
		t.Fatal(err)
	}
	if e.srv.Addr("kube-api") != nil {
		t.Fatal("listener removed by reload is still bound")
	}
	if c, err := net.DialTimeout("tcp", added.String(), time.Second); err == nil {
		c.Close()
		t.Fatal("the removed listener still accepts connections")
	}
	// A listener that cannot be bound fails the reload as a whole.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	bad := *e.cfg
	bad.Listeners = append(append([]Listener(nil), e.cfg.Listeners...),
		Listener{Name: "clash", Address: taken.Addr().String(), Protocol: ProtocolTLS, UpstreamPort: 443})
	gen := e.srv.Generation()
	if err := e.srv.Reload(&bad); err == nil || !strings.Contains(err.Error(), "clash") {
		t.Fatalf("reload with an unbindable listener: want an error naming it, got %v", err)
	}
	if e.srv.Generation() != gen {
		t.Fatal("a failed reload changed the generation")
	}
}

// startHalfCloseBackend reads everything until EOF, then answers how much it got and closes.
func startHalfCloseBackend(t *testing.T, ip netip.Addr) netip.AddrPort {
	t.Helper()
	return serveTCP(t, ip, func(c net.Conn) {
		n, _ := io.Copy(io.Discard, c)
		fmt.Fprintf(c, "got %d bytes", n)
	})
}

func tcpOnlyConfig(target netip.AddrPort, idle time.Duration) *Config {
	return &Config{
		Listeners:           []Listener{{Name: "raw", Address: "127.0.0.1:0", Protocol: ProtocolTCP}},
		Static:              []StaticMapping{{Listener: "raw", Target: target}},
		AllowedDestinations: []netip.Prefix{netip.PrefixFrom(backendIP, 32)},
		Timeouts:            Timeouts{Idle: Duration(idle)},
	}
}

func TestHalfClosePropagates(t *testing.T) {
	backend := startHalfCloseBackend(t, backend2IP)
	srv, audit := startProxy(t, tcpOnlyConfig(backend, 10*time.Second))
	c, err := net.Dial("tcp", srv.Addr("raw").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	payload := strings.Repeat("x", 3<<20)
	if _, err := io.WriteString(c, payload); err != nil {
		t.Fatal(err)
	}
	// Only the client's write side closes; the answer must still come back.
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != fmt.Sprintf("got %d bytes", len(payload)) {
		t.Fatalf("after half-close: %q, %v", got, err)
	}
	r := audit.waitFor(t, map[string]any{"listener": "raw", "decision": "allow"})
	if r["bytes_up"].(float64) != float64(len(payload)) || r["bytes_down"].(float64) != float64(len(got)) {
		t.Fatalf("audit bytes %v/%v, want %d/%d", r["bytes_up"], r["bytes_down"], len(payload), len(got))
	}
}

func TestIdleTimeoutClosesBothSides(t *testing.T) {
	backendClosed := make(chan struct{})
	ln, err := net.Listen("tcp", netip.AddrPortFrom(backendIP, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Read(make([]byte, 1)) // returns when the proxy closes the upstream side
		c.Close()
		close(backendClosed)
	}()
	srv, audit := startProxy(t, tcpOnlyConfig(netip.MustParseAddrPort(ln.Addr().String()), 400*time.Millisecond))
	c, err := net.Dial("tcp", srv.Addr("raw").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: want EOF from the proxy, got %v", err)
	}
	if d := time.Since(start); d < 350*time.Millisecond {
		t.Fatalf("closed after %s, before the idle timeout", d)
	}
	select {
	case <-backendClosed:
	case <-time.After(5 * time.Second):
		t.Fatal("upstream side not closed on idle timeout")
	}
	r := audit.waitFor(t, map[string]any{"listener": "raw", "decision": "allow"})
	if !strings.Contains(fmt.Sprint(r["error"]), "idle timeout") {
		t.Fatalf("audit record does not say idle timeout: %v", r)
	}
}

func TestShutdownDrainsThenCloses(t *testing.T) {
	backend := startHalfCloseBackend(t, backend2IP)
	srv, audit := startProxy(t, tcpOnlyConfig(backend, time.Minute))
	addr := srv.Addr("raw").String()
	quick, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	stuck, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	for srv.Active() != 2 {
		time.Sleep(10 * time.Millisecond)
	}
	// The quick client finishes during the drain; the stuck one never does.
	go func() {
		time.Sleep(100 * time.Millisecond)
		quick.(*net.TCPConn).CloseWrite()
		io.ReadAll(quick)
		quick.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = srv.Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "drain deadline reached: closed 1 open connection") {
		t.Fatalf("Shutdown: want the stuck connection closed at the deadline, got %v", err)
	}
	if d := time.Since(start); d < 550*time.Millisecond {
		t.Fatalf("Shutdown returned after %s, before the drain deadline", d)
	}
	if srv.Ready() {
		t.Fatal("ready while shut down")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("still accepting after Shutdown")
	}
	stuck.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := stuck.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("stuck connection after drain deadline: want EOF, got %v", err)
	}
	// Its audit line says it did not end by itself.
	audit.waitFor(t, map[string]any{"listener": "raw", "error": "closed at the drain deadline"})
}

func TestAdminEndpoints(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := e.curlTLS(t, "www.example.test"); err != nil {
		t.Fatal(err)
	}
	e.audit.waitFor(t, map[string]any{"name": "www.example.test", "decision": "allow"})
	admin := httptest.NewServer(e.srv.AdminHandler())
	defer admin.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(admin.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("/healthz: %d", code)
	}
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, "generation 1") {
		t.Fatalf("/readyz: %d %q", code, body)
	}
	_, metrics := get("/metrics")
	for _, want := range []string{
		`vsoc_sniproxy_connections_total{decision="allow",listener="https",reason="allowlist"} 1`,
		`vsoc_sniproxy_dns_lookups_total{result="miss"} 1`,
		`vsoc_sniproxy_config_generation 1`,
		`vsoc_sniproxy_bytes_total{direction="down",listener="https"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	e.srv.Shutdown(ctx)
	if code, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while shut down: %d, want 503", code)
	}
}

// TestShutdownReportsLostAuditLines: a shutdown whose audit destination accepts nothing gives up
// after the flush wait and says, as ErrAuditLinesLost, how many lines were not written.
func TestShutdownReportsLostAuditLines(t *testing.T) {
	backend := startHalfCloseBackend(t, backend2IP)
	dest := &gatedWriter{gate: make(chan struct{})}
	defer close(dest.gate)
	cfg := tcpOnlyConfig(backend, time.Minute)
	cfg.AuditFlush = Duration(time.Hour)
	srv, err := New(cfg, Options{Audit: dest})
	if err != nil {
		t.Fatal(err)
	}
	srv.auditBuf.flushWait = 50 * time.Millisecond
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", srv.Addr("raw").String())
	if err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	io.ReadAll(c)
	c.Close()
	for srv.Active() != 0 {
		time.Sleep(5 * time.Millisecond)
	}
	err = srv.Shutdown(t.Context())
	if !errors.Is(err, ErrAuditLinesLost) || !strings.Contains(err.Error(), "lines not written: 1") {
		t.Fatalf("Shutdown: %v, want the one audit line reported lost", err)
	}
}

// TestASecondProxyCannotShareAListenerPort: the listeners bind with SO_REUSEPORT, which would let
// a second proxy of the same user (here, of the same process) join the first one's port and take
// half of its connections.
func TestASecondProxyCannotShareAListenerPort(t *testing.T) {
	e := newEnv(t, nil)
	port := portOf(e.srv.Addr("https"))
	for _, address := range []string{"127.0.0.1:" + port, ":" + port} {
		t.Run(address, func(t *testing.T) {
			cfg := *e.cfg
			cfg.Listeners = []Listener{{Name: "https", Address: address, Protocol: ProtocolTLS, UpstreamPort: e.tlsBackend.Port()}}
			cfg.Static = nil
			second, err := New(&cfg, Options{Audit: io.Discard})
			if err != nil {
				t.Fatal(err)
			}
			err = second.Start()
			if err == nil {
				second.Shutdown(context.Background())
				t.Fatalf("a second proxy started on %s, where the first one listens", address)
			}
			if !strings.Contains(err.Error(), "another process already listens on port "+port) {
				t.Fatalf("want the reason the port is refused, got: %v", err)
			}
		})
	}
	// A reload may still move a listener to a new name at the same address: the old one is its own.
	renamed := *e.cfg
	renamed.Listeners = slices.Clone(e.cfg.Listeners)
	renamed.Listeners[0].Name = "tls"
	renamed.Listeners[0].Address = e.srv.Addr("https").String()
	renamed.Static = []StaticMapping{{Host: "legacy.example.test", Listener: "tls", Target: e.legacy}, e.cfg.Static[1]}
	if err := e.srv.Reload(&renamed); err != nil {
		t.Fatalf("renaming a listener at its address: %v", err)
	}
	if got := e.srv.Addr("tls"); got == nil || portOf(got) != port {
		t.Fatalf("renamed listener bound at %v, want port %s", got, port)
	}
}
