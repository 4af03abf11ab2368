package spec

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// textLimit is what a service accepts in a string property: AWS's resource specification (the
// extract) gives property types but not these, so a name that is too long, or has a character
// the service refuses, would pass the check and fail only when the resource is created. The
// limits are those of the service APIs' references, for the properties this project renders.
type textLimit struct {
	maxChars int
	// pattern is anchored at both ends; nil when any character is accepted.
	pattern *regexp.Regexp
	// allowed says in words which characters pattern accepts, for the message.
	allowed string
	// notOnlyDigits is the Route 53 Resolver names' "(?!^[0-9]+$)", which Go's regexp cannot
	// express.
	notOnlyDigits bool
}

var (
	// Route 53 Resolver names (CreateResolverEndpoint, CreateResolverRule, AssociateResolverRule):
	// no dots, so a domain cannot go into one as it is.
	resolverName = textLimit{
		maxChars:      64,
		pattern:       regexp.MustCompile(`^[a-zA-Z0-9\-_' ]+$`),
		allowed:       "letters, digits, hyphens, underscores, apostrophes and spaces",
		notOnlyDigits: true,
	}
	// Security group descriptions and the descriptions of its rules (CreateSecurityGroup, IpRange).
	ec2Description = textLimit{
		maxChars: 255,
		pattern:  regexp.MustCompile(`^[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]*$`),
		allowed:  "letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*",
	}
	iamName = textLimit{
		maxChars: 128,
		pattern:  regexp.MustCompile(`^[\w+=,.@-]+$`),
		allowed:  "letters, digits and _+=,.@-",
	}
)

// textLimits are keyed by resource type, then by property path: names separated by dots, "[]"
// after a list's name for each of its elements.
var textLimits = map[string]map[string]textLimit{
	"AWS::Route53Resolver::ResolverEndpoint":        {"Name": resolverName},
	"AWS::Route53Resolver::ResolverRule":            {"Name": resolverName},
	"AWS::Route53Resolver::ResolverRuleAssociation": {"Name": resolverName},
	"AWS::EC2::SecurityGroup": {
		"GroupDescription":                   ec2Description,
		"GroupName":                          ec2Description,
		"SecurityGroupEgress[].Description":  ec2Description,
		"SecurityGroupIngress[].Description": ec2Description,
	},
	"AWS::EC2::SecurityGroupEgress":  {"Description": ec2Description},
	"AWS::EC2::SecurityGroupIngress": {"Description": ec2Description},
	"AWS::Logs::LogGroup": {"LogGroupName": {
		maxChars: 512,
		pattern:  regexp.MustCompile(`^[a-zA-Z0-9_\-/.#]+$`),
		allowed:  "letters, digits and _-/.#",
	}},
	"AWS::Logs::LogStream": {"LogStreamName": {
		maxChars: 512,
		pattern:  regexp.MustCompile(`^[^:*]+$`),
		allowed:  "any character but : and *",
	}},
	"AWS::IAM::Role": {
		"RoleName":              {maxChars: 64, pattern: iamName.pattern, allowed: iamName.allowed},
		"Policies[].PolicyName": iamName,
	},
	"AWS::Route53::HostedZone": {"HostedZoneConfig.Comment": {maxChars: 256}},
}

// Tag limits common to the services this project tags (EC2, Route 53, Route 53 Resolver,
// CloudWatch Logs, IAM).
const (
	maxTagKeyChars   = 128
	maxTagValueChars = 256
)

// checkTextLimits reports the string literals of a resource's properties that its service would
// refuse. Values computed by intrinsic functions are not known here and are left alone.
func (c *stackCheck) checkTextLimits(typeName string, props map[string]any, path string) {
	limits := textLimits[typeName]
	for _, property := range sortedKeys(limits) {
		limit := limits[property]
		forEachAt(props, strings.Split(property, "."), path, func(v any, at string) {
			if s, ok := v.(string); ok {
				if why := limit.refuses(s); why != "" {
					c.problem(at, "%q %s", s, why)
				}
			}
		})
	}
}

// refuses tells why the service refuses s, or "" if it accepts it.
func (l textLimit) refuses(s string) string {
	if n := utf8.RuneCountInString(s); n > l.maxChars {
		return fmt.Sprintf("is %d characters, more than the service's limit of %d", n, l.maxChars)
	}
	if l.pattern != nil && !l.pattern.MatchString(s) {
		return "has characters the service refuses; it accepts " + l.allowed
	}
	if l.notOnlyDigits && strings.Trim(s, "0123456789") == "" {
		return "is only digits, which the service refuses"
	}
	return ""
}

// forEachAt calls visit with every value at the property path below v (and the template path of
// each); a missing step visits nothing.
func forEachAt(v any, steps []string, at string, visit func(v any, at string)) {
	if len(steps) == 0 {
		visit(v, at)
		return
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return
	}
	name, each := strings.CutSuffix(steps[0], "[]")
	next, present := obj[name]
	if !present {
		return
	}
	at += "." + name
	if !each {
		forEachAt(next, steps[1:], at, visit)
		return
	}
	list, _ := next.([]any)
	for i, e := range list {
		forEachAt(e, steps[1:], fmt.Sprintf("%s[%d]", at, i), visit)
	}
}
