package compat

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"regexp"
	"slices"
	"strings"

	"github.com/compatgate/compatgate/elfdiff/cxx"
	"github.com/compatgate/compatgate/internal/table"
	"github.com/compatgate/compatgate/rules"
)

// reportFields is a Report without its methods: the fields of the JSON
// encoding before "changes".
type reportFields Report

// reportJSON is the layout of the JSON report.
type reportJSON struct {
	*reportFields
	Changes []Finding `json:"changes"`
}

// WriteJSON writes the report as indented JSON, the stable format of
// DESIGN.md's check contract. The findings are made and encoded one at a
// time, so a report of tens of thousands of findings never holds their
// text all at once.
func (r *Report) WriteJSON(w io.Writer) error {
	return streamJSON(w, reportJSON{(*reportFields)(r), []Finding{}}, func(yield func(Finding) bool) {
		r.Findings()(yield)
	})
}

// streamJSON writes head, whose encoding must end with an empty
// "changes" array, with the findings spliced into that array one at a
// time.
func streamJSON(w io.Writer, head any, findings iter.Seq[Finding]) error {
	var b bytes.Buffer
	if err := encodeIndented(&b, head, ""); err != nil {
		return err
	}
	// The head ends with `"changes": []` and the closing brace: splice the
	// findings in between.
	const tail = "[]\n}\n"
	if !bytes.HasSuffix(b.Bytes(), []byte(tail)) {
		return fmt.Errorf("encoding report: unexpected layout %q", b.Bytes()[max(0, b.Len()-20):])
	}
	bw := bufio.NewWriter(w)
	bw.Write(b.Bytes()[:b.Len()-len(tail)])
	// One encoder for all the findings: it reuses its buffers, which an
	// encoder per finding would allocate afresh, 50,000 times for a big
	// library.
	enc := newIndentedEncoder(&b, "    ")
	n := 0
	for f := range findings {
		if n == 0 {
			bw.WriteString("[\n")
		} else {
			bw.WriteString(",\n")
		}
		n++
		b.Reset()
		if err := enc.Encode(&f); err != nil {
			return fmt.Errorf("encoding report: %w", err)
		}
		bw.WriteString("    ")
		bw.Write(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
	}
	if n == 0 {
		bw.WriteString(tail)
	} else {
		bw.WriteString("\n  ]\n}\n")
	}
	return bw.Flush()
}

// MarshalJSON encodes the report with its findings, as WriteJSON does.
func (r *Report) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func encodeIndented(w io.Writer, v any, prefix string) error {
	if err := newIndentedEncoder(w, prefix).Encode(v); err != nil {
		return fmt.Errorf("encoding report: %w", err)
	}
	return nil
}

// newIndentedEncoder returns the encoder of the JSON report: each line
// begins with prefix, nesting indents by two spaces, and "<", ">" and "&"
// are written as they are.
func newIndentedEncoder(w io.Writer, prefix string) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetIndent(prefix, "  ")
	enc.SetEscapeHTML(false)
	return enc
}

// TextOptions control the text report.
type TextOptions struct {
	// MaxDetails caps the findings listed per rule in the details; the
	// summary still counts them all. 0 lists every finding.
	MaxDetails int
	// Width is the number of columns lines wrap at; DefaultWidth when 0.
	Width int
}

// WriteText writes the report for a person: the two libraries, a summary
// line per rule, the findings grouped by what they are about (the library,
// a type, a C++ class or namespace, the remaining symbols) with C++ names
// demangled, and the verdict.
func (r *Report) WriteText(w io.Writer) error { return r.WriteTextWith(w, TextOptions{}) }

