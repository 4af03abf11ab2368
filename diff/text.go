package diff

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/vsoc/vsoc/internal/wording"
	"github.com/vsoc/vsoc/render/cloudformation/spec"
)

// TextOptions tune the terminal output.
type TextOptions struct {
	Color   bool // ANSI colours: only on a terminal, never with NO_COLOR
	Details bool // every difference inside every changed file and resource
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
)

// textWriter writes lines, coloured or not, and keeps the first error.
type textWriter struct {
	w     *bufio.Writer
	color bool
}

func (t *textWriter) paint(style, s string) string {
	if !t.color || style == "" {
		return s
	}
	return style + s + ansiReset
}

func (t *textWriter) line(format string, args ...any) {
	fmt.Fprintf(t.w, format+"\n", args...)
}

// WriteText writes the preview for a terminal, terraform-plan style: what
// breaks first, then the summary, then each customer's changes.
func WriteText(w io.Writer, p *Preview, opts TextOptions) error {
	t := &textWriter{w: bufio.NewWriter(w), color: opts.Color}
	t.line("%s", t.paint(ansiBold, fmt.Sprintf("vsoc-compile diff: %s (%s) → %s", p.Base, shortCommit(p.BaseCommit), p.Head)))
	t.line("")

	if len(p.HeadErrors) > 0 {
		t.line("%s", t.paint(ansiBold+ansiRed, fmt.Sprintf("The head does not compile (%s): nothing was compared.", wording.Count(len(p.HeadErrors), "error"))))
		for _, f := range p.HeadErrors {
			t.line("%s: %s", f.Location(), f.Message)
		}
		return t.w.Flush()
	}
	if len(p.Violations) > 0 {
		t.line("%s", t.paint(ansiBold+ansiRed, fmt.Sprintf("Validation FAILED (%s): this change cannot be merged; nothing was compared.", wording.Count(len(p.Violations), "violation"))))
		for _, f := range p.Violations {
			t.line("%s: %s: %s", f.Location(), f.Rule, f.Message)
			if f.Hint != "" {
				t.line("    hint: %s", f.Hint)
			}
		}
		return t.w.Flush()
	}
	t.line("Validation passed.")
	if p.BaseNote != "" {
		t.line("Note: %s.", p.BaseNote)
	}
	t.line("")
	if p.Summary.NoChanges() {
		t.line("No changes: base and head compile to the same files.")
		return t.w.Flush()
	}

	t.exportChanges(p.Blocking, ansiRed, "✗", "to apply it",
		fmt.Sprintf("%s: CloudFormation refuses these, so apply cannot execute this change as it is:", wording.Count(len(p.Blocking), "blocking change")))
	t.exportChanges(p.Ordered, ansiYellow, "→", "order",
		fmt.Sprintf("%s that apply carries out in order, the importing stacks first:", wording.Count(len(p.Ordered), "export change")))
	if len(p.Deletions) > 0 {
		t.line("%s", t.paint(ansiBold+ansiRed, fmt.Sprintf("%s of customers no longer declared:", wording.Count(len(p.Deletions), "stack deletion"))))
		for _, d := range p.Deletions {
			t.line("  %s %s", t.paint(ansiRed, "-"), d.Message)
		}
		t.line("")
	}
	if len(p.Destructive) > 0 {
		t.line("%s", t.paint(ansiBold+ansiRed, fmt.Sprintf("%s:", wording.Count(len(p.Destructive), "destructive change"))))
		for _, c := range p.Destructive {
			t.line("  %s %s", t.paint(ansiRed, "!"), c.Message)
		}
		t.line("")
	}
	t.line("%s", summaryLine(p.Summary))
	for _, o := range p.Owners {
		t.line("")
		sym, style := statusSymbol(o.Status)
		label := o.Name
		if o.Hub {
			label = "hub (shared by every customer)"
		}
		t.line("%s %s", t.paint(style, sym), t.paint(ansiBold, fmt.Sprintf("%s: %s", label, o.Status)))
		for _, a := range o.Artifacts {
			sym, style := statusSymbol(a.Status)
			head := fmt.Sprintf("%s %s", a.Kind.Title(), a.Path)
			if len(a.Resources) > 0 {
				head += ": " + resourceCounts(a.Resources)
			}
			t.line("    %s %s", t.paint(style, sym), head)
			for _, r := range a.Resources {
				sym, style := actionSymbol(r.Action)
				desc := fmt.Sprintf("%s (%s)", r.LogicalID, r.Type)
				if r.Name != "" {
					desc += " " + r.Name
				}
				desc += ": " + r.Action
				if len(r.Replacing) > 0 {
					desc += " (" + strings.Join(r.Replacing, ", ") + ")"
				} else if r.Action == spec.Modify.String() && len(r.Properties) > 0 {
					desc += " (" + strings.Join(r.Properties, ", ") + ")"
				}
				if r.Destructive {
					desc += " " + t.paint(ansiBold+ansiRed, "[destructive]")
				}
				t.line("        %s %s", t.paint(style, sym), desc)
				if opts.Details {
					t.differences("            ", r.Differences)
				}
			}
			if opts.Details {
				t.differences("        ", a.Differences)
			}
		}
	}
	if !opts.Details {
		t.line("")
		t.line("Run with --details for every changed value.")
	}
	return t.w.Flush()
}

