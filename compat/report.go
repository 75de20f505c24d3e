// Package compat applies the compatibility rules to the changes between two
// versions of a library and produces a Report: the findings, each attached
// to the exported symbols it affects, and the verdict.
package compat

import (
	"cmp"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/ianlancetaylor/demangle"

	"github.com/compatgate/compatgate/elfdiff"
	"github.com/compatgate/compatgate/rules"
)

// SchemaVersion is the version of the JSON report. It changes only when a
// field changes meaning; new fields are added without changing it.
const SchemaVersion = 1

// A Verdict is the overall answer of a check.
type Verdict string

// Verdicts, from best to worst.
const (
	Compatible   Verdict = "compatible"   // existing clients keep working
	Review       Verdict = "review"       // a person should look at the warnings
	Incompatible Verdict = "incompatible" // existing clients break
)

// Exit status bits of a check, as abidiff's.
const (
	ExitABIChanged   = 4 // the ABI changed in a way that needs review
	ExitIncompatible = 8 // the ABI changed incompatibly
)

// ExitCode returns the exit status bits for a verdict.
func (v Verdict) ExitCode() int {
	switch v {
	case Incompatible:
		return ExitABIChanged | ExitIncompatible
	case Review:
		return ExitABIChanged
	}
	return 0
}

// Library identifies one side of a comparison.
type Library struct {
	Path    string `json:"path"`
	SONAME  string `json:"soname"`
	BuildID string `json:"build_id"`
	// DebugInfo says where the DWARF came from; empty when there was none.
	DebugInfo string `json:"debug_info,omitempty"`
	// Headers says where the public headers that decided which types are
	// public API were found; empty when there were none.
	Headers string `json:"headers,omitempty"`
	// HeaderFiles counts those headers.
	HeaderFiles int `json:"header_files,omitempty"`
}

// Summary counts findings by severity.
type Summary struct {
	Break int `json:"break"`
	Warn  int `json:"warn"`
	Info  int `json:"info"`
	// Suppressed counts the findings that suppression files silenced;
	// they are not in the counts above and do not weigh on the verdict.
	Suppressed int `json:"suppressed"`
}

// A Finding is one change, classified by a rule.
type Finding struct {
	Rule      string         `json:"rule"`
	Severity  rules.Severity `json:"severity"`
	Symbol    string         `json:"symbol"`
	Demangled string         `json:"demangled"`
	Affected  []string       `json:"affected"`
	Type      string         `json:"type"`
	Where     string         `json:"where"`
	Old       string         `json:"old"`
	New       string         `json:"new"`
	Message   string         `json:"message"`
	// Reach says how the affected symbols reach a changed type: "value"
	// or "pointer"; empty for symbol-level findings.
	Reach string `json:"reach,omitempty"`
	// Path shows how one affected symbol reaches a type change:
	// "setup → parameter 1 (c) → struct config * → member opts → struct options *".
	Path string `json:"path,omitempty"`
	// File and Line are where the changed type, function or variable is
	// declared in the new library's sources (its debug information's
	// DW_AT_decl_file and DW_AT_decl_line), else in the old one's; absent
	// when unknown.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Library names the library the finding is in, in a report of
	// packages or directories (its SONAME, else its file name); empty in
	// the report of two library files.
	Library string `json:"library,omitempty"`
	// SuppressedBy names the suppression section that silenced the
	// finding ("FILE:LINE [kind] label"), in the report's "suppressed".
	SuppressedBy string `json:"suppressed_by,omitempty"`
}

// A Report is the result of a check.
//
// Its findings are made from the changes when they are asked for (by
// Finding, Findings or the writers), so a report of tens of thousands of
// findings holds a few bytes for each rather than their text.
type Report struct {
	Schema  int     `json:"schema"`
	Old     Library `json:"old"`
	New     Library `json:"new"`
	Verdict Verdict `json:"verdict"`
	Summary Summary `json:"summary"`
	// TypesChecked is false when either library lacked debug information,
	// so only the symbol tables were compared.
	TypesChecked bool `json:"types_checked"`
	// SymbolsOnly says types were not compared by choice (--symbols-only).
	SymbolsOnly bool `json:"symbols_only,omitempty"`
	// DebugMissing names the sides ("old", "new") without debug
	// information when types were not compared against the user's will:
	// the verdict is then at least review.
	DebugMissing []string `json:"debug_missing,omitempty"`
	Notes        []string `json:"notes,omitempty"`
	// Suppressions lists every suppression section given and how many
	// findings it silenced; empty without suppression files.
	Suppressions []SuppressionUse `json:"suppressions,omitempty"`
	// Suppressed lists the silenced findings when ListSuppressed was
	// called (--show-suppressed).
	Suppressed []Finding `json:"suppressed,omitempty"`

	changes  *elfdiff.Changes
	rules    []rules.Rule // the rules that matched, each once
	order    []judged     // the findings, in report order
	hidden   []judged     // the suppressed findings, in report order
	hiddenBy []string     // for each hidden finding, the section that silenced it
}

