package cloudformation

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/vsoc/vsoc/compiler"
)

// Route 53 Resolver takes names (of endpoints, rules and rule associations) of at most 64
// letters, digits, hyphens, underscores, apostrophes and spaces: no dots, so a domain cannot go
// into one as it is, and a long customer name alone can fill one.
const maxResolverNameChars = 64

// nameHashChars is how many hex digits of the full name's SHA-256 end a shortened name: 32 bits,
// so two names that differ after the cut still differ, among the few thousand of a fleet.
const nameHashChars = 8

// resolverName is the Name of a Route 53 Resolver resource of a stack: the stack name and what
// the resource is, every character Resolver refuses (a domain's dots) made a hyphen. A longer
// name keeps its first characters and ends with a hash of the whole name. Two names of one stack
// that only differ in those characters ("a.b" and "a-b") cannot both exist: the logical IDs they
// come with would be the same, and the template refuses that.
func resolverName(stackName, what string) string {
	full := stackName + "-" + what
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

// checkResolverRuleNames refuses a fleet in which two customers' Resolver rules would get the
// same name. Names begin with the stack name, but a customer name may contain "-forward-": then
// customer "a-forward-b" with domain "c.de" and customer "a" with domain "b-forward-c.de" meet.
// AWS would accept that; the operators, who find a rule by its name in the console, would not.
func checkResolverRuleNames(p *compiler.Plan) error {
	owners := map[string]string{}
	for _, c := range p.Customers {
		if c.Customer.DNS.Mode != "route53-resolver" {
			continue
		}
		for _, domain := range c.Customer.DNS.Domains {
			name := resolverRuleName(c.StackName, domain)
			if other, taken := owners[name]; taken && other != c.Customer.Name {
				return fmt.Errorf("customers %s and %s would both get a Route 53 Resolver rule named %s; rename a domain or a customer", other, c.Customer.Name, name)
			}
			owners[name] = c.Customer.Name
		}
	}
	return nil
}
