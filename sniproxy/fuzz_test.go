package sniproxy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzClientHello feeds arbitrary bytes to the crypto/tls-based ClientHello parser, as all the
// client sent (EOF after them) and as what it sent so far. Run it with a
// bounded minimization, e.g.
//
//	go test -run '^$' -fuzz '^FuzzClientHello$' -fuzztime 60s -fuzzminimizetime 50x ./sniproxy
//
// crypto/tls coverage is not fully deterministic, so the default 60 s minimization of every
// "interesting" input would otherwise eat the whole fuzzing budget.
func FuzzClientHello(f *testing.F) {
	for _, name := range []string{"www.example.test", "", "a.very.long.name.under.example.test", "xn--bcher-kva.example"} {
		f.Add(clientHelloBytes(f, name))
	}
	f.Add([]byte{0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00})
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	capture := newHelloCaptureConfig()
	f.Fuzz(func(t *testing.T, data []byte) {
		name, err := parseClientHello(data, io.EOF, capture)
		if errors.Is(err, errNeedMore) {
			t.Fatalf("asks for more bytes from a client that sends no more: %v", err)
		}
		if err != nil && name != "" {
			t.Fatalf("error %v with name %q", err, name)
		}
		if err == nil && name != "" && !bytes.Contains(data, []byte(name)) {
			t.Fatalf("server name %q is not in the ClientHello", name)
		}
		// While the client may still send, a parse either waits for more or agrees with the
		// parse of all of it: the bytes that follow cannot change a ClientHello already whole.
		if soFar, err := parseClientHello(data, nil, capture); err == nil && soFar != name {
			t.Fatalf("server name %q so far, %q at the end", soFar, name)
		}
		checkHelloFraming(t, data, capture)
	})
}

// checkHelloFraming follows data as it arrives in pieces: the framing, resuming where it stopped,
// says what it says over the whole prefix, and it holds nothing back that crypto/tls could finish.
func checkHelloFraming(t *testing.T, data []byte, capture *tls.Config) {
	var resumed helloFraming
	for n := 0; n < len(data); n += 1 + len(data)/5 {
		var fresh helloFraming
		prefix := data[:n+1]
		ready := resumed.ready(prefix)
		if ready != fresh.ready(prefix) {
			t.Fatalf("after %d bytes, resumed framing says ready=%v, fresh framing %v", len(prefix), ready, !ready)
		}
		if _, err := parseClientHello(prefix, nil, capture); !ready && !errors.Is(err, errNeedMore) {
			t.Fatalf("held back after %d bytes, but crypto/tls says %v", len(prefix), err)
		}
	}
}

func FuzzHostHead(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: www.example.test\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: WWW.Example.Test:8080\r\nUser-Agent: curl\r\n\r\nbody",
		"GET http://other.example.test/x HTTP/1.1\r\nHost: www.example.test\r\n\r\n",
		"GET / HTTP/1.0\nHost: [fd00::1]:80\n\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.1\r\n Host: folded\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n",
		"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkRequestHead(t, data)
	})
}

func FuzzConnectHead(f *testing.F) {
	for _, s := range []string{
		"CONNECT ssh.example.test:22 HTTP/1.1\r\nHost: ssh.example.test:22\r\n\r\n",
		"CONNECT 10.0.0.1:443 HTTP/1.0\r\n\r\nSSH-2.0-OpenSSH_9.2\r\n",
		"CONNECT [fd00::1]:22 HTTP/1.1\r\n\r\n",
		"CONNECT host HTTP/1.1\r\n\r\n",
		"CONNECT user@host:22 HTTP/1.1\r\n\r\n",
		"CONNECT host:0 HTTP/1.1\r\n\r\n",
		"CONNECT ::1:22 HTTP/1.1\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkRequestHead(t, data)
	})
}

func checkRequestHead(t *testing.T, data []byte) {
	head, _, err := splitRequestHead(data, io.EOF, 0)
	if errors.Is(err, errNeedMore) {
		t.Fatalf("asks for more bytes from a client that sends no more: %v", err)
	}
	checkHeadInPieces(t, data)
	if err != nil {
		return
	}
	if !bytes.HasPrefix(data, head) {
		t.Fatalf("head is not a prefix of the input")
	}
	rh, err := parseRequestHead(head)
	if err != nil {
		return
	}
	// A routed name is canonical: normalizing it again changes nothing, and it carries nothing
	// that could smuggle a second host or a path.
	if norm, err := NormalizeName(rh.name); err != nil || norm != rh.name {
		t.Fatalf("routed name %q is not canonical (%q, %v)", rh.name, norm, err)
	}
	if strings.ContainsAny(rh.name, "@/ \t\r\n") {
		t.Fatalf("routed name %q contains a separator", rh.name)
	}
	if rh.connect && rh.port == 0 {
		t.Fatalf("CONNECT routed without a port")
	}
	if rh.connect && !bytes.HasPrefix(head, []byte("CONNECT ")) {
		t.Fatalf("non-CONNECT head parsed as CONNECT")
	}
}

// checkHeadInPieces splits data as it might arrive: a search that resumes where the previous one
// stopped finds what a search of the whole prefix finds.
func checkHeadInPieces(t *testing.T, data []byte) {
	searched := 0
	for n := 1; n <= len(data); n += 1 + n/3 {
		head, now, err := splitRequestHead(data[:n], nil, searched)
		fresh, _, freshErr := splitRequestHead(data[:n], nil, 0)
		if !bytes.Equal(head, fresh) || (err == nil) != (freshErr == nil) {
			t.Fatalf("after %d bytes, resumed search gives %q, %v; fresh search %q, %v", n, head, err, fresh, freshErr)
		}
		if !errors.Is(err, errNeedMore) {
			return
		}
		searched = now
	}
}
