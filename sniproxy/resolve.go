package sniproxy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sync/singleflight"
)

// errNoAddress is returned when a name has no A/AAAA record.
var errNoAddress = errors.New("no address record")

// resolver looks names up on the customer's DNS servers with a bounded, TTL-honouring cache.
type resolver struct {
	servers    []string
	wantV4     bool
	wantV6     bool
	timeout    time.Duration
	maxTTL     time.Duration
	maxEntries int
	now        func() time.Time
	udp        *dns.Client
	tcp        *dns.Client
	flight     singleflight.Group
	onLookup   func(result string)

	mu    sync.Mutex
	cache map[string]cacheEntry
}

type cacheEntry struct {
	addrs   []netip.Addr
	expires time.Time
}

// Results of a lookup, as counted in the metrics.
const (
	lookupHit   = "hit"   // served from the cache
	lookupMiss  = "miss"  // asked the resolvers
	lookupError = "error" // the resolvers failed
)

// resolverOptions configure newResolver.
type resolverOptions struct {
	servers    []netip.AddrPort
	wantV4     bool
	wantV6     bool
	timeout    time.Duration
	maxTTL     time.Duration
	maxEntries int
	// onLookup is told lookupHit, lookupMiss or lookupError for every lookup (metrics).
	onLookup func(result string)
}

func newResolver(o resolverOptions) *resolver {
	servers := make([]string, len(o.servers))
	for i, s := range o.servers {
		servers[i] = s.String()
	}
	onLookup := o.onLookup
	if onLookup == nil {
		onLookup = func(string) {}
	}
	return &resolver{
		servers:    servers,
		wantV4:     o.wantV4,
		wantV6:     o.wantV6,
		timeout:    o.timeout,
		maxTTL:     o.maxTTL,
		maxEntries: o.maxEntries,
		now:        time.Now,
		udp:        &dns.Client{Net: "udp", Timeout: o.timeout},
		tcp:        &dns.Client{Net: "tcp", Timeout: o.timeout},
		onLookup:   onLookup,
		cache:      make(map[string]cacheEntry),
	}
}

// lookup returns the addresses of a normalized name, from the cache while its TTL lasts.
func (r *resolver) lookup(ctx context.Context, name string) ([]netip.Addr, error) {
	if addrs, ok := r.cached(name); ok {
		return addrs, nil
	}
	v, err, _ := r.flight.Do(name, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
		defer cancel()
		return r.query(ctx, name)
	})
	if err != nil {
		r.onLookup(lookupError)
		return nil, err
	}
	r.onLookup(lookupMiss)
	return v.([]netip.Addr), nil
}

// cached returns the unexpired answer for name, if the cache has one.
func (r *resolver) cached(name string) ([]netip.Addr, bool) {
	r.mu.Lock()
	e, ok := r.cache[name]
	r.mu.Unlock()
	if ok && r.now().Before(e.expires) {
		r.onLookup(lookupHit)
		return e.addrs, true
	}
	return nil, false
}

// query asks the servers for A (and AAAA when IPv6 destinations exist) records and caches the
// answer for the smallest TTL seen, capped at maxTTL. As with the Go and glibc resolvers, one
// query's failure does not fail the lookup when the other answered with addresses; that answer is
// kept for partialTTL at most, so that the failed query is soon asked again.
func (r *resolver) query(ctx context.Context, name string) ([]netip.Addr, error) {
	var (
		addrs    []netip.Addr
		firstErr error
	)
	ttl := r.maxTTL
	types := make([]uint16, 0, 2)
	if r.wantV4 {
		types = append(types, dns.TypeA)
	}
	if r.wantV6 {
		types = append(types, dns.TypeAAAA)
	}
	for _, qtype := range types {
		got, minTTL, err := r.exchange(ctx, name, qtype)
		if err != nil {
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		addrs = append(addrs, got...)
		if len(got) > 0 && minTTL < ttl {
			ttl = minTTL
		}
	}
	switch {
	case len(addrs) == 0 && firstErr != nil:
		return nil, firstErr
	case len(addrs) == 0:
		return nil, fmt.Errorf("resolving %s: %w", name, errNoAddress)
	case firstErr != nil:
		ttl = min(ttl, partialTTL)
	}
	if ttl > 0 && r.maxEntries > 0 {
		r.store(name, addrs, r.now().Add(ttl))
	}
	return addrs, nil
}

// partialTTL bounds how long an answer is cached when one of its queries failed.
const partialTTL = 5 * time.Second

func (r *resolver) store(name string, addrs []netip.Addr, expires time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, exists := r.cache[name]; !exists && len(r.cache) >= r.maxEntries {
		now := r.now()
		for k, e := range r.cache {
			if !now.Before(e.expires) {
				delete(r.cache, k)
			}
		}
		// Still full: drop the entry closest to expiry, it is the cheapest to lose.
		if len(r.cache) >= r.maxEntries {
			var victim string
			var soonest time.Time
			for k, e := range r.cache {
				if victim == "" || e.expires.Before(soonest) {
					victim, soonest = k, e.expires
				}
			}
			delete(r.cache, victim)
		}
	}
	r.cache[name] = cacheEntry{addrs: addrs, expires: expires}
}

// exchange queries the servers in order until one answers; a truncated UDP answer is retried on TCP.
func (r *resolver) exchange(ctx context.Context, name string, qtype uint16) ([]netip.Addr, time.Duration, error) {
	msg := new(dns.Msg)
	msg.SetQuestion(dns.Fqdn(name), qtype)
	msg.RecursionDesired = true
	var lastErr error
	for _, server := range r.servers {
		resp, _, err := r.udp.ExchangeContext(ctx, msg, server)
		if err == nil && resp.Truncated {
			resp, _, err = r.tcp.ExchangeContext(ctx, msg, server)
		}
		if err != nil {
			lastErr = fmt.Errorf("querying %s for %s: %w", server, name, err)
			continue
		}
		switch resp.Rcode {
		case dns.RcodeSuccess:
		case dns.RcodeNameError:
			return nil, 0, fmt.Errorf("resolving %s: NXDOMAIN from %s", name, server)
		default:
			lastErr = fmt.Errorf("resolving %s: %s from %s", name, dns.RcodeToString[resp.Rcode], server)
			continue
		}
		var addrs []netip.Addr
		minTTL := r.maxTTL
		for _, rr := range resp.Answer {
			var ip []byte
			switch rec := rr.(type) {
			case *dns.A:
				ip = rec.A
			case *dns.AAAA:
				ip = rec.AAAA
			default:
				continue
			}
			addr, ok := netip.AddrFromSlice(ip)
			if !ok {
				continue
			}
			addrs = append(addrs, addr.Unmap())
			if t := time.Duration(rr.Header().Ttl) * time.Second; t < minTTL {
				minTTL = t
			}
		}
		return addrs, minTTL, nil
	}
	return nil, 0, lastErr
}
