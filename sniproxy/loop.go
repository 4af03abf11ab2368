package sniproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// errIdle ends a relay in which no byte moved for the idle timeout.
var errIdle = errors.New("idle timeout")

const (
	// loopBufferSize is the buffer one read(2) fills; a loop shares it between all its relays,
	// so an idle connection holds no buffer at all.
	loopBufferSize = 64 << 10
	loopMaxEvents  = 256
	// minIdleTick bounds how often a loop looks for idle relays.
	minIdleTick = 50 * time.Millisecond
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

// relayResult reports where a connection went, what it moved and why it ended.
type relayResult struct {
	dialed   bool           // a dial was decided; target and dialErr tell how it went
	target   netip.AddrPort // the target connected to, or the last one tried
	dialErr  error          // why no target accepted; the relay never started then
	up, down int64          // client→upstream, upstream→client
	spliced  int64          // of up and down, moved by splice(2) without a copy to user space
	err      error          // nil when both sides ended cleanly
}

// Sides of a relay: index into relayConn's arrays. Data read from side i is written to side 1-i.
const (
	sideClient   = 0
	sideUpstream = 1
)

var sideNames = [2]string{"client", "upstream"}

// relayConn is a client connection handed to an event loop, with its upstream once connected:
// two non-blocking sockets the loop owns, and what it knows about each direction.
type relayConn struct {
	hs         handshaker // until it has decided
	head       []byte     // what the client sent while hs needed more
	hsTimeout  int64      // nanoseconds for the client to send its head
	hsDeadline int64      // loop clock
	waiting    bool       // for the blocking work of a nextStep
	dialed     bool

	fd      [2]int         // the upstream's is -1 until the first connect attempt
	pending [2][]byte      // read from side i, not yet accepted by side 1-i; reading i waits for it
	pipe    [2]*splicePipe // holds what was spliced from side i and side 1-i has not taken yet
	spliced int64          // bytes that never crossed user space
	eof     [2]bool        // side i ended its stream; side 1-i was told with shutdown(SHUT_WR)
	copied  [2]int64
	closed  bool

	dial         *upstreamDial // until connected
	tried        int           // targets tried so far
	target       netip.AddrPort
	dialErr      error
	dialDeadline int64 // loop clock

	idle       int64 // nanoseconds without traffic before the relay is closed; 0: never
	lastActive int64 // loop clock, unix nanoseconds
	done       func(relayResult)
}

// sideRef is what a loop finds for a file descriptor: a side of a connection, or a listening
// socket. seq tells the registration apart from an earlier one of the same descriptor number,
// whose events may still be in the batch at hand.
type sideRef struct {
	conn *relayConn
	side int
	acc  *acceptor
	seq  uint32
}

// acceptor is a listening socket every loop accepts from: admit takes an accepted socket in (nil
// when it refused and closed it), failed hears of accept errors other than a vanished client.
type acceptor struct {
	fd     int
	admit  func(fd int, peer netip.AddrPort) *relayConn
	failed func(err error, retryIn time.Duration)
}

// acceptBatch bounds the connections a loop accepts at once, so that it gets back to the ones it
// relays.
const acceptBatch = 32

// detach duplicates the socket of a net.TCPListener (or connection) so that it outlives it; the
// duplicate shares its non-blocking mode.
func detach(c syscall.Conn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var dupErr error
	if err := raw.Control(func(s uintptr) { fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	return fd, dupErr
}

// relayLoops serves accepted connections from their first byte (the handshaker decides where they
// go) through the connect to their upstream and the relay, on one event loop per CPU instead of
// goroutines per connection: a goroutine parks and wakes for every
// message, which costs more than the message, and keeps a stack for every idle connection. A loop
// waits in epoll(7) for all its connections at once and moves bytes with read(2)/write(2) through
// one shared buffer.
type relayLoops struct {
	loops []*eventLoop
	next  atomic.Uint32
}

func startRelayLoops() (*relayLoops, error) {
	rl := &relayLoops{}
	for range runtime.GOMAXPROCS(0) {
		l, err := newEventLoop()
		if err != nil {
			rl.stop()
			return nil, err
		}
		rl.loops = append(rl.loops, l)
		go l.run()
	}
	return rl, nil
}

// listen makes every loop accept on a's socket; level-triggered, so that a loop that stops at
// acceptBatch is told again.
func (rl *relayLoops) listen(a *acceptor) {
	rl.onEveryLoop(func(l *eventLoop) {
		l.seq++
		l.track(a.fd, sideRef{acc: a, seq: l.seq})
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(a.fd), Pad: int32(l.seq)}
		if err := rawEpollCtl(l.epfd, unix.EPOLL_CTL_ADD, a.fd, &ev); err != nil {
			a.failed(fmt.Errorf("epoll_ctl: %w", err), 0)
		}
	})
}

// unlisten makes every loop stop accepting on a's socket, which may then be closed.
func (rl *relayLoops) unlisten(a *acceptor) {
	rl.onEveryLoop(func(l *eventLoop) {
		rawEpollCtl(l.epfd, unix.EPOLL_CTL_DEL, a.fd, &unix.EpollEvent{})
		if l.sides[a.fd].acc == a {
			l.sides[a.fd] = sideRef{}
		}
	})
}

// onEveryLoop runs fn on every loop's goroutine and waits for them.
func (rl *relayLoops) onEveryLoop(fn func(*eventLoop)) {
	var wg sync.WaitGroup
	for _, l := range rl.loops {
		wg.Add(1)
		if !l.request(func(l *eventLoop) { fn(l); wg.Done() }) {
			wg.Done()
		}
	}
	wg.Wait()
}

// closeAll ends every relay with net.ErrClosed, and every relay handed over later as well.
func (rl *relayLoops) closeAll() {
	for _, l := range rl.loops {
		l.request(func(l *eventLoop) { l.closing = true })
	}
}

// stop ends every relay and the loops, and waits for them.
func (rl *relayLoops) stop() {
	for _, l := range rl.loops {
		l.request(func(l *eventLoop) { l.closing, l.stopping = true, true })
	}
	for _, l := range rl.loops {
		<-l.stopped
	}
}

// eventLoop is one epoll instance and the goroutine that serves it. Everything but the request
// queue (under mu) is touched only by that goroutine.
type eventLoop struct {
	epfd, wakefd int
	// epoll is epfd as a file of Go's poller: the loop waits for its relays by parking on it like
	// any goroutine waits for a socket, instead of blocking a thread in epoll_wait (which makes
	// the runtime hand the thread's P to another thread and back, at every wait).
	epoll     *os.File
	epollRaw  syscall.RawConn
	deadline  int64 // the read deadline set on epoll, unix nanoseconds, 0: none
	buf       []byte
	pipes     []*splicePipe // empty pipes for bulk transfers
	events    []unix.EpollEvent
	sides     []sideRef // by file descriptor
	seq       uint32    // of the last registration
	conns     map[*relayConn]struct{}
	now       int64
	tick      int64 // sweep interval for idle relays, 0 while no relay has an idle timeout
	nextSweep int64
	closing   bool
	stopping  bool
	stopped   chan struct{}

	mu       sync.Mutex
	shut     bool // the loop has stopped and closed its descriptors
	requests []func(*eventLoop)
}

func newEventLoop() (*eventLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wakefd)}); err != nil {
		unix.Close(epfd)
		unix.Close(wakefd)
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	// Non-blocking, so that os.NewFile hands it to the runtime poller.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(wakefd)
		return nil, fmt.Errorf("epoll fd: %w", err)
	}
	epoll := os.NewFile(uintptr(epfd), "epoll")
	raw, err := epoll.SyscallConn()
	if err != nil {
		epoll.Close()
		unix.Close(wakefd)
		return nil, fmt.Errorf("epoll fd: %w", err)
	}
	return &eventLoop{
		epfd:     epfd,
		wakefd:   wakefd,
		epoll:    epoll,
		epollRaw: raw,
		buf:      make([]byte, loopBufferSize),
		events:   make([]unix.EpollEvent, loopMaxEvents),
		conns:    make(map[*relayConn]struct{}),
		stopped:  make(chan struct{}),
	}, nil
}

