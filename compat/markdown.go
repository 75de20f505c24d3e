package compat

import (
	"bufio"
	"cmp"
	"fmt"
	"html"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compatgate/compatgate/elfdiff"
)

// MarkdownOptions tune the Markdown summary.
type MarkdownOptions struct {
	// MaxDetails caps the findings listed per rule; 0 lists every one.
	// The tables still count them all. Pull-request comments and
	// $GITHUB_STEP_SUMMARY are limited in size (1 MiB): cap big reports.
	MaxDetails int
}

// verdictMarks prefix a verdict in Markdown.
var verdictMarks = map[Verdict]string{Compatible: "✅", Review: "⚠️", Incompatible: "❌"}

// WriteMarkdown writes the reports as a Markdown summary for a pull
// request or a GitHub step summary: the verdict, a table of findings per
// rule, and each rule's findings in a collapsed <details> block.
func WriteMarkdown(w io.Writer, opts MarkdownOptions, reports ...*Report) error {
	bw := bufio.NewWriter(w)
	if len(reports) == 1 {
		r := reports[0]
		fmt.Fprintf(bw, "## %s compatgate: `%s`: %s\n\n", verdictMarks[r.Verdict], r.libraryName(), r.Verdict)
		r.writeMarkdownBody(bw, opts)
		return bw.Flush()
	}
	worst := (&Result{Libraries: reports}).Verdict()
	fmt.Fprintf(bw, "## %s compatgate: %s (%d libraries)\n\n", verdictMarks[worst], worst, len(reports))
	fmt.Fprintf(bw, "| library | verdict | break | warn | info |\n|---|---|---:|---:|---:|\n")
	for _, r := range reports {
		fmt.Fprintf(bw, "| `%s` | %s %s | %d | %d | %d |\n", r.libraryName(), verdictMarks[r.Verdict], r.Verdict,
			r.Summary.Break, r.Summary.Warn, r.Summary.Info)
	}
	for _, r := range reports {
		fmt.Fprintf(bw, "\n### %s `%s`: %s\n\n", verdictMarks[r.Verdict], r.libraryName(), r.Verdict)
		r.writeMarkdownBody(bw, opts)
	}
	return bw.Flush()
}

// writeMarkdownBody writes one library's part of the summary.
func (r *Report) writeMarkdownBody(w *bufio.Writer, opts MarkdownOptions) {
	fmt.Fprintf(w, "%s → %s  \n", markdownLibrary(r.Old), markdownLibrary(r.New))
	fmt.Fprintf(w, "%d break, %d warn, %d info", r.Summary.Break, r.Summary.Warn, r.Summary.Info)
	if r.Summary.Suppressed > 0 {
		fmt.Fprintf(w, ", %d suppressed", r.Summary.Suppressed)
	}
	fmt.Fprintf(w, "\n\n")
	for _, n := range r.Notes {
		fmt.Fprintf(w, "> **note:** %s\n\n", markdownText(n))
	}
	if r.Len() == 0 {
		return
	}
	type group struct {
		rule  string
		sev   string
		why   string
		items []int
	}
	var groups []*group
	byRule := make(map[string]*group)
	for i := range r.Len() {
		rule := r.rule(i)
		g := byRule[rule.ID]
		if g == nil {
			g = &group{rule: rule.ID, sev: rule.Severity.String(), why: rule.Rationale}
			byRule[rule.ID] = g
			groups = append(groups, g)
		}
		g.items = append(g.items, i)
	}
	fmt.Fprintf(w, "| rule | severity | findings |\n|---|---|---:|\n")
	for _, g := range groups {
		fmt.Fprintf(w, "| `%s` | %s | %d |\n", g.rule, g.sev, len(g.items))
	}
	for _, g := range groups {
		fmt.Fprintf(w, "\n<details><summary><code>%s</code> (%s, %d): %s</summary>\n\n", g.rule, g.sev, len(g.items), html.EscapeString(g.why))
		for n, i := range g.items {
			if opts.MaxDetails > 0 && n == opts.MaxDetails {
				fmt.Fprintf(w, "- … and %d more\n", len(g.items)-n)
				break
			}
			f := r.Finding(i)
			subject := cmp.Or(f.Type, f.Symbol)
			fmt.Fprintf(w, "- ")
			if subject != "" {
				fmt.Fprintf(w, "%s: ", markdownCode(demangleText(subject)))
			}
			fmt.Fprintf(w, "%s", markdownText(demangleText(strings.TrimSuffix(f.Message, ": "+g.why))))
			if f.File != "" {
				at := elfdiff.Position{File: filepath.Base(f.File), Line: f.Line}
				fmt.Fprintf(w, " (%s)", markdownCode(at.String()))
			}
			if len(f.Affected) > 0 && f.Type != "" {
				names := make([]string, 0, min(len(f.Affected), 6))
				for _, a := range f.Affected[:min(len(f.Affected), 6)] {
					names = append(names, markdownCode(Demangle(a)))
				}
				fmt.Fprintf(w, " — affects %s", strings.Join(names, ", "))
				if len(f.Affected) > 6 {
					fmt.Fprintf(w, " and %d more", len(f.Affected)-6)
				}
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "\n</details>\n")
	}
}

func markdownLibrary(l Library) string {
	if l.Path == "" {
		return "(none)"
	}
	s := markdownCode(l.Path)
	if l.SONAME != "" {
		s += " (" + markdownCode(l.SONAME) + ")"
	}
	return s
}

// markdownCode returns s as a code span, fenced with enough backticks.
func markdownCode(s string) string {
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// markdownSpecial are the characters escaped in Markdown text.
var markdownSpecial = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "|", `\|`,
	"<", "&lt;", ">", "&gt;", "&", "&amp;", "#", `\#`, "~", `\~`, "\n", " ")

// markdownText escapes s for Markdown text (also inside HTML blocks).
func markdownText(s string) string { return markdownSpecial.Replace(s) }

// WorstVerdict returns the worse of two verdicts.
func WorstVerdict(a, b Verdict) Verdict {
	rank := func(v Verdict) int { return slices.Index([]Verdict{Compatible, Review, Incompatible}, v) }
	if rank(b) > rank(a) {
		return b
	}
	return a
}
