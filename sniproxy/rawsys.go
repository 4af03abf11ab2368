package sniproxy

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The loops' sockets are non-blocking (and close without lingering), so these system calls return
// at once, except rawWaitEvents, which waits up to its timeout on purpose (see eventLoop.wait).
// Issued raw, they skip the runtime's bookkeeping for calls that may block (which, at a few per
// message, makes the runtime hand the processor to another thread and back).

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

// rawRecv is recv(2) from a socket.
func rawRecv(fd int, p []byte) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// rawSend is send(2) to a socket with MSG_NOSIGNAL: a write to a peer that has reset fails with
// EPIPE without raising SIGPIPE, a signal the process would otherwise take (and the runtime
// drop) at every write to a client that vanished.
func rawSend(fd int, p []byte) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), unix.MSG_NOSIGNAL, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// rawWaitEvents is epoll_pwait, without a signal mask, for up to timeout milliseconds.
func rawWaitEvents(epfd int, events []unix.EpollEvent, timeout int64) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(unsafe.SliceData(events))), uintptr(len(events)), uintptr(timeout), 0, 0)
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

// rawSocket is socket(2) of a non-blocking, close-on-exec TCP socket of family.
func rawSocket(family int) (int, error) {
	fd, _, errno := unix.RawSyscall(unix.SYS_SOCKET, uintptr(family), unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
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

// listenReusePort returns a listening socket on address, bound with SO_REUSEPORT, and the
// address it is bound to.
func listenReusePort(address string) (int, net.Addr, error) {
	// No TCP keep-alive: the idle timeout already reaps dead peers, and the setsockopt calls
	// would be paid on every accepted connection.
	lc := net.ListenConfig{KeepAlive: -1, Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) }); cerr != nil {
			return cerr
		}
		if err != nil {
			return fmt.Errorf("setsockopt SO_REUSEPORT: %w", err)
		}
		return nil
	}}
	ln, err := lc.Listen(context.Background(), "tcp", address)
	if err != nil {
		return -1, nil, err
	}
	defer ln.Close()
	fd, err := detach(ln.(*net.TCPListener))
	if err != nil {
		return -1, nil, fmt.Errorf("taking over the socket: %w", err)
	}
	// Accepted sockets inherit TCP_NODELAY from their listening socket (Linux copies the option
	// when it clones the socket), which saves a setsockopt per connection.
	if err := rawSetNoDelay(fd); err != nil {
		rawClose(fd)
		return -1, nil, fmt.Errorf("setsockopt TCP_NODELAY on the listening socket: %w", err)
	}
	return fd, ln.Addr(), nil
}

// refuseSharedPort fails when a socket of another process already listens where b would. The
// listeners bind with SO_REUSEPORT, so the kernel would let them join another process's listener
// (of the same user, that set SO_REUSEPORT too: a forgotten proxy still serving an older config)
// and share its connections, half of them going to the other process. A socket bound without
// SO_REUSEPORT conflicts with every listener on the port, and, bound but never listening, it
// takes no connection before it is closed.
func refuseSharedPort(b bindAddr) error {
	fd, sa, err := probeSocket(b)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	// TIME_WAIT connections of an earlier run do not count: the listeners set SO_REUSEADDR too.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fmt.Errorf("setsockopt SO_REUSEADDR: %w", err)
	}
	if err := unix.Bind(fd, sa); err == unix.EADDRINUSE {
		return fmt.Errorf("another process already listens on port %d there (is an earlier vsoc-sniproxy still running?): %w", b.port, err)
	} else if err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	return nil
}

// probeSocket is a socket for refuseSharedPort of the family the net package listens with at b:
// a wildcard address takes a dual-stack IPv6 socket where the host has IPv6, which conflicts
// with IPv4 listeners on the port too.
func probeSocket(b bindAddr) (int, unix.Sockaddr, error) {
	if b.host.Is4() {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		return fd, &unix.SockaddrInet4{Port: int(b.port), Addr: b.host.As4()}, err
	}
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err == nil && !b.host.IsValid() {
		if err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0); err != nil {
			unix.Close(fd)
		}
	}
	if err != nil && !b.host.IsValid() {
		// No IPv6 here: the net package listens on 0.0.0.0.
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		return fd, &unix.SockaddrInet4{Port: int(b.port)}, err
	}
	return fd, &unix.SockaddrInet6{Port: int(b.port), Addr: b.host.As16()}, err
}
