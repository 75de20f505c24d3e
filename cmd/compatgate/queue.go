//go:build unix

package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/compatgate/compatgate/gate"
	"github.com/compatgate/compatgate/gate/queue"
	"github.com/compatgate/compatgate/internal/table"
)

// queueSubcommands are the subcommands of "compatgate queue", in the order
// its usage lists them.
func queueSubcommands() []command {
	return []command{
		{"list", "list queue entries", runQueueList},
		{"show", "show one entry and its audit log", runQueueShow},
		{"approve", "let a held entry proceed: install and restart in its window", runQueueApprove},
		{"done", "close a manual entry: its targets were restarted by hand", runQueueDone},
		{"cancel", "cancel a held, queued or manual entry", runQueueCancel},
		{"run", "run the due entries (inside their windows, or all with --now)", runQueueRun},
		{"add", "add an entry by hand (operators and tests)", runQueueAdd},
	}
}

func runQueue(e env) int { return dispatch(e, "compatgate queue", queueSubcommands(), queueUsage) }

func queueUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: compatgate queue <subcommand> [flags] [arguments]\n\n")
	fmt.Fprintf(w, "The durable queue of scheduled restarts.\n\nSubcommands:\n")
	for _, c := range queueSubcommands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'compatgate queue <subcommand> --help' for its flags.\n")
}

// parseArgs parses flags that may come before or after the positional
// arguments, and returns the positional ones.
func parseArgs(e env, fs *flag.FlagSet) ([]string, int, bool) {
	if code, ok := parseFlags(e, fs); !ok {
		return nil, code, false
	}
	var pos []string
	for fs.NArg() > 0 {
		pos = append(pos, fs.Arg(0))
		e.args = fs.Args()[1:]
		if code, ok := parseFlags(e, fs); !ok {
			return nil, code, false
		}
	}
	return pos, 0, true
}

// entryID parses the single ID argument of show and cancel.
func entryID(e env, cmd string, args []string) (int64, bool) {
	if len(args) != 1 {
		fmt.Fprintf(e.stderr, "compatgate %s: want one entry ID\n", cmd)
		return 0, false
	}
	id, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil || id <= 0 {
		fmt.Fprintf(e.stderr, "compatgate %s: %q is not an entry ID\n", cmd, args[0])
		return 0, false
	}
	return id, true
}

// showTime formats a time for a person, in the host's time zone.
func showTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// stateText is the entry's state, marked when it was interrupted and retried.
func stateText(en queue.Entry) string {
	if en.Retried() {
		return fmt.Sprintf("%s (retried ×%d)", en.State, en.Interruptions)
	}
	return string(en.State)
}

func windowText(s queue.Spec) string {
	if s.IsZero() {
		return "any time"
	}
	return fmt.Sprintf("%s for %v", s.Cron, s.Duration)
}

func targetsText(ts []queue.Target) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return strings.Join(s, ", ")
}

func runQueueList(e env) int {
	fs := newFlagSet(e, "queue list", "queue list [--state held|queued|running|manual|done|failed|cancelled] [--library PATH] [--state-dir DIR | --config FILE] [--format text|json]")
	sf := addStateFlags(fs)
	state := fs.String("state", "", "list only entries in this state")
	library := fs.String("library", "", "list only entries for this library path")
	args, code, ok := parseArgs(e, fs)
	if !ok {
		return code
	}
	if len(args) != 0 {
		fmt.Fprintf(e.stderr, "compatgate queue list: takes no arguments\n")
		return exitUsage
	}
	if !sf.check(e, "queue list") {
		return exitUsage
	}
	f := queue.Filter{Library: *library}
	if *state != "" {
		s, err := queue.ParseState(*state)
		if err != nil {
			fmt.Fprintf(e.stderr, "compatgate queue list: %v\n", err)
			return exitUsage
		}
		f.States = []queue.State{s}
	}
	q, e, err := sf.openExisting(e)
	if err != nil {
		return reportErr(e, "queue list", err)
	}
	defer q.Close()
	entries, err := q.List(e.ctx, f)
	if err != nil {
		fmt.Fprintf(e.stderr, "compatgate queue list: %v\n", err)
		return exitError
	}
	if sf.format == "json" {
		if entries == nil {
			entries = []queue.Entry{}
		}
		return reportErr(e, "queue list", writeJSON(e.stdout, entries))
	}
	if len(entries) == 0 {
		fmt.Fprintln(e.stdout, "no entries")
		return exitOK
	}
	t := table.New(e.stdout, "ID", "STATE", "LIBRARY", "TARGETS", "ATTEMPTS", "WINDOW", "UPDATED", "REASON")
	for _, en := range entries {
		if err := t.Append(strconv.FormatInt(en.ID, 10), stateText(en), clean(en.Library), clean(targetsText(en.Targets)),
			strconv.Itoa(en.Attempts), clean(windowText(en.Window)), showTime(en.Updated), clean(en.Reason)); err != nil {
			return reportErr(e, "queue list", err)
		}
	}
	return reportErr(e, "queue list", t.Render())
}

