package main

import (
	"fmt"

	"github.com/compatgate/compatgate/compat"
)

func runCheck(e env) int {
	fs := newFlagSet(e, "check", "check [--format text|json] [--debug-dir DIR] OLD NEW")
	format := fs.String("format", "text", "report format: text or json")
	var debugDirs []string
	fs.Func("debug-dir", "also look for separate debug files in `DIR` (by build-id and .gnu_debuglink; repeatable)",
		func(dir string) error {
			debugDirs = append(debugDirs, dir)
			return nil
		})
	if code, ok := parseFlags(e, fs); !ok {
		return code
	}
	if fs.NArg() != 2 {
		fmt.Fprintf(e.stderr, "compatgate check: want two libraries, OLD and NEW; got %d argument(s)\n", fs.NArg())
		fs.Usage()
		return exitUsage
	}
	write, ok := reportWriters[*format]
	if !ok {
		fmt.Fprintf(e.stderr, "compatgate check: unknown --format %q (want text or json)\n", *format)
		return exitUsage
	}
	report, err := compat.CheckWith(fs.Arg(0), fs.Arg(1), compat.Options{DebugDirs: debugDirs})
	if err != nil {
		fmt.Fprintf(e.stderr, "compatgate check: %v\n", err)
		return exitError
	}
	if err := write(report, e); err != nil {
		fmt.Fprintf(e.stderr, "compatgate check: writing report: %v\n", err)
		return exitError
	}
	return report.Verdict.ExitCode()
}

// reportWriters maps a --format value to the writer of that format.
var reportWriters = map[string]func(*compat.Report, env) error{
	"text": func(r *compat.Report, e env) error { return r.WriteText(e.stdout) },
	"json": func(r *compat.Report, e env) error { return r.WriteJSON(e.stdout) },
}
