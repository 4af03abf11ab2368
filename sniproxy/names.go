package sniproxy

import (
	"fmt"
	"net/netip"
	"strings"
)

// NormalizeName returns the canonical form of a requested host name: lower case, without a trailing
// dot, checked to be a syntactically valid DNS name (labels of letters, digits, '-' and '_', each
// 1..63 bytes, 253 bytes in all). IP literals are returned in their canonical text form.
func NormalizeName(s string) (string, error) {
	if addr, ok := parseIPLiteral(s); ok {
		return addr.String(), nil
	}
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return "", fmt.Errorf("empty name")
	}
	if len(s) > 253 {
		return "", fmt.Errorf("name of %d bytes is longer than 253", len(s))
	}
	label := 0
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if label == 0 {
				return "", fmt.Errorf("%q has an empty label", s)
			}
			label = 0
			continue
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return "", fmt.Errorf("%q contains %q, not allowed in a DNS name", s, c)
		}
		label++
		if label > 63 {
			return "", fmt.Errorf("%q has a label longer than 63 bytes", s)
		}
	}
	if label == 0 {
		return "", fmt.Errorf("%q has an empty label", s)
	}
	if upper {
		s = strings.ToLower(s)
	}
	return s, nil
}

// parseIPLiteral parses an IPv4 or IPv6 literal without zone, unwrapping IPv4-mapped IPv6.
func parseIPLiteral(s string) (netip.Addr, bool) {
	if s == "" || !(s[0] >= '0' && s[0] <= '9' || strings.IndexByte(s, ':') >= 0) {
		return netip.Addr{}, false
	}
	addr, err := netip.ParseAddr(s)
	if err != nil || addr.Zone() != "" {
		return netip.Addr{}, false
	}
	return addr.Unmap(), true
}

// Allows reports whether the name policy of c (Allow and Deny) routes the normalized name
// dynamically, as the proxy decides it for a connection.
func (c *Config) Allows(name string) bool {
	return newNamePolicy(c.Allow, c.Deny).decide(name) == verdictAllow
}

// verdict of the name policy for one name.
type verdict uint8

const (
	verdictNoMatch verdict = iota
	verdictAllow
	verdictDeny
)

// namePolicy decides which names are routed dynamically. See Config.Allow for the semantics.
type namePolicy struct {
	exact map[string]verdict
	// wildcard maps the suffix after "*." to its verdict.
	wildcard map[string]verdict
}

func newNamePolicy(allow, deny []string) *namePolicy {
	p := &namePolicy{
		exact:    make(map[string]verdict, len(allow)+len(deny)),
		wildcard: make(map[string]verdict),
	}
	add := func(pattern string, v verdict) {
		if suffix, ok := strings.CutPrefix(pattern, "*."); ok {
			if p.wildcard[suffix] != verdictDeny {
				p.wildcard[suffix] = v
			}
			return
		}
		if p.exact[pattern] != verdictDeny {
			p.exact[pattern] = v
		}
	}
	for _, a := range allow {
		add(a, verdictAllow)
	}
	for _, d := range deny {
		add(d, verdictDeny)
	}
	return p
}

// decide returns the verdict of the most specific pattern matching the normalized name: an exact
// pattern first, then wildcards from the longest suffix to the shortest. "*.example.com" matches
// "a.example.com" and "a.b.example.com" but not "example.com".
func (p *namePolicy) decide(name string) verdict {
	if v, ok := p.exact[name]; ok {
		return v
	}
	for rest := name; ; {
		i := strings.IndexByte(rest, '.')
		if i < 0 {
			return verdictNoMatch
		}
		rest = rest[i+1:]
		if v, ok := p.wildcard[rest]; ok {
			return v
		}
	}
}
