package sniproxy

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// errIdle ends a relay in which no byte moved for the idle timeout.
var errIdle = errors.New("idle timeout")

const (
	// loopBufferSize is the buffer one recv(2) fills; a loop shares it between all its relays,
	// so an idle connection holds no buffer at all.
	loopBufferSize = 64 << 10
	loopMaxEvents  = 256
	// minIdleTick bounds how often a loop looks for idle relays.
	minIdleTick = 50 * time.Millisecond
)

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
	out     [2]bool        // side i's socket is watched for EPOLLOUT
	missed  [2]bool        // side i may have input the loop has not read (while deciding or connecting)
	bulk    [2]bool        // side i sends in bulk: its input is spliced without a read first
	splice  bool           // bulk input may be spliced (Config.Splice)
	copied  [2]int64
	closed  bool
	slot    int // in the loop's conns

	dial         *upstreamDial // until connected
	tried        int           // targets tried so far
	target       netip.AddrPort
	dialErr      error
	dialDeadline int64 // loop clock

	idle       int64 // nanoseconds without traffic before the relay is closed; 0: never
	lastActive int64 // loop clock, unix nanoseconds
	done       finisher
}

// finisher hears how a relay ended.
type finisher interface {
	finished(relayResult)
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

// acceptor is a listening socket one loop accepts from: admit takes an accepted socket in (nil
// when it refused and closed it), failed hears of accept errors other than a vanished client.
type acceptor struct {
	fd     int
	admit  func(fd int, peer netip.AddrPort) *relayConn
	failed func(err error, retryIn time.Duration)
}

// acceptBatch bounds the connections a loop accepts at once, so that it gets back to the ones it
// relays.
const acceptBatch = 32

// relayLoops serves accepted connections from their first byte (the handshaker decides where they
// go) through the connect to their upstream and the relay, on event loops instead of goroutines
// per connection: a goroutine parks and wakes for every message, which costs more than the
// message, and keeps a stack for every idle connection. A loop waits in epoll(7) for all its
// connections at once and moves bytes with recv(2)/send(2) through one shared buffer.
//
// While it is busy, a loop waits in epoll_wait without telling the runtime, so that it keeps its
// P and an event wakes its thread directly, as in a C event loop. That is why there is one loop
// fewer than GOMAXPROCS: the last P serves everything else (DNS lookups, timers, the admin port).
// With GOMAXPROCS 1 the single loop shares its P: while it is busy, the rest of the process runs
// when the runtime preempts it (every 10 ms).
//
// Every loop accepts on a listening socket of its own: a listener is a group of sockets bound
// with SO_REUSEPORT, over which the kernel spreads new connections by a hash of their addresses.
// With one socket watched by all loops, epoll wakes the first loop waiting, which accepts
// everything pending: the connections a client opens at once all land on one loop, and a
// keep-alive workload then runs on a single thread.
type relayLoops struct {
	loops []*eventLoop
}

// loopCount is the number of event loops for the current GOMAXPROCS.
func loopCount() int { return max(1, runtime.GOMAXPROCS(0)-1) }

func startRelayLoops() (*relayLoops, error) {
	rl := &relayLoops{}
	for range loopCount() {
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

// count is the number of loops; a listener has a socket for each.
func (rl *relayLoops) count() int { return len(rl.loops) }

// listen makes each loop accept on its own socket of a listener: loop i on accs[i].
func (rl *relayLoops) listen(accs []*acceptor) {
	rl.onEveryLoop(func(i int, l *eventLoop) {
		a := accs[i]
		l.seq++
		l.track(a.fd, sideRef{acc: a, seq: l.seq})
		if err := l.watchListener(a.fd); err != nil {
			a.failed(fmt.Errorf("epoll_ctl: %w", err), 0)
		}
	})
}

// watchListener adds a listening socket to the loop's epoll set, level-triggered: a loop that
// stops at acceptBatch is told again.
func (l *eventLoop) watchListener(fd int) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd), Pad: int32(l.sides[fd].seq)}
	return rawEpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev)
}

// unlisten makes each loop stop accepting on its socket of a listener; the sockets may then be
// closed.
func (rl *relayLoops) unlisten(accs []*acceptor) {
	rl.onEveryLoop(func(i int, l *eventLoop) {
		a := accs[i]
		rawEpollCtl(l.epfd, unix.EPOLL_CTL_DEL, a.fd, &unix.EpollEvent{})
		if l.sides[a.fd].acc == a {
			l.sides[a.fd] = sideRef{}
		}
		delete(l.acceptPauses, a)
	})
}