// request runs fn on the loop's goroutine, unless the loop has stopped (false).
func (l *eventLoop) request(fn func(*eventLoop)) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shut {
		return false
	}
	l.requests = append(l.requests, fn)
	l.wake()
	return true
}

// wake makes the loop take its queues; callers hold l.mu, so that the eventfd is still open.
func (l *eventLoop) wake() {
	one := [8]byte{1}
	for {
		// EAGAIN means the counter is already non-zero: the loop is woken anyway.
		if _, err := unix.Write(l.wakefd, one[:]); err != unix.EINTR {
			return
		}
	}
}

func (l *eventLoop) run() {
	defer close(l.stopped)
	for {
		n, err := l.wait()
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			// Only a broken epoll instance fails here; nothing can be relayed any more.
			l.closeEverything(fmt.Errorf("waiting for events: %w", err))
			l.close()
			return
		}
		l.now = time.Now().UnixNano()
		for _, ev := range l.events[:n] {
			fd := int(ev.Fd)
			if fd == l.wakefd {
				l.takeQueued()
				continue
			}
			switch ref := l.sides[fd]; {
			case ref.seq != uint32(ev.Pad):
			case ref.conn != nil:
				l.handle(ref.conn, ref.side, ev.Events)
			case ref.acc != nil:
				l.accept(ref.acc)
			}
		}
		if l.closing {
			l.closeEverything(net.ErrClosed)
			if l.stopping {
				l.close()
				return
			}
		}
		if l.tick > 0 && l.now >= l.nextSweep {
			l.sweep()
		}
	}
}

