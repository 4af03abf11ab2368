package wording

import (
	"strings"

	"github.com/agnivade/levenshtein"
)

// Closest is the candidate a misspelt name most likely meant: one that differs only in case,
// or else the nearest within two edits (the first in candidates' order on a tie). ok is false
// when none is that close: farther than two edits is not a typo.
func Closest(name string, candidates []string) (best string, ok bool) {
	bestDist := 3
	lower := strings.ToLower(name)
	for _, candidate := range candidates {
		if strings.EqualFold(candidate, name) {
			return candidate, true
		}
		if d := levenshtein.ComputeDistance(lower, strings.ToLower(candidate)); d < bestDist {
			best, bestDist = candidate, d
		}
	}
	return best, best != ""
}
