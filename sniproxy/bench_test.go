package sniproxy

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

// startReplyBackend reads the request bytes (a ClientHello here), answers reply and closes.
func startReplyBackend(b *testing.B, reply []byte, want int) netip.AddrPort {
	b.Helper()
	return serveTCP(b, backendIP, func(c net.Conn) {
		buf := make([]byte, want)
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		c.Write(reply)
	})
}

// BenchmarkNewConnection measures a whole proxied connection on the SNI listener: accept, parse
// the ClientHello with crypto/tls, route by the allowlist (DNS answer cached), dial, replay,
// relay a small answer, audit. Client and backend run in the same process.
func BenchmarkNewConnection(b *testing.B) {
	hello := clientHelloBytes(b, "www.example.test")
	backend := startReplyBackend(b, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), len(hello))
	d := startDNS(b)
	d.set("www.example.test", 3600, backendIP)
	cfg := &Config{
		Listeners:           []Listener{{Name: "https", Address: "127.0.0.1:0", Protocol: ProtocolTLS, UpstreamPort: backend.Port()}},
		Allow:               []string{"*.example.test"},
		AllowedDestinations: []netip.Prefix{netip.PrefixFrom(backendIP, 32)},
		Resolvers:           []netip.AddrPort{d.addr},
	}
	srv, err := New(cfg, Options{Audit: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Shutdown(b.Context()) })
	addr := srv.Addr("https").String()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 128)
		for pb.Next() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			c.Write(hello)
			n, _ := io.ReadFull(c, buf[:38])
			if n != 38 {
				b.Fatalf("short answer: %d bytes", n)
			}
			c.Close()
		}
	})
}

// BenchmarkRelayThroughput measures one bulk stream through the tcp listener (copied, not spliced:
// the default).
func BenchmarkRelayThroughput(b *testing.B) {
	backend := serveTCP(b, backendIP, func(c net.Conn) {
		n, _ := io.Copy(io.Discard, c)
		c.Write([]byte{byte(n)})
	})
	srv, err := New(tcpOnlyConfig(backend, time.Minute), Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown(b.Context())
	chunk := bytes.Repeat([]byte("x"), 256<<10)
	const perOp = 64 << 20
	b.SetBytes(perOp)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := net.Dial("tcp", srv.Addr("raw").String())
		if err != nil {
			b.Fatal(err)
		}
		for sent := 0; sent < perOp; sent += len(chunk) {
			if _, err := c.Write(chunk); err != nil {
				b.Fatal(err)
			}
		}
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, c)
		c.Close()
	}
}

func BenchmarkParseClientHello(b *testing.B) {
	hello := clientHelloBytes(b, "www.example.test")
	capture := newHelloCaptureConfig()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := parseClientHello(hello, nil, capture); err != nil {
			b.Fatal(err)
		}
	}
}
