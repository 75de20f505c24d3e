package compat

import (
	"bufio"
	"fmt"
	"io"
	"iter"
	"strings"
)

// A Result is what one check reports: the Report of two library files,
// or, when packages or directories were compared, a Report per library
// pair (a library on one side only has a report with one finding).
type Result struct {
	// Old and New are the compared paths.
	Old, New string
	// Libraries are the reports, one per library pair, in the order of
	// their names.
	Libraries []*Report
	// Notes say what the comparison of packages could not do.
	Notes []string
	// packaged says packages or directories were compared: the JSON and
	// text reports then have a section per library.
	packaged bool
}

// Single returns the result of checking two library files.
func Single(r *Report) *Result {
	return &Result{Old: r.Old.Path, New: r.New.Path, Libraries: []*Report{r}}
}

// Reports returns the reports, one per library pair.
func (res *Result) Reports() []*Report { return res.Libraries }

// Verdict returns the worst verdict of the reports.
func (res *Result) Verdict() Verdict {
	v := Compatible
	for _, r := range res.Libraries {
		v = WorstVerdict(v, r.Verdict)
	}
	return v
}

// Summary returns the counts of all reports.
func (res *Result) Summary() Summary {
	var s Summary
	for _, r := range res.Libraries {
		s.add(r.Summary)
	}
	return s
}

// A libraryEntry is one library of a package report, in JSON: the
// report's fields but its findings, which are in the top-level "changes"
// with the library's name.
type libraryEntry struct {
	// Library is the name the two sides were paired by: the SONAME, else
	// the file name.
	Library string `json:"library"`
	// Status is "compared", "removed" (OLD only) or "added" (NEW only).
	Status string `json:"status"`
	*reportFields
}

// Library statuses.
const (
	StatusCompared = "compared"
	StatusRemoved  = "removed"
	StatusAdded    = "added"
)

// packageJSON is the layout of the JSON report of packages: the fields
// of a report, its libraries, then every finding.
type packageJSON struct {
	*reportFields
	Libraries []libraryEntry `json:"libraries"`
	Changes   []Finding      `json:"changes"`
}

// status says whether r compared two libraries or saw one side only.
func (r *Report) status() string {
	switch {
	case r.Old.Path == "":
		return StatusAdded
	case r.New.Path == "":
		return StatusRemoved
	}
	return StatusCompared
}

// WriteJSON writes the result as JSON. Two library files give the report
// of DESIGN.md's check contract, unchanged; packages or directories give
// the same top-level fields (old and new are the given paths), a
// "libraries" array with each library's report fields but its findings,
// and every finding in "changes" with its "library".
func (res *Result) WriteJSON(w io.Writer) error {
	if !res.packaged {
		return res.Libraries[0].WriteJSON(w)
	}
	head := packageJSON{
		reportFields: &reportFields{Schema: SchemaVersion, Old: Library{Path: res.Old}, New: Library{Path: res.New},
			Verdict: res.Verdict(), Summary: res.Summary(), TypesChecked: true, Notes: res.Notes},
		Libraries: []libraryEntry{}, Changes: []Finding{},
	}
	for _, r := range res.Libraries {
		head.Libraries = append(head.Libraries, libraryEntry{Library: r.libraryName(), Status: r.status(), reportFields: (*reportFields)(r)})
		if r.status() == StatusCompared {
			head.TypesChecked = head.TypesChecked && r.TypesChecked
		}
	}
	return streamJSON(w, head, res.findings())
}

// findings returns every finding of every report, with its library.
func (res *Result) findings() iter.Seq[Finding] {
	return func(yield func(Finding) bool) {
		for _, r := range res.Libraries {
			name := r.libraryName()
			for f := range r.Findings() {
				f.Library = name
				if !yield(f) {
					return
				}
			}
		}
	}
}

// WriteText writes the result for a person: the report of each library
// pair, and for packages a last line with the overall verdict.
func (res *Result) WriteText(w io.Writer, opts TextOptions) error {
	if !res.packaged {
		return res.Libraries[0].WriteTextWith(w, opts)
	}
	bw := bufio.NewWriter(w)
	var unchecked []string
	for _, r := range res.Libraries {
		if len(r.DebugMissing) > 0 {
			unchecked = append(unchecked, r.libraryName())
		}
	}
	if len(unchecked) > 0 {
		fmt.Fprintf(bw, "warning: types were not compared in %s: no debug information; their verdict is at least review (--debug-package1/2, --symbols-only, --require-debug)\n",
			strings.Join(unchecked, ", "))
	}
	fmt.Fprintf(bw, "old: %s\nnew: %s\n", res.Old, res.New)
	for _, n := range res.Notes {
		fmt.Fprintf(bw, "note: %s\n", n)
	}
	for _, r := range res.Libraries {
		fmt.Fprintf(bw, "\n=== %s (%s): %s\n", r.libraryName(), r.status(), r.Verdict)
		if err := r.WriteTextWith(bw, opts); err != nil {
			return err
		}
	}
	s := res.Summary()
	fmt.Fprintf(bw, "\n=== overall verdict: %s (%d libraries; %d break, %d warn, %d info)\n",
		res.Verdict(), len(res.Libraries), s.Break, s.Warn, s.Info)
	return bw.Flush()
}
