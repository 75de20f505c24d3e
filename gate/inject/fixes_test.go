//go:build linux && amd64

package inject

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/compatgate/compatgate/internal/osthread"
)

// TestVersionedLibrary applies and reverts a library linked with a version
// script, as every real versioned library is: the version node's absolute
// symbol is not an exported variable.
func TestVersionedLibrary(t *testing.T) {
	script, err := filepath.Abs("testdata/libver.map")
	if err != nil {
		t.Fatal(err)
	}
	f := setupWith(t, "-Wl,--version-script="+script)
	testSingleThread(t, f)
}

// TestMainThreadExited upgrades a process whose main thread has exited
// (pthread_exit) while another thread calls the library: /proc/PID/maps
// and /proc/PID/mem of the zombie leader are empty, the process is not.
func TestMainThreadExited(t *testing.T) {
	f := setup(t)
	tg := startTarget(t, f, "mainexit")
	tg.expect("version 1")
	// Wait for the leader to be a zombie.
	for deadline := time.Now().Add(10 * time.Second); taskAlive(tg.pid(), tg.pid()); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the main thread did not exit")
		}
	}
	o := opts(t)
	ctx := context.Background()
	mustStatus(t, "apply", Apply(ctx, tg.pid(), f.v1, f.v2, o), StatusOK)
	tg.expect("version 2")
	if q := Query(tg.pid(), o); q.Status != StatusOK || len(q.Applied) != 1 || !q.Applied[0].Intact {
		t.Errorf("query after apply: %+v", q)
	}
	mustStatus(t, "revert", Revert(ctx, tg.pid(), f.v1, o), StatusOK)
	tg.expect("version 1")
}

// TestOtherTracer: a process traced by someone else (a debugger) is left
// alone, and the reason says so.
func TestOtherTracer(t *testing.T) {
	f := setup(t)
	tg := startTarget(t, f, "loop")
	tg.expect("version 1")
	seized, release := make(chan error, 1), make(chan struct{})
	// A tracer on a thread of its own, as gdb or strace would be.
	osthread.Go(func() {
		seized <- ptrace(unix.PTRACE_SEIZE, tg.pid(), 0, 0)
		<-release
	})
	if err := <-seized; err != nil {
		t.Fatal(err)
	}
	defer close(release)
	before := snapshot(t, tg.pid(), f)
	o := opts(t)
	for _, r := range []Result{Apply(context.Background(), tg.pid(), f.v1, f.v2, o), Revert(context.Background(), tg.pid(), f.v1, o)} {
		mustStatus(t, "operation", r, StatusBusy)
		if !strings.Contains(r.Reason, "another tracer holds the process") {
			t.Errorf("reason %q", r.Reason)
		}
	}
	if snapshot(t, tg.pid(), f) != before {
		t.Errorf("process changed")
	}
}

// TestOtherBuildNotSuccess: a process that maps another build of OLD's
// library is not a success (it is not "not_loaded").
func TestOtherBuildNotSuccess(t *testing.T) {
	f := setup(t)
	tg := startTarget(t, f, "loop")
	tg.expect("version 1")
	o := opts(t)
	for _, r := range []Result{Apply(context.Background(), tg.pid(), f.other, f.v2, o), Revert(context.Background(), tg.pid(), f.other, o)} {
		mustStatus(t, "operation", r, StatusRefused)
		if r.Status.Success() || !strings.Contains(r.Reason, "not OLD's build") {
			t.Errorf("status %s (%s) counts as a success or does not say why", r.Status, r.Reason)
		}
	}
}

