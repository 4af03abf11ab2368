package sniproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// ErrForbiddenDestination is returned (wrapped) when a dial targets an address outside the allowed
// destinations. It comes from net.Dialer.ControlContext, i.e. from the very address the socket is
// about to connect to, after any resolution.
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

// control is the net.Dialer hook: it runs after the socket is created and before connect(2), with
// the literal address being connected to, so no resolution trick can get past it.
func (g *destinationGuard) control(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable address %q", ErrForbiddenDestination, address)
	}
	if !g.allows(ap) {
		return fmt.Errorf("%w: %s", ErrForbiddenDestination, ap)
	}
	return nil
}

// newDialer returns a dialer whose every connection is checked by the guard.
func (g *destinationGuard) newDialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{
		Timeout:        timeout,
		ControlContext: g.control,
		// No TCP keep-alive: the relay's idle timeout reaps dead upstreams, and the setsockopt
		// calls would be paid on every dial.
		KeepAlive: -1,
	}
}

// dialTCP connects to the first address that accepts, each attempt guarded by the dialer's Control.
func dialTCP(ctx context.Context, d *net.Dialer, addrs []netip.AddrPort) (*net.TCPConn, netip.AddrPort, error) {
	var lastErr error
	for _, ap := range addrs {
		c, err := d.DialContext(ctx, "tcp", ap.String())
		if err != nil {
			lastErr = err
			if ctx.Err() != nil {
				break
			}
			continue
		}
		return c.(*net.TCPConn), ap, nil
	}
	if lastErr == nil {
		lastErr = errors.New("no address to dial")
	}
	return nil, netip.AddrPort{}, lastErr
}
