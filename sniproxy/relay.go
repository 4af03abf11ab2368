package sniproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// errIdle ends a relay in which no byte moved for the idle timeout.
var errIdle = errors.New("idle timeout")

// pump copies one direction of a proxied connection with splice(2). It first waits for the source to
// become readable WITHOUT holding a splice pipe, then splices exactly the bytes queued in the
// socket, so an idle connection costs no pipe (two file descriptors and a kernel buffer per
// direction with a plain io.Copy) — what makes tens of thousands of idle operator sessions cheap.
type pump struct {
	src, dst *net.TCPConn
	raw      syscall.RawConn
	readyFn  func(fd uintptr) bool
	lr       io.LimitedReader
	peek     [1]byte

	avail  int
	eof    bool
	sysErr error

	copied     int64
	idle       time.Duration
	tick       time.Duration
	deadline   time.Time
	lastActive *atomic.Int64 // unix nanoseconds, shared by both directions
}

func newPump(src, dst *net.TCPConn, idle time.Duration, lastActive *atomic.Int64) (*pump, error) {
	raw, err := src.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("raw connection: %w", err)
	}
	p := &pump{src: src, dst: dst, raw: raw, idle: idle, tick: max(idle/4, 50*time.Millisecond), lastActive: lastActive}
	p.readyFn = p.ready
	p.lr.R = src
	return p, nil
}

// ready is called by the runtime poller with the socket; it reports true once there are bytes to
// move, an end of stream, or an error, and false to wait for readability.
func (p *pump) ready(fd uintptr) bool {
	n, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ)
	if err != nil {
		p.sysErr = fmt.Errorf("SIOCINQ: %w", err)
		return true
	}
	if n > 0 {
		p.avail = n
		return true
	}
	// Nothing queued: either the peer closed its side, or we must wait.
	m, _, err := unix.Recvfrom(int(fd), p.peek[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return false
	case err != nil:
		p.sysErr = err
		return true
	case m == 0:
		p.eof = true
		return true
	default:
		p.avail = m
		return true
	}
}

// run copies until the source ends (nil), the relay went idle (errIdle) or an error.
func (p *pump) run() error {
	for {
		p.avail, p.eof, p.sysErr = 0, false, nil
		if p.idle > 0 {
			// Re-arming a deadline is cheap but not free; only push it when half a tick was used.
			if now := time.Now(); p.deadline.Sub(now) < p.tick/2 {
				p.deadline = now.Add(p.tick)
				if err := p.src.SetReadDeadline(p.deadline); err != nil {
					return err
				}
				// A peer that stops reading would block the write forever once the other
				// direction has ended and nobody watches idleness any more.
				if err := p.dst.SetWriteDeadline(now.Add(p.idle + p.tick)); err != nil {
					return err
				}
			}
		}
		err := p.raw.Read(p.readyFn)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			if time.Since(time.Unix(0, p.lastActive.Load())) >= p.idle {
				return errIdle
			}
			p.deadline = time.Time{}
			continue
		case err != nil:
			return err
		case p.sysErr != nil:
			return p.sysErr
		case p.eof:
			return nil
		}
		p.lr.N = int64(p.avail)
		n, err := p.dst.ReadFrom(&p.lr)
		p.copied += n
		if n > 0 {
			p.lastActive.Store(time.Now().UnixNano())
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
}

// relayResult reports what a relay moved and why it ended.
type relayResult struct {
	up, down int64 // client→upstream, upstream→client
	err      error // nil when both sides ended cleanly
}

// relay copies both directions until both have ended, propagating half-closes (EOF on one side
// becomes CloseWrite on the other). Any error or idleness closes both connections.
func relay(client, upstream *net.TCPConn, idle time.Duration) relayResult {
	var lastActive atomic.Int64
	lastActive.Store(time.Now().UnixNano())
	up, err := newPump(client, upstream, idle, &lastActive)
	if err != nil {
		return relayResult{err: err}
	}
	down, err := newPump(upstream, client, idle, &lastActive)
	if err != nil {
		return relayResult{err: err}
	}
	finish := func(p *pump, err error) error {
		if err == nil {
			// Half-close: tell the other side no more data comes, keep the reverse direction open.
			if cerr := p.dst.CloseWrite(); cerr == nil {
				return nil
			}
		}
		client.Close()
		upstream.Close()
		return err
	}
	downErr := make(chan error, 1)
	go func() { downErr <- finish(down, down.run()) }()
	upErr := finish(up, up.run())
	dErr := <-downErr
	res := relayResult{up: up.copied, down: down.copied, err: upErr}
	if res.err == nil || errors.Is(dErr, errIdle) {
		res.err = dErr
	}
	return res
}
