// Command compatgate decides whether a new version of a shared library is
// binary compatible with the old one, and acts on the answer.
//
// Usage:
//
//	compatgate <command> [flags] [arguments]
//
// Run "compatgate help" for the list of commands. Exit status is a bit mask,
// as abidiff's: 0 success, 1 error, 2 usage error, 4 the ABI changed in a way
// that needs review, 8 incompatible.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/olekukonko/tablewriter/pkg/twwidth"
)

// Exit status bits shared by every command.
const (
	exitOK         = 0
	exitError      = 1
	exitUsage      = 2
	exitABIChanged = 4
	exitIncompat   = 8
)

// env is what a command runs with: its arguments and standard streams.
type env struct {
	ctx    context.Context
	args   []string
	stdout io.Writer
	stderr io.Writer
}

// command is one subcommand of compatgate.
type command struct {
	name    string
	summary string
	run     func(e env) int
}

// commands returns the command table, in the order "help" lists it. The
// checker's commands build everywhere Go does; gateCommands adds those that
// manage processes and the restart queue, on Unix systems.
func commands() []command {
	return append([]command{
		{"check", "compare two versions of a shared library and judge compatibility", runCheck},
		{"dump", "write the ABI of a shared library as a dump, a baseline check accepts in its place", runDump},
		{"rules", "list the compatibility rules: id, severity, rationale", runRules},
		{"version", "print the version of compatgate", runVersion},
		{"apply", "hot-upgrade running processes from OLD to NEW (linux/amd64)", runApply},
		{"revert", "undo the latest hot upgrade of OLD in running processes", runRevert},
		{"status", "show the hot upgrades applied to running processes", runStatus},
		{"patchinfo", "write or show the .patchinfo section of a patch object", runPatchinfo},
	}, gateCommands()...)
}

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	// The table writer allocates a 2 MiB cache of string widths when it
	// starts; compatgate's tables are small, and a check's memory is
	// measured.
	twwidth.SetCacheCapacity(0)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(env{ctx: ctx, args: os.Args[1:], stdout: os.Stdout, stderr: os.Stderr})
	stop()
	os.Exit(code)
}

// run dispatches to the named command and returns the exit status.
func run(e env) int { return dispatch(e, "compatgate", commands(), usage) }

// dispatch runs the command of cmds that e.args[0] names, with the rest of
// the arguments; prog names the caller in messages ("compatgate queue").
func dispatch(e env, prog string, cmds []command, usage func(io.Writer)) int {
	if len(e.args) == 0 {
		usage(e.stderr)
		return exitUsage
	}
	switch e.args[0] {
	case "help", "-h", "-help", "--help":
		usage(e.stdout)
		return exitOK
	}
	for _, c := range cmds {
		if c.name == e.args[0] {
			e.args = e.args[1:]
			return c.run(e)
		}
	}
	fmt.Fprintf(e.stderr, "%s: unknown command %q (run '%s help')\n", prog, e.args[0], prog)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "compatgate: binary compatibility checks and safe live upgrades of shared libraries\n\n")
	fmt.Fprintf(w, "Usage: compatgate <command> [flags] [arguments]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'compatgate <command> --help' for a command's flags.\n")
	fmt.Fprintf(w, "Exit status bits: 0 ok, 1 error, 2 usage, 4 ABI changed (review), 8 incompatible.\n")
}

// newFlagSet returns a flag set for a command whose errors and help go to
// e.stderr/e.stdout, and whose usage line is the given synopsis.
func newFlagSet(e env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: compatgate %s\n", synopsis)
		if hasFlags(fs) {
			fmt.Fprintf(fs.Output(), "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parseFlags parses e.args into fs. It returns the exit status to use and
// false when the command must stop: 0 for --help (printed to stdout), 2 for a
// usage error.
func parseFlags(e env, fs *flag.FlagSet) (int, bool) {
	// Parse calls Usage itself on -help and on errors; print it once, here,
	// to stdout for -help and to stderr (after flag's message) for errors.
	usage := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(e.args)
	fs.Usage = usage
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(e.stdout)
		fs.Usage()
		return exitOK, false
	}
	if err != nil {
		fs.Usage()
		return exitUsage, false
	}
	return 0, true
}

// writeJSON writes v as indented JSON, the form of every command's
// --format json output.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
