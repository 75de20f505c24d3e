package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runsDir is the subdirectory of the state directory that holds the marker
// files of restarts in progress.
const runsDir = "runs"

// supervisorScript runs the restart action of one target. It inherits, as
// file descriptor 3, the marker file that compatgate locked before starting
// it, so the lock is held for exactly as long as the supervisor lives, even
// when compatgate itself is killed. It records durably (sync) in the marker
// that the action begins, before it does, and writes the action's exit
// status to the status file (atomically, by rename) after. The action runs
// with descriptor 3 closed, so a daemon it launches does not hold the lock.
const supervisorScript = `printf 'began %s %s %s\n' "$$" "${COMPATGATE_TARGET_PID:--}" "${COMPATGATE_TARGET_START:--}" >&3 && sync "$COMPATGATE_MARKER" 2>/dev/null
/bin/sh -c "$COMPATGATE_ACTION" 3>&- </dev/null >"$COMPATGATE_OUTPUT" 2>&1
rc=$?
printf '%s\n' "$rc" >"$COMPATGATE_STATUS.tmp" && mv -f "$COMPATGATE_STATUS.tmp" "$COMPATGATE_STATUS"
exit "$rc"
`

// signalScript is the action of a signal restart: signal the process, wait
// for it to exit (a zombie counts as exited), then relaunch.
const signalScript = `pid=$COMPATGATE_TARGET_PID
if [ -z "$pid" ]; then echo "no process ID for target $COMPATGATE_TARGET" >&2; exit 1; fi
alive() {
	kill -0 "$pid" 2>/dev/null || return 1
	st=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1)
	[ "$st" != Z ] && [ "$st" != X ]
}
if alive; then
	kill -s "$COMPATGATE_SIGNAL" "$pid" || exit 1
	n=0
	while alive; do
		if [ "$n" -ge "$COMPATGATE_STOP_TICKS" ]; then
			echo "process $pid still running $COMPATGATE_STOP_TIMEOUT after SIG$COMPATGATE_SIGNAL" >&2
			exit 1
		fi
		sleep 0.1
		n=$((n+1))
	done
fi
if [ -n "$COMPATGATE_RELAUNCH" ]; then exec /bin/sh -c "$COMPATGATE_RELAUNCH"; fi
`

// stepFiles are the marker, status and output files of one target's restart.
type stepFiles struct{ lock, status, output string }

// The files are named after the entry's ID and creation time, so that files
// left by another database in the same directory are never taken for this
// entry's.
func (q *Queue) stepFiles(e Entry, i int) stepFiles {
	base := filepath.Join(q.dir, runsDir, fmt.Sprintf("%d-%d-%d", e.ID, e.Created.UnixNano(), i))
	return stepFiles{lock: base + ".lock", status: base + ".status", output: base + ".out"}
}

// removeStepFiles deletes the marker files of a finished entry.
func (q *Queue) removeStepFiles(e Entry) {
	matches, _ := filepath.Glob(filepath.Join(q.dir, runsDir, fmt.Sprintf("%d-%d-*", e.ID, e.Created.UnixNano())))
	for _, m := range matches {
		os.Remove(m)
	}
}

// restartInProgress reports whether a supervisor started for one of e's
// targets still runs (holds its marker lock): the restart of an
// interrupted run that has not finished yet.
func (q *Queue) restartInProgress(e Entry) bool {
	for i := range e.Targets {
		f, err := os.Open(q.stepFiles(e, i).lock)
		if err != nil {
			continue
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return true
		}
	}
	return false
}

// stepOutcome is how one target's restart action ended.
type stepOutcome struct {
	status  int    // exit status of the action; -1 when unknown
	output  string // the tail of its output
	adopted bool   // the action was started by an earlier, interrupted run
	// inDoubt: an earlier run began the action and vanished, its
	// supervisor too, without a status. The action was not run again: it
	// may have restarted the target, or not, or only half.
	inDoubt bool
	// unchanged, for a restart in doubt: the target's process is the one
	// that ran when the restart began (same PID and start time), so the
	// restart did not happen.
	unchanged bool
}

