package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Executor runs due queue entries. Each entry's targets are restarted one at
// a time, in order, each followed by the entry's health command if it has
// one; the first failure stops the rollout, leaves the remaining targets
// untouched and marks the entry failed with the error.
//
// A restart action and a health command run with /bin/sh -c and the
// COMPATGATE_* variables that describe the entry and the target (see
// targetEnv in env.go: COMPATGATE_ENTRY_ID, COMPATGATE_TARGET_KIND,
// COMPATGATE_TARGET_VALUE, COMPATGATE_TARGET_PID, COMPATGATE_TARGET_UNIT,
// COMPATGATE_LIBRARY, COMPATGATE_TO_PATH, …).
type Executor struct {
	Queue *Queue
	// IgnoreWindows runs queued entries even outside their maintenance
	// windows (compatgate queue run --now).
	IgnoreWindows bool
	// Now returns the current time; nil means time.Now. Windows are
	// evaluated at this time.
	Now func() time.Time
	// Location is the time zone of the windows; nil means time.Local.
	Location *time.Location
	// Logger receives what cannot go to the audit log (a failure to write
	// to it); nil means slog.Default().
	Logger *slog.Logger
	// Install installs the build of an entry with one (Entry.Install) at
	// its library, before its restarts; it must do nothing when that build
	// is installed already. Nil: such entries fail.
	Install func(ctx context.Context, e Entry) error
}

// Result is what an executor did with one queued entry.
type Result struct {
	Entry Entry `json:"entry"` // as it is after the run
	// Ran is false when the entry was left queued; Skipped says why.
	Ran     bool   `json:"ran"`
	Skipped string `json:"skipped,omitempty"`
	// NextWindow is when the entry's window next opens, for a skipped entry.
	NextWindow time.Time `json:"next_window,omitzero"`
}

// RunDue first recovers the entries of executors that died (see
// Queue.Recover), then runs, oldest first, every queued entry whose window is
// open (every queued entry with IgnoreWindows). Entries claimed meanwhile by another
// executor are left to it. A failed entry does not stop the others; the
// error is for the queue itself failing or ctx being done, in which case
// the entry being run returns to the queue and is retried later.
func (x *Executor) RunDue(ctx context.Context) ([]Result, error) {
	if err := x.Queue.Recover(ctx); err != nil {
		return nil, err
	}
	queued, err := x.Queue.List(ctx, Filter{States: []State{Queued}})
	if err != nil {
		return nil, err
	}
	var results []Result
	for _, e := range queued {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		r, err := x.run(ctx, e)
		if errors.Is(err, errClaimedElsewhere) {
			continue
		}
		if err != nil {
			return results, err
		}
		results = append(results, r)
	}
	return results, nil
}

// RunEntry runs one queued entry, if its window is open or IgnoreWindows.
func (x *Executor) RunEntry(ctx context.Context, id int64) (Result, error) {
	e, err := x.Queue.Get(ctx, id)
	if err != nil {
		return Result{}, err
	}
	if e.State != Queued {
		return Result{}, fmt.Errorf("running entry %d: it is %s, not queued", id, e.State)
	}
	r, err := x.run(ctx, e)
	if errors.Is(err, errClaimedElsewhere) {
		return Result{}, fmt.Errorf("running entry %d: another executor claimed it", id)
	}
	return r, err
}

// errClaimedElsewhere is returned by run when another executor won the claim.
var errClaimedElsewhere = errors.New("claimed by another executor")

func (x *Executor) now() time.Time {
	if x.Now != nil {
		return x.Now()
	}
	return time.Now()
}

