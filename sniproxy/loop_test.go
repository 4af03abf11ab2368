package sniproxy

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRelayFullDuplexUnderBackpressure sends 16 MiB through an echo backend while the client
// does not read for a while, so both directions fill the socket buffers and the loop has to
// hold what it read until the other side takes it again. Every byte must come back in order,
// whether the relay copies (the default) or splices.
func TestRelayFullDuplexUnderBackpressure(t *testing.T) {
	for _, splice := range []bool{false, true} {
		t.Run(fmt.Sprintf("splice=%v", splice), func(t *testing.T) {
			backend := serveTCP(t, backendIP, func(c net.Conn) { io.Copy(c, c) })
			cfg := tcpOnlyConfig(backend, 10*time.Second)
			cfg.Splice = splice
			srv, audit := startProxy(t, cfg)
			c, err := net.Dial("tcp", srv.Addr("raw").String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))

			payload := make([]byte, 16<<20)
			rng := rand.NewChaCha8([32]byte{7})
			rng.Read(payload)
			writeErr := make(chan error, 1)
			go func() {
				_, err := c.Write(payload)
				if err == nil {
					err = c.(*net.TCPConn).CloseWrite()
				}
				writeErr <- err
			}()
			time.Sleep(300 * time.Millisecond) // every buffer on the way fills up meanwhile
			echoed, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("reading the echo: %v", err)
			}
			if err := <-writeErr; err != nil {
				t.Fatalf("writing: %v", err)
			}
			if len(echoed) != len(payload) || sha256.Sum256(echoed) != sha256.Sum256(payload) {
				t.Fatalf("echo differs: %d bytes back of %d", len(echoed), len(payload))
			}
			r := audit.waitFor(t, map[string]any{"listener": "raw", "decision": "allow"})
			if r["bytes_up"].(float64) != float64(len(payload)) || r["bytes_down"].(float64) != float64(len(payload)) {
				t.Fatalf("audit bytes %v/%v, want %d both ways", r["bytes_up"], r["bytes_down"], len(payload))
			}
			if _, ok := r["error"]; ok {
				t.Fatalf("a clean relay audited an error: %v", r)
			}
			spliced := counterValue(t, srv, "vsoc_sniproxy_spliced_bytes_total")
			switch {
			case !splice && spliced != 0:
				t.Fatalf("%.0f bytes spliced with splicing off", spliced)
			case splice && spliced < float64(len(payload)):
				// Most of a bulk transfer is spliced: it never crosses the proxy's memory.
				t.Fatalf("%.0f of %d bytes spliced, want most of both directions", spliced, 2*len(payload))
			}
		})
	}
}

