package cloudformation

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Route 53 Resolver takes names (of endpoints, rules and rule associations) of at most 64
// letters, digits, hyphens, underscores, apostrophes and spaces: no dots, so a domain cannot go
// into one as it is, and a long customer name alone can fill one.
const maxResolverNameChars = 64

// nameHashChars is how many hex digits of the full name's SHA-256 end a shortened name: 32 bits,
// so two names that differ after the cut still differ, among the few thousand of a fleet.
const nameHashChars = 8

// resolverName is the Name of a Route 53 Resolver resource of a stack: the stack name, "_" and
// what the resource is, every character Resolver refuses (a domain's dots) made a hyphen. The
// underscore, which no customer name or domain holds, keeps two customers' names apart (customer
// "a-forward-b" with domain "c.de" and customer "a" with domain "b-forward-c.de"). A longer name
// keeps its first characters and ends with a hash of the whole name. Two names of one stack that
// only differ in the characters made hyphens ("a.b" and "a-b") cannot both exist: the logical IDs
// they come with would be the same, which VSOC008 refuses.
func resolverName(stackName, what string) string {
	full := stackName + "_" + what
	name := strings.Map(func(r rune) rune {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return r
		}
		return '-'
	}, full)
	if len(name) <= maxResolverNameChars {
		return name
	}
	sum := sha256.Sum256([]byte(full))
	kept := strings.TrimRight(name[:maxResolverNameChars-1-nameHashChars], "-")
	return kept + "-" + hex.EncodeToString(sum[:])[:nameHashChars]
}

// resolverRuleName names a customer's Resolver rule for one of its domains, and the rule's
// association with the customer VPC.
func resolverRuleName(stackName, domain string) string {
	return resolverName(stackName, "forward-"+domain)
}