// wait returns the next batch of events, parking the goroutine while there is none, or
// os.ErrDeadlineExceeded when it is time to look for idle relays.
func (l *eventLoop) wait() (int, error) {
	if err := l.armDeadline(); err != nil {
		return 0, err
	}
	var n int
	var waitErr error
	err := l.epollRaw.Read(func(fd uintptr) bool {
		for {
			n, waitErr = pollEvents(int(fd), l.events)
			if waitErr != unix.EINTR {
				return waitErr != nil || n > 0
			}
		}
	})
	if err == nil {
		err = waitErr
	}
	return n, err
}

// armDeadline makes the wait end at the next idle sweep, when there is one to do.
func (l *eventLoop) armDeadline() error {
	want := int64(0)
	if l.tick > 0 && len(l.conns) > 0 {
		want = l.nextSweep
	}
	if want == l.deadline {
		return nil
	}
	l.deadline = want
	if want == 0 {
		return l.epoll.SetReadDeadline(time.Time{})
	}
	return l.epoll.SetReadDeadline(time.Unix(0, want))
}

func (l *eventLoop) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.shut = true
	l.epoll.Close()
	unix.Close(l.wakefd)
	for _, p := range l.pipes {
		p.close()
	}
	l.pipes = nil
}

func (l *eventLoop) takeQueued() {
	var counter [8]byte
	unix.Read(l.wakefd, counter[:])
	l.mu.Lock()
	requests := l.requests
	l.requests = nil
	l.mu.Unlock()
	for _, fn := range requests {
		fn(l)
	}
}

// register takes c over: it waits for the client's head, or connects.
func (l *eventLoop) register(c *relayConn) {
	l.conns[c] = struct{}{}
	if l.closing {
		l.finish(c, net.ErrClosed)
		return
	}
	l.shortenTick(c.idle)
	if err := l.watch(c, sideClient); err != nil {
		l.finish(c, err)
		return
	}
	if c.hs != nil {
		l.shortenTick(c.hsTimeout)
		c.hsDeadline = l.now + c.hsTimeout
		return // the add reports at once what the client has sent already
	}
	l.act(c, nextStep{dial: c.dial})
}

// readHead reads what the client sent and asks the handshaker whether it is enough.
func (l *eventLoop) readHead(c *relayConn) {
	for c.hs != nil {
		n, err := l.readOnce(c.fd[sideClient])
		switch {
		case err == unix.EAGAIN:
			return
		case err == io.EOF:
			l.endHead(c, io.EOF)
			return
		case err != nil:
			l.endHead(c, fmt.Errorf("reading from client: %w", err))
			return
		}
		head := l.buf[:n]
		if len(c.head) > 0 {
			c.head = append(c.head, head...)
			head = c.head
		}
		next, ok := c.hs.decide(head, nil)
		if ok {
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
			rawWrite(c.fd[sideClient], next.answer) // best effort: the client is closed right after
		}
		l.finish(c, nil)
	}
}

// shortenTick makes the sweeps frequent enough for a timeout of d nanoseconds (0: none).
func (l *eventLoop) shortenTick(d int64) {
	if d <= 0 {
		return
	}
	tick := max(d/4, int64(minIdleTick))
	if l.tick == 0 || tick < l.tick {
		l.tick = tick
		l.nextSweep = l.now + tick
	}
}

