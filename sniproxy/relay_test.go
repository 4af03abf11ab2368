package sniproxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// finChildEnv makes the test binary, run again under strace, play the relay's part.
const finChildEnv = "VSOC_TEST_FIN_RELAY_CHILD"

// TestEndOfStreamWithLastBytesTakesOneRead: when epoll reports a peer's last bytes and its FIN
// together, the relay reads once and passes the end of the stream on; a second recv(2) would
// only return the 0 that confirms it, one system call per connection for nothing. Only a count
// of system calls tells the two apart, so the relay runs in a child process under strace.
func TestEndOfStreamWithLastBytesTakesOneRead(t *testing.T) {
	if os.Getenv(finChildEnv) == "1" {
		fd, err := relayLastBytesWithFIN()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("client fd %d\n", fd)
		return
	}
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Fatal("strace not found: scripts/test-deps.sh installs it")
	}
	trace := filepath.Join(t.TempDir(), "trace")
	cmd := exec.Command(strace, "-f", "-qq", "-e", "trace=recvfrom", "-o", trace,
		os.Args[0], "-test.run=^TestEndOfStreamWithLastBytesTakesOneRead$", "-test.v")
	cmd.Env = append(os.Environ(), finChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the relay under strace: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`client fd (\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("the child did not say which socket it relayed from:\n%s", out)
	}
	calls := recvCalls(t, trace, string(m[1]))
	if len(calls) != 1 {
		t.Fatalf("%d recv(2) calls on the client's socket, want 1 (the last bytes; the FIN came with them):\n%s",
			len(calls), strings.Join(calls, "\n"))
	}
}

// recvCalls returns strace's lines for recvfrom(2) on fd.
func recvCalls(t *testing.T, trace, fd string) []string {
	t.Helper()
	f, err := os.Open(trace)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var calls []string
	scan := bufio.NewScanner(f)
	for scan.Scan() {
		if strings.Contains(scan.Text(), "recvfrom("+fd+",") {
			calls = append(calls, scan.Text())
		}
	}
	if err := scan.Err(); err != nil {
		t.Fatal(err)
	}
	return calls
}

// relayLastBytesWithFIN has a loop relay a client that sends its last bytes and its FIN before
// the loop looks, as epoll then reports them: with one event. It returns the client's socket in
// the loop, after checking that the upstream got the bytes and the end of the stream.
func relayLastBytesWithFIN() (int, error) {
	l, err := newEventLoop()
	if err != nil {
		return 0, err
	}
	defer l.close()
	client, clientSide, err := loopbackPair()
	if err != nil {
		return 0, err
	}
	defer client.Close()
	upstream, upstreamSide, err := loopbackPair()
	if err != nil {
		return 0, err
	}
	defer upstream.Close()
	c := &relayConn{fd: [2]int{clientSide, upstreamSide}, done: discardResult{}}
	l.conns = append(l.conns, c)
	defer l.finish(c, nil)
	for i := range c.fd {
		if err := l.watch(c, i, false); err != nil {
			return 0, err
		}
	}

	const last = "last words"
	if _, err := client.Write([]byte(last)); err != nil {
		return 0, err
	}
	if err := client.(*net.TCPConn).CloseWrite(); err != nil {
		return 0, err
	}
	if err := waitCloseWait(clientSide); err != nil {
		return 0, err
	}
	l.handle(c, sideClient, unix.EPOLLIN|unix.EPOLLRDHUP)

	upstream.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(upstream)
	switch {
	case err != nil:
		return 0, fmt.Errorf("the upstream did not see the end of the client's stream: %w (read %q)", err, got)
	case string(got) != last:
		return 0, fmt.Errorf("the upstream read %q, want %q", got, last)
	case c.closed:
		return 0, fmt.Errorf("the relay closed; only the client's stream ended")
	}
	return clientSide, nil
}

// loopbackPair connects two TCP sockets on loopback: a net.Conn, and the other end as a
// non-blocking descriptor of its own (detached, as the loop takes them).
func loopbackPair() (net.Conn, int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, 0, err
	}
	defer ln.Close()
	dialed, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, 0, err
	}
	accepted, err := ln.Accept()
	if err != nil {
		dialed.Close()
		return nil, 0, err
	}
	defer accepted.Close()
	fd, err := detach(accepted.(*net.TCPConn))
	if err != nil {
		dialed.Close()
		return nil, 0, fmt.Errorf("taking the accepted socket: %w", err)
	}
	return dialed, fd, nil
}

// waitCloseWait waits until fd's peer has ended its stream: the FIN, and so all that came
// before it, is queued on fd.
func waitCloseWait(fd int) error {
	for range 500 {
		info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			return err
		}
		if info.State == unix.BPF_TCP_CLOSE_WAIT {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("no FIN from the client after 5s")
}

type discardResult struct{}

func (discardResult) finished(relayResult) {}