// judged is one finding: a change and the rule that matched it.
type judged struct {
	change int32  // index in Report.changes
	rule   uint16 // index in Report.rules
}

// JudgeOptions tune JudgeWith.
type JudgeOptions struct {
	// Rules judge the changes; rules.Default() when nil.
	Rules *rules.Set
	// Suppressions silence the findings they match: they are counted in
	// Summary.Suppressed and each section's use, not in the verdict.
	Suppressions []*rules.Suppression
	// SymbolsOnly says the check compared the symbol tables only, by
	// choice: the verdict may then be compatible without debug
	// information.
	SymbolsOnly bool
}

// Judge classifies every change with the rules and returns the report.
func Judge(old, new *elfdiff.Corpus, changes *elfdiff.Changes, rs *rules.Set) *Report {
	return JudgeWith(old, new, changes, JudgeOptions{Rules: rs})
}

// JudgeWith is Judge with options.
//
// A verdict is never compatible on types that were not compared: when
// either side has no debug information, and SymbolsOnly is not set, the
// verdict is at least review and DebugMissing names the sides.
func JudgeWith(old, new *elfdiff.Corpus, changes *elfdiff.Changes, opts JudgeOptions) *Report {
	rs, supps := cmp.Or(opts.Rules, rules.Default()), opts.Suppressions
	r := &Report{
		Schema:       SchemaVersion,
		Old:          library(old),
		New:          library(new),
		TypesChecked: old.Debug != nil && new.Debug != nil,
		SymbolsOnly:  opts.SymbolsOnly,
	}
	r.Notes = append(r.Notes, old.Notes...)
	r.Notes = append(r.Notes, new.Notes...)
	switch {
	case opts.SymbolsOnly:
		r.Notes = append(r.Notes, "types were not checked (--symbols-only): only the symbol tables were compared")
	case !r.TypesChecked:
		if old.Debug == nil {
			r.DebugMissing = append(r.DebugMissing, "old")
		}
		if new.Debug == nil {
			r.DebugMissing = append(r.DebugMissing, "new")
		}
		r.Notes = append(r.Notes, "types were not checked: no debug information in "+missingDebug(old, new)+
			"; only the symbol tables were compared, so the verdict is at least review")
	}
	var by []int
	if len(supps) > 0 {
		sp := &suppressor{supps: supps, old: old, new: new, target: rules.Target{Path: new.Path, SONAME: new.SONAME}}
		var undecided map[int]int
		by, undecided = sp.apply(changes)
		r.Notes = append(r.Notes, undecidedNotes(supps, undecided)...)
	}
	r.judgeSuppressed(changes, rs, supps, by)
	if len(r.DebugMissing) > 0 {
		r.Verdict = WorstVerdict(r.Verdict, Review)
	}
	if r.TypesChecked {
		r.Notes = append(r.Notes, headerNotes(old, new)...)
	}
	return r
}

// headerNotes say which public headers decided what is public API.
func headerNotes(old, new *elfdiff.Corpus) []string {
	if old.Headers == nil && new.Headers == nil {
		return []string{"no public headers given or found: types defined in .c/.cc files were taken as private, " +
			"all other types as public (give --headers-dir1/--headers-dir2 to say which headers are public)"}
	}
	var out []string
	for _, side := range []struct {
		name string
		c    *elfdiff.Corpus
	}{{"OLD", old}, {"NEW", new}} {
		if h := side.c.Headers; h != nil {
			out = append(out, fmt.Sprintf("public headers of %s: %d files, from %s", side.name, h.Len(), h.Origin))
		}
	}
	return append(out, "types defined outside the public headers (and the system include directories) are not public API: changes inside them are info")
}

// judge matches each change with its rule, counts the findings by
// severity, sorts them and sets the verdict.
func (r *Report) judge(changes *elfdiff.Changes, rs *rules.Set) {
	r.judgeSuppressed(changes, rs, nil, nil)
}

