package sniproxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Addresses of the test network: backends live on 127.0.0.2/.3 (the "customer's remote subnets"),
// 127.0.0.1 stands for the proxy's own host, which must never be dialled.
var (
	backendIP  = netip.MustParseAddr("127.0.0.2")
	backend2IP = netip.MustParseAddr("127.0.0.3")
	canaryIP   = netip.MustParseAddr("127.0.0.1")
)

// dnsServer is a miekg/dns server on loopback whose answers the test controls.
type dnsServer struct {
	addr    netip.AddrPort
	mu      sync.Mutex
	records map[string]dnsAnswer
	// failing holds the names and query types answered with SERVFAIL.
	failing map[dnsQuestion]bool
	// delay is how long every answer takes.
	delay   time.Duration
	queries atomic.Int64
}

type dnsQuestion struct {
	name  string
	qtype uint16
}

type dnsAnswer struct {
	addrs []netip.Addr
	ttl   uint32
}

func startDNS(t testing.TB) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("dns listen: %v", err)
	}
	d := &dnsServer{addr: netip.MustParseAddrPort(pc.LocalAddr().String()), records: map[string]dnsAnswer{}, failing: map[dnsQuestion]bool{}}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(d.serve)}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return d
}

func (d *dnsServer) set(name string, ttl uint32, addrs ...netip.Addr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.records[dns.Fqdn(name)] = dnsAnswer{addrs: addrs, ttl: ttl}
}

// slow makes every answer take delay.
func (d *dnsServer) slow(delay time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.delay = delay
}

// fail makes the server answer queries of qtype for name with SERVFAIL.
func (d *dnsServer) fail(name string, qtype uint16) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failing[dnsQuestion{dns.Fqdn(name), qtype}] = true
}

func (d *dnsServer) serve(w dns.ResponseWriter, req *dns.Msg) {
	d.queries.Add(1)
	resp := new(dns.Msg)
	resp.SetReply(req)
	q := req.Question[0]
	d.mu.Lock()
	ans, ok := d.records[strings.ToLower(q.Name)]
	failing := d.failing[dnsQuestion{strings.ToLower(q.Name), q.Qtype}]
	delay := d.delay
	d.mu.Unlock()
	time.Sleep(delay)
	switch {
	case failing:
		resp.Rcode = dns.RcodeServerFailure
		w.WriteMsg(resp)
		return
	case !ok:
		resp.Rcode = dns.RcodeNameError
	}
	for _, a := range ans.addrs {
		hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: ans.ttl}
		switch {
		case a.Is4() && q.Qtype == dns.TypeA:
			hdr.Rrtype = dns.TypeA
			resp.Answer = append(resp.Answer, &dns.A{Hdr: hdr, A: a.AsSlice()})
		case a.Is6() && q.Qtype == dns.TypeAAAA:
			hdr.Rrtype = dns.TypeAAAA
			resp.Answer = append(resp.Answer, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
		}
	}
	w.WriteMsg(resp)
}

// testPKI is a throwaway CA with a leaf for *.example.test.
type testPKI struct {
	caPEM  []byte
	caFile string
	pool   *x509.CertPool
	leaf   tls.Certificate
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vsoc test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "*.example.test"},
		DNSNames:  []string{"*.example.test", "*.b.example.test", "example.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	p.caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p.caFile, p.caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	p.leaf = tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}
	return p
}

// startHTTPBackend serves body on ip (TLS when pki is set) and returns its address.
func startHTTPBackend(t *testing.T, ip netip.Addr, pki *testPKI, body string) netip.AddrPort {
	t.Helper()
	return serveHTTPBackend(t, listen(t, netip.AddrPortFrom(ip, 0)), pki, body)
}

// serveHTTPBackend serves body on ln (TLS when pki is set) and returns its address.
func serveHTTPBackend(t *testing.T, ln net.Listener, pki *testPKI, body string) netip.AddrPort {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s host=%s\n", body, r.Host)
	})}
	if pki != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{pki.leaf}}
		go srv.ServeTLS(ln, "", "")
	} else {
		go srv.Serve(ln)
	}
	t.Cleanup(func() { srv.Close() })
	return netip.MustParseAddrPort(ln.Addr().String())
}

// listen listens on ap (port 0: a free one).
func listen(t *testing.T, ap netip.AddrPort) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", ap.String())
	if err != nil {
		t.Fatalf("listen on %s: %v", ap, err)
	}
	return ln
}

// listenSamePort listens on a and b at one port. A free port on a may be taken on b, by a
// listener or by a connection's local end (test processes running side by side), so ports are
// tried until one is free on both.
func listenSamePort(t *testing.T, a, b netip.Addr) (net.Listener, net.Listener) {
	t.Helper()
	for range 100 {
		la := listen(t, netip.AddrPortFrom(a, 0))
		lb, err := net.Listen("tcp", net.JoinHostPort(b.String(), portOf(la.Addr())))
		if err == nil {
			return la, lb
		}
		la.Close()
	}
	t.Fatalf("no port free on both %s and %s in 100 tries", a, b)
	return nil, nil
}

