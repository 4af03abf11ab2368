package sniproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// TestHelloFramingWaitsForTheWholeHello feeds a ClientHello to the framing a byte more at a time,
// as a slow client sends it: crypto/tls is let at it only once, when the last byte is there.
func TestHelloFramingWaitsForTheWholeHello(t *testing.T) {
	capture := newHelloCaptureConfig()
	for _, tc := range []struct{ padding, recordSize int }{
		{0, maxPlaintext},     // an ordinary hello, one record
		{60000, maxPlaintext}, // a large one, in four records
		{300, 3},              // tiny records: the handshake header spans two of them
		{0, 1},                // one byte a record
	} {
		t.Run(fmt.Sprintf("padding=%d,records=%d", tc.padding, tc.recordSize), func(t *testing.T) {
			hello := fragmentedHello(t, "www.example.test", tc.padding, tc.recordSize)
			if name, err := parseClientHello(hello, nil, capture); err != nil || name != "www.example.test" {
				t.Fatalf("crypto/tls parses the hello as %q, %v", name, err)
			}
			// What follows the hello (early data) changes nothing.
			sent := append(hello[:len(hello):len(hello)], "early data"...)
			var f helloFraming
			for n := 1; n <= len(sent); n++ {
				ready := f.ready(sent[:n])
				if ready != (n >= len(hello)) {
					t.Fatalf("ready=%v after %d of the hello's %d bytes", ready, n, len(hello))
				}
				// The framing never holds back a hello crypto/tls could finish.
				if !ready && n%251 == 0 {
					if _, err := parseClientHello(sent[:n], nil, capture); !errors.Is(err, errNeedMore) {
						t.Fatalf("not ready after %d bytes, but crypto/tls says %v", n, err)
					}
				}
			}
		})
	}
}

// TestHelloFramingLetsCryptoTLSRefuse: what is not the start of a TLS handshake goes to crypto/tls
// at once, which refuses it, rather than being waited on until the handshake timeout.
func TestHelloFramingLetsCryptoTLSRefuse(t *testing.T) {
	for name, head := range map[string][]byte{
		"http":             []byte("GET / HTTP/1.1\r\n"),
		"alert":            {21, 3, 1, 0, 2, 2, 40},
		"oversized record": {22, 3, 1, 0xff, 0xff, 1},
		"server hello":     {22, 3, 3, 0, 8, 2, 0, 0, 4, 3, 3, 0, 0},
		"huge message":     {22, 3, 1, 0, 4, 1, 0x01, 0x00, 0x01},
	} {
		var f helloFraming
		if !f.ready(head) {
			t.Errorf("%s: held back %q", name, head)
		}
		if _, err := parseClientHello(head, nil, newHelloCaptureConfig()); err == nil || errors.Is(err, errNeedMore) {
			t.Errorf("%s: crypto/tls says %v, want a refusal", name, err)
		}
	}
}

// TestLargeHelloSentInPiecesIsRouted sends a 60 KB ClientHello in four records, 16 bytes per
// write: the proxy routes it by its SNI and replays every byte to the upstream unchanged.
func TestLargeHelloSentInPiecesIsRouted(t *testing.T) {
	hello := fragmentedHello(t, "www.example.test", 60000, maxPlaintext)
	got := make(chan []byte, 1)
	backend := serveTCP(t, backendIP, func(c net.Conn) {
		buf := make([]byte, len(hello))
		n, _ := io.ReadFull(c, buf)
		got <- buf[:n]
		c.Write([]byte("routed"))
	})
	srv, _ := startProxy(t, &Config{
		Listeners: []Listener{{Name: "https", Address: "127.0.0.1:0", Protocol: ProtocolTLS}},
		Static:    []StaticMapping{{Host: "www.example.test", Listener: "https", Target: backend}},
	})
	c, err := net.Dial("tcp", srv.Addr("https").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	for rest := hello; len(rest) > 0; rest = rest[min(16, len(rest)):] {
		if _, err := c.Write(rest[:min(16, len(rest))]); err != nil {
			t.Fatal(err)
		}
	}
	answer, _ := io.ReadAll(c)
	if string(answer) != "routed" {
		t.Fatalf("client got %q, want the upstream's answer", answer)
	}
	if upstream := <-got; !bytes.Equal(upstream, hello) {
		t.Fatalf("upstream got %d bytes, not the %d-byte hello unchanged", len(upstream), len(hello))
	}
}
