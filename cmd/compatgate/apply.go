package main

import (
	"flag"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/gate/inject"
)

// injectFlags are the flags apply, revert and status share.
type injectFlags struct {
	pids     *string
	format   *string
	stateDir *string
	parallel *int
}

func addInjectFlags(fs *flag.FlagSet) injectFlags {
	return injectFlags{
		pids:     fs.String("pid", "", "target process id(s), comma-separated (required)"),
		format:   fs.String("format", "text", "output format: text or json"),
		stateDir: fs.String("state-dir", inject.DefaultStateDir(), "directory of the journal of applied upgrades"),
		parallel: fs.Int("parallel", defaultParallel(), "how many processes to work on at once"),
	}
}

// defaultParallel is min(8, 2×CPUs): each process costs one OS thread (the
// ptrace thread) and mostly waits on the target.
func defaultParallel() int { return min(8, 2*runtime.NumCPU()) }

// forEachPID runs fn for every pid, at most n at a time, and returns the
// results in the order of pids.
func forEachPID(pids []int, n int, fn func(pid int) inject.Result) []inject.Result {
	results := make([]inject.Result, len(pids))
	sem := make(chan struct{}, max(n, 1))
	var wg sync.WaitGroup
	for i, pid := range pids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i] = fn(pid)
		}()
	}
	wg.Wait()
	return results
}

// parse validates the shared flags; it returns the pids, or an exit status.
func (f injectFlags) parse(e env, name string) ([]int, int, bool) {
	if *f.format != "text" && *f.format != "json" {
		fmt.Fprintf(e.stderr, "compatgate %s: unknown --format %q (want text or json)\n", name, *f.format)
		return nil, exitUsage, false
	}
	if *f.parallel < 1 {
		fmt.Fprintf(e.stderr, "compatgate %s: --parallel must be at least 1\n", name)
		return nil, exitUsage, false
	}
	if *f.pids == "" {
		fmt.Fprintf(e.stderr, "compatgate %s: --pid is required\n", name)
		return nil, exitUsage, false
	}
	var pids []int
	seen := map[int]bool{}
	for _, s := range strings.Split(*f.pids, ",") {
		pid, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || pid <= 0 {
			fmt.Fprintf(e.stderr, "compatgate %s: bad process id %q\n", name, s)
			return nil, exitUsage, false
		}
		if !seen[pid] { // each process is worked on once
			seen[pid] = true
			pids = append(pids, pid)
		}
	}
	return pids, 0, true
}

// injectReport is the JSON output of apply and revert (schema 1; fields
// are added, never renamed).
type injectReport struct {
	Schema    int             `json:"schema"`
	Command   string          `json:"command"`
	Status    inject.Status   `json:"status"`
	Processes []inject.Result `json:"processes"`
	// Notes say what the result does not, e.g. that apply could not
	// compare private layouts.
	Notes []string `json:"notes,omitempty"`
}

// writeInjectResults prints the results, and the notes that are not empty,
// and returns the exit status: 0 when every process is ok, not_changed or
// not_loaded, 1 otherwise.
func writeInjectResults(e env, command, format string, results []inject.Result, notes ...string) int {
	rep := injectReport{Schema: 1, Command: command, Status: inject.Worst(results), Processes: results}
	for _, n := range notes {
		if n != "" {
			rep.Notes = append(rep.Notes, n)
		}
	}
	var err error
	if format == "json" {
		err = writeJSON(e.stdout, rep)
	} else {
		for _, r := range results {
			fmt.Fprintf(e.stdout, "PID %-8d %-12s %s\n", r.PID, r.Status, describeResult(command, r))
		}
		for _, n := range rep.Notes {
			fmt.Fprintf(e.stdout, "note: %s\n", n)
		}
		_, err = fmt.Fprintf(e.stdout, "overall: %s\n", rep.Status)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "compatgate %s: writing output: %v\n", command, err)
		return exitError
	}
	if !rep.Status.Success() {
		return exitError
	}
	return exitOK
}

func describeResult(command string, r inject.Result) string {
	if r.Status != inject.StatusOK {
		return r.Reason
	}
	verb := "redirected"
	if command == "revert" {
		verb = "restored"
	}
	s := fmt.Sprintf("%s %d function(s); threads stopped %v", verb, r.Functions,
		(time.Duration(r.StoppedMicros) * time.Microsecond).Round(10*time.Microsecond))
	switch {
	case r.Draining > 0 && r.Undrained == 0:
		s += fmt.Sprintf("; %d thread(s) inside OLD at the switch, drained", r.Draining)
	case r.Draining > 0:
		s += fmt.Sprintf("; %d thread(s) inside OLD at the switch, %d still draining (see status)", r.Draining, r.Undrained)
	}
	if r.Reason != "" {
		s += "; " + r.Reason
	}
	return s
}

