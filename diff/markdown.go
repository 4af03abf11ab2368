package diff

import (
	"fmt"
	"html"
	"strings"

	"github.com/vsoc/vsoc/internal/wording"
)

// MarkdownMarker starts every markdown preview, so that a CI job can find
// its previous comment on a pull request and update it in place.
const MarkdownMarker = "<!-- vsoc-compile diff -->"

// MarkdownLimit is GitHub's limit on the body of one comment (65,536
// characters); the preview counts bytes, which are never fewer.
const MarkdownLimit = 65536

// detail is how much of the preview fits in one comment.
type detail struct {
	differences bool // the changed values inside files and resources
	resources   bool // a stack's resources, one table row each
	sections    bool // a collapsible section per customer
	maxItems    int  // deletions, destructive changes and owners listed before "… and N more"
	maxDiffs    int  // differences shown per file or resource
}

// details go from everything down to a summary; Markdown uses the first that
// fits in MarkdownLimit.
var details = []detail{
	{differences: true, resources: true, sections: true, maxItems: 1 << 30, maxDiffs: 40},
	{differences: true, resources: true, sections: true, maxItems: 1 << 30, maxDiffs: 5},
	{resources: true, sections: true, maxItems: 1 << 30},
	{sections: true, maxItems: 1 << 30},
	{maxItems: 1000},
	{maxItems: 300},
	{maxItems: 100},
	{maxItems: 20},
}

// Markdown renders the preview as the body of one pull-request comment:
// destructive changes first, a summary table, then a collapsible section per
// customer. When everything does not fit in MarkdownLimit, it leaves out
// details, then lists, until it does.
func Markdown(p *Preview) string {
	var out string
	for i, d := range details {
		out = markdown(p, d, i > 0)
		if len(out) <= MarkdownLimit {
			break
		}
	}
	return out
}

func markdown(p *Preview, d detail, shortened bool) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("%s", MarkdownMarker)
	line("## vsoc-compile diff")
	line("")
	line("Base `%s` (%s) → head `%s`.", mdCode(p.Base), shortCommit(p.BaseCommit), mdCode(p.Head))
	line("")

	if len(p.HeadErrors) > 0 {
		line("> [!CAUTION]")
		line("> **The head does not compile** (%s): nothing was compared. Fix these before merging.", wording.Count(len(p.HeadErrors), "error"))
		line("")
		codeBlock(&b, "text", p.HeadErrors, d.maxItems, func(f Finding) []string {
			return []string{f.Location() + ": " + f.Message}
		})
		return b.String()
	}
	if len(p.Violations) > 0 {
		line("> [!CAUTION]")
		line("> **Validation failed** (%s): this pull request cannot be merged; nothing was compared.", wording.Count(len(p.Violations), "violation"))
		line("")
		codeBlock(&b, "text", p.Violations, d.maxItems, func(f Finding) []string {
			lines := []string{fmt.Sprintf("%s: %s: %s", f.Location(), f.Rule, f.Message)}
			if f.Hint != "" {
				lines = append(lines, "    hint: "+f.Hint)
			}
			return lines
		})
		return b.String()
	}
	line("✅ Validation passed.")
	if p.BaseNote != "" {
		line("")
		line("> [!NOTE]")
		line("> %s.", mdProse(p.BaseNote))
	}
	line("")
	if p.Summary.NoChanges() {
		line("**No changes**: base and head compile to the same files.")
		return b.String()
	}
	if shortened {
		line("_This preview is shortened to fit in one comment; run `vsoc-compile diff --base %s --details` for everything._", mdCode(p.Base))
		line("")
	}

	exportChanges := func(changes []Blocker, alert, heading, remedyLabel string) {
		if len(changes) == 0 {
			return
		}
		line("> [!%s]", alert)
		line("> %s", heading)
		line(">")
		for i, bl := range changes {
			if i == d.maxItems {
				line("> - … and %d more", len(changes)-i)
				break
			}
			line("> - %s", mdProse(bl.Message))
			for j, imp := range bl.ImportedBy {
				if j == d.maxItems {
					line(">   - … and %d more stacks", len(bl.ImportedBy)-j)
					break
				}
				if d.resources {
					line(">   - imported by `%s`: %s", imp.Stack, html.EscapeString(strings.Join(imp.Resources, ", ")))
				} else {
					line(">   - imported by `%s`", imp.Stack)
				}
			}
			line(">   - %s: %s", remedyLabel, mdProse(bl.Remedy))
		}
		line("")
	}
	exportChanges(p.Blocking, "CAUTION", fmt.Sprintf("**%s**: CloudFormation refuses these, so `vsoc-compile apply` cannot execute this change as it is:",
		wording.Count(len(p.Blocking), "blocking change")), "to apply it")
	exportChanges(p.Ordered, "NOTE", fmt.Sprintf("**%s** that `vsoc-compile apply` carries out in order, the importing stacks first:",
		wording.Count(len(p.Ordered), "export change")), "order")
	deletions := make([]string, len(p.Deletions))
	for i, del := range p.Deletions {
		deletions[i] = del.Message
	}
	caution(line, "**"+wording.Count(len(deletions), "stack deletion")+"** of customers no longer declared:", deletions, d.maxItems)
	destructive := make([]string, len(p.Destructive))
	for i, c := range p.Destructive {
		destructive[i] = c.Message
	}
	caution(line, "**"+wording.Count(len(destructive), "destructive change")+"**, review before merging:", destructive, d.maxItems)

	s := p.Summary
	line("| | added | changed | removed |")
	line("|---|---:|---:|---:|")
	line("| customers | %d | %d | %d |", s.CustomersAdded, s.CustomersChanged, s.CustomersRemoved)
	line("| files | %d | %d | %d |", s.FilesAdded, s.FilesChanged, s.FilesRemoved)
	line("")
	line("| CloudFormation resources | to add | to modify | to replace | to remove | destructive |")
	line("|---|---:|---:|---:|---:|---:|")
	line("| | %d | %d | %d | %d | %s |", s.ResourcesAdded, s.ResourcesModified, s.ResourcesReplaced, s.ResourcesRemoved, boldIf(s.Destructive))
	line("")

	if !d.sections {
		line("**Changed:**")
		line("")
		for i, o := range p.Owners {
			if i == d.maxItems {
				line("- … and %d more", len(p.Owners)-i)
				break
			}
			line("- %s %s (%s)", ownerLabel(o), o.Status, wording.Count(len(o.Artifacts), "file"))
		}
		return b.String()
	}
	for _, o := range p.Owners {
		var kinds []string
		for _, a := range o.Artifacts {
			k := a.Kind.Title()
			if len(kinds) == 0 || kinds[len(kinds)-1] != k {
				kinds = append(kinds, k)
			}
		}
		line("<details><summary>%s %s: %s</summary>", ownerLabel(o), o.Status, html.EscapeString(strings.Join(kinds, ", ")))
		line("")
		for _, a := range o.Artifacts {
			head := fmt.Sprintf("- **%s** `%s` %s", a.Kind.Title(), mdCode(a.Path), a.Status)
			if len(a.Resources) > 0 {
				head += ": " + resourceCounts(a.Resources)
			}
			line("%s", head)
			if d.resources && len(a.Resources) > 0 {
				line("")
				line("  | | resource | type | properties |")
				line("  |---|---|---|---|")
				for _, r := range a.Resources {
					name := "`" + r.LogicalID + "`"
					if r.Name != "" {
						name += " " + html.EscapeString(r.Name)
					}
					line("  | %s | %s | %s | %s |", actionCell(r), name, r.Type, propertiesCell(r))
				}
				line("")
			}
			if d.differences {
				var ds []string
				for _, r := range a.Resources {
					for _, x := range r.Differences {
						ds = append(ds, diffLines(r.LogicalID+" ", x)...)
					}
				}
				for _, x := range a.Differences {
					ds = append(ds, diffLines("", x)...)
				}
				if len(ds) > 0 {
					line("")
					line("  ```diff")
					for i, l := range ds {
						if i == d.maxDiffs {
							line("  # … and %d more lines", len(ds)-i)
							break
						}
						line("  %s", l)
					}
					line("  ```")
					line("")
				}
			}
		}
		line("")
		line("</details>")
		line("")
	}
	return b.String()
}