// exportChanges prints a section of export changes (blocking or ordered), each
// with its importers and what it takes to apply it.
func (t *textWriter) exportChanges(changes []Blocker, style, mark, remedyLabel, heading string) {
	if len(changes) == 0 {
		return
	}
	t.line("%s", t.paint(ansiBold+style, heading))
	for _, b := range changes {
		t.line("  %s %s", t.paint(style, mark), b.Message)
		for _, imp := range b.ImportedBy {
			t.line("      imported by %s: %s", imp.Stack, strings.Join(imp.Resources, ", "))
		}
		t.line("      %s: %s", remedyLabel, b.Remedy)
	}
	t.line("")
}

func (t *textWriter) differences(indent string, ds []Difference) {
	for _, d := range ds {
		switch d.Change {
		case Added:
			t.line("%s%s", indent, t.paint(ansiGreen, fmt.Sprintf("+ %s: %s", d.Path, d.New)))
		case Removed:
			t.line("%s%s", indent, t.paint(ansiRed, fmt.Sprintf("- %s: %s", d.Path, d.Old)))
		default:
			t.line("%s%s", indent, t.paint(ansiYellow, fmt.Sprintf("~ %s: %s → %s", d.Path, d.Old, d.New)))
		}
	}
}

func statusSymbol(s Status) (symbol, style string) {
	switch s {
	case Added:
		return "+", ansiGreen
	case Removed:
		return "-", ansiRed
	}
	return "~", ansiYellow
}

func actionSymbol(action string) (symbol, style string) {
	switch action {
	case spec.Add.String():
		return "+", ansiGreen
	case spec.Remove.String():
		return "-", ansiRed
	case spec.Replace.String():
		return "-/+", ansiRed
	}
	return "~", ansiYellow
}

// resourceCounts is "1 to replace, 2 to modify" for a stack's changes.
func resourceCounts(rs []ResourceChange) string {
	counts := map[string]int{}
	for _, r := range rs {
		counts[r.Action]++
	}
	var parts []string
	for _, a := range []spec.Action{spec.Add, spec.Modify, spec.Replace, spec.Remove} {
		if n := counts[a.String()]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d to %s", n, a))
		}
	}
	return strings.Join(parts, ", ")
}

func summaryLine(s Summary) string {
	return fmt.Sprintf("Customers: %d added, %d changed, %d removed. Files: %d added, %d changed, %d removed. "+
		"CloudFormation resources: %d to add, %d to modify, %d to replace, %d to remove.",
		s.CustomersAdded, s.CustomersChanged, s.CustomersRemoved,
		s.FilesAdded, s.FilesChanged, s.FilesRemoved,
		s.ResourcesAdded, s.ResourcesModified, s.ResourcesReplaced, s.ResourcesRemoved)
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}
