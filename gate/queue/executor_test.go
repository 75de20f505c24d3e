package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lines returns the lines of the file at path (none if it does not exist).
func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(strings.ReplaceAll(string(b), " ", "|"))
}

// appendCmd is a restart command that appends "entry|target" to log.
func appendCmd(log string) string {
	return `printf '%s %s\n' "$COMPATGATE_ENTRY_ID" "$COMPATGATE_TARGET" >> ` + log
}

// actions returns "action:outcome" for each audit event of entry id.
func actions(t *testing.T, q *Queue, id int64) []string {
	t.Helper()
	evs, err := q.AuditLog(context.Background(), AuditFilter{EntryID: id})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Action+":"+ev.Outcome)
	}
	return out
}

func TestRolloutCommandTargetsInOrder(t *testing.T) {
	ctx := context.Background()
	q := openTemp(t)
	log := filepath.Join(t.TempDir(), "log")
	e := sample(appendCmd(log), Target{TargetUnit, "a.service"}, Target{TargetPID, "7"}, Target{TargetCommand, "demo"})
	e.Health = Health{Command: `test "$COMPATGATE_TARGET_KIND" != "" && echo health "$COMPATGATE_TARGET_INDEX" >> ` + log}
	id, err := q.Enqueue(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	x := &Executor{Queue: q}
	res, err := x.RunDue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || !res[0].Ran || res[0].Entry.State != Done || res[0].Entry.Progress != 3 || res[0].Entry.Attempts != 1 {
		t.Fatalf("results: %+v", res)
	}
	want := []string{"1|unit=a.service", "health|0", "1|pid=7", "health|1", "1|command=demo", "health|2"}
	if got := lines(t, log); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("executions:\n got %v\nwant %v", got, want)
	}
	wantAudit := "enqueue:queued,claim:running,restart:ok,health:ok,restart:ok,health:ok,restart:ok,health:ok,finish:done"
	if got := strings.Join(actions(t, q, id), ","); got != wantAudit {
		t.Errorf("audit:\n got %s\nwant %s", got, wantAudit)
	}
	if m, _ := filepath.Glob(filepath.Join(q.Dir(), runsDir, "*")); len(m) != 0 {
		t.Errorf("marker files left behind: %v", m)
	}
	// Nothing is left to run.
	if res, err := x.RunDue(ctx); err != nil || len(res) != 0 {
		t.Errorf("second run: %v, %v", res, err)
	}
}

func TestRolloutStopsAtFirstFailure(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	tests := []struct {
		name      string
		restart   string
		health    Health
		wantLines int
		wantErr   string
	}{
		{"restart fails on target 2", appendCmd(log) + `; if [ "$COMPATGATE_TARGET_INDEX" = 1 ]; then echo unit failed to start >&2; exit 3; fi`,
			Health{}, 2, "target 2 of 3 (pid=2): restart failed (exit status 3): unit failed to start"},
		{"health fails on target 1", appendCmd(log), Health{Command: "echo not listening; exit 1"},
			1, "target 1 of 3 (pid=1): health check failed: exit status 1: not listening"},
		{"health times out", appendCmd(log), Health{Command: "sleep 30", Timeout: 200 * time.Millisecond},
			1, "target 1 of 3 (pid=1): health check failed: timed out after 200ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			os.Remove(log)
			q := openTemp(t)
			e := sample(tt.restart, Target{TargetPID, "1"}, Target{TargetPID, "2"}, Target{TargetPID, "3"})
			e.Health = tt.health
			id, err := q.Enqueue(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			res, err := (&Executor{Queue: q}).RunEntry(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("the rollout took %v", time.Since(start))
			}
			got := res.Entry
			if got.State != Failed || got.LastError != tt.wantErr || got.Finished.IsZero() {
				t.Errorf("entry: state %s, error %q\nwant failed, %q", got.State, got.LastError, tt.wantErr)
			}
			if n := len(lines(t, log)); n != tt.wantLines {
				t.Errorf("%d targets restarted, want %d (the rest untouched)", n, tt.wantLines)
			}
			acts := actions(t, q, id)
			if acts[len(acts)-1] != "finish:failed" {
				t.Errorf("audit: %v", acts)
			}
		})
	}
}