// watch adds side i's socket to the epoll set. Edge-triggered: the loop reads until EAGAIN (or a
// short read) and is told again only when more arrives; what is already there is reported at
// once.
func (l *eventLoop) watch(c *relayConn, i int) error {
	fd := c.fd[i]
	l.seq++
	l.track(fd, sideRef{conn: c, side: i, seq: l.seq})
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd), Pad: int32(l.seq)}
	if err := rawEpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	return nil
}

// track records what fd is, growing the table as needed.
func (l *eventLoop) track(fd int, ref sideRef) {
	if fd >= len(l.sides) {
		grown := make([]sideRef, max(2*len(l.sides), fd+1, 1024))
		copy(grown, l.sides)
		l.sides = grown
	}
	l.sides[fd] = ref
}

// accept takes in up to acceptBatch connections waiting on a's socket. After an error (out of
// file descriptors, say) the loop stops watching the socket for a while instead of spinning.
func (l *eventLoop) accept(a *acceptor) {
	for range acceptBatch {
		fd, peer, err := rawAccept(a.fd)
		switch {
		case err == unix.EAGAIN:
			return
		case err == unix.ECONNABORTED || err == unix.EINTR:
			continue
		case err != nil:
			l.pauseAccept(a, err)
			return
		}
		rawSetNoDelay(fd) // as Go's net does for accepted connections; a failure changes only latency
		if c := a.admit(fd, peer); c != nil {
			l.register(c)
		}
	}
}

// acceptPause is how long a loop leaves a listening socket alone after an accept error.
const acceptPause = 100 * time.Millisecond

func (l *eventLoop) pauseAccept(a *acceptor, err error) {
	a.failed(err, acceptPause)
	rawEpollCtl(l.epfd, unix.EPOLL_CTL_MOD, a.fd, &unix.EpollEvent{Fd: int32(a.fd), Pad: int32(l.sides[a.fd].seq)})
	time.AfterFunc(acceptPause, func() {
		l.request(func(l *eventLoop) {
			if ref := l.sides[a.fd]; ref.acc == a {
				rawEpollCtl(l.epfd, unix.EPOLL_CTL_MOD, a.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(a.fd), Pad: int32(ref.seq)})
			}
		})
	})
}

// unwatch closes side i's socket, which also takes it out of the epoll set.
func (l *eventLoop) unwatch(c *relayConn, i int) {
	fd := c.fd[i]
	if fd < 0 {
		return
	}
	if fd < len(l.sides) && l.sides[fd].conn == c {
		l.sides[fd] = sideRef{}
	}
	rawClose(fd)
	c.fd[i] = -1
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
		if err := l.watch(c, sideUpstream); err != nil {
			c.dialErr = err
			continue
		}
		c.dialDeadline = l.now + int64(c.dial.timeout)
		return
	}
	if c.dialErr == nil {
		c.dialErr = errors.New("no address to dial")
	}
	if len(c.dial.failure) > 0 {
		rawWrite(c.fd[sideClient], c.dial.failure) // best effort: the client is closed right after
	}
	l.finish(c, nil)
}

// connected handles the end of a connect attempt: on success the greeting goes to the client,
// the client's first bytes go upstream, and relaying starts; on failure the next target is tried.
func (l *eventLoop) connected(c *relayConn) {
	if err := rawSocketError(c.fd[sideUpstream]); err != nil {
		c.dialErr = fmt.Errorf("connecting to %s: %w", c.target, err)
		l.connectNext(c)
		return
	}
	d := c.dial
	c.dial, c.dialErr = nil, nil
	c.lastActive = l.now
	if len(d.greeting) > 0 {
		// A fresh socket's send buffer takes a few dozen bytes whole.
		if n, err := rawWrite(c.fd[sideClient], d.greeting); err != nil || n != len(d.greeting) {
			l.finish(c, fmt.Errorf("answering the client: %d of %d bytes written: %v", n, len(d.greeting), err))
			return
		}
	}
	c.pending[sideClient] = d.replay
	if len(d.replay) == 0 || l.flush(c, sideClient) {
		// The client may have sent more meanwhile; its events were not acted on while connecting.
		l.pump(c, sideClient, true)
	}
	l.pump(c, sideUpstream, true)
}

