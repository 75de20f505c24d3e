package main

import (
	"fmt"

	"github.com/compatgate/compatgate/internal/table"

	"github.com/compatgate/compatgate/rules"
)

func runRules(e env) int {
	fs := newFlagSet(e, "rules", "rules [--format text|json]")
	format := fs.String("format", "text", "output format: text or json")
	if code, ok := parseFlags(e, fs); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(e.stderr, "compatgate rules: takes no arguments\n")
		return exitUsage
	}
	type row struct {
		ID        string         `json:"id"`
		Kind      string         `json:"kind"`
		Severity  rules.Severity `json:"severity"`
		Rationale string         `json:"rationale"`
	}
	var rows []row
	for _, r := range rules.Catalogue() {
		rows = append(rows, row{r.ID, string(r.Kind), r.Severity, r.Rationale})
	}
	switch *format {
	case "json":
		if err := writeJSON(e.stdout, rows); err != nil {
			fmt.Fprintf(e.stderr, "compatgate rules: %v\n", err)
			return exitError
		}
	case "text":
		t := table.New(e.stdout, "RULE", "SEVERITY", "CHANGE", "RATIONALE")
		for _, r := range rows {
			if err := t.Append(r.ID, r.Severity.String(), r.Kind, r.Rationale); err != nil {
				fmt.Fprintf(e.stderr, "compatgate rules: %v\n", err)
				return exitError
			}
		}
		if err := t.Render(); err != nil {
			fmt.Fprintf(e.stderr, "compatgate rules: %v\n", err)
			return exitError
		}
	default:
		fmt.Fprintf(e.stderr, "compatgate rules: unknown --format %q (want text or json)\n", *format)
		return exitUsage
	}
	return exitOK
}