func TestWindowsGateExecution(t *testing.T) {
	ctx := context.Background()
	q := openTemp(t)
	log := filepath.Join(t.TempDir(), "log")
	e := sample(appendCmd(log))
	e.Window = Spec{Cron: "0 2 * * *", Duration: time.Hour}
	id, err := q.Enqueue(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	noon := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	x := &Executor{Queue: q, Now: func() time.Time { return noon }, Location: time.UTC}
	res, err := x.RunDue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Ran || res[0].Entry.State != Queued || !res[0].NextWindow.Equal(time.Date(2026, 6, 11, 2, 0, 0, 0, time.UTC)) {
		t.Fatalf("outside the window: %+v", res)
	}
	if len(lines(t, log)) != 0 {
		t.Fatal("ran outside its window")
	}
	x.Now = func() time.Time { return time.Date(2026, 6, 11, 2, 30, 0, 0, time.UTC) }
	if res, err := x.RunDue(ctx); err != nil || len(res) != 1 || !res[0].Ran {
		t.Fatalf("inside the window: %+v, %v", res, err)
	}
	// --now ignores the window.
	id2, _ := q.Enqueue(ctx, e)
	x = &Executor{Queue: q, Now: func() time.Time { return noon }, Location: time.UTC, IgnoreWindows: true}
	if res, err := x.RunEntry(ctx, id2); err != nil || res.Entry.State != Done {
		t.Fatalf("--now: %+v, %v", res, err)
	}
	if got := lines(t, log); len(got) != 2 || got[0] != strconv.FormatInt(id, 10)+"|unit=demo.service" {
		t.Errorf("executions: %v", got)
	}
}

// startDaemon starts a shell daemon that logs "stopped PID" to log on
// SIGTERM, or ignores SIGTERM when stubborn; it is reaped in the
// background. It returns the PID.
func startDaemon(t *testing.T, log string, stubborn bool) int {
	t.Helper()
	script := `trap 'echo stopped $$ >> "$LOG"; exit 0' TERM; while :; do sleep 0.05; done`
	if stubborn {
		script = `trap '' TERM; while :; do sleep 0.05; done`
	}
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = append(os.Environ(), "LOG="+log)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	go cmd.Wait()
	t.Cleanup(func() { syscall.Kill(-pid, syscall.SIGKILL) })
	return pid
}

func TestSignalRestartRelaunches(t *testing.T) {
	ctx := context.Background()
	q := openTemp(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	pidfile := filepath.Join(dir, "daemon.pid")
	oldPID := startDaemon(t, log, false)
	if err := writeFile(pidfile, strconv.Itoa(oldPID)+"\n"); err != nil {
		t.Fatal(err)
	}
	// The relaunch starts a new daemon in its own session and rewrites the
	// PID file, as an init script would.
	relaunch := `setsid /bin/sh -c 'trap "exit 0" TERM; while :; do sleep 0.05; done' </dev/null >/dev/null 2>&1 & echo $! > ` + pidfile
	e := sample(relaunch, Target{TargetPIDFile, pidfile})
	e.Restart = Action{Kind: ActionSignal, Signal: "TERM", Command: relaunch, StopTimeout: 5 * time.Second}
	e.Health = Health{Command: `kill -0 "$(cat ` + pidfile + `)"`}
	id, err := q.Enqueue(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&Executor{Queue: q}).RunEntry(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(pidfile)
	newPID, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	t.Cleanup(func() { syscall.Kill(newPID, syscall.SIGKILL) })
	if res.Entry.State != Done {
		t.Fatalf("entry %s: %s", res.Entry.State, res.Entry.LastError)
	}
	if got := lines(t, log); len(got) != 1 || got[0] != "stopped|"+strconv.Itoa(oldPID) {
		t.Errorf("old daemon's log: %v", got)
	}
	if newPID == oldPID || newPID <= 0 || syscall.Kill(newPID, 0) != nil {
		t.Errorf("no new daemon: old PID %d, new %d", oldPID, newPID)
	}
}

func TestSignalRestartTimesOut(t *testing.T) {
	ctx := context.Background()
	q := openTemp(t)
	log := filepath.Join(t.TempDir(), "log")
	pid := startDaemon(t, log, true)
	e := sample("", Target{TargetPID, strconv.Itoa(pid)})
	e.Restart = Action{Kind: ActionSignal, Signal: "TERM", Command: "echo relaunched >> " + log, StopTimeout: 300 * time.Millisecond}
	id, _ := q.Enqueue(ctx, e)
	res, err := (&Executor{Queue: q}).RunEntry(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := "process " + strconv.Itoa(pid) + " still running 300ms after SIGTERM"
	if res.Entry.State != Failed || !strings.Contains(res.Entry.LastError, want) {
		t.Errorf("entry %s: %q, want failed with %q", res.Entry.State, res.Entry.LastError, want)
	}
	if len(lines(t, log)) != 0 {
		t.Error("relaunched although the old process did not stop")
	}
}

func TestCancelledRunIsAdoptedNotRepeated(t *testing.T) {
	q := openTemp(t)
	log := filepath.Join(t.TempDir(), "log")
	id, err := q.Enqueue(context.Background(), sample("sleep 0.5; "+appendCmd(log)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = (&Executor{Queue: q}).RunDue(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 400*time.Millisecond {
		t.Fatalf("RunDue returned %v after %v, want the context's error at once", err, time.Since(start))
	}
	e, _ := q.Get(context.Background(), id)
	if e.State != Queued || e.Interruptions != 1 || e.Attempts != 1 {
		t.Fatalf("after cancel: %+v", e)
	}
	// The restart goes on: it cannot be cancelled now, and the next run
	// waits for it and adopts its outcome.
	if err := q.Cancel(context.Background(), id, ""); err == nil || !strings.Contains(err.Error(), "still in progress") {
		t.Errorf("Cancel during an orphaned restart: %v", err)
	}
	res, err := (&Executor{Queue: q}).RunDue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Entry.State != Done || res[0].Entry.Attempts != 2 {
		t.Fatalf("retry: %+v", res)
	}
	if n := len(lines(t, log)); n != 1 {
		t.Errorf("restart executed %d times, want 1", n)
	}
	evs, _ := q.AuditLog(context.Background(), AuditFilter{EntryID: id})
	var adopted bool
	for _, ev := range evs {
		adopted = adopted || (ev.Action == "restart" && strings.Contains(ev.Detail, "adopted"))
	}
	if !adopted {
		t.Errorf("audit does not show the adopted outcome: %v", actions(t, q, id))
	}
}

func TestConcurrentExecutorsRunEachEntryOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	log := filepath.Join(t.TempDir(), "log")
	var qs [3]*Queue
	for i := range qs {
		q, err := Open(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		qs[i] = q
	}
	const n = 12
	for range n {
		if _, err := qs[0].Enqueue(ctx, sample(appendCmd(log)+"; sleep 0.01")); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for _, q := range qs {
		wg.Go(func() {
			if _, err := (&Executor{Queue: q}).RunDue(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got := lines(t, log)
	seen := map[string]bool{}
	for _, l := range got {
		if seen[l] {
			t.Errorf("executed twice: %s", l)
		}
		seen[l] = true
	}
	if len(seen) != n {
		t.Errorf("%d entries executed, want %d", len(seen), n)
	}
	done, _ := qs[1].List(ctx, Filter{States: []State{Done}})
	if len(done) != n {
		t.Errorf("%d entries done, want %d", len(done), n)
	}
}

// A restart begun by a run that was killed with its supervisor (as
// systemd's KillMode=control-group does) left a marker but no status: the
// restart is in doubt. It is never run again without an operator: the
// entry is held until approved, and only then restarted once.
func TestRestartInDoubtIsHeldUntilApproved(t *testing.T) {
	ctx := context.Background()
	q := openTemp(t)
	log := filepath.Join(t.TempDir(), "log")
	id, _ := q.Enqueue(ctx, sample(appendCmd(log)))
	e, _ := q.Get(ctx, id)
	if err := writeFile(q.stepFiles(e, 0).lock, "began 2026-01-01T00:00:00Z\n"); err != nil {
		t.Fatal(err)
	}
	x := &Executor{Queue: q}
	for range 3 { // however often it is asked
		res, err := x.RunDue(ctx)
		if err != nil {
			t.Fatalf("%+v, %v", res, err)
		}
	}
	e, _ = q.Get(ctx, id)
	if e.State != Held || !strings.Contains(e.LastError, "no health check to verify it") {
		t.Fatalf("entry %s: %q", e.State, e.LastError)
	}
	if n := len(lines(t, log)); n != 0 {
		t.Fatalf("%d restarts, want none without an operator", n)
	}
	if err := q.Approve(WithActor(ctx, "cli:alice"), id, "checked the service"); err != nil {
		t.Fatal(err)
	}
	res, err := x.RunEntry(ctx, id)
	if err != nil || res.Entry.State != Done || res.Entry.ApprovedBy != "cli:alice" {
		t.Fatalf("%+v, %v", res.Entry, err)
	}
	if n := len(lines(t, log)); n != 1 {
		t.Errorf("%d restarts, want 1", n)
	}
	evs, _ := q.AuditLog(ctx, AuditFilter{EntryID: id})
	var approved bool
	for _, ev := range evs {
		approved = approved || (ev.Action == "approve" && ev.Actor == "cli:alice" && strings.Contains(ev.Detail, "checked the service"))
	}
	if !approved {
		t.Errorf("no approval by cli:alice in the audit log: %v", actions(t, q, id))
	}
}

// A restart in doubt of a process that still runs — the same PID and start
// time as when the restart began — did not happen: held, even when the
// health check passes.
func TestRestartInDoubtOfAnUnchangedProcess(t *testing.T) {
	ctx := context.Background()
	q := openTemp(t)
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	pid := sleep.Process.Pid
	log := filepath.Join(t.TempDir(), "log")
	en := sample(appendCmd(log), Target{TargetPID, strconv.Itoa(pid)})
	en.Health = Health{Command: "true"}
	id, _ := q.Enqueue(ctx, en)
	e, _ := q.Get(ctx, id)
	if err := writeFile(q.stepFiles(e, 0).lock, fmt.Sprintf("began 1 %d %d\n", pid, startTime(pid))); err != nil {
		t.Fatal(err)
	}
	res, err := (&Executor{Queue: q}).RunEntry(ctx, id)
	if err != nil || res.Entry.State != Held || !strings.Contains(res.Entry.LastError, "still runs") {
		t.Fatalf("%+v %v", res.Entry, err)
	}
	if n := len(lines(t, log)); n != 0 {
		t.Errorf("%d restarts, want none", n)
	}
}

// An operator who checked that a restart in doubt did happen confirms it:
// it is not run again, and the rollout goes on.
func TestRestartInDoubtConfirmed(t *testing.T) {
	ctx := context.Background()
	q := openTemp(t)
	log := filepath.Join(t.TempDir(), "log")
	id, _ := q.Enqueue(ctx, sample(appendCmd(log), Target{TargetCommand, "a"}, Target{TargetCommand, "b"}))
	e, _ := q.Get(ctx, id)
	if err := q.ConfirmRestarted(ctx, id, ""); err == nil {
		t.Error("confirmed a queued entry")
	}
	if err := writeFile(q.stepFiles(e, 0).lock, "began\n"); err != nil {
		t.Fatal(err)
	}
	x := &Executor{Queue: q}
	if res, err := x.RunEntry(ctx, id); err != nil || res.Entry.State != Held {
		t.Fatalf("%+v %v", res.Entry, err)
	}
	if err := q.ConfirmRestarted(WithActor(ctx, "cli:dave"), id, "service is up"); err != nil {
		t.Fatal(err)
	}
	res, err := x.RunEntry(ctx, id)
	if err != nil || res.Entry.State != Done {
		t.Fatalf("%+v %v", res.Entry, err)
	}
	if got := lines(t, log); len(got) != 1 || !strings.HasSuffix(got[0], "command=b") {
		t.Errorf("restarts %v, want only target b's", got)
	}
}

// A restart in doubt whose health check passes is taken as done, not run
// again; one whose check fails is held.
func TestRestartInDoubtVerifiedByHealthCheck(t *testing.T) {
	for _, tc := range []struct {
		health string
		want   State
	}{{"true", Done}, {"exit 3", Held}} {
		ctx := context.Background()
		q := openTemp(t)
		log := filepath.Join(t.TempDir(), "log")
		en := sample(appendCmd(log))
		en.Health = Health{Command: tc.health}
		id, _ := q.Enqueue(ctx, en)
		e, _ := q.Get(ctx, id)
		if err := writeFile(q.stepFiles(e, 0).lock, "began\n"); err != nil {
			t.Fatal(err)
		}
		res, err := (&Executor{Queue: q}).RunEntry(ctx, id)
		if err != nil || res.Entry.State != tc.want {
			t.Fatalf("health %q: %+v, %v", tc.health, res.Entry, err)
		}
		if n := len(lines(t, log)); n != 0 {
			t.Errorf("health %q: %d restarts, want none", tc.health, n)
		}
	}
}

// An entry without a restart action waits in state manual for an operator,
// who closes it with MarkDone; the executor never runs it.
func TestManualEntry(t *testing.T) {
	ctx := context.Background()
	q := openTemp(t)
	en := sample("")
	en.Restart = Action{Kind: ActionManual}
	id, err := q.Enqueue(ctx, en)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := q.Get(ctx, id); e.State != Manual {
		t.Fatalf("state %s, want manual", e.State)
	}
	if res, err := (&Executor{Queue: q, IgnoreWindows: true}).RunDue(ctx); err != nil || len(res) != 0 {
		t.Fatalf("run: %+v %v", res, err)
	}
	if err := q.MarkDone(WithActor(ctx, "cli:bob"), id, "restarted at 3am"); err != nil {
		t.Fatal(err)
	}
	e, _ := q.Get(ctx, id)
	if e.State != Done || e.Progress != 1 {
		t.Fatalf("after done: %+v", e)
	}
	if err := q.MarkDone(ctx, id, ""); err == nil {
		t.Error("closed a done entry twice")
	}
	if got := actions(t, q, id); strings.Join(got, " ") != "enqueue:manual done:done" {
		t.Errorf("audit: %v", got)
	}
}

// A held entry with a build to install runs nothing until approved; then
// the executor installs the build before the first restart, and a manual
// one waits for the operator after installing.
func TestHeldInstallRunsOnlyOnceApproved(t *testing.T) {
	for _, manual := range []bool{false, true} {
		ctx := context.Background()
		q := openTemp(t)
		log := filepath.Join(t.TempDir(), "log")
		en := sample(appendCmd(log))
		if manual {
			en.Restart = Action{Kind: ActionManual}
		}
		en.State = Held
		en.Install = Install{From: "/var/lib/x/new.so", SHA256: strings.Repeat("ab", 32), Version: "2.0"}
		en.Findings = "break symbol-removed: lib_extra"
		id, err := q.Enqueue(ctx, en)
		if err != nil {
			t.Fatal(err)
		}
		var installed []string
		x := &Executor{Queue: q, IgnoreWindows: true, Install: func(_ context.Context, e Entry) error {
			installed = append(installed, e.Install.From)
			if n := len(lines(t, log)); n != 0 {
				t.Errorf("installing after %d restart(s)", n)
			}
			return nil
		}}
		if res, err := x.RunDue(ctx); err != nil || len(res) != 0 || len(installed) != 0 {
			t.Fatalf("a held entry ran: %+v %v %v", res, err, installed)
		}
		if err := q.Approve(WithActor(ctx, "cli:carol"), id, ""); err != nil {
			t.Fatal(err)
		}
		res, err := x.RunEntry(ctx, id)
		want := Done
		if manual {
			want = Manual
		}
		if err != nil || res.Entry.State != want || len(installed) != 1 {
			t.Fatalf("manual %v: %+v %v %v", manual, res.Entry, err, installed)
		}
		if got := res.Entry; got.Findings != en.Findings || got.Install != en.Install || got.ApprovedBy != "cli:carol" || got.Approved.IsZero() {
			t.Errorf("entry read back: %+v", got)
		}
		if n := len(lines(t, log)); (n == 1) == manual {
			t.Errorf("manual %v: %d restarts", manual, n)
		}
	}
}

func TestKilledSupervisorFailsTheEntry(t *testing.T) {
	ctx := context.Background()
	q := openTemp(t)
	// The action's parent is its supervisor.
	id, _ := q.Enqueue(ctx, sample(`kill -KILL "$PPID"; sleep 1`, Target{TargetPID, "1"}, Target{TargetPID, "2"}))
	res, err := (&Executor{Queue: q}).RunEntry(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if res.Entry.State != Failed || !strings.Contains(res.Entry.LastError, "target 1 of 2 (pid=1): restart failed (exit status -1): the restart supervisor was killed") {
		t.Errorf("entry %s: %q", res.Entry.State, res.Entry.LastError)
	}
}