// handle reacts to readiness of side i of c.
func (l *eventLoop) handle(c *relayConn, i int, events uint32) {
	const failed = unix.EPOLLERR | unix.EPOLLHUP
	if c.hs != nil || c.waiting {
		if c.hs != nil && events&(unix.EPOLLIN|unix.EPOLLRDHUP|failed) != 0 {
			l.readHead(c)
		}
		return
	}
	if c.dial != nil {
		if i == sideUpstream && events&(unix.EPOLLOUT|failed) != 0 {
			l.connected(c)
		}
		return
	}
	if events&(unix.EPOLLOUT|failed) != 0 && c.holding(1-i) {
		// Side i takes data again: deliver what waits for it, then read its source again.
		if !l.flush(c, 1-i) {
			return
		}
		l.pump(c, 1-i, true)
	}
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP|failed) != 0 && !c.closed {
		// A peer that closed may have sent its last bytes with the FIN: read to the end then.
		l.pump(c, i, events&(unix.EPOLLRDHUP|failed) != 0)
	}
}

// pump moves what side i has sent to side 1-i until i has nothing more (EAGAIN, or a short read
// unless toEnd), side 1-i stops taking data, or side i's stream ended.
func (l *eventLoop) pump(c *relayConn, i int, toEnd bool) {
	for !c.closed && !c.holding(i) && !c.eof[i] {
		n, err := l.readOnce(c.fd[i])
		switch {
		case err == unix.EAGAIN:
			return
		case err == io.EOF:
			l.ended(c, i)
			return
		case err != nil:
			l.finish(c, fmt.Errorf("reading from %s: %w", sideNames[i], err))
			return
		}
		c.lastActive = l.now
		if !l.forward(c, i, l.buf[:n]) || (n < len(l.buf) && !toEnd) {
			return
		}
		// A full buffer: a bulk transfer is under way, which the kernel moves without copies.
		if n == len(l.buf) && !c.holding(i) && l.splice(c, i) {
			return
		}
	}
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

// maxIdlePipes bounds the empty pipes a loop keeps for the next bulk transfer.
const maxIdlePipes = 16

// splice moves what side i has sent to side 1-i through a pipe, until side i has nothing more,
// side 1-i stops taking data (the pipe stays with the connection until it does), or side i's
// stream ended. It reports false, having moved nothing, when no pipe could be had.
func (l *eventLoop) splice(c *relayConn, i int) bool {
	p := l.takePipe()
	if p == nil {
		return false
	}
	c.pipe[i] = p
	for {
		n, err := rawSplice(c.fd[i], p.w, loopBufferSize)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			l.putPipe(c, i)
			return true
		case err != nil:
			l.finish(c, fmt.Errorf("reading from %s: %w", sideNames[i], err))
			return true
		case n == 0:
			l.putPipe(c, i)
			l.ended(c, i)
			return true
		}
		p.n += n
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
			return false
		case err != nil:
			l.finish(c, fmt.Errorf("writing to %s: %w", sideNames[1-i], err))
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
		n, err := rawRead(fd, l.buf)
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
		n, err := rawWrite(c.fd[1-i], data)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return data, true
		case err != nil:
			l.finish(c, fmt.Errorf("writing to %s: %w", sideNames[1-i], err))
			return nil, false
		}
		c.copied[i] += int64(n)
		c.lastActive = l.now
		data = data[n:]
	}
	return nil, true
}

// sweep gives up connect attempts past their deadline and closes the relays that moved no byte
// for their idle timeout.
func (l *eventLoop) sweep() {
	for c := range l.conns {
		switch {
		case c.hs != nil:
			if l.now >= c.hsDeadline {
				l.endHead(c, os.ErrDeadlineExceeded)
			}
		case c.waiting:
		case c.dial != nil:
			if l.now >= c.dialDeadline {
				c.dialErr = fmt.Errorf("connecting to %s: %w", c.target, os.ErrDeadlineExceeded)
				l.connectNext(c)
			}
		case c.idle > 0 && l.now-c.lastActive >= c.idle:
			l.finish(c, errIdle)
		}
	}
	l.nextSweep = l.now + l.tick
}

func (l *eventLoop) closeEverything(err error) {
	for c := range l.conns {
		l.finish(c, err)
	}
}

// finish closes both sockets (which also removes them from the epoll set) and reports the result.
func (l *eventLoop) finish(c *relayConn, err error) {
	if c.closed {
		return
	}
	c.closed = true
	l.unwatch(c, sideClient)
	l.unwatch(c, sideUpstream)
	delete(l.conns, c)
	c.pending = [2][]byte{}
	for i, p := range c.pipe {
		if p != nil {
			p.close() // what is still in it is lost with the connection
			c.pipe[i] = nil
		}
	}
	res := relayResult{dialed: c.dialed, target: c.target, up: c.copied[sideClient], down: c.copied[sideUpstream],
		spliced: c.spliced, err: err}
	if c.dial != nil {
		res.dialErr = c.dialErr
		if res.dialErr == nil {
			res.dialErr = err // closed while connecting
		}
		res.err = nil
	}
	c.dial = nil
	c.done(res)
}

