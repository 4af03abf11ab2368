package sniproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// errIdle ends a relay in which no byte moved for the idle timeout.
var errIdle = errors.New("idle timeout")

// relayBufferSize is the buffer a pump borrows to move small messages with read(2)/write(2).
const relayBufferSize = 32 << 10

// pump copies one direction of a proxied connection. It waits for the source to become readable
// WITHOUT holding any buffer or pipe (an idle connection costs only its two sockets and goroutine
// stacks), then moves what arrived:
//   - small messages (requests, responses, keystrokes) with one read(2) into a pooled buffer and
//     one write(2) — fewer system calls than splice for a few hundred bytes;
//   - when a read fills the whole buffer, a bulk transfer is under way: everything else already
//     queued in the socket is then moved with splice(2) (io.LimitedReader over *net.TCPConn), so
//     most bulk bytes never cross user space, and no splice pipe is held while waiting.
type pump struct {
	src, dst *net.TCPConn
	raw      syscall.RawConn
	readyFn  func(fd uintptr) bool
	queuedFn func(fd uintptr)
	bufs     *sync.Pool // of *[]byte with len relayBufferSize
	lr       io.LimitedReader

	buf    *[]byte
	n      int
	eof    bool
	sysErr error
	queued int

	copied     int64
	idle       time.Duration
	tick       time.Duration
	deadline   time.Time
	lastActive *atomic.Int64 // unix nanoseconds, shared by both directions
}

func newPump(src, dst *net.TCPConn, bufs *sync.Pool, idle time.Duration, lastActive *atomic.Int64) (*pump, error) {
	raw, err := src.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("raw connection: %w", err)
	}
	p := &pump{src: src, dst: dst, raw: raw, bufs: bufs, idle: idle, tick: max(idle/4, 50*time.Millisecond), lastActive: lastActive}
	p.readyFn = p.ready
	p.queuedFn = p.queuedBytes
	p.lr.R = src
	return p, nil
}

// ready is called by the runtime poller with the socket: it reads what is there into a borrowed
// buffer and reports true, or gives the buffer back and reports false to wait for readability.
func (p *pump) ready(fd uintptr) bool {
	bp := p.bufs.Get().(*[]byte)
	var n int
	var err error
	for {
		n, err = unix.Read(int(fd), *bp)
		if err != unix.EINTR {
			break
		}
	}
	switch {
	case err == unix.EAGAIN:
		p.bufs.Put(bp)
		return false
	case err != nil:
		p.bufs.Put(bp)
		p.sysErr = err
	case n == 0:
		p.bufs.Put(bp)
		p.eof = true
	default:
		p.buf, p.n = bp, n
	}
	return true
}

// queuedBytes records how many bytes wait in the socket's receive queue.
func (p *pump) queuedBytes(fd uintptr) {
	n, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ)
	if err != nil {
		n = 0
	}
	p.queued = n
}

// run copies until the source ends (nil), the relay went idle (errIdle) or an error.
func (p *pump) run() error {
	for {
		p.n, p.eof, p.sysErr = 0, false, nil
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
		full := p.n == len(*p.buf)
		n, err := p.dst.Write((*p.buf)[:p.n])
		p.bufs.Put(p.buf)
		p.buf = nil
		p.copied += int64(n)
		p.lastActive.Store(time.Now().UnixNano())
		if err != nil {
			return err
		}
		if !full {
			continue
		}
		if err := p.raw.Control(p.queuedFn); err != nil || p.queued == 0 {
			continue
		}
		p.lr.N = int64(p.queued)
		spliced, err := p.dst.ReadFrom(&p.lr)
		p.copied += spliced
		if err != nil {
			return err
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
func relay(client, upstream *net.TCPConn, bufs *sync.Pool, idle time.Duration) relayResult {
	var lastActive atomic.Int64
	lastActive.Store(time.Now().UnixNano())
	up, err := newPump(client, upstream, bufs, idle, &lastActive)
	if err != nil {
		return relayResult{err: err}
	}
	down, err := newPump(upstream, client, bufs, idle, &lastActive)
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
