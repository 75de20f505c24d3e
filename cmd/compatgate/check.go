package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/elfdiff/debuginfod"
	"github.com/compatgate/compatgate/rules"
)

// checkOutput is what a report writer needs besides the reports.
type checkOutput struct {
	maxDetails int
	width      int // text: the columns lines wrap at (0: compat.DefaultWidth)
	version    string
	sourceRoot string // sarif, github: declarations' files are written relative to it
}

// A checkFormat is one of check's report formats.
type checkFormat struct {
	name  string
	write func(w io.Writer, o checkOutput, res *compat.Result) error
}

// checkFormats are check's report formats, in the order usage lists them.
var checkFormats = []checkFormat{
	{"text", func(w io.Writer, o checkOutput, res *compat.Result) error {
		return res.WriteText(w, compat.TextOptions{MaxDetails: o.maxDetails, Width: o.width})
	}},
	{"json", func(w io.Writer, _ checkOutput, res *compat.Result) error { return res.WriteJSON(w) }},
	{"sarif", func(w io.Writer, o checkOutput, res *compat.Result) error {
		return compat.WriteSARIF(w, compat.SARIFOptions{Version: o.version, SourceRoot: o.sourceRoot}, res.Reports()...)
	}},
	{"junit", func(w io.Writer, _ checkOutput, res *compat.Result) error {
		return compat.WriteJUnit(w, res.Reports()...)
	}},
	{"markdown", func(w io.Writer, o checkOutput, res *compat.Result) error {
		return compat.WriteMarkdown(w, compat.MarkdownOptions{MaxDetails: o.maxDetails}, res.Reports()...)
	}},
	{"github", func(w io.Writer, o checkOutput, res *compat.Result) error {
		return compat.WriteGitHub(w, compat.GitHubOptions{SourceRoot: o.sourceRoot}, res.Reports()...)
	}},
}

func formatNames() []string {
	var names []string
	for _, f := range checkFormats {
		names = append(names, f.name)
	}
	return names
}

// repeated returns a flag function that appends each value to *list.
func repeated(list *[]string) func(string) error {
	return func(v string) error {
		*list = append(*list, v)
		return nil
	}
}

