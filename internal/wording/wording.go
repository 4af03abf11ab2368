// Package wording holds the small helpers that the commands' messages share.
package wording

import "fmt"

// Count says how many of noun there are, in the singular for one: "1 file",
// "3 files". The noun takes an s in the plural.
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