func ownerLabel(o OwnerDiff) string {
	if o.Hub {
		return "<b>hub</b> (shared)"
	}
	return "<b>" + html.EscapeString(o.Name) + "</b>"
}

func actionCell(r ResourceChange) string {
	a := r.Action
	if r.Conditional {
		a = "may " + a
	}
	if r.Destructive {
		return "⚠️ **" + a + "**"
	}
	return a
}

func propertiesCell(r ResourceChange) string {
	var parts []string
	replacing := map[string]bool{}
	for _, p := range r.Replacing {
		replacing[p] = true
	}
	for _, p := range r.Properties {
		if replacing[p] {
			parts = append(parts, "**"+p+"**")
		} else {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

// diffLines writes a difference for a ```diff block, where a leading - or +
// colours the line.
func diffLines(prefix string, d Difference) []string {
	path := prefix + d.Path
	switch d.Change {
	case Added:
		return []string{"+ " + path + ": " + clip(d.New)}
	case Removed:
		return []string{"- " + path + ": " + clip(d.Old)}
	}
	return []string{"- " + path + ": " + clip(d.Old), "+ " + path + ": " + clip(d.New)}
}

// clip shortens a long value and keeps a code fence from closing early.
func clip(s string) string {
	const max = 200
	if len(s) > max {
		cut := max
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strings.ReplaceAll(s, "```", "'''")
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func boldIf(n int) string {
	if n > 0 {
		return fmt.Sprintf("**%d**", n)
	}
	return "0"
}

// mdCode keeps a value from closing the code span it is shown in.
func mdCode(s string) string { return strings.ReplaceAll(s, "`", "'") }

// mdProse escapes a message's HTML outside its code spans: inside one, GitHub shows the text as
// it is, so an escaped "&gt;" would show as such ("vsoc-compile schema > schema.cue"). A message
// whose backticks do not pair is escaped whole.
func mdProse(s string) string {
	parts := strings.Split(s, "`")
	if len(parts)%2 == 0 {
		return html.EscapeString(s)
	}
	for i := 0; i < len(parts); i += 2 {
		parts[i] = html.EscapeString(parts[i])
	}
	return strings.Join(parts, "`")
}

func codeBlock[T any](b *strings.Builder, lang string, items []T, max int, lines func(T) []string) {
	fmt.Fprintf(b, "```%s\n", lang)
	for i, it := range items {
		if i == max {
			fmt.Fprintf(b, "… and %d more\n", len(items)-i)
			break
		}
		for _, l := range lines(it) {
			b.WriteString(strings.ReplaceAll(l, "```", "'''") + "\n")
		}
	}
	b.WriteString("```\n")
}

// caution writes a GitHub caution alert: the heading (Markdown), then the
// messages, at most max of them.
func caution(line func(format string, args ...any), heading string, messages []string, max int) {
	if len(messages) == 0 {
		return
	}
	line("> [!CAUTION]")
	line("> %s", heading)
	line(">")
	for i, m := range messages {
		if i == max {
			line("> - … and %d more", len(messages)-i)
			break
		}
		line("> - %s", mdProse(m))
	}
	line("")
}