// onEveryLoop runs fn on every loop's goroutine (i is the loop's index) and waits for them.
func (rl *relayLoops) onEveryLoop(fn func(i int, l *eventLoop)) {
	var wg sync.WaitGroup
	for i, l := range rl.loops {
		wg.Add(1)
		if !l.request(func(l *eventLoop) { fn(i, l); wg.Done() }) {
			wg.Done()
		}
	}
	wg.Wait()
}

// closeAll ends every relay with err, and every relay handed over later as well.
func (rl *relayLoops) closeAll(err error) {
	for _, l := range rl.loops {
		l.request(func(l *eventLoop) { l.closeWith = cmp.Or(l.closeWith, err) })
	}
}

// stop ends every relay and the loops, and waits for them.
func (rl *relayLoops) stop() {
	for _, l := range rl.loops {
		l.request(func(l *eventLoop) { l.closeWith, l.stopping = cmp.Or(l.closeWith, net.ErrClosed), true })
	}
	for _, l := range rl.loops {
		<-l.stopped
	}
}

// eventLoop is one epoll instance and the goroutine that serves it. Everything but the request
// queue (under mu) is touched only by that goroutine.
type eventLoop struct {
	epfd, wakefd int
	buf          []byte
	pipes        []*splicePipe // empty pipes for bulk transfers
	events       []unix.EpollEvent
	sides        []sideRef    // by file descriptor
	seq          uint32       // of the last registration
	conns        []*relayConn // each at its slot
	// acceptPauses holds the last pause after an accept error on each listening socket, while
	// its errors go on.
	acceptPauses map[*acceptor]time.Duration
	now          int64
	tick         int64 // sweep interval for idle relays, 0 while no relay has an idle timeout
	nextSweep    int64
	closeWith    error // once set, every relay ends with it
	stopping     bool
	stopped      chan struct{}

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
	return &eventLoop{
		epfd:         epfd,
		wakefd:       wakefd,
		buf:          make([]byte, loopBufferSize),
		events:       make([]unix.EpollEvent, loopMaxEvents),
		acceptPauses: make(map[*acceptor]time.Duration),
		stopped:      make(chan struct{}),
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
		if err != nil {
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
		if l.closeWith != nil {
			l.closeEverything(l.closeWith)
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

// busyWait is how long a loop waits for events holding its P before it waits as a system call.
const busyWait = 2 * time.Millisecond

// wait returns the next batch of events; none when it is time to look for idle relays.
//
// A busy loop waits in a raw epoll_wait: the runtime still counts the goroutine as running, so
// its P stays with the thread, and an event costs one wake-up of that thread. Parking on the
// runtime's poller instead costs a second epoll and the scheduler at every wake-up, and a blocking
// system call lets the runtime hand the P to another thread, which the loop then has to get back.
// After busyWait without events the loop waits as a blocking system call, so that an idle proxy
// holds no P and its goroutine is not preempted every 10 ms by the runtime's monitor (which
// interrupts a raw wait with a signal: EINTR, and the loop yields).
func (l *eventLoop) wait() (int, error) {
	// The clock of the last wake-up is behind by the time spent on its events, which delays a
	// sweep (every 50 ms or more) by that much at most.
	untilSweep := l.untilSweep(l.now)
	if untilSweep < 0 || untilSweep > busyWait {
		n, err := rawWaitEvents(l.epfd, l.events, busyWait.Milliseconds())
		switch {
		case err == unix.EINTR:
			runtime.Gosched()
			return 0, nil
		case err != nil || n > 0:
			return n, err
		}
		untilSweep = l.untilSweep(time.Now().UnixNano())
	}
	n, err := unix.EpollWait(l.epfd, l.events, waitMillis(untilSweep))
	if err == unix.EINTR {
		return 0, nil
	}
	return n, err
}

// untilSweep is the time left at now (unix nanoseconds) until the next idle sweep, -1 when there
// is none to do.
func (l *eventLoop) untilSweep(now int64) time.Duration {
	if l.tick == 0 || len(l.conns) == 0 {
		return -1
	}
	return max(0, time.Duration(l.nextSweep-now))
}

// waitMillis is epoll_wait's timeout for d, rounded up; -1 (no timeout) for d < 0.
func waitMillis(d time.Duration) int {
	if d < 0 {
		return -1
	}
	return int((d + time.Millisecond - 1) / time.Millisecond)
}

func (l *eventLoop) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.shut = true
	unix.Close(l.epfd)
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
	c.slot = len(l.conns)
	l.conns = append(l.conns, c)
	if l.closeWith != nil {
		l.finish(c, l.closeWith)
		return
	}
	l.shortenTick(c.idle)
	if err := l.watch(c, sideClient, false); err != nil {
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

// watch adds side i's socket to the epoll set, for writability too when out. Edge-triggered: the
// loop reads until EAGAIN (or a short read) and is told again only when more arrives; what is
// already there is reported at once.
func (l *eventLoop) watch(c *relayConn, i int, out bool) error {
	fd := c.fd[i]
	l.seq++
	l.track(fd, sideRef{conn: c, side: i, seq: l.seq})
	c.out[i] = out
	ev := unix.EpollEvent{Events: watchEvents(out), Fd: int32(fd), Pad: int32(l.seq)}
	if err := rawEpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	return nil
}

// watchOut makes the loop hear when side i takes data again. A socket is watched for
// writability only once a write to it would block (or while it connects): every ACK that frees
// send-buffer space reports EPOLLOUT, and a relay of small messages would wake the loop for
// each.
func (l *eventLoop) watchOut(c *relayConn, i int) error {
	if c.out[i] {
		return nil
	}
	fd := c.fd[i]
	c.out[i] = true
	ev := unix.EpollEvent{Events: watchEvents(true), Fd: int32(fd), Pad: int32(l.sides[fd].seq)}
	if err := rawEpollCtl(l.epfd, unix.EPOLL_CTL_MOD, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	return nil
}

func watchEvents(out bool) uint32 {
	ev := uint32(unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET)
	if out {
		ev |= unix.EPOLLOUT
	}
	return ev
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
		if len(l.acceptPauses) > 0 {
			delete(l.acceptPauses, a)
		}
		if c := a.admit(fd, peer); c != nil {
			l.register(c)
		}
	}
}

// After an accept error a loop leaves the listening socket alone for a while, instead of
// spinning on an error that lasts (out of file descriptors): minAcceptPause at first, twice as
// long at each further error in a row, at most maxAcceptPause.
const (
	minAcceptPause = 5 * time.Millisecond
	maxAcceptPause = time.Second
)

func (l *eventLoop) pauseAccept(a *acceptor, err error) {
	pause := min(max(2*l.acceptPauses[a], minAcceptPause), maxAcceptPause)
	l.acceptPauses[a] = pause
	a.failed(err, pause)
	// The socket leaves the epoll set for the pause: its pending connections would report it
	// ready at every wait.
	rawEpollCtl(l.epfd, unix.EPOLL_CTL_DEL, a.fd, &unix.EpollEvent{})
	time.AfterFunc(pause, func() {
		l.request(func(l *eventLoop) {
			if l.sides[a.fd].acc == a {
				if err := l.watchListener(a.fd); err != nil {
					a.failed(fmt.Errorf("epoll_ctl: %w", err), 0)
				}
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

// sweep gives up connect attempts past their deadline and closes the relays that moved no byte
// for their idle timeout.
func (l *eventLoop) sweep() {
	// Backwards: finishing a relay moves the last one, already seen, into its slot.
	for i := len(l.conns) - 1; i >= 0; i-- {
		c := l.conns[i]
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
	for len(l.conns) > 0 {
		l.finish(l.conns[len(l.conns)-1], err)
	}
}

// forget takes c out of the loop's relays.
func (l *eventLoop) forget(c *relayConn) {
	last := len(l.conns) - 1
	moved := l.conns[last]
	l.conns[c.slot], moved.slot = moved, c.slot
	l.conns[last] = nil
	l.conns = l.conns[:last]
}

// finish closes both sockets (which also removes them from the epoll set) and reports the result.
func (l *eventLoop) finish(c *relayConn, err error) {
	if c.closed {
		return
	}
	c.closed = true
	l.unwatch(c, sideClient)
	l.unwatch(c, sideUpstream)
	l.forget(c)
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
	c.done.finished(res)
}