// judgeSuppressed is judge with suppressions: by[i] is the index in supps
// of the section that silences change i, or -1 (by may be nil).
func (r *Report) judgeSuppressed(changes *elfdiff.Changes, rs *rules.Set, supps []*rules.Suppression, by []int) {
	r.changes = changes
	r.order = make([]judged, 0, changes.Len())
	ruleIndex := make(map[string]uint16)
	counts := make([]int, len(supps))
	hiddenBy := make(map[int32]int)
	for i := range changes.Len() {
		rule := rs.Match(changes.At(i))
		ri, ok := ruleIndex[rule.ID]
		if !ok {
			ri = uint16(len(r.rules))
			ruleIndex[rule.ID] = ri
			r.rules = append(r.rules, rule)
		}
		j := judged{change: int32(i), rule: ri}
		if by != nil && by[i] >= 0 {
			r.hidden = append(r.hidden, j)
			hiddenBy[j.change] = by[i]
			counts[by[i]]++
			r.Summary.Suppressed++
			continue
		}
		r.order = append(r.order, j)
		switch rule.Severity {
		case rules.Break:
			r.Summary.Break++
		case rules.Warn:
			r.Summary.Warn++
		default:
			r.Summary.Info++
		}
	}
	byReportOrder := func(a, b judged) int {
		ra, rb := &r.rules[a.rule], &r.rules[b.rule]
		return cmp.Or(
			cmp.Compare(rb.Severity, ra.Severity),
			cmp.Compare(ra.ID, rb.ID),
			changes.Compare(int(a.change), int(b.change)),
		)
	}
	slices.SortStableFunc(r.order, byReportOrder)
	slices.SortStableFunc(r.hidden, byReportOrder)
	for _, j := range r.hidden {
		r.hiddenBy = append(r.hiddenBy, supps[hiddenBy[j.change]].String())
	}
	for k, sp := range supps {
		r.Suppressions = append(r.Suppressions, SuppressionUse{File: sp.File, Line: sp.Line, Kind: sp.Kind,
			Label: sp.Label, Suppressed: counts[k]})
	}
	switch {
	case r.Summary.Break > 0:
		r.Verdict = Incompatible
	case r.Summary.Warn > 0:
		r.Verdict = Review
	default:
		r.Verdict = Compatible
	}
}

// Len returns the number of findings.
func (r *Report) Len() int { return len(r.order) }

// Finding returns finding i, 0 ≤ i < Len, in report order: the most
// severe first, then by rule, type, symbol and place.
func (r *Report) Finding(i int) Finding {
	j := r.order[i]
	return finding(r.changes.At(int(j.change)), r.rules[j.rule])
}

// ListSuppressed fills r.Suppressed with the findings the suppressions
// silenced, each with the section that did, for the reports to list.
func (r *Report) ListSuppressed() {
	r.Suppressed = make([]Finding, len(r.hidden))
	for i, j := range r.hidden {
		f := finding(r.changes.At(int(j.change)), r.rules[j.rule])
		f.SuppressedBy = r.hiddenBy[i]
		r.Suppressed[i] = f
	}
}

// rule returns the rule of finding i.
func (r *Report) rule(i int) *rules.Rule { return &r.rules[r.order[i].rule] }

// change returns the change of finding i.
func (r *Report) change(i int) elfdiff.Change { return r.changes.At(int(r.order[i].change)) }

// Findings returns the findings in report order.
func (r *Report) Findings() iter.Seq[Finding] {
	return func(yield func(Finding) bool) {
		for i := range r.order {
			if !yield(r.Finding(i)) {
				return
			}
		}
	}
}

// Position returns where the finding's type, function or variable is
// declared, "file:line" (or "file"), or "" when unknown.
func (f Finding) Position() string {
	return elfdiff.Position{File: f.File, Line: f.Line}.String()
}

func finding(c elfdiff.Change, rule rules.Rule) Finding {
	affected := c.Affected
	if affected == nil {
		affected = []string{}
	}
	return Finding{
		Rule:      rule.ID,
		Severity:  rule.Severity,
		Symbol:    c.Symbol,
		Demangled: Demangle(c.Symbol),
		Affected:  affected,
		Type:      c.Type,
		Where:     c.Where,
		Old:       c.Old,
		New:       c.New,
		Message:   message(c, &rule),
		Reach:     string(c.Reach),
		Path:      c.Path,
		File:      c.Decl.File,
		Line:      c.Decl.Line,
	}
}

// message returns the message of the finding of change c under rule:
// what changed, then why it matters.
func message(c elfdiff.Change, rule *rules.Rule) string { return c.Detail + ": " + rule.Rationale }

func library(c *elfdiff.Corpus) Library {
	l := Library{Path: c.Path, SONAME: c.SONAME, BuildID: c.BuildID}
	if c.Debug != nil {
		l.DebugInfo = c.Debug.Source
	}
	if c.Headers != nil {
		l.Headers, l.HeaderFiles = c.Headers.Origin, c.Headers.Len()
	}
	return l
}

func missingDebug(old, new *elfdiff.Corpus) string {
	switch {
	case old.Debug == nil && new.Debug == nil:
		return "either library"
	case old.Debug == nil:
		return old.Path
	}
	return new.Path
}

// Demangle returns the readable form of an ELF symbol name: C++ names are
// demangled, and a version suffix (@V or @@V) is kept as it is.
func Demangle(symbol string) string {
	name, version := symbol, ""
	if i := strings.IndexByte(symbol, '@'); i >= 0 {
		name, version = symbol[:i], symbol[i:]
	}
	return demangle.Filter(name, demangle.NoClones) + version
}
