package testenv

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
)

// loopback is where every server this package starts listens.
func loopback() netip.Addr { return netip.AddrFrom4([4]byte{127, 0, 0, 1}) }

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for a
// server the test starts itself.
func FreePort(t testing.TB) int {
	t.Helper()
	ports, err := freeTCPPorts(1)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return ports[0]
}

// FreeDNSPort returns a port on 127.0.0.1 that was free a moment ago for both
// UDP and TCP, as a DNS server listens on both (e.g. for a Corefile's
// ".:PORT" server block).
func FreeDNSPort(t testing.TB) int {
	t.Helper()
	port, err := freeDNSPort()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return port
}

// freeTCPPorts holds all n listeners open until every port is picked, so the
// kernel cannot hand out the same port twice.
func freeTCPPorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", netip.AddrPortFrom(loopback(), 0).String())
		if err != nil {
			return nil, fmt.Errorf("finding a free loopback TCP port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func freeDNSPort() (int, error) {
	var lastErr error
	for range 20 {
		udp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback(), 0)))
		if err != nil {
			return 0, fmt.Errorf("finding a free loopback UDP port: %w", err)
		}
		port := udp.LocalAddr().(*net.UDPAddr).AddrPort().Port()
		tcp, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(loopback(), port)))
		udp.Close()
		if err != nil {
			lastErr = err
			continue // taken for TCP; try another
		}
		tcp.Close()
		return int(port), nil
	}
	return 0, errors.Join(errors.New("finding a loopback port free for both UDP and TCP: gave up after 20 tries"), lastErr)
}
