package sniproxy

import (
	"io"

	"golang.org/x/sys/unix"
)

// handle reacts to readiness of side i of c.
func (l *eventLoop) handle(c *relayConn, i int, events uint32) {
	const failed = unix.EPOLLERR | unix.EPOLLHUP
	input := events&(unix.EPOLLIN|unix.EPOLLRDHUP|failed) != 0
	if c.hs != nil {
		if input {
			l.readHead(c, events)
		}
		return
	}
	if c.waiting || c.dial != nil {
		if c.dial != nil && i == sideUpstream && events&(unix.EPOLLOUT|failed) != 0 {
			l.connected(c, events)
			return
		}
		// Edge-triggered: this news comes once, and is acted on once connected.
		c.missed[i] = c.missed[i] || input
		return
	}
	if events&(unix.EPOLLOUT|failed) != 0 && c.holding(1-i) {
		// Side i takes data again: deliver what waits for it, then read its source again.
		if !l.flush(c, 1-i) {
			return
		}
		l.pump(c, 1-i, untilError)
	}
	if !input || c.closed {
		return
	}
	switch {
	case events&failed != 0:
		l.pump(c, i, untilError)
	case events&unix.EPOLLRDHUP != 0:
		l.pump(c, i, untilFIN)
	default:
		l.pump(c, i, untilShortRead)
	}
}

// readEnd is how pump knows it has read everything side i has sent so far.
type readEnd uint8

const (
	// untilShortRead: a read that leaves room in the buffer took everything there was; the
	// socket reports what comes next.
	untilShortRead readEnd = iota
	// untilFIN: epoll reported the peer's FIN. The kernel queues it behind the last bytes, so a
	// short read took those and the stream has ended: a read returning 0 would only confirm it.
	untilFIN
	// untilError: read until EAGAIN, the end of the stream or an error. Whatever the socket
	// reported while the relay was not reading (an error, a FIN) was reported once only.
	untilError
)

// pump moves what side i has sent to side 1-i until i has nothing more (as until tells), side
// 1-i stops taking data, or side i's stream ended.
func (l *eventLoop) pump(c *relayConn, i int, until readEnd) {
	for !c.closed && !c.holding(i) && !c.eof[i] {
		if c.bulk[i] && l.splice(c, i) {
			return
		}
		n, err := l.readOnce(c.fd[i])
		switch {
		case err == unix.EAGAIN:
			return
		case err == io.EOF:
			l.ended(c, i)
			return
		case err != nil:
			l.finish(c, &sideError{reading: true, side: i, err: err})
			return
		}
		c.lastActive = l.now
		if !l.forward(c, i, l.buf[:n]) {
			return
		}
		// Bulk data: the kernel moves the rest, and what comes next, without copies.
		if c.splice && n >= bulkRound && !c.holding(i) && l.splice(c, i) {
			return
		}
		if n < len(l.buf) && until != untilError {
			if until == untilFIN && !c.holding(i) {
				l.ended(c, i)
			}
			return
		}
	}
}

// sideError is a failed read from or write to one side of a relay. Clients that end with a reset
// (as many HTTP clients do after their last response) make it a common outcome, and building it is
// cheaper than formatting it at once: the audit line formats it, once.
type sideError struct {
	reading bool // else writing
	side    int
	err     error
}

func (e *sideError) Error() string {
	if e.reading {
		return "reading from " + sideNames[e.side] + ": " + e.err.Error()
	}
	return "writing to " + sideNames[e.side] + ": " + e.err.Error()
}

func (e *sideError) Unwrap() error { return e.err }

// waitWritable has side i watched for writability, as a write to it would block; false when
// that failed and the relay was closed.
func (l *eventLoop) waitWritable(c *relayConn, i int) bool {
	if err := l.watchOut(c, i); err != nil {
		l.finish(c, err)
		return false
	}
	return true
}

// holding reports whether what side i sent waits for side 1-i, so side i is not read.
func (c *relayConn) holding(i int) bool { return c.pending[i] != nil || c.pipe[i] != nil }

// splicePipe is a pipe through which splice(2) moves bytes from one socket to another.
type splicePipe struct {
	r, w int
	n    int // bytes in it
}

func (p *splicePipe) close() {
	rawClose(p.r)
	rawClose(p.w)
}

// bulkRound is the least a splice round moves for its side to stay in bulk mode. A loop that
// wakes as soon as data arrives finds a bulk transfer's data in pieces of KiB to tens of KiB
// (smaller on a busy machine), an interactive session's in pieces of a few bytes. Splicing
// a small message costs no more system calls than reading and writing it.
const bulkRound = 4 << 10

// maxIdlePipes bounds the empty pipes a loop keeps for the next bulk transfer.
const maxIdlePipes = 16

