package sniproxy

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestDialFallsBackToTheNextAddress(t *testing.T) {
	e := newEnv(t, nil)
	// Nothing listens on the first address's port; the second is the HTTP backend.
	e.dns.set("two.example.test", 60, backend2IP, backendIP)
	status, answer := httpStatus(t, e, "http", "GET / HTTP/1.1\r\nHost: two.example.test\r\nConnection: close\r\n\r\n")
	if status != "HTTP/1.1 200 OK" || !strings.Contains(answer, "http-backend") {
		t.Fatalf("answer:\n%s", answer)
	}
	e.audit.waitFor(t, map[string]any{"name": "two.example.test", "decision": "allow",
		"target": netip.AddrPortFrom(backendIP, e.httpBackend.Port()).String()})
}

func TestDialFailureAnswers502(t *testing.T) {
	e := newEnv(t, nil)
	e.dns.set("down.example.test", 60, backend2IP)
	status, _ := httpStatus(t, e, "http", "GET / HTTP/1.1\r\nHost: down.example.test\r\n\r\n")
	if status != "HTTP/1.1 502 Bad Gateway" {
		t.Fatalf("HTTP to a refusing upstream: %q", status)
	}
	r := e.audit.waitFor(t, map[string]any{"name": "down.example.test", "decision": "error", "reason": "dial_failed",
		"target": netip.AddrPortFrom(backend2IP, e.httpBackend.Port()).String()})
	if !strings.Contains(fmt.Sprint(r["error"]), "connection refused") {
		t.Fatalf("audit error does not say why: %v", r)
	}
	target := netip.AddrPortFrom(backend2IP, 1).String()
	if status, _ := httpStatus(t, e, "connect", "CONNECT "+target+" HTTP/1.1\r\n\r\n"); status != "HTTP/1.1 502 Bad Gateway" {
		t.Fatalf("CONNECT to a refusing upstream: %q", status)
	}
	e.audit.waitFor(t, map[string]any{"listener": "connect", "decision": "error", "reason": "dial_failed", "target": target})
}

// TestDialTimeout connects to a listener whose accept queue is full, so the kernel drops the
// proxy's SYNs: the attempt must end at timeouts.dial.
func TestDialTimeout(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: backendIP.As4()}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	full := netip.AddrPortFrom(backendIP, uint16(sa.(*unix.SockaddrInet4).Port))
	// A backlog of 0 queues one connection; it is never accepted.
	queued, err := net.DialTimeout("tcp", full.String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer queued.Close()

	e := newEnv(t, func(c *Config) {
		c.Timeouts.Dial = Duration(400 * time.Millisecond)
		c.Static = append(c.Static, StaticMapping{Host: "silent.example.test", Listener: "http", Target: full})
	})
	// CONNECT sends nothing upstream before it is connected; HTTP tries to send the request head
	// at once, which a connect still in progress refuses (EAGAIN).
	for _, tc := range []struct{ listener, req string }{
		{"connect", "CONNECT " + full.String() + " HTTP/1.1\r\n\r\n"},
		{"http", "GET / HTTP/1.1\r\nHost: silent.example.test\r\n\r\n"},
	} {
		start := time.Now()
		status, _ := httpStatus(t, e, tc.listener, tc.req)
		if d := time.Since(start); status != "HTTP/1.1 502 Bad Gateway" || d < 350*time.Millisecond || d > 5*time.Second {
			t.Fatalf("%s to a silent upstream: %q after %s, want 502 after about 400ms", tc.listener, status, d)
		}
		r := e.audit.waitFor(t, map[string]any{"listener": tc.listener, "decision": "error", "reason": "dial_failed", "target": full.String()})
		if !strings.Contains(fmt.Sprint(r["error"]), "timeout") {
			t.Fatalf("audit error does not say timeout: %v", r)
		}
	}
}