func runCheck(e env) int {
	names := strings.Join(formatNames(), "|")
	fs := newFlagSet(e, "check", "check [--format "+names+"] [--suppressions FILE] [--debug-dir DIR] [flags] OLD NEW\n\n"+
		"OLD and NEW are two shared libraries or ABI dumps (compatgate dump), or two packages (.deb) or directories whose shared\n"+
		"libraries are paired by SONAME (then file name) and checked one by one.")
	format := fs.String("format", "text", "report `format`: "+strings.Join(formatNames(), ", "))
	maxDetails := fs.Int("max-details", 0, "text and markdown: list at most `N` findings per rule (0: all); the summary counts every one")
	srcRoot := fs.String("source-root", "", "sarif and github: the sources' checkout `DIR`, which declarations' files are written relative to (default: $GITHUB_WORKSPACE, else the current directory)")
	var opts compat.PackageOptions
	fs.Func("debug-dir", "also look for separate debug files in `DIR` (by build-id and .gnu_debuglink; repeatable)", repeated(&opts.DebugDirs))
	fs.Func("debug-info-dir1", "look for OLD's separate debug files in `DIR` first (repeatable)", repeated(&opts.OldDebugDirs))
	fs.Func("debug-info-dir2", "look for NEW's separate debug files in `DIR` first (repeatable)", repeated(&opts.NewDebugDirs))
	fs.Func("debug-package1", "packages: OLD's debug package `PKG` (-dbgsym or -dbg; a .deb or a directory; repeatable)", repeated(&opts.OldDebugPackages))
	fs.Func("debug-package2", "packages: NEW's debug package `PKG` (-dbgsym or -dbg; a .deb or a directory; repeatable)", repeated(&opts.NewDebugPackages))
	for _, spelling := range []string{"devel-package", "devel-pkg"} { // abipkgdiff spells them --devel-pkg1/2
		fs.Func(spelling+"1", "packages: OLD's development package `PKG` (-dev; a .deb or a directory; repeatable): its usr/include holds the public headers", repeated(&opts.OldDevelPackages))
		fs.Func(spelling+"2", "packages: NEW's development package `PKG` (-dev; a .deb or a directory; repeatable): its usr/include holds the public headers", repeated(&opts.NewDevelPackages))
	}
	var supprFiles []string
	fs.Func("suppressions", "silence the findings matched by the libabigail suppression specification `FILE` (repeatable; a .abignore beside the library is not read unless given)", repeated(&supprFiles))
	fs.Func("suppr", "same as --suppressions `FILE`", repeated(&supprFiles))
	requireDebug := fs.Bool("require-debug", false, "fail (exit 1) when either side has no debug information, so types cannot be compared")
	fs.BoolVar(&opts.SymbolsOnly, "symbols-only", false, "compare the symbol tables only, reading no debug information; the verdict may then be compatible")
	showSuppressed := fs.Bool("show-suppressed", false, "list the suppressed findings, with the suppression that silenced each")
	if c, ok := debuginfod.FromEnv(); ok {
		opts.Debuginfod = c // DEBUGINFOD_URLS: fetch what no directory has
	}
	for _, f := range []struct {
		name, usage string
		dst         []*[]string
	}{
		{"headers-dir1", "public headers of OLD are under `DIR` (repeatable)", []*[]string{&opts.HeaderDirs1}},
		{"headers-dir2", "public headers of NEW are under `DIR` (repeatable)", []*[]string{&opts.HeaderDirs2}},
		{"headers-dir", "public headers of both are under `DIR` (repeatable)", []*[]string{&opts.HeaderDirs1, &opts.HeaderDirs2}},
		{"header-file1", "`FILE` is a public header of OLD (repeatable)", []*[]string{&opts.HeaderFiles1}},
		{"header-file2", "`FILE` is a public header of NEW (repeatable)", []*[]string{&opts.HeaderFiles2}},
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
		fmt.Fprintf(e.stderr, "compatgate check: want two libraries or packages, OLD and NEW; got %d argument(s)\n", fs.NArg())
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
	if *requireDebug && opts.SymbolsOnly {
		fmt.Fprintf(e.stderr, "compatgate check: --require-debug and --symbols-only exclude each other\n")
		return exitUsage
	}
	oldPath, newPath := fs.Arg(0), fs.Arg(1)
	packages := compat.IsPackage(oldPath)
	if packages != compat.IsPackage(newPath) {
		fmt.Fprintf(e.stderr, "compatgate check: OLD and NEW must both be libraries or both packages (.deb) or directories\n")
		return exitUsage
	}
	if !packages && len(opts.OldDebugPackages)+len(opts.NewDebugPackages) > 0 {
		fmt.Fprintf(e.stderr, "compatgate check: --debug-package1/2 need packages or directories, not library files\n")
		return exitUsage
	}
	if !packages && len(opts.OldDevelPackages)+len(opts.NewDevelPackages) > 0 {
		fmt.Fprintf(e.stderr, "compatgate check: --devel-package1/2 need packages or directories, not library files (give --headers-dir1/2)\n")
		return exitUsage
	}
	for _, path := range supprFiles {
		ss, err := rules.LoadSuppressions(path)
		if err != nil {
			fmt.Fprintf(e.stderr, "compatgate check: %v\n", err)
			return exitError
		}
		opts.Suppressions = append(opts.Suppressions, ss...)
	}
	// The collector's policy holds through the report's rendering too: on a
	// library without DWARF and with tens of thousands of findings
	// (libLLVM's 47,634), rendering is the peak, and a text report peaks
	// 15% lower for 25% more CPU (bench/RESULTS.md).
	if os.Getenv("GOGC") == "" {
		defer tuneGC(smallHeap, smallHeapGCPercent, gcPercent)()
	}
	var res *compat.Result
	var err error
	if packages {
		res, err = compat.CheckPackages(oldPath, newPath, opts)
	} else {
		var report *compat.Report
		report, err = compat.CheckWith(oldPath, newPath, opts.Options)
		if err == nil {
			res = compat.Single(report)
		}
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "compatgate check: %v\n", err)
		return exitError
	}
	if *requireDebug {
		for _, r := range res.Reports() {
			if len(r.DebugMissing) > 0 {
				fmt.Fprintf(e.stderr, "compatgate check: --require-debug: no debug information in %s, types cannot be compared\n", missingSides(r))
				return exitError
			}
		}
	}
	if *showSuppressed {
		for _, r := range res.Reports() {
			r.ListSuppressed()
		}
	}
	root, err := sourceRoot(*srcRoot)
	if err != nil {
		fmt.Fprintf(e.stderr, "compatgate check: --source-root: %v\n", err)
		return exitUsage
	}
	out := checkOutput{maxDetails: *maxDetails, width: termWidth(e.stdout), version: moduleVersion(), sourceRoot: root}
	if err := checkFormats[i].write(e.stdout, out, res); err != nil {
		fmt.Fprintf(e.stderr, "compatgate check: writing report: %v\n", err)
		return exitError
	}
	return res.Verdict().ExitCode()
}

// missingSides names the libraries of r that have no debug information.
func missingSides(r *compat.Report) string {
	var names []string
	for _, side := range r.DebugMissing {
		if side == "old" {
			names = append(names, "OLD "+r.Old.Path)
		} else {
			names = append(names, "NEW "+r.New.Path)
		}
	}
	return strings.Join(names, " and ")
}

// sourceRoot returns the directory the sarif and github formats write
// declarations' files relative to: dir, else $GITHUB_WORKSPACE, else the
// current directory, made absolute.
func sourceRoot(dir string) (string, error) {
	if dir == "" {
		dir = os.Getenv("GITHUB_WORKSPACE")
	}
	if dir == "" {
		return os.Getwd()
	}
	return filepath.Abs(dir)
}
