package sniproxy

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestNamePolicy(t *testing.T) {
	p := newNamePolicy(
		[]string{"*.example.com", "example.org", "*.sub.denied.example.com", "vip.denied.example.com"},
		[]string{"denied.example.com", "*.denied.example.com"},
	)
	for name, want := range map[string]verdict{
		"a.example.com":              verdictAllow,
		"a.b.c.example.com":          verdictAllow, // one or more labels
		"example.com":                verdictNoMatch,
		"notexample.com":             verdictNoMatch,
		"example.org":                verdictAllow,
		"a.example.org":              verdictNoMatch, // an exact pattern does not cover subdomains
		"denied.example.com":         verdictDeny,    // exact deny beats the allow wildcard
		"x.denied.example.com":       verdictDeny,    // the longer wildcard suffix wins
		"vip.denied.example.com":     verdictAllow,   // exact beats every wildcard
		"x.sub.denied.example.com":   verdictAllow,   // longest suffix first
		"sub.denied.example.com":     verdictDeny,
		"com":                        verdictNoMatch,
		"a.example.com.evil.example": verdictNoMatch,
	} {
		if got := p.decide(name); got != want {
			t.Errorf("decide(%q) = %d, want %d", name, got, want)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{
		"WWW.Example.COM.": "www.example.com",
		"a_b.example":      "a_b.example",
		"10.0.0.1":         "10.0.0.1",
		"::ffff:10.0.0.1":  "10.0.0.1",
		"FD00::1":          "fd00::1",
	} {
		got, err := NormalizeName(in)
		if err != nil || got != want {
			t.Errorf("NormalizeName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", ".", "a..b", ".a", "a b", "a/b", "é.example", strings.Repeat("a", 64) + ".x", strings.Repeat("a.", 127) + "ab", "fe80::1%eth0"} {
		if got, err := NormalizeName(bad); err == nil {
			t.Errorf("NormalizeName(%q) = %q, want an error", bad, got)
		}
	}
}

func TestResolverHonoursTTLAndBounds(t *testing.T) {
	d := startDNS(t)
	d.set("short.example.test", 1, backendIP)
	d.set("long.example.test", 3600, backendIP)
	d.set("zero.example.test", 0, backendIP)
	now := time.Now()
	r := newResolver(resolverOptions{servers: []netip.AddrPort{d.addr}, wantV4: true, timeout: time.Second, maxTTL: time.Minute, maxEntries: 2})
	r.now = func() time.Time { return now }
	ctx := context.Background()
	lookup := func(name string) {
		t.Helper()
		addrs, err := r.lookup(ctx, name)
		if err != nil || len(addrs) != 1 || addrs[0] != backendIP {
			t.Fatalf("lookup %s: %v %v", name, addrs, err)
		}
	}
	queries := func() int64 { return d.queries.Load() }

	lookup("short.example.test")
	lookup("short.example.test")
	if q := queries(); q != 1 {
		t.Fatalf("within the TTL: %d queries, want 1 (cached)", q)
	}
	now = now.Add(1500 * time.Millisecond)
	lookup("short.example.test")
	if q := queries(); q != 2 {
		t.Fatalf("after the TTL: %d queries, want 2", q)
	}
	lookup("zero.example.test")
	lookup("zero.example.test")
	if q := queries(); q != 4 {
		t.Fatalf("TTL 0: %d queries, want 4 (never cached)", q)
	}
	// TTLs are capped at maxTTL so a moved name is picked up in bounded time.
	lookup("long.example.test")
	now = now.Add(61 * time.Second)
	lookup("long.example.test")
	if q := queries(); q != 6 {
		t.Fatalf("after maxTTL: %d queries, want 6", q)
	}
	// The cache never holds more than maxEntries names.
	d.set("c.example.test", 3600, backendIP)
	d.set("d.example.test", 3600, backendIP)
	lookup("c.example.test")
	lookup("d.example.test")
	r.mu.Lock()
	size := len(r.cache)
	r.mu.Unlock()
	if size > 2 {
		t.Fatalf("cache holds %d entries, bound is 2", size)
	}
	if _, err := r.lookup(ctx, "missing.example.test"); err == nil || !strings.Contains(err.Error(), "NXDOMAIN") {
		t.Fatalf("missing name: want NXDOMAIN, got %v", err)
	}
}

func TestResolverFallsBackToTheNextServer(t *testing.T) {
	d := startDNS(t)
	d.set("www.example.test", 60, backendIP)
	dead := netip.MustParseAddrPort("127.0.0.1:1") // nothing answers there
	r := newResolver(resolverOptions{servers: []netip.AddrPort{dead, d.addr}, wantV4: true, timeout: 500 * time.Millisecond, maxTTL: time.Minute, maxEntries: 10})
	addrs, err := r.lookup(context.Background(), "www.example.test")
	if err != nil || len(addrs) != 1 {
		t.Fatalf("lookup with a dead first server: %v %v", addrs, err)
	}
}

// TestResolverKeepsWhatOneQueryAnswered: with IPv6 destinations the proxy asks for A and AAAA
// records. A failed AAAA query does not fail a name whose A query answered; that answer is cached
// for partialTTL only, so the AAAA query is soon asked again. Both failing fails the lookup.
func TestResolverKeepsWhatOneQueryAnswered(t *testing.T) {
	d := startDNS(t)
	d.set("www.example.test", 3600, backendIP)
	d.fail("www.example.test", dns.TypeAAAA)
	d.set("down.example.test", 3600, backendIP)
	d.fail("down.example.test", dns.TypeA)
	d.fail("down.example.test", dns.TypeAAAA)
	now := time.Now()
	r := newResolver(resolverOptions{servers: []netip.AddrPort{d.addr}, wantV4: true, wantV6: true, timeout: time.Second, maxTTL: time.Hour, maxEntries: 10})
	r.now = func() time.Time { return now }
	ctx := context.Background()

	addrs, err := r.lookup(ctx, "www.example.test")
	if err != nil || len(addrs) != 1 || addrs[0] != backendIP {
		t.Fatalf("A answered, AAAA failed: %v %v, want [%s]", addrs, err, backendIP)
	}
	now = now.Add(partialTTL - time.Second)
	if _, ok := r.cached("www.example.test"); !ok {
		t.Fatalf("the answer is not cached within partialTTL")
	}
	now = now.Add(2 * time.Second)
	if _, ok := r.cached("www.example.test"); ok {
		t.Fatalf("an answer with a failed query is cached past partialTTL (the A record's TTL is an hour)")
	}
	if _, err := r.lookup(ctx, "down.example.test"); err == nil || !strings.Contains(err.Error(), "SERVFAIL") {
		t.Fatalf("both queries failed: %v, want the SERVFAIL", err)
	}
}
