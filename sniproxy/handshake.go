package sniproxy

import (
	"io"

	"golang.org/x/sys/unix"
)

// handshaker decides where a connection goes from the first bytes its client sends.
type handshaker interface {
	// decide is given everything the client has sent so far, and readErr once it sends no more
	// (io.EOF, os.ErrDeadlineExceeded at the handshake timeout, or a read error); it reports
	// false while it needs more bytes, which it never does with a readErr.
	decide(head []byte, readErr error) (nextStep, bool)
}

// nextStep is a handshaker's decision: connect and relay, or answer (possibly nothing) and
// close, or first do blocking work (a DNS lookup): later runs on a goroutine of its own, and what
// it returns decides, back on the loop.
type nextStep struct {
	dial   *upstreamDial
	answer []byte
	later  func() func() nextStep
}

// readHead reads what the client sent and asks the handshaker whether it is enough; events are
// what epoll reported for the client.
func (l *eventLoop) readHead(c *relayConn, events uint32) {
	for c.hs != nil {
		n, err := l.readOnce(c.fd[sideClient])
		switch {
		case err == unix.EAGAIN:
			return
		case err == io.EOF:
			l.endHead(c, io.EOF)
			return
		case err != nil:
			l.endHead(c, &sideError{reading: true, side: sideClient, err: err})
			return
		}
		head := l.buf[:n]
		if len(c.head) > 0 {
			c.head = append(c.head, head...)
			head = c.head
		}
		next, ok := c.hs.decide(head, nil)
		if ok {
			// What a short read left behind is reported again, unless it was the end of the
			// stream that came with this event.
			c.missed[sideClient] = n == len(l.buf) || events&(unix.EPOLLRDHUP|unix.EPOLLERR|unix.EPOLLHUP) != 0
			l.act(c, next)
			return
		}
		if len(c.head) == 0 {
			c.head = append([]byte(nil), head...)
		}
	}
}

// endHead asks the handshaker to decide with what the client sent, as it sends no more.
func (l *eventLoop) endHead(c *relayConn, readErr error) {
	next, _ := c.hs.decide(c.head, readErr)
	c.missed[sideClient] = true // the relay reads the end of the stream (or the error) again
	l.act(c, next)
}

// act carries out a handshaker's decision.
func (l *eventLoop) act(c *relayConn, next nextStep) {
	c.hs, c.head = nil, nil
	switch {
	case next.later != nil:
		c.waiting = true
		go func() {
			decide := next.later()
			l.request(func(l *eventLoop) {
				if !c.closed {
					c.waiting = false
					l.act(c, decide())
				}
			})
		}()
	case next.dial != nil:
		c.dial, c.dialed = next.dial, true
		l.shortenTick(int64(c.dial.timeout))
		l.connectNext(c)
	default:
		if len(next.answer) > 0 {
			rawSend(c.fd[sideClient], next.answer) // best effort: the client is closed right after
		}
		l.finish(c, nil)
	}
}