func runApply(e env) int {
	fs := newFlagSet(e, "apply", "apply --pid PID[,PID...] [--parallel N] [--format text|json] [--state-dir DIR] [--busy-timeout D] [--drain] [--force] OLD NEW")
	f := addInjectFlags(fs)
	busy := fs.Duration("busy-timeout", 2*time.Second, "how long a thread found in OLD's code may run on to leave it")
	drain := fs.Bool("drain", false, "redirect at once and let threads inside OLD finish their calls there (only when OLD and NEW share every private layout)")
	force := fs.Bool("force", false, "apply even when the check finds NEW incompatible with OLD, with another SONAME, or with a private layout changed (recorded in the audit log)")
	if code, ok := parseFlags(e, fs); !ok {
		return code
	}
	pids, code, ok := f.parse(e, "apply")
	if !ok {
		return code
	}
	if fs.NArg() != 2 {
		fmt.Fprintf(e.stderr, "compatgate apply: want two libraries, OLD and NEW; got %d argument(s)\n", fs.NArg())
		fs.Usage()
		return exitUsage
	}
	why, note, err := precheck(fs.Arg(0), fs.Arg(1), *drain)
	if err != nil {
		fmt.Fprintf(e.stderr, "compatgate apply: checking NEW against OLD: %v\n", err)
		return exitError
	}
	if why != "" && !*force {
		// No process is touched: each is refused for the same reason.
		results := make([]inject.Result, len(pids))
		for i, pid := range pids {
			results[i] = inject.Result{PID: pid, Status: inject.StatusRefused, Reason: why + " (--force applies it anyway)"}
		}
		return writeInjectResults(e, "apply", *f.format, results, note)
	}
	if why != "" {
		detail := fmt.Sprintf("apply --force to pid(s) %s of %s over OLD %s: %s", *f.pids, fs.Arg(1), fs.Arg(0), why)
		if err := auditForce(e, *f.stateDir, fs.Arg(0), detail); err != nil {
			fmt.Fprintf(e.stderr, "compatgate apply: recording --force in the audit log: %v\n", err)
			return exitError
		}
		fmt.Fprintf(e.stderr, "compatgate apply: --force: %s\n", why)
	}
	opt := inject.Options{StateDir: *f.stateDir, BusyTimeout: *busy, Drain: *drain}
	results := forEachPID(pids, *f.parallel, func(pid int) inject.Result {
		return inject.Apply(e.ctx, pid, fs.Arg(0), fs.Arg(1), opt)
	})
	return writeInjectResults(e, "apply", *f.format, results, note)
}

// maxLayoutTypes bounds the changed private types a refusal names.
const maxLayoutTypes = 5

// precheck runs the compatibility check of NEW against OLD, as `check`
// does, and returns why NEW must not be applied: it has another SONAME (it
// is another library), the check finds it incompatible, or, the types
// compared with debug information for both, a type that is not public API
// changed layout (the gate's private-layouts-unchanged: NEW's code would
// work on objects OLD made); with drain, also when the types could not be
// compared, since draining is safe only on layouts known unchanged. note
// says when the private layouts were not compared. It returns "" when NEW
// may be applied, also for a patch object (its .patchinfo names the
// functions it replaces; it exports nothing else).
func precheck(oldPath, newPath string, drain bool) (why, note string, err error) {
	if pi, err := inject.ReadPatchInfo(newPath); err == nil && pi != nil {
		return "", "", nil
	}
	rep, err := compat.CheckWith(oldPath, newPath, compat.Options{})
	if err != nil {
		return "", "", err
	}
	if !rep.TypesChecked && rep.MissingDebug() != "" {
		note = "private layouts not compared: no debug information for " + rep.MissingDebug() +
			"; NEW's code will work on objects OLD made without knowing they are laid out alike"
	}
	switch {
	case rep.Old.SONAME != rep.New.SONAME:
		why = fmt.Sprintf("NEW's SONAME %q differs from OLD's %q: it is another library, installed beside OLD, not over it", rep.New.SONAME, rep.Old.SONAME)
	case rep.Verdict == compat.Incompatible:
		why = fmt.Sprintf("compatgate check finds NEW incompatible with OLD (%d breaking change(s); see compatgate check OLD NEW)", rep.Summary.Break)
	case rep.TypesChecked:
		if changed := rep.PrivateLayoutChanges(maxLayoutTypes); len(changed) > 0 {
			why = "private layouts differ (private-layouts-unchanged), NEW's code would work on objects OLD made: " + strings.Join(changed, "; ")
		}
	case drain:
		why = "--drain needs private layouts known unchanged, and they were not compared: no debug information for " +
			rep.MissingDebug()
	}
	return why, note, nil
}
