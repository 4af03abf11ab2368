package dns

import (
	"fmt"
	"strings"
)

// checkName accepts a lower-case DNS name of letters, digits, '-' and '_'
// labels: what Route 53, zone files and a Corefile all take literally.
// Anything else (upper case, a trailing dot, spaces, '*') would be read
// differently by one of them.
func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("empty name")
	}
	if len(name) > 253 {
		return fmt.Errorf("%q is %d bytes long, more than DNS allows (253)", name, len(name))
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" {
			return fmt.Errorf("%q has an empty label (hint: no leading, trailing or double dots)", name)
		}
		if len(label) > 63 {
			return fmt.Errorf("%q has a label longer than 63 bytes", name)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%q has a label starting or ending with '-'", name)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			case c >= 'A' && c <= 'Z':
				return fmt.Errorf("%q has upper-case letters (hint: write it as %q)", name, strings.ToLower(name))
			default:
				return fmt.Errorf("%q contains %q, which a DNS name cannot (hint: letters, digits, '-' and '.')", name, c)
			}
		}
	}
	return nil
}

// under reports whether name is zone or a name below it.
func under(name, zone string) bool {
	return name == zone || strings.HasSuffix(name, "."+zone)
}

// compareCanonical orders names as DNSSEC's canonical order does (RFC 4034
// §6.1): label by label from the right, so that a zone file lists a name's
// subtree together and the apex first.
func compareCanonical(a, b string) int {
	la, lb := strings.Split(a, "."), strings.Split(b, ".")
	for i, j := len(la)-1, len(lb)-1; i >= 0 && j >= 0; i, j = i-1, j-1 {
		if c := strings.Compare(la[i], lb[j]); c != 0 {
			return c
		}
	}
	return len(la) - len(lb)
}
