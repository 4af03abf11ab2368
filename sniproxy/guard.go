package sniproxy

import (
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// ErrForbiddenDestination is returned (wrapped) when a connect targets an address outside the
// allowed destinations.
var ErrForbiddenDestination = errors.New("destination not allowed")

// destinationGuard holds the addresses the proxy may connect to.
type destinationGuard struct {
	prefixes []netip.Prefix
	// exact are the static targets, allowed as exactly that ip:port.
	exact map[netip.AddrPort]struct{}
}

func newDestinationGuard(prefixes []netip.Prefix, static []StaticMapping) *destinationGuard {
	g := &destinationGuard{
		prefixes: append([]netip.Prefix(nil), prefixes...),
		exact:    make(map[netip.AddrPort]struct{}, len(static)),
	}
	for _, s := range static {
		g.exact[netip.AddrPortFrom(s.Target.Addr().Unmap(), s.Target.Port())] = struct{}{}
	}
	return g
}

// allows reports whether the proxy may connect to ap.
func (g *destinationGuard) allows(ap netip.AddrPort) bool {
	addr := ap.Addr().Unmap()
	if addr.Zone() != "" {
		return false
	}
	for _, p := range g.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	_, ok := g.exact[netip.AddrPortFrom(addr, ap.Port())]
	return ok
}

// connect checks ap and starts a non-blocking connect(2) to it, returning the socket. The address
// checked is the very one the socket connects to, after any resolution, so no caller and no
// resolution trick gets past the guard.
func (g *destinationGuard) connect(ap netip.AddrPort) (int, error) {
	if !g.allows(ap) {
		return -1, fmt.Errorf("%w: %s", ErrForbiddenDestination, ap)
	}
	addr := ap.Addr().Unmap()
	family := unix.AF_INET6
	if addr.Is4() {
		family = unix.AF_INET
	}
	fd, err := rawSocket(family)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if err := rawSetNoDelay(fd); err != nil {
		rawClose(fd)
		return -1, fmt.Errorf("setsockopt TCP_NODELAY: %w", err)
	}
	if err := rawConnect(fd, netip.AddrPortFrom(addr, ap.Port())); err != nil && err != unix.EINPROGRESS {
		rawClose(fd)
		return -1, fmt.Errorf("connecting to %s: %w", ap, err)
	}
	return fd, nil
}