// The loops' sockets and epoll instance are non-blocking (and sockets close without lingering),
// so these system calls return at once:
// issued raw, they skip the runtime's bookkeeping for calls that may block (which, at a few per
// message, makes the runtime hand the processor to another thread and back).

func rawRead(fd int, p []byte) (int, error) {
	n, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

func rawWrite(fd int, p []byte) (int, error) {
	n, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// pollEvents is epoll_pwait with a zero timeout and no signal mask.
func pollEvents(epfd int, events []unix.EpollEvent) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(unsafe.SliceData(events))), uintptr(len(events)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

func rawClose(fd int) {
	unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
}

func rawShutdownWrite(fd int) error {
	if _, _, errno := unix.RawSyscall(unix.SYS_SHUTDOWN, uintptr(fd), unix.SHUT_WR, 0); errno != 0 {
		return errno
	}
	return nil
}

func rawEpollCtl(epfd, op, fd int, ev *unix.EpollEvent) error {
	if _, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0); errno != 0 {
		return errno
	}
	return nil
}

// rawConnect is connect(2) to ap (IPv4 or unmapped IPv6).
func rawConnect(fd int, ap netip.AddrPort) error {
	var ptr unsafe.Pointer
	var size uintptr
	// The port field is in network byte order.
	putPort := func(field *uint16) {
		p := (*[2]byte)(unsafe.Pointer(field))
		p[0], p[1] = byte(ap.Port()>>8), byte(ap.Port())
	}
	if ap.Addr().Is4() {
		sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ap.Addr().As4()}
		putPort(&sa.Port)
		ptr, size = unsafe.Pointer(&sa), unsafe.Sizeof(sa)
	} else {
		sa := unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: ap.Addr().As16()}
		putPort(&sa.Port)
		ptr, size = unsafe.Pointer(&sa), unsafe.Sizeof(sa)
	}
	if _, _, errno := unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(ptr), size); errno != 0 {
		return errno
	}
	return nil
}

// rawAccept is accept4(2) of a non-blocking, close-on-exec socket, with the peer's address.
func rawAccept(lfd int) (int, netip.AddrPort, error) {
	var rsa unix.RawSockaddrAny
	size := uint32(unsafe.Sizeof(rsa))
	fd, _, errno := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(lfd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&size)),
		unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if errno != 0 {
		return -1, netip.AddrPort{}, errno
	}
	return int(fd), rawSockaddrAddrPort(&rsa), nil
}

// rawSockaddrAddrPort reads an IPv4 or IPv6 socket address.
func rawSockaddrAddrPort(rsa *unix.RawSockaddrAny) netip.AddrPort {
	portOf := func(field *uint16) uint16 {
		p := (*[2]byte)(unsafe.Pointer(field))
		return uint16(p[0])<<8 | uint16(p[1])
	}
	switch rsa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), portOf(&sa.Port))
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), portOf(&sa.Port))
	}
	return netip.AddrPort{}
}

// rawSetNoDelay turns Nagle's algorithm off: interactive traffic (SSH keystrokes) must not wait.
func rawSetNoDelay(fd int) error {
	one := int32(1)
	if _, _, errno := unix.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY,
		uintptr(unsafe.Pointer(&one)), unsafe.Sizeof(one), 0); errno != 0 {
		return errno
	}
	return nil
}

// rawSocketError is the pending error of a socket (SO_ERROR): how a non-blocking connect ended.
func rawSocketError(fd int) error {
	var soErr int32
	size := uint32(unsafe.Sizeof(soErr))
	if _, _, errno := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_ERROR,
		uintptr(unsafe.Pointer(&soErr)), uintptr(unsafe.Pointer(&size)), 0); errno != 0 {
		return errno
	}
	if soErr != 0 {
		return unix.Errno(soErr)
	}
	return nil
}

// rawSplice is splice(2) of up to n bytes between a socket and a pipe, without blocking.
func rawSplice(in, out, n int) (int, error) {
	moved, _, errno := unix.RawSyscall6(unix.SYS_SPLICE, uintptr(in), 0, uintptr(out), 0, uintptr(n),
		unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE)
	if errno != 0 {
		return 0, errno
	}
	return int(moved), nil
}