// splice moves what side i has sent to side 1-i through a pipe, until side i has nothing more,
// side 1-i stops taking data (the pipe stays with the connection until it does), or side i's
// stream ended. It reports false, having moved nothing, when no pipe could be had.
//
// Side i stays in bulk mode (c.bulk[i]: its next input is spliced at once, not read into the
// loop's buffer first) while each round moves at least bulkRound before side i runs dry.
func (l *eventLoop) splice(c *relayConn, i int) bool {
	p := l.takePipe()
	if p == nil {
		c.bulk[i] = false
		return false
	}
	c.pipe[i] = p
	c.bulk[i] = true
	moved := 0
	for {
		n, err := rawSplice(c.fd[i], p.w, loopBufferSize)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			l.putPipe(c, i)
			if moved > 0 { // a round that found nothing (woken for the other side) tells nothing
				c.bulk[i] = moved >= bulkRound
			}
			return true
		case err != nil:
			l.finish(c, &sideError{reading: true, side: i, err: err})
			return true
		case n == 0:
			l.putPipe(c, i)
			l.ended(c, i)
			return true
		}
		p.n += n
		moved += n
		c.lastActive = l.now
		if !l.drainPipe(c, i) {
			return true
		}
	}
}

// drainPipe splices side i's pipe into side 1-i and reports whether it is empty.
func (l *eventLoop) drainPipe(c *relayConn, i int) bool {
	p := c.pipe[i]
	for p.n > 0 {
		n, err := rawSplice(p.r, c.fd[1-i], p.n)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			l.waitWritable(c, 1-i)
			return false
		case err != nil:
			l.finish(c, &sideError{side: 1 - i, err: err})
			return false
		}
		p.n -= n
		c.copied[i] += int64(n)
		c.spliced += int64(n)
		c.lastActive = l.now
	}
	return true
}

// takePipe returns an empty pipe, nil if none can be made.
func (l *eventLoop) takePipe() *splicePipe {
	if n := len(l.pipes); n > 0 {
		p := l.pipes[n-1]
		l.pipes = l.pipes[:n-1]
		return p
	}
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return nil
	}
	return &splicePipe{r: fds[0], w: fds[1]}
}

// putPipe takes side i's pipe, empty, back from c.
func (l *eventLoop) putPipe(c *relayConn, i int) {
	p := c.pipe[i]
	c.pipe[i] = nil
	if len(l.pipes) < maxIdlePipes {
		l.pipes = append(l.pipes, p)
	} else {
		p.close()
	}
}

// readOnce reads into the loop's buffer what fd has: n > 0 bytes, io.EOF at the end of its
// stream, unix.EAGAIN when nothing is there now, or a read error.
func (l *eventLoop) readOnce(fd int) (int, error) {
	for {
		n, err := rawRecv(fd, l.buf)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// ended handles the end of side i's stream: a half-close is passed on, and the relay is over
// when both streams have ended.
func (l *eventLoop) ended(c *relayConn, i int) {
	c.eof[i] = true
	if c.eof[1-i] {
		l.finish(c, nil)
		return
	}
	if err := rawShutdownWrite(c.fd[1-i]); err != nil {
		// The other side is gone already; there is nobody left to relay to.
		l.finish(c, nil)
	}
}

// forward writes data read from side i to side 1-i; what side 1-i does not take now waits in
// c.pending[i]. It reports false when the relay failed.
func (l *eventLoop) forward(c *relayConn, i int, data []byte) bool {
	rest, ok := l.write(c, i, data)
	if ok && len(rest) > 0 {
		c.pending[i] = append([]byte(nil), rest...)
	}
	return ok
}

// flush writes what side i sent and side 1-i has not taken yet, and reports whether it all went.
func (l *eventLoop) flush(c *relayConn, i int) bool {
	if c.pipe[i] != nil {
		if !l.drainPipe(c, i) {
			return false
		}
		l.putPipe(c, i)
		return true
	}
	rest, ok := l.write(c, i, c.pending[i])
	if !ok {
		return false
	}
	if len(rest) > 0 {
		c.pending[i] = rest
		return false
	}
	c.pending[i] = nil
	return true
}

// write writes data from side i to side 1-i until it would block; it returns what is left, and
// false when the relay failed and was closed.
func (l *eventLoop) write(c *relayConn, i int, data []byte) ([]byte, bool) {
	for len(data) > 0 {
		n, err := rawSend(c.fd[1-i], data)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return data, l.waitWritable(c, 1-i)
		case err != nil:
			l.finish(c, &sideError{side: 1 - i, err: err})
			return nil, false
		}
		c.copied[i] += int64(n)
		c.lastActive = l.now
		data = data[n:]
	}
	return nil, true
}
