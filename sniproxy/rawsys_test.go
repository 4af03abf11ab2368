package sniproxy

import (
	"net"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestSendToResetPeerRaisesNoSignal(t *testing.T) {
	sigpipe := make(chan os.Signal, 1)
	signal.Notify(sigpipe, syscall.SIGPIPE)
	defer signal.Stop(sigpipe)

	peer, fd, err := loopbackPair()
	if err != nil {
		t.Fatal(err)
	}
	defer rawClose(fd)

	// Closing with a zero linger time resets the connection.
	peer.(*net.TCPConn).SetLinger(0)
	peer.Close()
	var sendErr error
	for deadline := time.Now().Add(5 * time.Second); sendErr != unix.EPIPE; {
		if time.Now().After(deadline) {
			t.Fatalf("sends to the reset peer never failed with EPIPE; last error %v", sendErr)
		}
		_, sendErr = rawSend(fd, []byte("x"))
		time.Sleep(time.Millisecond)
	}
	select {
	case <-sigpipe:
		t.Fatal("a send to a reset peer raised SIGPIPE")
	case <-time.After(200 * time.Millisecond):
	}
}