// TestStateDirCleaned: journals of exited processes (or of an earlier
// process with a reused PID), their lock files and temporary files a
// crashed engine left are removed; the journal of a live process stays.
func TestStateDirCleaned(t *testing.T) {
	f := setup(t)
	tg := startTarget(t, f, "loop")
	tg.expect("version 1")
	o := opts(t)
	ctx := context.Background()
	mustStatus(t, "apply", Apply(ctx, tg.pid(), f.v1, f.v2, o), StatusOK)
	live, err := filepath.Glob(filepath.Join(o.StateDir, fmt.Sprintf("pid-%d-*.json", tg.pid())))
	if err != nil || len(live) != 1 {
		t.Fatalf("journal of the live process: %v %v", live, err)
	}
	gone := startTarget(t, f, "loop")
	gone.expect("version 1")
	gonePID := gone.pid()
	gone.cmd.Process.Kill()
	gone.cmd.Wait()
	start, _ := processStartTime(tg.pid())
	stale := []string{
		fmt.Sprintf("pid-%d-12345.json", gonePID),
		fmt.Sprintf("pid-%d.lock", gonePID),
		fmt.Sprintf("pid-%d-%d.json", tg.pid(), start+1), // a reused PID
		".journal-123456",
	}
	old := time.Now().Add(-time.Hour)
	for _, name := range stale {
		p := filepath.Join(o.StateDir, name)
		if err := os.WriteFile(p, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, old, old)
	}
	fresh := filepath.Join(o.StateDir, ".journal-fresh") // a concurrent save
	if err := os.WriteFile(fresh, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	mustStatus(t, "revert", Revert(ctx, tg.pid(), f.v1, o), StatusOK)
	mustStatus(t, "apply", Apply(ctx, tg.pid(), f.v1, f.v2, o), StatusOK)
	for _, name := range stale {
		if _, err := os.Stat(filepath.Join(o.StateDir, name)); err == nil {
			t.Errorf("%s was not removed", name)
		}
	}
	for _, p := range append(live, fresh) {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
}

// TestShortFunctionViaGOT: a function too short for a jump at its entry
// (ver_tiny in version 1: xor eax,eax; ret) is redirected through the
// GOT of the program that imports it, and restored by the revert. A
// function pointer taken before the apply still reaches OLD (README).
func TestShortFunctionViaGOT(t *testing.T) {
	f := setupWith(t, "-DTINY")
	tg := startTarget(t, f, "tiny")
	tg.expect("tiny 0 0")
	o := opts(t)
	ctx := context.Background()
	r := Apply(ctx, tg.pid(), f.v1, f.v2, o)
	mustStatus(t, "apply", r, StatusOK)
	if r.ViaGOT != 1 || r.GOTSlots < 1 {
		t.Errorf("apply: %d function(s) through %d GOT word(s), want 1 through at least 1", r.ViaGOT, r.GOTSlots)
	}
	tg.expect("tiny 1 0")
	if q := Query(tg.pid(), o); q.Status != StatusOK || len(q.Applied) != 1 || !q.Applied[0].Intact {
		t.Errorf("query after apply: %+v", q)
	}
	mustStatus(t, "revert", Revert(ctx, tg.pid(), f.v1, o), StatusOK)
	tg.expect("tiny 0 0")
	mustStatus(t, "re-apply", Apply(ctx, tg.pid(), f.v1, f.v2, o), StatusOK)
	tg.expect("tiny 1 0")
}

// TestRemoteSyscallTimeout: a remote system call is bounded by the call
// timeout (it was a fixed 5 s, too short for a thread waiting for a CPU at
// each stop on a loaded machine: TestCorpusPrograms failed with "mapping
// the landing page: timed out"), and one that times out leaves the thread
// stopped, so that the session restores it (the thread was left running,
// and the restore failed with "no such process"). A remote pause(2), which
// never returns by itself, stands for the slow call.
func TestRemoteSyscallTimeout(t *testing.T) {
	tg, _ := startHandoff(t)
	maps, err := readMaps(tg.pid())
	if err != nil {
		t.Fatal(err)
	}
	c, err := findLibc(tg.pid(), maps)
	if err != nil {
		t.Fatal(err)
	}
	p := startPtraceThread()
	defer p.stop()
	var paused, ended error
	err = p.do(func() error {
		tr, err := newTracer(tg.pid())
		if err != nil {
			return err
		}
		defer tr.release()
		tr.background(true)
		th, busy, err := tr.pickHijack(c, loaded{}, time.Minute)
		if err != nil || busy != "" {
			return fmt.Errorf("choosing a thread: %v %s", err, busy)
		}
		h, err := tr.startHijack(th, c, time.Minute)
		if err != nil {
			return err
		}
		h.timeout = 100 * time.Millisecond
		_, paused = h.syscall(unix.SYS_PAUSE)
		h.timeout = time.Minute
		if ended = h.end(); ended != nil {
			return nil
		}
		// Borrowed again at once.
		h, err = tr.startHijack(th, c, time.Minute)
		if err != nil {
			return err
		}
		if pid, err := h.syscall(unix.SYS_GETPID); err != nil || int(pid) != tg.pid() {
			return errors.Join(fmt.Errorf("getpid in the thread: %d, %v", pid, err), h.end())
		}
		return h.end()
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(paused, errTimeout) {
		t.Errorf("a remote pause with a 100ms timeout: %v, want a timeout", paused)
	}
	if ended != nil {
		t.Errorf("ending the session after the timeout: %v", ended)
	}
}
