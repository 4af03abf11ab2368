// Package cfnid derives CloudFormation logical IDs from names. The renderer names resources with
// it, and the validation rules with it find two names that one stack cannot hold.
package cfnid

import "strings"

// LogicalID builds a logical ID (ASCII letters and digits only) from parts: every run of letters
// and digits in a part starts with a capital, and everything else is dropped, so "eu-central-1a"
// becomes "EuCentral1a", and "gw-1" and "gw1" give one ID.
func LogicalID(parts ...string) string {
	var b strings.Builder
	for _, part := range parts {
		upper := true
		for i := 0; i < len(part); i++ {
			c := part[i]
			switch {
			case 'a' <= c && c <= 'z':
				if upper {
					c -= 'a' - 'A'
				}
			case 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			default:
				upper = true
				continue
			}
			b.WriteByte(c)
			upper = false
		}
	}
	return b.String()
}