// TestBulkDownloadIsSpliced downloads 64 MiB through the proxy with splicing on. After the first
// full buffer the transfer stays in bulk mode, so the kernel moves nearly all of it from socket
// to socket; a relay that read each wake-up's data into its buffer first copied about a quarter
// through user space.
func TestBulkDownloadIsSpliced(t *testing.T) {
	const size = 64 << 20
	backend := serveTCP(t, backendIP, func(c net.Conn) {
		io.Copy(c, io.LimitReader(zeroReader{}, size))
		c.Close()
	})
	cfg := tcpOnlyConfig(backend, time.Minute)
	cfg.Splice = true
	srv, _ := startProxy(t, cfg)
	c, err := net.Dial("tcp", srv.Addr("raw").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if n, err := io.Copy(io.Discard, c); err != nil || n != size {
		t.Fatalf("downloaded %d bytes (%v), want %d", n, err, size)
	}
	c.Close() // the relay ends, and reports what it spliced
	waitActive(t, srv, 0)
	if spliced := counterValue(t, srv, "vsoc_sniproxy_spliced_bytes_total"); spliced < 0.9*size {
		t.Fatalf("%.0f of %d bytes spliced (%.0f%%), want at least 90%%", spliced, size, 100*spliced/size)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestRelayedConnectionsHoldNoGoroutine keeps 200 relayed connections open: the event loops
// serve them all, so the proxy's goroutine count does not grow with them.
func TestRelayedConnectionsHoldNoGoroutine(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	backend := serveTCP(t, backendIP, func(c net.Conn) { <-release })
	srv, _ := startProxy(t, tcpOnlyConfig(backend, time.Minute))
	baseline := runtime.NumGoroutine()
	const n = 200
	for range n {
		c, err := net.Dial("tcp", srv.Addr("raw").String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	waitActive(t, srv, n)
	// The in-process backend holds one goroutine per connection; the proxy should hold none.
	waitGoroutines(t, baseline+n+10)
}

// TestHeadsArriveInPieces sends a ClientHello and a request head a few bytes at a time: the loop
// keeps what arrived and decides once the head is whole.
func TestHeadsArriveInPieces(t *testing.T) {
	e := newEnv(t, nil)
	send := func(listener string, head []byte) net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", "127.0.0.1:"+e.port(listener))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		for len(head) > 0 {
			n := min(len(head), 7)
			if _, err := c.Write(head[:n]); err != nil {
				t.Fatal(err)
			}
			head = head[n:]
			time.Sleep(2 * time.Millisecond)
		}
		return c
	}
	tlsConn := send("https", clientHelloBytes(t, "www.example.test"))
	// The backend answers with a TLS handshake record: its ServerHello.
	tlsConn.SetReadDeadline(time.Now().Add(5 * time.Second))
	record := make([]byte, 1)
	if _, err := io.ReadFull(tlsConn, record); err != nil || record[0] != 22 {
		t.Fatalf("no ServerHello through the proxy: %v %v", record, err)
	}
	tlsConn.Close()
	e.audit.waitFor(t, map[string]any{"listener": "https", "name": "www.example.test", "decision": "allow"})

	c := send("http", []byte("GET / HTTP/1.1\r\nHost: www.example.test\r\nConnection: close\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	answer, _ := io.ReadAll(c)
	if !strings.Contains(string(answer), "200 OK") || !strings.Contains(string(answer), "http-backend") {
		t.Fatalf("HTTP answer after a head in pieces:\n%s", answer)
	}
}

// counterValue sums a counter of the proxy's registry over its labels.
func counterValue(t *testing.T, srv *Server, name string) float64 {
	t.Helper()
	families, err := srv.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// TestHeadWithEndOfStream: a client that sends its request head and its FIN at once. The loop
// reads the head while deciding, so the relay has to remember the end of the stream that came
// with it and pass it on once connected, or the backend waits for it forever.
func TestHeadWithEndOfStream(t *testing.T) {
	backend := startHalfCloseBackend(t, backend2IP)
	cfg := &Config{
		Listeners:           []Listener{{Name: "http", Address: "127.0.0.1:0", Protocol: ProtocolHTTP}},
		Static:              []StaticMapping{{Host: "hc.example.test", Listener: "http", Target: backend}},
		AllowedDestinations: []netip.Prefix{netip.PrefixFrom(backendIP, 32)},
	}
	srv, _ := startProxy(t, cfg)
	head := "GET / HTTP/1.1\r\nHost: hc.example.test\r\n\r\n"
	for range 20 {
		c, err := net.Dial("tcp", srv.Addr("http").String())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(head))
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(c)
		c.Close()
		if want := fmt.Sprintf("got %d bytes", len(head)); string(got) != want {
			t.Fatalf("backend answered %q (%v), want %q", got, err, want)
		}
	}
}

// TestIdleLoopGivesItsProcessorBack runs the proxy with a single P, which its one loop holds
// while busy. Once the loop has had no event for busyWait, it must wait as a system call, so
// that the rest of the process runs without delay; a loop that kept the P would leave a
// sleeping goroutine waiting for the runtime to preempt it (10 ms at a time).
func TestIdleLoopGivesItsProcessorBack(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	startEchoRelay(t)
	time.Sleep(3 * busyWait) // the loop is idle now, with an open connection

	const sleeps = 50
	start := time.Now()
	for range sleeps {
		time.Sleep(time.Millisecond)
	}
	// 50 sleeps of 1 ms take about 60 ms; waiting for preemption, at least 500.
	if took := time.Since(start); took > 300*time.Millisecond {
		t.Fatalf("%d sleeps of 1ms took %v: the idle loop holds the only P", sleeps, took)
	}
}

// TestSeveralLoopsRelay runs three loops (GOMAXPROCS 4) and relays 64 connections at once
// through them.
func TestSeveralLoopsRelay(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	backend := serveTCP(t, backendIP, func(c net.Conn) { io.Copy(c, c) })
	srv, _ := startProxy(t, tcpOnlyConfig(backend, time.Minute))
	srv.mu.Lock()
	loops := len(srv.relays.loops)
	srv.mu.Unlock()
	if loops != 3 {
		t.Fatalf("%d loops with GOMAXPROCS 4, want 3", loops)
	}
	errs := make(chan error, 64)
	for i := range 64 {
		go func() {
			c, err := net.Dial("tcp", srv.Addr("raw").String())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			msg := fmt.Appendf(nil, "connection %d", i)
			for range 10 {
				if _, err := c.Write(msg); err != nil {
					errs <- err
					return
				}
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(c, got); err != nil || string(got) != string(msg) {
					errs <- fmt.Errorf("echo %q, want %q: %v", got, msg, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 64 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestEveryLoopAcceptsOnItsOwnSocket checks that each loop watches a listening socket of its own,
// bound with SO_REUSEPORT, and that the kernel spreads connections over the loops: 49 connections
// leave none of three loops without relays. With one socket for all loops they all land on one;
// with the kernel's hash, a loop gets none about once in 10^8 runs.
func TestEveryLoopAcceptsOnItsOwnSocket(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	srv := startEchoRelay(t)
	srv.mu.Lock()
	loops, accs := srv.relays.loops, srv.listeners["raw"].accs
	srv.mu.Unlock()
	if len(loops) != 3 || len(accs) != len(loops) {
		t.Fatalf("%d loops and %d listening sockets with GOMAXPROCS 4, want 3 of each", len(loops), len(accs))
	}
	for i, l := range loops {
		reuse, err := unix.GetsockoptInt(accs[i].fd, unix.SOL_SOCKET, unix.SO_REUSEPORT)
		if err != nil || reuse == 0 {
			t.Fatalf("listening socket %d: SO_REUSEPORT %d (%v)", i, reuse, err)
		}
		for j, a := range accs {
			events, ok := epollRegistration(t, l.epfd, a.fd)
			if ok != (i == j) {
				t.Fatalf("loop %d watches listening socket %d: %v, want %v", i, j, ok, i == j)
			}
			if ok && events&unix.EPOLLIN == 0 {
				t.Fatalf("loop %d watches its listening socket for events %#x, want EPOLLIN", i, events)
			}
		}
	}

	const conns = 48
	for range conns {
		pingThrough(t, srv)
	}
	relays := make([]int, len(loops))
	srv.relays.onEveryLoop(func(i int, l *eventLoop) { relays[i] = len(l.conns) })
	for i, n := range relays {
		if n == 0 {
			t.Fatalf("relays per loop %v: loop %d accepted none of %d connections", relays, i, conns)
		}
	}
}

// epollRegistration reads the events fd is registered for in the epoll instance epfd, from a
// fdinfo line such as "tfd:        7 events:       19 data: 700000007  pos:0 ino:…".
func epollRegistration(t *testing.T, epfd, fd int) (uint32, bool) {
	info, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", epfd))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(info), "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == "tfd:" && f[1] == strconv.Itoa(fd) && f[2] == "events:" {
			events, err := strconv.ParseUint(f[3], 16, 32)
			if err != nil {
				t.Fatalf("fdinfo line %q: %v", line, err)
			}
			return uint32(events), true
		}
	}
	return 0, false
}

// TestRelayedSocketsHaveNoDelay checks that both sockets of a relay have Nagle's algorithm off,
// so that an SSH keystroke is not held back: the upstream's is set when it is made, the client's
// is inherited from the listening socket.
func TestRelayedSocketsHaveNoDelay(t *testing.T) {
	srv := startEchoRelay(t)
	relays := openRelays(srv)
	if len(relays) != 1 {
		t.Fatalf("%d relays, want 1", len(relays))
	}
	for side, fd := range relays[0].fd {
		v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
		if err != nil {
			t.Fatalf("%s socket: %v", sideNames[side], err)
		}
		if v == 0 {
			t.Errorf("%s socket has TCP_NODELAY off", sideNames[side])
		}
	}
}

// TestFirstBytesGoUpstreamAtConnect checks that a client's first bytes are written to a loopback
// upstream right after connect(2), whose handshake is complete by then: the upstream's socket is
// then watched for input only. Waiting to hear that the socket is writable would cost the loop a
// round of epoll_wait per connection, and would leave EPOLLOUT in the registration.
func TestFirstBytesGoUpstreamAtConnect(t *testing.T) {
	backend := serveTCP(t, backendIP, func(c net.Conn) { io.Copy(c, c) })
	cfg := &Config{
		Listeners:           []Listener{{Name: "http", Address: "127.0.0.1:0", Protocol: ProtocolHTTP}},
		Static:              []StaticMapping{{Host: "echo.example.test", Listener: "http", Target: backend}},
		AllowedDestinations: []netip.Prefix{netip.PrefixFrom(backendIP, 32)},
	}
	srv, _ := startProxy(t, cfg)
	head := []byte("GET / HTTP/1.1\r\nHost: echo.example.test\r\n\r\n")
	// A handshake the kernel defers to ksoftirqd is still in progress at the write; one connection
	// of ten is enough to show that the first bytes go at once when they can.
	for attempt := range 10 {
		c, err := net.Dial("tcp", srv.Addr("http").String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(head); err != nil {
			t.Fatal(err)
		}
		echo := make([]byte, len(head))
		if _, err := io.ReadFull(c, echo); err != nil || !bytes.Equal(echo, head) {
			t.Fatalf("echo %q: %v", echo, err)
		}
		events := upstreamRegistrations(t, srv)
		if len(events) != attempt+1 {
			t.Fatalf("%d upstream registrations for %d connections", len(events), attempt+1)
		}
		for _, ev := range events {
			if ev&unix.EPOLLOUT == 0 {
				return
			}
		}
	}
	t.Fatal("every upstream socket was watched for writability: the first bytes waited for the connect to be reported")
}

// upstreamRegistrations returns the events each relay's upstream socket is registered for.
func upstreamRegistrations(t *testing.T, srv *Server) []uint32 {
	var events []uint32
	for _, r := range openRelays(srv) {
		ev, ok := epollRegistration(t, r.epfd, r.fd[sideUpstream])
		if !ok {
			t.Fatalf("upstream socket %d is not in its loop's epoll set", r.fd[sideUpstream])
		}
		events = append(events, ev)
	}
	return events
}

// openRelay is a relay's two sockets and the epoll instance of the loop that serves it.
type openRelay struct {
	epfd int
	fd   [2]int
}

// openRelays lists the relays of every loop, loop by loop.
func openRelays(srv *Server) []openRelay {
	perLoop := make([][]openRelay, srv.relays.count())
	srv.relays.onEveryLoop(func(i int, l *eventLoop) {
		for _, rc := range l.conns {
			perLoop[i] = append(perLoop[i], openRelay{l.epfd, rc.fd})
		}
	})
	var all []openRelay
	for _, rs := range perLoop {
		all = append(all, rs...)
	}
	return all
}

// startEchoRelay starts a proxy in front of an echo backend and opens one connection through it,
// which stays open until the test ends; an echo proves the relay is up, both sockets in place.
func startEchoRelay(t *testing.T) *Server {
	t.Helper()
	backend := serveTCP(t, backendIP, func(c net.Conn) { io.Copy(c, c) })
	srv, _ := startProxy(t, tcpOnlyConfig(backend, time.Minute))
	pingThrough(t, srv)
	return srv
}

// pingThrough opens a connection to the raw listener of a proxy in front of an echo backend, and
// sees an echo come back through it; the connection stays open until the test ends.
func pingThrough(t *testing.T, srv *Server) {
	t.Helper()
	c, err := net.Dial("tcp", srv.Addr("raw").String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	echo := make([]byte, 4)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, echo); err != nil || string(echo) != "ping" {
		t.Fatalf("echo %q: %v", echo, err)
	}
}
