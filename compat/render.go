package compat

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// WriteJSON writes the report as indented JSON, the stable format of
// DESIGN.md's check contract.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteText writes the report for a person: the two libraries, a table of
// findings and the verdict.
func (r *Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "old: %s\nnew: %s\n", describe(r.Old), describe(r.New))
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if len(r.Changes) > 0 {
		fmt.Fprintln(w)
		t := tablewriter.NewTable(w,
			tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
				Borders: tw.BorderNone,
				Settings: tw.Settings{Separators: tw.Separators{BetweenColumns: tw.Off, BetweenRows: tw.Off},
					Lines: tw.Lines{ShowHeaderLine: tw.Off}},
			})),
			tablewriter.WithHeaderAutoFormat(tw.Off),
			tablewriter.WithRowAutoWrap(tw.WrapNone),
			tablewriter.WithHeaderAlignment(tw.AlignLeft),
			tablewriter.WithRowAlignment(tw.AlignLeft),
		)
		t.Header("RULE", "SEVERITY", "SYMBOL", "DETAIL")
		for _, f := range r.Changes {
			sym := f.Demangled
			if sym == "" {
				sym = f.Type
			}
			msg := f.Message
			if f.Path != "" && f.Type != "" {
				msg += " [affects " + strings.Join(f.Affected, ", ") + "; via " + f.Path + "]"
			}
			if err := t.Append(f.Rule, f.Severity.String(), sym, msg); err != nil {
				return fmt.Errorf("rendering report: %w", err)
			}
		}
		if err := t.Render(); err != nil {
			return fmt.Errorf("rendering report: %w", err)
		}
	}
	_, err := fmt.Fprintf(w, "\nverdict: %s (%d break, %d warn, %d info)\n",
		r.Verdict, r.Summary.Break, r.Summary.Warn, r.Summary.Info)
	return err
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