// reportErr prints err, if any, on one line, and returns the exit status
// for it.
func reportErr(e env, cmd string, err error) int {
	if err != nil {
		fmt.Fprintf(e.stderr, "compatgate %s: %s\n", cmd, clean(err.Error()))
		return exitError
	}
	return exitOK
}

func runQueueShow(e env) int {
	fs := newFlagSet(e, "queue show", "queue show [--state-dir DIR | --config FILE] [--format text|json] ID")
	sf := addStateFlags(fs)
	args, code, ok := parseArgs(e, fs)
	if !ok {
		return code
	}
	id, ok := entryID(e, "queue show", args)
	if !ok || !sf.check(e, "queue show") {
		return exitUsage
	}
	q, e, err := sf.openExisting(e)
	if err != nil {
		return reportErr(e, "queue show", err)
	}
	defer q.Close()
	en, err := q.Get(e.ctx, id)
	if err != nil {
		return reportErr(e, "queue show", err)
	}
	events, err := q.AuditLog(e.ctx, queue.AuditFilter{EntryID: id})
	if err != nil {
		return reportErr(e, "queue show", err)
	}
	if sf.format == "json" {
		if events == nil {
			events = []queue.Event{}
		}
		return reportErr(e, "queue show", writeJSON(e.stdout, struct {
			Entry queue.Entry   `json:"entry"`
			Log   []queue.Event `json:"log"`
		}{en, events}))
	}
	w := e.stdout
	fmt.Fprintf(w, "entry %d: %s\n", en.ID, stateText(en))
	fmt.Fprintf(w, "library:   %s\n", clean(en.Library))
	fmt.Fprintf(w, "from:      %s (build-id %s)\n", clean(orDash(en.From.Path)), clean(orDash(en.From.BuildID)))
	fmt.Fprintf(w, "to:        %s (build-id %s)\n", clean(orDash(en.To.Path)), clean(orDash(en.To.BuildID)))
	fmt.Fprintf(w, "reason:    %s\n", clean(orDash(en.Reason)))
	if en.Findings != "" {
		fmt.Fprintf(w, "findings:\n")
		for _, f := range strings.Split(en.Findings, "\n") {
			fmt.Fprintf(w, "  %s\n", clean(f))
		}
	}
	if !en.Install.IsZero() {
		v := ""
		if en.Install.Version != "" {
			v = ", version " + en.Install.Version
		}
		fmt.Fprintf(w, "install:   %s (sha256 %s%s), before the restarts\n", clean(en.Install.From), en.Install.SHA256, clean(v))
	}
	if en.ApprovedBy != "" {
		fmt.Fprintf(w, "approved:  by %s at %s\n", clean(en.ApprovedBy), showTime(en.Approved))
	}
	switch en.Restart.Kind {
	case queue.ActionSignal:
		fmt.Fprintf(w, "restart:   SIG%s, wait %v, relaunch: %s\n", en.Restart.Signal, orDefault(en.Restart.StopTimeout, queue.DefaultStopTimeout), clean(orDash(en.Restart.Command)))
	case queue.ActionManual:
		fmt.Fprintf(w, "restart:   by hand (no restart action): compatgate queue done %d once restarted\n", en.ID)
	default:
		fmt.Fprintf(w, "restart:   %s\n", clean(en.Restart.Command))
	}
	if en.Health.Command != "" {
		fmt.Fprintf(w, "health:    %s (timeout %v)\n", clean(en.Health.Command), orDefault(en.Health.Timeout, queue.DefaultHealthTimeout))
	}
	fmt.Fprintf(w, "window:    %s\n", clean(windowText(en.Window)))
	fmt.Fprintf(w, "attempts:  %d (interrupted %d)\n", en.Attempts, en.Interruptions)
	fmt.Fprintf(w, "created:   %s\nupdated:   %s\nstarted:   %s\nfinished:  %s\n",
		showTime(en.Created), showTime(en.Updated), showTime(en.Started), showTime(en.Finished))
	if en.LastError != "" {
		fmt.Fprintf(w, "error:     %s\n", clean(en.LastError))
	}
	fmt.Fprintf(w, "targets:\n")
	for i, t := range en.Targets {
		mark := "pending"
		switch {
		case i < en.Progress:
			mark = "restarted"
		case i == en.Progress && en.State == queue.Failed:
			mark = "failed"
		case i == en.Progress && en.State == queue.Running:
			mark = "restarting"
		case en.State == queue.Failed || en.State == queue.Cancelled:
			mark = "untouched"
		}
		fmt.Fprintf(w, "  %d. %-40s %s\n", i+1, clean(t.String()), mark)
	}
	fmt.Fprintf(w, "\nlog:\n")
	return reportErr(e, "queue show", writeEvents(w, events, false))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func runQueueCancel(e env) int {
	fs := newFlagSet(e, "queue cancel", "queue cancel [--reason TEXT] [--state-dir DIR | --config FILE] [--format text|json] ID")
	sf := addStateFlags(fs)
	reason := fs.String("reason", "cancelled by an operator", "why, for the audit log")
	args, code, ok := parseArgs(e, fs)
	if !ok {
		return code
	}
	id, ok := entryID(e, "queue cancel", args)
	if !ok || !sf.check(e, "queue cancel") {
		return exitUsage
	}
	q, e, err := sf.openExisting(e)
	if err != nil {
		return reportErr(e, "queue cancel", err)
	}
	defer q.Close()
	if err := q.Cancel(e.ctx, id, *reason); err != nil {
		return reportErr(e, "queue cancel", err)
	}
	en, err := q.Get(e.ctx, id)
	if err != nil {
		return reportErr(e, "queue cancel", err)
	}
	if sf.format == "json" {
		return reportErr(e, "queue cancel", writeJSON(e.stdout, en))
	}
	fmt.Fprintf(e.stdout, "entry %d cancelled\n", id)
	return exitOK
}

func runQueueRun(e env) int {
	fs := newFlagSet(e, "queue run", "queue run [--now] [--entry ID] [--state-dir DIR | --config FILE] [--format text|json]")
	sf := addStateFlags(fs)
	now := fs.Bool("now", false, "run queued entries even outside their maintenance windows")
	only := fs.Int64("entry", 0, "run only this entry")
	args, code, ok := parseArgs(e, fs)
	if !ok {
		return code
	}
	if len(args) != 0 {
		fmt.Fprintf(e.stderr, "compatgate queue run: takes no arguments (use --entry ID)\n")
		return exitUsage
	}
	if !sf.check(e, "queue run") {
		return exitUsage
	}
	q, e, err := sf.openExisting(e)
	if err != nil {
		return reportErr(e, "queue run", err)
	}
	defer q.Close()
	x := &queue.Executor{Queue: q, IgnoreWindows: *now, Install: (&gate.Upgrader{Queue: q}).InstallEntry}
	var results []queue.Result
	if *only != 0 {
		var r queue.Result
		r, err = x.RunEntry(e.ctx, *only)
		if err == nil {
			results = []queue.Result{r}
		}
	} else {
		results, err = x.RunDue(e.ctx)
	}
	if sf.format == "json" {
		if results == nil {
			results = []queue.Result{}
		}
		if werr := writeJSON(e.stdout, results); werr != nil && err == nil {
			err = werr
		}
	} else {
		writeResults(e.stdout, results)
	}
	if err != nil {
		return reportErr(e, "queue run", err)
	}
	for _, r := range results {
		if r.Entry.State == queue.Failed {
			return exitError
		}
	}
	return exitOK
}

func writeResults(w io.Writer, results []queue.Result) {
	if len(results) == 0 {
		fmt.Fprintln(w, "nothing to run")
		return
	}
	for _, r := range results {
		en := r.Entry
		switch {
		case !r.Ran && !r.NextWindow.IsZero():
			fmt.Fprintf(w, "entry %d: waiting: %s (opens %s)\n", en.ID, clean(r.Skipped), showTime(r.NextWindow))
		case !r.Ran:
			fmt.Fprintf(w, "entry %d: not run: %s\n", en.ID, clean(r.Skipped))
		case en.State == queue.Done:
			note := ""
			if en.Retried() {
				note = fmt.Sprintf(", retried after %d interruption(s)", en.Interruptions)
			}
			fmt.Fprintf(w, "entry %d: done: %d target(s) restarted%s\n", en.ID, len(en.Targets), note)
		default:
			fmt.Fprintf(w, "entry %d: %s: %s\n", en.ID, en.State, clean(en.LastError))
		}
	}
}

// targetFlags collects repeated --target kind=value flags.
type targetFlags []queue.Target

func (t *targetFlags) String() string { return fmt.Sprint([]queue.Target(*t)) }

func (t *targetFlags) Set(s string) error {
	tg, err := queue.ParseTarget(s)
	if err != nil {
		return err
	}
	*t = append(*t, tg)
	return nil
}

func runQueueAdd(e env) int {
	fs := newFlagSet(e, "queue add", "queue add --library PATH --target KIND=VALUE... (--restart CMD | --signal SIG [--relaunch CMD]) [flags]")
	sf := addStateFlags(fs)
	var en queue.Entry
	var targets targetFlags
	fs.StringVar(&en.Library, "library", "", "path of the upgraded library (required)")
	fs.Var(&targets, "target", "what to restart: pid=PID, unit=NAME, pidfile=PATH or command=NAME (repeatable, in order)")
	restart := fs.String("restart", "", "restart command, run with /bin/sh -c and COMPATGATE_TARGET_* in the environment")
	signal := fs.String("signal", "", "restart by sending this signal (e.g. TERM) to a pid or pidfile target")
	relaunch := fs.String("relaunch", "", "with --signal: command that starts the process again")
	fs.DurationVar(&en.Restart.StopTimeout, "stop-timeout", 0, "with --signal: how long to wait for the process to exit (default 30s)")
	fs.StringVar(&en.Health.Command, "health", "", "health command run after each target")
	fs.DurationVar(&en.Health.Timeout, "health-timeout", 0, "timeout of the health command (default 30s)")
	fs.StringVar(&en.Reason, "reason", "", "why the restart is needed")
	fs.StringVar(&en.Window.Cron, "window", "", "maintenance window: cron expression of its openings, host time zone")
	fs.DurationVar(&en.Window.Duration, "window-duration", 0, "how long the window stays open (required with --window)")
	fs.StringVar(&en.From.BuildID, "from-build-id", "", "build-id of the running version")
	fs.StringVar(&en.From.Path, "from-path", "", "path of the running version")
	fs.StringVar(&en.To.BuildID, "to-build-id", "", "build-id of the new version")
	fs.StringVar(&en.To.Path, "to-path", "", "path of the new version")
	args, code, ok := parseArgs(e, fs)
	if !ok {
		return code
	}
	if len(args) != 0 {
		fmt.Fprintf(e.stderr, "compatgate queue add: takes no arguments, only flags\n")
		return exitUsage
	}
	if !sf.check(e, "queue add") {
		return exitUsage
	}
	if en.Library == "" || len(targets) == 0 {
		fmt.Fprintf(e.stderr, "compatgate queue add: --library and at least one --target are required\n")
		return exitUsage
	}
	en.Targets = targets
	switch {
	case *signal != "" && *restart != "":
		fmt.Fprintf(e.stderr, "compatgate queue add: --restart and --signal exclude each other\n")
		return exitUsage
	case *signal != "":
		en.Restart.Kind, en.Restart.Signal, en.Restart.Command = queue.ActionSignal, strings.TrimPrefix(strings.ToUpper(*signal), "SIG"), *relaunch
	case *relaunch != "":
		fmt.Fprintf(e.stderr, "compatgate queue add: --relaunch needs --signal\n")
		return exitUsage
	default:
		en.Restart.Kind, en.Restart.Command = queue.ActionCommand, *restart
	}
	if err := en.Validate(); err != nil {
		fmt.Fprintf(e.stderr, "compatgate queue add: %v\n", err)
		return exitUsage
	}
	q, e, err := sf.open(e)
	if err != nil {
		return reportErr(e, "queue add", err)
	}
	defer q.Close()
	id, err := q.Enqueue(e.ctx, en)
	if err != nil {
		return reportErr(e, "queue add", err)
	}
	if sf.format == "json" {
		got, err := q.Get(e.ctx, id)
		if err != nil {
			return reportErr(e, "queue add", err)
		}
		return reportErr(e, "queue add", writeJSON(e.stdout, got))
	}
	fmt.Fprintf(e.stdout, "entry %d queued\n", id)
	return exitOK
}