// restartTarget runs the restart action of target i of the running entry e,
// at most once across crashes of compatgate: when an earlier run started the
// action, restartTarget waits for it (through the marker lock) and adopts its
// outcome; when that run's supervisor died too without recording one, it
// reports the restart in doubt and runs nothing (an operator decides: see
// Queue.Approve). When ctx is done it returns ctx.Err() at once and leaves
// the action running; a later run adopts it.
func (q *Queue) restartTarget(ctx context.Context, e Entry, i int) (stepOutcome, error) {
	files := q.stepFiles(e, i)
	f, err := os.OpenFile(files.lock, os.O_RDWR|os.O_CREATE|os.O_APPEND|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return stepOutcome{}, fmt.Errorf("opening restart marker: %w", err)
	}
	defer f.Close()
	if err := lockFile(ctx, f); err != nil {
		return stepOutcome{}, err
	}
	if out, ok, err := readOutcome(files); err != nil || ok {
		out.adopted = true
		return out, err
	}
	marker, err := os.ReadFile(files.lock)
	if err != nil {
		return stepOutcome{}, fmt.Errorf("reading restart marker: %w", err)
	}
	if bytes.HasPrefix(marker, []byte("began")) {
		return stepOutcome{status: -1, inDoubt: true, unchanged: sameProcess(e, i, string(marker))}, nil
	}
	if err := f.Truncate(0); err != nil {
		return stepOutcome{}, fmt.Errorf("resetting restart marker: %w", err)
	}

	action := e.Restart.Command
	env := append(os.Environ(), targetEnv(e, i)...)
	if e.Restart.Kind == ActionSignal {
		action = signalScript
		stop := e.Restart.StopTimeout
		if stop == 0 {
			stop = DefaultStopTimeout
		}
		env = append(env, "COMPATGATE_SIGNAL="+e.Restart.Signal,
			"COMPATGATE_RELAUNCH="+e.Restart.Command,
			"COMPATGATE_STOP_TIMEOUT="+stop.String(),
			"COMPATGATE_STOP_TICKS="+strconv.FormatInt(int64((stop+99*time.Millisecond)/(100*time.Millisecond)), 10))
	}
	env = append(env, "COMPATGATE_ACTION="+action, "COMPATGATE_STATUS="+files.status, "COMPATGATE_OUTPUT="+files.output,
		"COMPATGATE_MARKER="+files.lock)
	if pid := targetPID(e, i); pid > 0 {
		env = append(env, "COMPATGATE_TARGET_START="+strconv.FormatInt(startTime(pid), 10))
	}

	cmd := exec.Command("/bin/sh", "-c", supervisorScript)
	cmd.Env = env
	cmd.Dir = "/"
	cmd.ExtraFiles = []*os.File{f}
	// Its own process group: a terminal's ^C to compatgate does not cut a
	// restart in half.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return stepOutcome{}, fmt.Errorf("starting restart of %s: %w", e.Targets[i], err)
	}
	f.Close() // the supervisor holds the lock now
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-ctx.Done():
		return stepOutcome{}, ctx.Err()
	case <-done:
	}
	out, ok, err := readOutcome(files)
	if err != nil {
		return stepOutcome{}, err
	}
	if !ok {
		out = stepOutcome{status: -1, output: "the restart supervisor was killed before it recorded the outcome"}
	}
	return out, nil
}

// inDoubt returns the index of e's target whose restart was begun and
// never recorded an outcome, or -1.
func (q *Queue) inDoubt(e Entry) int {
	for i := e.Progress; i < len(e.Targets); i++ {
		files := q.stepFiles(e, i)
		if _, ok, _ := readOutcome(files); ok {
			continue
		}
		if b, err := os.ReadFile(files.lock); err == nil && bytes.HasPrefix(b, []byte("began")) {
			return i
		}
	}
	return -1
}

// confirmStep records the outcome of target i's restart as a success
// confirmed by who, for the next run to adopt.
func (q *Queue) confirmStep(e Entry, i int, who string) error {
	files := q.stepFiles(e, i)
	if err := os.WriteFile(files.output, []byte("confirmed restarted by "+who+"\n"), 0o600); err != nil {
		return err
	}
	tmp := files.status + ".tmp"
	if err := os.WriteFile(tmp, []byte("0\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, files.status)
}

// targetPID returns the process ID of target i of e, for pid and pidfile
// targets; 0 otherwise.
func targetPID(e Entry, i int) int {
	t := e.Targets[i]
	switch t.Kind {
	case TargetPID:
		pid, _ := strconv.Atoi(t.Value)
		return pid
	case TargetPIDFile:
		pid, _ := readPIDFile(t.Value)
		return pid
	}
	return 0
}

// sameProcess reports whether target i of e is still the process the
// marker ("began SUPERVISOR PID START") says ran when its restart began.
func sameProcess(e Entry, i int, marker string) bool {
	f := strings.Fields(marker)
	if len(f) < 4 {
		return false
	}
	pid, err := strconv.Atoi(f[2])
	if err != nil || pid <= 0 {
		return false
	}
	start, err := strconv.ParseInt(f[3], 10, 64)
	if err != nil || start < 0 {
		return false
	}
	return targetPID(e, i) == pid && startTime(pid) == start
}

// acknowledgeInDoubt removes the markers of e's restarts that were begun
// and never recorded an outcome, so that they run again: an operator
// approved it.
func (q *Queue) acknowledgeInDoubt(e Entry) {
	for i := range e.Targets {
		files := q.stepFiles(e, i)
		if _, ok, _ := readOutcome(files); !ok {
			os.Remove(files.lock)
		}
	}
}

// readOutcome reads the status and output files of a step, if the status
// file exists.
func readOutcome(files stepFiles) (stepOutcome, bool, error) {
	b, err := os.ReadFile(files.status)
	if errors.Is(err, fs.ErrNotExist) {
		return stepOutcome{}, false, nil
	}
	if err != nil {
		return stepOutcome{}, false, fmt.Errorf("reading restart status: %w", err)
	}
	status, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return stepOutcome{}, false, fmt.Errorf("reading restart status %s: bad content %q", files.status, b)
	}
	output, _ := os.ReadFile(files.output)
	return stepOutcome{status: status, output: tail(string(output), 400)}, true, nil
}

// lockFile takes an exclusive flock on f, polling so that ctx can stop the
// wait.
func lockFile(ctx context.Context, f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("locking %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// tail returns the last n bytes of s, trimmed, with "…" when cut.
func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return "…" + strings.TrimSpace(s[len(s)-n:])
}
