package main

import (
	"fmt"
	"os"

	"github.com/compatgate/compatgate/compat"
)

func runCheck(e env) int {
	fs := newFlagSet(e, "check", "check [--format text|json] [--debug-dir DIR] [--headers-dir1 DIR] [--headers-dir2 DIR] [--max-details N] OLD NEW")
	format := fs.String("format", "text", "report format: text or json")
	maxDetails := fs.Int("max-details", 0, "text report: list at most `N` findings per rule (0: all); the summary counts every one")
	var debugDirs []string
	fs.Func("debug-dir", "also look for separate debug files in `DIR` (by build-id and .gnu_debuglink; repeatable)",
		func(dir string) error {
			debugDirs = append(debugDirs, dir)
			return nil
		})
	var hdr compat.Options
	for _, f := range []struct {
		name, usage string
		dst         []*[]string
	}{
		{"headers-dir1", "public headers of OLD are under `DIR` (repeatable)", []*[]string{&hdr.HeaderDirs1}},
		{"headers-dir2", "public headers of NEW are under `DIR` (repeatable)", []*[]string{&hdr.HeaderDirs2}},
		{"headers-dir", "public headers of both are under `DIR` (repeatable)", []*[]string{&hdr.HeaderDirs1, &hdr.HeaderDirs2}},
		{"header-file1", "`FILE` is a public header of OLD (repeatable)", []*[]string{&hdr.HeaderFiles1}},
		{"header-file2", "`FILE` is a public header of NEW (repeatable)", []*[]string{&hdr.HeaderFiles2}},
	} {
		fs.Func(f.name, f.usage, func(v string) error {
			for _, d := range f.dst {
				*d = append(*d, v)
			}
			return nil
		})
	}
	if code, ok := parseFlags(e, fs); !ok {
		return code
	}
	if fs.NArg() != 2 {
		fmt.Fprintf(e.stderr, "compatgate check: want two libraries, OLD and NEW; got %d argument(s)\n", fs.NArg())
		fs.Usage()
		return exitUsage
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(e.stderr, "compatgate check: unknown --format %q (want text or json)\n", *format)
		return exitUsage
	}
	if *maxDetails < 0 {
		fmt.Fprintf(e.stderr, "compatgate check: --max-details must be 0 or more\n")
		return exitUsage
	}
	// The check's peak is while it loads and compares; the report's
	// rendering keeps less.
	stop := func() {}
	if os.Getenv("GOGC") == "" {
		stop = tuneGC(smallHeap, smallHeapGCPercent, gcPercent)
	}
	report, err := compat.CheckWith(fs.Arg(0), fs.Arg(1), compat.Options{DebugDirs: debugDirs,
		HeaderDirs1: hdr.HeaderDirs1, HeaderFiles1: hdr.HeaderFiles1, HeaderDirs2: hdr.HeaderDirs2, HeaderFiles2: hdr.HeaderFiles2})
	stop()
	if err != nil {
		fmt.Fprintf(e.stderr, "compatgate check: %v\n", err)
		return exitError
	}
	if *format == "json" {
		err = report.WriteJSON(e.stdout)
	} else {
		err = report.WriteTextWith(e.stdout, compat.TextOptions{MaxDetails: *maxDetails, Width: termWidth(e.stdout)})
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "compatgate check: writing report: %v\n", err)
		return exitError
	}
	return report.Verdict.ExitCode()
}
