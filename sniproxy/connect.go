package sniproxy

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// upstreamDial is how a loop connects a client to its upstream.
type upstreamDial struct {
	targets  []netip.AddrPort // tried in order until one accepts
	guard    *destinationGuard
	timeout  time.Duration // for each attempt
	replay   []byte        // the client's first bytes, sent upstream once connected
	greeting []byte        // sent to the client once connected (CONNECT's 200)
	failure  []byte        // sent to the client when no target accepts (an HTTP 502)
}

// connectNext starts connecting to the next target; when none is left, the client is told (if
// its protocol has a way) and closed.
func (l *eventLoop) connectNext(c *relayConn) {
	for c.tried < len(c.dial.targets) {
		c.target = c.dial.targets[c.tried]
		c.tried++
		// The new socket is made before the failed one is closed, so it cannot get its number.
		fd, err := c.dial.guard.connect(c.target)
		l.unwatch(c, sideUpstream)
		if err != nil {
			c.dialErr = err
			continue
		}
		c.fd[sideUpstream] = fd
		rest, sent, err := l.sendEarly(c)
		if err != nil {
			c.dialErr = fmt.Errorf("connecting to %s: %w", c.target, err)
			continue
		}
		if err := l.watch(c, sideUpstream, !sent); err != nil {
			if sent {
				// This target has the client's first bytes: no other one can take over.
				c.tried = len(c.dial.targets)
			}
			c.dialErr = err
			continue
		}
		if sent {
			l.established(c, rest, 0)
			return
		}
		c.dialDeadline = l.now + int64(c.dial.timeout)
		return
	}
	if c.dialErr == nil {
		c.dialErr = errors.New("no address to dial")
	}
	if len(c.dial.failure) > 0 {
		rawSend(c.fd[sideClient], c.dial.failure) // best effort: the client is closed right after
	}
	l.finish(c, nil)
}

// connected handles the end of a connect attempt: on success the greeting goes to the client,
// the client's first bytes go upstream, and relaying starts; on failure the next target is tried.
// events are what epoll reported for the upstream's socket.
func (l *eventLoop) connected(c *relayConn, events uint32) {
	// A socket reported writable without an error condition is connected: only a failure has a
	// pending error to read.
	if events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		if err := rawSocketError(c.fd[sideUpstream]); err != nil {
			c.dialErr = fmt.Errorf("connecting to %s: %w", c.target, err)
			l.connectNext(c)
			return
		}
	}
	l.established(c, c.dial.replay, events)
}

// sendEarly writes the client's first bytes upstream right after connect(2): on loopback and
// other fast paths the handshake is complete by then, and the write saves waiting for the loop to
// hear that the socket is writable. Once the write went, sent is true and rest is what it left;
// sent is false while the socket is still connecting or when nothing goes early; err is what
// ended the attempt. CONNECT clients are answered only once connected, and have sent nothing
// before, so they always wait.
func (l *eventLoop) sendEarly(c *relayConn) (rest []byte, sent bool, err error) {
	replay := c.dial.replay
	if len(replay) == 0 || len(c.dial.greeting) > 0 {
		return nil, false, nil
	}
	n, err := rawSend(c.fd[sideUpstream], replay)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	c.copied[sideClient] += int64(n)
	return replay[n:], true, nil
}

// established starts relaying on a connected upstream: the greeting goes to the client, what is
// left of the client's first bytes (replay) goes upstream, then what either side sent meanwhile.
// events are what epoll reported for the upstream's socket (0 when it connected at once).
func (l *eventLoop) established(c *relayConn, replay []byte, events uint32) {
	d := c.dial
	c.dial, c.dialErr = nil, nil
	c.lastActive = l.now
	if len(d.greeting) > 0 {
		// A fresh socket's send buffer takes a few dozen bytes whole.
		if n, err := rawSend(c.fd[sideClient], d.greeting); err != nil || n != len(d.greeting) {
			l.finish(c, fmt.Errorf("answering the client: %d of %d bytes written: %v", n, len(d.greeting), err))
			return
		}
	}
	if len(replay) > 0 {
		c.pending[sideClient] = replay
	}
	if (len(replay) == 0 || l.flush(c, sideClient)) && c.missed[sideClient] {
		l.pump(c, sideClient, untilError)
	}
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLERR|unix.EPOLLHUP) != 0 || c.missed[sideUpstream] {
		l.pump(c, sideUpstream, untilError)
	}
	c.missed = [2]bool{}
}
