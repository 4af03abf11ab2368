package golden

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Limits of the hunk firstDifference shows: the lines around it, and the
// lines of each side it prints (a rewritten 10,000-line file would drown the
// one change that matters).
const (
	contextLines = 3
	shownLines   = 12
)

// firstDifference shows the first hunk in which got differs from want, in
// the shape of a unified diff: a few unchanged lines around it, the golden
// lines with "-", the new ones with "+". It is "" when the two are equal.
func firstDifference(want, got []byte) string {
	if bytes.Equal(want, got) {
		return ""
	}
	w, g := bytes.SplitAfter(want, []byte("\n")), bytes.SplitAfter(got, []byte("\n"))
	// SplitAfter ends with an empty element after a final newline.
	w, g = dropEmptyLast(w), dropEmptyLast(g)
	first := 0
	for first < len(w) && first < len(g) && bytes.Equal(w[first], g[first]) {
		first++
	}
	// The common tail, not overlapping the common head.
	tail := 0
	for tail < len(w)-first && tail < len(g)-first && bytes.Equal(w[len(w)-1-tail], g[len(g)-1-tail]) {
		tail++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "@@ first difference at line %d @@\n", first+1)
	for _, line := range w[max(0, first-contextLines):first] {
		writeLine(&b, " ", line)
	}
	writeLines(&b, "-", w[first:len(w)-tail])
	writeLines(&b, "+", g[first:len(g)-tail])
	for _, line := range w[len(w)-tail : min(len(w), len(w)-tail+contextLines)] {
		writeLine(&b, " ", line)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func dropEmptyLast(lines [][]byte) [][]byte {
	if n := len(lines); n > 0 && len(lines[n-1]) == 0 {
		return lines[:n-1]
	}
	return lines
}

func writeLines(b *strings.Builder, mark string, lines [][]byte) {
	for i, line := range lines {
		if i == shownLines {
			fmt.Fprintf(b, "%s… %d more lines\n", mark, len(lines)-shownLines)
			return
		}
		writeLine(b, mark, line)
	}
}

// writeLine prints a line as it is, unless it hides what differs: trailing
// white space, carriage returns and other invisible characters are quoted,
// and a last line without a newline says so.
func writeLine(b *strings.Builder, mark string, line []byte) {
	text, terminated := strings.CutSuffix(string(line), "\n")
	if strings.TrimRightFunc(text, unicode.IsSpace) != text || strings.IndexFunc(text, invisible) >= 0 {
		text = strconv.Quote(text)
	}
	b.WriteString(mark + text)
	if !terminated {
		b.WriteString("  (no newline at end of file)")
	}
	b.WriteString("\n")
}

func invisible(r rune) bool { return !unicode.IsPrint(r) && r != '\t' }