// WriteTextWith is WriteText with options.
func (r *Report) WriteTextWith(w io.Writer, opts TextOptions) error {
	bw := bufio.NewWriter(w)
	width := cmp.Or(opts.Width, DefaultWidth)
	if len(r.DebugMissing) > 0 {
		fmt.Fprintf(bw, "warning: types were not compared: no debug information in %s; the verdict is at least review (--symbols-only to compare symbols only, --require-debug to make it an error)\n",
			strings.Join(r.DebugMissing, " and "))
	}
	fmt.Fprintf(bw, "old: %s\nnew: %s\n", describe(r.Old), describe(r.New))
	for _, n := range r.Notes {
		wrap(bw, "note: ", "      ", n, width)
	}
	if r.Len() > 0 {
		fmt.Fprintln(bw)
		if err := r.writeSummary(bw); err != nil {
			return err
		}
		r.writeDetails(bw, opts.MaxDetails, width)
	}
	r.writeSuppressed(bw)
	suppressed := ""
	if r.Summary.Suppressed > 0 {
		suppressed = fmt.Sprintf(", %d suppressed", r.Summary.Suppressed)
	}
	fmt.Fprintf(bw, "\nverdict: %s (%d break, %d warn, %d info%s)\n",
		r.Verdict, r.Summary.Break, r.Summary.Warn, r.Summary.Info, suppressed)
	return bw.Flush()
}

// writeSuppressed writes what each suppression section silenced and,
// after ListSuppressed, the silenced findings.
func (r *Report) writeSuppressed(w io.Writer) {
	if len(r.Suppressions) == 0 {
		return
	}
	fmt.Fprintln(w)
	for _, u := range r.Suppressions {
		label := ""
		if u.Label != "" {
			label = " " + u.Label
		}
		fmt.Fprintf(w, "suppression %s:%d [%s]%s: %d finding(s) suppressed\n", u.File, u.Line, u.Kind, label, u.Suppressed)
	}
	for _, f := range r.Suppressed {
		fmt.Fprintf(w, "  suppressed %-5s %s (by %s): %s\n", f.Severity, f.Rule, f.SuppressedBy, demangleText(f.Message))
	}
}

// writeSummary writes one line per rule: its severity, how many findings
// it has, and the first thing it is about.
func (r *Report) writeSummary(w io.Writer) error {
	type line struct {
		rule  *rules.Rule
		count int
		first string
	}
	var lines []*line
	byRule := make(map[uint16]*line)
	for i, j := range r.order {
		l := byRule[j.rule]
		if l == nil {
			f := r.Finding(i)
			first := subjectOf(f).name
			if f.Type == "" && f.Symbol != "" {
				first = f.Demangled
			}
			l = &line{rule: &r.rules[j.rule], first: first}
			byRule[j.rule] = l
			lines = append(lines, l)
		}
		l.count++
	}
	slices.SortStableFunc(lines, func(a, b *line) int {
		return cmp.Or(cmp.Compare(b.rule.Severity, a.rule.Severity), cmp.Compare(a.rule.ID, b.rule.ID))
	})
	t := table.New(w, "RULE", "SEVERITY", "FINDINGS", "FIRST")
	for _, l := range lines {
		if err := t.Append(l.rule.ID, l.rule.Severity.String(), fmt.Sprint(l.count), shorten(demangleText(l.first), maxFirst)); err != nil {
			return fmt.Errorf("rendering report: %w", err)
		}
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("rendering report: %w", err)
	}
	return nil
}

// maxFirst is the width of the summary's FIRST column.
const maxFirst = 40

// A subject is what a group of findings is about.
type subject struct {
	order int    // library, types, C++ scopes, other symbols
	name  string // "struct point", "ns::Widget"
}

// Subject orders.
const (
	subjectLibrary = iota
	subjectType
	subjectScope
	subjectSymbols
)

func subjectOf(f Finding) subject {
	switch {
	case f.Type != "":
		return subject{subjectType, f.Type}
	case f.Symbol == "":
		return subject{subjectLibrary, "the library"}
	}
	name, _, _ := strings.Cut(f.Symbol, "@")
	if n := cxx.ParseName(name); n.Mangled() && n.Scope != "" {
		return subject{subjectScope, n.Scope}
	}
	return subject{subjectSymbols, "symbols"}
}

