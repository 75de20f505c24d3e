//go:build unix

package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/compatgate/compatgate/gate"
	"github.com/compatgate/compatgate/gate/inject"
	"github.com/compatgate/compatgate/gate/queue"
)

func runUpgrade(e env) int {
	fs := newFlagSet(e, "upgrade", "upgrade [--pid P,... | --all] [--dry-run] [--config FILE] [--restart CMD | --signal SIG [--relaunch CMD]] [--version V [--allow-downgrade]] [flags] OLD NEW")
	sf := addStateFlags(fs)
	pids := fs.String("pid", "", "upgrade only these processes (comma-separated PIDs)")
	all := fs.Bool("all", false, "upgrade every process that maps OLD (the default without --config)")
	dryRun := fs.Bool("dry-run", false, "print the decision and the plan; change nothing")
	hot := fs.Bool("hot-apply", true, "allow hot-applying NEW to running processes (false: always queue restarts)")
	noDebug := fs.Bool("hot-apply-without-debug", false, "allow hot-applying when the check cannot compare types (no debug information for OLD or NEW), so private layouts are not known to be unchanged")
	restart := fs.String("restart", "", "restart command for processes that cannot be hot-applied (/bin/sh -c, COMPATGATE_TARGET_* set)")
	signal := fs.String("signal", "", "restart by sending this signal (e.g. TERM) to each process")
	relaunch := fs.String("relaunch", "", "with --signal: command that starts the process again")
	health := fs.String("health", "", "health command run after each restart")
	healthTimeout := fs.Duration("health-timeout", 0, "timeout of the health command (default 30s)")
	window := fs.String("window", "", "maintenance window of the restarts: cron expression, host time zone")
	windowDur := fs.Duration("window-duration", 0, "how long the window stays open (required with --window)")
	version := fs.String("version", "", "NEW's version: refused when older than the installed one")
	allowDowngrade := fs.Bool("allow-downgrade", false, "with --version: take an older version too")
	args, code, ok := parseArgs(e, fs)
	if !ok {
		return code
	}
	if len(args) != 2 {
		fmt.Fprintf(e.stderr, "compatgate upgrade: want OLD and NEW; got %d argument(s)\n", len(args))
		return exitUsage
	}
	if !sf.check(e, "upgrade") {
		return exitUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *pids != "" && *all {
		fmt.Fprintf(e.stderr, "compatgate upgrade: --pid and --all exclude each other\n")
		return exitUsage
	}
	req := gate.Request{Library: args[0], New: args[1], HotApply: *hot, HotApplyWithoutDebug: *noDebug, Followers: gate.Followers{All: true}, DryRun: *dryRun}
	if sf.cfg != nil {
		sub := sf.cfg.Find(args[0])
		if sub == nil {
			fmt.Fprintf(e.stderr, "compatgate upgrade: %s has no subscription in %s\n", clean(args[0]), clean(sf.config))
			return exitError
		}
		r := sub.Request(args[1])
		r.DryRun = *dryRun
		if set["hot-apply"] {
			r.HotApply = *hot
		}
		if set["hot-apply-without-debug"] {
			r.HotApplyWithoutDebug = *noDebug
		}
		req = r
	}
	if *all {
		req.Followers.All = true
	}
	req.Version = *version
	if set["allow-downgrade"] {
		req.AllowDowngrade = *allowDowngrade
	}
	if *pids != "" {
		for _, s := range strings.Split(*pids, ",") {
			pid, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || pid <= 0 {
				fmt.Fprintf(e.stderr, "compatgate upgrade: --pid: %q is not a process ID\n", s)
				return exitUsage
			}
			req.PIDs = append(req.PIDs, pid)
		}
	}
	switch {
	case *signal != "" && *restart != "":
		fmt.Fprintf(e.stderr, "compatgate upgrade: --restart and --signal exclude each other\n")
		return exitUsage
	case *signal != "":
		req.Restart = queue.Action{Kind: queue.ActionSignal, Signal: strings.TrimPrefix(strings.ToUpper(*signal), "SIG"), Command: *relaunch}
	case *relaunch != "":
		fmt.Fprintf(e.stderr, "compatgate upgrade: --relaunch needs --signal\n")
		return exitUsage
	case *restart != "":
		req.Restart = queue.Action{Kind: queue.ActionCommand, Command: *restart}
	}
	if set["health"] {
		req.Health = queue.Health{Command: *health, Timeout: *healthTimeout}
	}
	if set["window"] || set["window-duration"] {
		req.Window = queue.Spec{Cron: *window, Duration: *windowDur}
		if _, err := queue.ParseWindow(*window, *windowDur, nil); err != nil {
			fmt.Fprintf(e.stderr, "compatgate upgrade: %v\n", err)
			return exitUsage
		}
	}

	u := &gate.Upgrader{Engine: gate.InjectEngine{Options: inject.Options{StateDir: sf.dir}},
		Logger: slog.New(slog.DiscardHandler)}
	if !*dryRun {
		q, e2, err := sf.open(e)
		if err != nil {
			return reportErr(e, "upgrade", err)
		}
		defer q.Close()
		e, u.Queue = e2, q
	}
	out, err := u.Upgrade(e.ctx, req)
	if err != nil {
		return reportErr(e, "upgrade", err)
	}
	if sf.format == "json" {
		if err := writeJSON(e.stdout, out); err != nil {
			return reportErr(e, "upgrade", err)
		}
	} else {
		writeUpgrade(e.stdout, out)
	}
	if out.DryRun || out.Status.Success() {
		return exitOK
	}
	return exitError
}

// writeUpgrade prints an upgrade's outcome for a person.
func writeUpgrade(w io.Writer, o *gate.Outcome) {
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "%-11s %s\n", label, fmt.Sprintf(format, args...))
	}
	line("library", "%s", clean(o.Library))
	line("old", "build-id %s", orDash(o.Old.BuildID))
	line("new", "build-id %s", orDash(o.New.BuildID))
	line("verdict", "%s", o.Verdict)
	line("decision", "%s", o.Decision.Action)
	line("reason", "%s", clean(o.Decision.Reason))
	for _, r := range o.Decision.Rules {
		verdict := "holds"
		if !r.OK {
			verdict = "fails"
		}
		line("rule", "%-26s %s", r.Rule, verdict)
	}
	for _, f := range o.Decision.Findings {
		line("finding", "%s", clean(f))
	}
	switch {
	case o.DryRun:
		line("installed", "no (dry run)")
	case o.Beside != "" && o.Link != "":
		line("installed", "beside OLD at %s, SONAME link %s; clients must be relinked to use it", clean(o.Beside), clean(o.Link))
	case o.Beside != "":
		line("installed", "beside OLD at %s; clients must be relinked to use it", clean(o.Beside))
	case o.Decision.Action == gate.Hold:
		line("installed", "no: held until approved (compatgate queue approve %d), then installed in the window", o.Entry)
	case o.Installed:
		line("installed", "yes; previous build kept at %s", o.Previous)
	case o.AlreadyInstalled:
		line("installed", "already; OLD is the previous build, kept at %s", o.Previous)
	default:
		line("installed", "no")
	}
	writeProcesses(w, o.Processes)
	if o.DryRun {
		line("status", "dry run: nothing changed")
		return
	}
	if o.Entry != 0 {
		line("restart", "queue entry %d (compatgate queue show %d)", o.Entry, o.Entry)
	}
	line("status", "%s", o.Status)
}

// writeProcesses prints per-process results as a table.
func writeProcesses(w io.Writer, ps []gate.ProcessResult) {
	if len(ps) == 0 {
		fmt.Fprintf(w, "processes   none\n")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "PID\tPLAN\tSTATUS\tTARGET\tENTRY\tREASON\n")
	for _, p := range ps {
		entry := "-"
		if p.Entry != 0 {
			entry = strconv.FormatInt(p.Entry, 10)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", p.PID, orDash(p.Plan), orDash(string(p.Status)), clean(orDash(p.Target)), entry, clean(orDash(p.Reason)))
	}
	tw.Flush()
}
