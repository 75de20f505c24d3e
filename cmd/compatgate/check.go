package main

import (
	"fmt"
	"os"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/elfdiff/debuginfod"
)

func runCheck(e env) int {
	fs := newFlagSet(e, "check", "check [--format text|json] [--debug-dir DIR] [--debug-info-dir1 DIR] [--debug-info-dir2 DIR] [--max-details N] OLD NEW")
	format := fs.String("format", "text", "report format: text or json")
	maxDetails := fs.Int("max-details", 0, "text report: list at most `N` findings per rule (0: all); the summary counts every one")
	var opts compat.Options
	for _, f := range []struct {
		name, usage string
		dirs        *[]string
	}{
		{"debug-dir", "also look for separate debug files of both libraries in `DIR` (a debug root: by build-id, .gnu_debuglink and dwz's altlink; repeatable)", &opts.DebugDirs},
		{"debug-info-dir1", "also look for the separate debug files of OLD in `DIR` (repeatable)", &opts.OldDebugDirs},
		{"debug-info-dir2", "also look for the separate debug files of NEW in `DIR` (repeatable)", &opts.NewDebugDirs},
	} {
		fs.Func(f.name, f.usage, func(dir string) error {
			*f.dirs = append(*f.dirs, dir)
			return nil
		})
	}
	if c, ok := debuginfod.FromEnv(); ok {
		opts.Debuginfod = c // DEBUGINFOD_URLS: fetch what no directory has
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
	report, err := compat.CheckWith(fs.Arg(0), fs.Arg(1), opts)
	stop()
	if err != nil {
		fmt.Fprintf(e.stderr, "compatgate check: %v\n", err)
		return exitError
	}
	if *format == "json" {
		err = report.WriteJSON(e.stdout)
	} else {
		err = report.WriteTextWith(e.stdout, compat.TextOptions{MaxDetails: *maxDetails})
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "compatgate check: writing report: %v\n", err)
		return exitError
	}
	return report.Verdict.ExitCode()
}
