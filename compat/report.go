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
	TypesChecked bool     `json:"types_checked"`
	Notes        []string `json:"notes,omitempty"`

	changes *elfdiff.Changes
	rules   []rules.Rule // the rules that matched, each once
	order   []judged     // the findings, in report order
}

// judged is one finding: a change and the rule that matched it.
type judged struct {
	change int32  // index in Report.changes
	rule   uint16 // index in Report.rules
}

// Judge classifies every change with the rules and returns the report.
func Judge(old, new *elfdiff.Corpus, changes *elfdiff.Changes, rs *rules.Set) *Report {
	r := &Report{
		Schema:       SchemaVersion,
		Old:          library(old),
		New:          library(new),
		TypesChecked: old.Debug != nil && new.Debug != nil,
	}
	r.Notes = append(r.Notes, old.Notes...)
	r.Notes = append(r.Notes, new.Notes...)
	if !r.TypesChecked {
		r.Notes = append(r.Notes, "types were not checked: no debug information in "+missingDebug(old, new)+
			"; only the symbol tables were compared")
	}
	if r.TypesChecked {
		r.Notes = append(r.Notes, headerNotes(old, new)...)
	}
	r.judge(changes, rs)
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
	r.changes = changes
	r.order = make([]judged, changes.Len())
	ruleIndex := make(map[string]uint16)
	for i := range changes.Len() {
		rule := rs.Match(changes.At(i))
		ri, ok := ruleIndex[rule.ID]
		if !ok {
			ri = uint16(len(r.rules))
			ruleIndex[rule.ID] = ri
			r.rules = append(r.rules, rule)
		}
		r.order[i] = judged{change: int32(i), rule: ri}
		switch rule.Severity {
		case rules.Break:
			r.Summary.Break++
		case rules.Warn:
			r.Summary.Warn++
		default:
			r.Summary.Info++
		}
	}
	slices.SortStableFunc(r.order, func(a, b judged) int {
		ra, rb := &r.rules[a.rule], &r.rules[b.rule]
		return cmp.Or(
			cmp.Compare(rb.Severity, ra.Severity),
			cmp.Compare(ra.ID, rb.ID),
			changes.Compare(int(a.change), int(b.change)),
		)
	})
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
		Message:   c.Detail + ": " + rule.Rationale,
		Reach:     string(c.Reach),
		Path:      c.Path,
	}
}

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