// run checks e's window, claims it and restarts its targets.
func (x *Executor) run(ctx context.Context, e Entry) (Result, error) {
	if !x.IgnoreWindows && !e.Window.IsZero() {
		loc := x.Location
		if loc == nil {
			loc = time.Local
		}
		w, err := ParseWindow(e.Window.Cron, e.Window.Duration, loc)
		if err != nil {
			return Result{Entry: e, Skipped: err.Error()}, nil
		}
		if now := x.now(); !w.Contains(now) {
			next := w.Next(now)
			return Result{Entry: e, Skipped: "outside its maintenance window", NextWindow: next}, nil
		}
	}
	if err := x.Queue.claim(ctx, e); err != nil {
		var te *TransitionError
		if errors.As(err, &te) {
			return Result{}, errClaimedElsewhere
		}
		return Result{}, fmt.Errorf("claiming entry %d: %w", e.ID, err)
	}
	// Read it back: its progress may have moved since the list was read.
	cur, runErr := x.Queue.Get(ctx, e.ID)
	if runErr == nil {
		e = cur
		runErr = x.rollout(ctx, e)
	}
	// Record the end even when ctx is done: the entry must not stay running.
	bg := context.WithoutCancel(ctx)
	var failure *rolloutError
	var wait *waitError
	if errors.As(runErr, &wait) {
		if err := x.Queue.park(bg, e, wait.state, wait.msg); err != nil {
			return Result{}, fmt.Errorf("entry %d: %s (and recording it: %w)", e.ID, wait.msg, err)
		}
		final, err := x.Queue.Get(bg, e.ID)
		if err != nil {
			return Result{}, err
		}
		return Result{Entry: final, Ran: true}, nil
	}
	if runErr != nil && !errors.As(runErr, &failure) {
		// Stopped, or the queue itself failed: the entry goes back to the
		// queue, its progress kept, and is retried later.
		why := "the executor failed: " + runErr.Error()
		if ctxErr := ctx.Err(); ctxErr != nil {
			why = "the executor was stopped (" + ctxErr.Error() + ")"
		}
		cur, err := x.Queue.Get(bg, e.ID)
		if err == nil {
			err = x.Queue.requeue(bg, cur, x.Queue.owner, why)
		}
		if err != nil {
			return Result{}, fmt.Errorf("%w (and returning entry %d to the queue: %v)", runErr, e.ID, err)
		}
		return Result{}, runErr
	}
	switch {
	case failure != nil:
		if err := x.Queue.finish(bg, e, Failed, failure.Error()); err != nil {
			return Result{}, fmt.Errorf("recording failure of entry %d: %w", e.ID, err)
		}
	default:
		if err := x.Queue.finish(bg, e, Done, ""); err != nil {
			return Result{}, fmt.Errorf("recording end of entry %d: %w", e.ID, err)
		}
	}
	x.Queue.removeStepFiles(e)
	final, err := x.Queue.Get(bg, e.ID)
	if err != nil {
		return Result{}, err
	}
	return Result{Entry: final, Ran: true}, nil
}

// rolloutError is a failed restart or health check: it fails the entry.
type rolloutError struct{ msg string }

// Error returns the failure as recorded in the entry.
func (e *rolloutError) Error() string { return e.msg }

// waitError ends a run with the entry waiting for an operator, in state.
type waitError struct {
	state State
	msg   string
}

// Error returns why the entry waits.
func (e *waitError) Error() string { return e.msg }