// canary listens where the proxy must never connect and counts connections.
type canary struct {
	addr     netip.AddrPort
	accepted atomic.Int64
}

// serveTCP accepts connections on ip (a free port) until the test ends and hands each one to
// handle in a goroutine of its own; the connection is closed when handle returns.
func serveTCP(tb testing.TB, ip netip.Addr, handle func(net.Conn)) netip.AddrPort {
	tb.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}

func startCanary(t *testing.T, ap netip.AddrPort) *canary {
	t.Helper()
	return serveCanary(t, listen(t, ap))
}

func serveCanary(t *testing.T, ln net.Listener) *canary {
	c := &canary{addr: netip.MustParseAddrPort(ln.Addr().String())}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.accepted.Add(1)
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return c
}

// auditLog collects the audit lines written by a Server.
type auditLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (a *auditLog) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf.Write(p)
}

func (a *auditLog) records(t *testing.T) []map[string]any {
	t.Helper()
	a.mu.Lock()
	data := append([]byte(nil), a.buf.Bytes()...)
	a.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line is not JSON: %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// waitFor returns the first audit record matching all fields, failing after a few seconds.
func (a *auditLog) waitFor(t *testing.T, fields map[string]any) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, r := range a.records(t) {
			ok := true
			for k, v := range fields {
				if fmt.Sprint(r[k]) != fmt.Sprint(v) {
					ok = false
					break
				}
			}
			if ok {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit record with %v; have:\n%s", fields, a.dump())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (a *auditLog) dump() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf.String()
}

// startProxy starts a Server on cfg and stops it at the end of the test.
func startProxy(t *testing.T, cfg *Config) (*Server, *auditLog) {
	t.Helper()
	audit := &auditLog{}
	if cfg.AuditFlush == 0 {
		cfg.AuditFlush = Duration(5 * time.Millisecond) // waitFor polls for the lines
	}
	srv, err := New(cfg, Options{Audit: audit})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv, audit
}

func portOf(a net.Addr) string {
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

// clientHelloBytes returns the bytes of a real crypto/tls ClientHello for serverName.
func clientHelloBytes(tb testing.TB, serverName string) []byte {
	tb.Helper()
	c1, c2 := net.Pipe()
	go func() {
		tls.Client(c1, &tls.Config{ServerName: serverName, InsecureSkipVerify: serverName == ""}).Handshake()
		c1.Close()
	}()
	// A ClientHello is one handshake record; read its header then its body.
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(c2, hdr); err != nil {
		tb.Fatal(err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(c2, body); err != nil {
		tb.Fatal(err)
	}
	c2.Close()
	return append(hdr, body...)
}

// fragmentedHello returns a ClientHello for serverName grown by a padding extension (RFC 7685) of
// padding bytes, its handshake message cut into records of at most recordSize bytes, as a client
// may send a large hello (post-quantum key shares) and as RFC 8446 §5.1 allows.
func fragmentedHello(tb testing.TB, serverName string, padding, recordSize int) []byte {
	tb.Helper()
	msg := clientHelloBytes(tb, serverName)[5:]
	body := msg[4:]
	// legacy_version and random, then session_id, cipher_suites and compression_methods, each
	// after its length; then the extensions' length.
	at := 2 + 32
	at += 1 + int(body[at])
	at += 2 + (int(body[at])<<8 | int(body[at+1]))
	at += 1 + int(body[at])
	extLen := int(body[at])<<8 | int(body[at+1]) + 4 + padding
	body[at], body[at+1] = byte(extLen>>8), byte(extLen)
	body = append(body, 0x00, 0x15, byte(padding>>8), byte(padding))
	body = append(body, make([]byte, padding)...)
	msg = append([]byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	var records []byte
	for len(msg) > 0 {
		n := min(len(msg), recordSize)
		records = append(records, recordTypeHandshake, 3, 1, byte(n>>8), byte(n))
		records = append(records, msg[:n]...)
		msg = msg[n:]
	}
	return records
}

// httpStatus sends req to a listener of e and returns the status line and the whole answer.
func httpStatus(t *testing.T, e *env, listener, req string) (string, string) {
	t.Helper()
	c, err := net.Dial("tcp", "127.0.0.1:"+e.port(listener))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	r := bufio.NewReader(c)
	status, _ := r.ReadString('\n')
	all.WriteString(status)
	r.WriteTo(&all)
	return strings.TrimSpace(status), all.String()
}

// waitActive waits up to 10 s for the proxy to count n active connections.
func waitActive(t *testing.T, srv *Server, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Active() != n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if a := srv.Active(); a != n {
		t.Fatalf("%d connections active, want %d", a, n)
	}
}
