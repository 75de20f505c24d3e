package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/rules"
)

// checkOutput is what a report writer needs besides the reports.
type checkOutput struct {
	maxDetails int
	version    string
}

// A checkFormat is one of check's report formats.
type checkFormat struct {
	name  string
	write func(w io.Writer, o checkOutput, res *compat.Result) error
}

// checkFormats are check's report formats, in the order usage lists them.
var checkFormats = []checkFormat{
	{"text", func(w io.Writer, o checkOutput, res *compat.Result) error {
		return res.WriteText(w, compat.TextOptions{MaxDetails: o.maxDetails})
	}},
	{"json", func(w io.Writer, _ checkOutput, res *compat.Result) error { return res.WriteJSON(w) }},
	{"sarif", func(w io.Writer, o checkOutput, res *compat.Result) error {
		return compat.WriteSARIF(w, compat.SARIFOptions{Version: o.version}, res.Reports()...)
	}},
	{"junit", func(w io.Writer, _ checkOutput, res *compat.Result) error {
		return compat.WriteJUnit(w, res.Reports()...)
	}},
	{"markdown", func(w io.Writer, o checkOutput, res *compat.Result) error {
		return compat.WriteMarkdown(w, compat.MarkdownOptions{MaxDetails: o.maxDetails}, res.Reports()...)
	}},
	{"github", func(w io.Writer, _ checkOutput, res *compat.Result) error {
		return compat.WriteGitHub(w, res.Reports()...)
	}},
}

func formatNames() []string {
	var names []string
	for _, f := range checkFormats {
		names = append(names, f.name)
	}
	return names
}

func runCheck(e env) int {
	names := strings.Join(formatNames(), "|")
	fs := newFlagSet(e, "check", "check [--format "+names+"] [--debug-dir DIR] [--suppressions FILE] [--show-suppressed] [--max-details N] OLD NEW")
	format := fs.String("format", "text", "report `format`: "+strings.Join(formatNames(), ", "))
	maxDetails := fs.Int("max-details", 0, "text and markdown: list at most `N` findings per rule (0: all); the summary counts every one")
	var debugDirs []string
	fs.Func("debug-dir", "also look for separate debug files in `DIR` (by build-id and .gnu_debuglink; repeatable)",
		func(dir string) error {
			debugDirs = append(debugDirs, dir)
			return nil
		})
	var supprFiles []string
	addSuppr := func(path string) error {
		supprFiles = append(supprFiles, path)
		return nil
	}
	fs.Func("suppressions", "silence the findings matched by the libabigail suppression specification `FILE` (repeatable; a .abignore beside the library is not read unless given)", addSuppr)
	fs.Func("suppr", "same as --suppressions", addSuppr)
	showSuppressed := fs.Bool("show-suppressed", false, "list the suppressed findings, with the suppression that silenced each")
	if code, ok := parseFlags(e, fs); !ok {
		return code
	}
	if fs.NArg() != 2 {
		fmt.Fprintf(e.stderr, "compatgate check: want two libraries, OLD and NEW; got %d argument(s)\n", fs.NArg())
		fs.Usage()
		return exitUsage
	}
	i := slices.IndexFunc(checkFormats, func(f checkFormat) bool { return f.name == *format })
	if i < 0 {
		fmt.Fprintf(e.stderr, "compatgate check: unknown --format %q (want %s)\n", *format, strings.Join(formatNames(), ", "))
		return exitUsage
	}
	if *maxDetails < 0 {
		fmt.Fprintf(e.stderr, "compatgate check: --max-details must be 0 or more\n")
		return exitUsage
	}
	var supps []*rules.Suppression
	for _, path := range supprFiles {
		ss, err := rules.LoadSuppressions(path)
		if err != nil {
			fmt.Fprintf(e.stderr, "compatgate check: %v\n", err)
			return exitError
		}
		supps = append(supps, ss...)
	}
	// The check's peak is while it loads and compares; the report's
	// rendering keeps less.
	stop := func() {}
	if os.Getenv("GOGC") == "" {
		stop = tuneGC(smallHeap, smallHeapGCPercent, gcPercent)
	}
	report, err := compat.CheckWith(fs.Arg(0), fs.Arg(1), compat.Options{DebugDirs: debugDirs, Suppressions: supps})
	stop()
	if err != nil {
		fmt.Fprintf(e.stderr, "compatgate check: %v\n", err)
		return exitError
	}
	res := compat.Single(report)
	if *showSuppressed {
		for _, r := range res.Reports() {
			r.ListSuppressed()
		}
	}
	if err := checkFormats[i].write(e.stdout, checkOutput{maxDetails: *maxDetails, version: moduleVersion()}, res); err != nil {
		fmt.Fprintf(e.stderr, "compatgate check: writing report: %v\n", err)
		return exitError
	}
	return res.Verdict().ExitCode()
}