// rollout installs the entry's build, if it has one, then restarts the
// targets of the running entry e from e.Progress on (or leaves them to an
// operator, for a manual entry).
func (x *Executor) rollout(ctx context.Context, e Entry) error {
	if !e.Install.IsZero() && e.Progress == 0 {
		if x.Install == nil {
			return &rolloutError{"install: this executor cannot install builds"}
		}
		if err := x.Install(ctx, e); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			msg := "install: " + err.Error()
			x.event(ctx, e, "install", "failed", msg)
			return &rolloutError{msg}
		}
	}
	if e.Restart.Kind == ActionManual && len(e.Targets) > 0 {
		return &waitError{Manual, fmt.Sprintf("no restart action: restart %d target(s) by hand (%s), then run: compatgate queue done %d",
			len(e.Targets), targetList(e.Targets), e.ID)}
	}
	for i := e.Progress; i < len(e.Targets); i++ {
		t := e.Targets[i]
		where := fmt.Sprintf("target %d of %d (%s)", i+1, len(e.Targets), t)
		out, err := x.Queue.restartTarget(ctx, e, i)
		if err != nil {
			return err
		}
		note := ""
		if out.adopted {
			note = " (outcome adopted from the interrupted run that started it)"
		}
		if out.inDoubt {
			// Never run twice without an operator: the health check
			// decides whether the target is up.
			doubt := where + ": its restart was begun by a run that was killed, with its supervisor, before recording an outcome"
			if out.unchanged {
				msg := fmt.Sprintf("%s; the process that ran then still runs: check the target, then run 'compatgate queue approve %d' to restart it again (or cancel)", doubt, e.ID)
				x.event(ctx, e, "restart", "in-doubt", msg)
				return &waitError{Held, msg}
			}
			if e.Health.Command == "" {
				msg := fmt.Sprintf("%s; there is no health check to verify it: check the target, then run 'compatgate queue approve %d' to restart it again (or cancel)", doubt, e.ID)
				x.event(ctx, e, "restart", "in-doubt", msg)
				return &waitError{Held, msg}
			}
			if err := x.health(ctx, e, i); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				msg := fmt.Sprintf("%s; the health check fails (%v): check the target, then run 'compatgate queue approve %d' to restart it again (or cancel)", doubt, err, e.ID)
				x.event(ctx, e, "restart", "in-doubt", msg)
				return &waitError{Held, msg}
			}
			x.event(ctx, e, "restart", "verified", doubt+"; the health check passes: taken as restarted, not run again")
			if err := x.Queue.advance(ctx, e); err != nil {
				return err
			}
			e.Progress++
			continue
		}
		if out.status != 0 {
			msg := fmt.Sprintf("%s: restart failed (exit status %d)", where, out.status)
			if out.output != "" {
				msg += ": " + out.output
			}
			x.event(ctx, e, "restart", "failed", msg+note)
			return &rolloutError{msg}
		}
		x.event(ctx, e, "restart", "ok", where+note)
		if e.Health.Command != "" {
			if err := x.health(ctx, e, i); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				msg := fmt.Sprintf("%s: health check failed: %v", where, err)
				x.event(ctx, e, "health", "failed", msg)
				return &rolloutError{msg}
			}
			x.event(ctx, e, "health", "ok", where)
		}
		if err := x.Queue.advance(ctx, e); err != nil {
			return err
		}
		e.Progress++
	}
	return nil
}

// event records an action in the audit log; a failure to record is not
// allowed to hide the action's own outcome, so it is only logged.
func (x *Executor) event(ctx context.Context, e Entry, action, outcome, detail string) {
	err := x.Queue.Audit(context.WithoutCancel(ctx), Event{EntryID: e.ID, Library: e.Library, Action: action, Outcome: outcome, Detail: detail})
	if err != nil {
		log := x.Logger
		if log == nil {
			log = slog.Default()
		}
		log.Error("audit log write failed", "entry", e.ID, "action", action, "outcome", outcome, "err", err)
	}
}

// health runs the health command for target i, bounded by its timeout.
func (x *Executor) health(ctx context.Context, e Entry, i int) error {
	timeout := e.Health.Timeout
	if timeout == 0 {
		timeout = DefaultHealthTimeout
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(hctx, "/bin/sh", "-c", e.Health.Command)
	cmd.Env = append(os.Environ(), targetEnv(e, i)...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Kill the whole process group, so a health command's children do
	// not outlive its timeout.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if hctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		return fmt.Errorf("timed out after %v", timeout)
	}
	if err != nil {
		if o := tail(string(out), 400); o != "" {
			return fmt.Errorf("%w: %s", err, o)
		}
		return err
	}
	return nil
}