// writeDetails writes the findings grouped by subject, the worst group
// first, at most limit findings of each rule (0: all). The groups hold
// the findings' positions: each is made again when its line is written.
func (r *Report) writeDetails(w io.Writer, limit, width int) {
	type group struct {
		subject
		worst    rules.Severity
		findings []int
		affected map[string]bool
	}
	groups := make(map[subject]*group)
	var order []*group
	for i, j := range r.order {
		c := r.changes.At(int(j.change))
		s := subjectOf(Finding{Type: c.Type, Symbol: c.Symbol})
		sev := r.rules[j.rule].Severity
		g := groups[s]
		if g == nil {
			g = &group{subject: s, worst: sev, affected: make(map[string]bool)}
			groups[s] = g
			order = append(order, g)
		}
		g.worst = max(g.worst, sev)
		g.findings = append(g.findings, i)
		if c.Type != "" {
			for _, a := range c.Affected {
				g.affected[a] = true
			}
		}
	}
	slices.SortStableFunc(order, func(a, b *group) int {
		return cmp.Or(cmp.Compare(a.order, b.order), cmp.Compare(b.worst, a.worst), cmp.Compare(a.name, b.name))
	})
	shown := make(map[string]int)
	hidden := make(map[string]int)
	var hiddenRules []string
	for _, g := range order {
		header := false
		for _, i := range g.findings {
			rule := &r.rules[r.order[i].rule]
			if limit > 0 && shown[rule.ID] >= limit {
				if hidden[rule.ID] == 0 {
					hiddenRules = append(hiddenRules, rule.ID)
				}
				hidden[rule.ID]++
				continue
			}
			shown[rule.ID]++
			if !header {
				fmt.Fprintf(w, "\n%s%s\n", demangleText(g.name), affectedSuffix(g.affected))
				header = true
			}
			// The finding's message and path, without building the
			// whole Finding: its demangled symbol is not shown here.
			c := r.change(i)
			wrap(w, fmt.Sprintf("  %-5s  ", rule.Severity), "         ", rule.ID+": "+demangleText(message(c, rule)), width)
			if c.Path != "" {
				wrap(w, "         via ", "             ", demangleText(c.Path), width)
			}
		}
	}
	if len(hiddenRules) > 0 {
		fmt.Fprintln(w)
		for _, rule := range hiddenRules {
			fmt.Fprintf(w, "(+%d more %s findings not listed: --max-details %d)\n", hidden[rule], rule, limit)
		}
	}
}

// affectedSuffix lists, demangled, the first few symbols a type group
// affects.
func affectedSuffix(affected map[string]bool) string {
	if len(affected) == 0 {
		return ""
	}
	names := make([]string, 0, len(affected))
	for a := range affected {
		names = append(names, Demangle(a))
	}
	slices.Sort(names)
	const shown = 6
	s := " — affects " + strings.Join(names[:min(shown, len(names))], ", ")
	if len(names) > shown {
		s += fmt.Sprintf(" and %d more", len(names)-shown)
	}
	return s
}

// mangled matches an Itanium-mangled symbol name with an optional version.
var mangled = regexp.MustCompile(`\b_Z[A-Za-z0-9_$.]+(@@?[A-Za-z0-9_.]+)?`)

// demangleText replaces the mangled C++ names in s by their readable form.
func demangleText(s string) string {
	if !strings.Contains(s, "_Z") {
		return s
	}
	return mangled.ReplaceAllStringFunc(s, Demangle)
}

func describe(l Library) string {
	s := l.Path
	if l.SONAME != "" {
		s += " (" + l.SONAME + ")"
	}
	if l.BuildID != "" {
		s += " build-id " + l.BuildID
	}
	return s
}
