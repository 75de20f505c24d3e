//go:build linux && amd64

package inject

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestDrain: in the drain model, a thread that never leaves OLD (spinning
// in it, or blocked in a system call it made) does not stop the apply:
// the others move to NEW at once, the result and status count the thread
// as draining, and the revert works the same way.
func TestDrain(t *testing.T) {
	f := setup(t)
	for _, mode := range []string{"forever", "block"} {
		t.Run(mode, func(t *testing.T) {
			tg := startTarget(t, f, mode)
			tg.expect("version 1")
			o := opts(t)
			o.Drain = true
			o.BusyTimeout = 300 * time.Millisecond
			ctx := context.Background()
			r := Apply(ctx, tg.pid(), f.v1, f.v2, o)
			mustStatus(t, "apply", r, StatusOK)
			// The thread calling ver_get in a loop may be inside OLD too,
			// and leaves it.
			if r.Draining < 1 || r.Undrained != 1 {
				t.Errorf("draining %d, undrained %d; want at least 1, and 1 (the thread never leaves OLD)", r.Draining, r.Undrained)
			}
			tg.expect("version 2")
			q := Query(tg.pid(), o)
			if len(q.Applied) != 1 || q.Applied[0].Draining != r.Draining || q.Applied[0].Undrained != 1 || q.Applied[0].DrainChecked.IsZero() {
				t.Errorf("status: %+v", q)
			}
			mustStatus(t, "revert", Revert(ctx, tg.pid(), f.v1, o), StatusOK)
			tg.expect("version 1")
		})
	}
}

// TestDrainUnderLoad applies and reverts, in the drain model, in a process
// whose threads call OLD at full speed: every cycle succeeds, and the
// threads caught inside OLD at the switch are seen to drain.
func TestDrainUnderLoad(t *testing.T) {
	f := setup(t)
	tg := startTarget(t, f, "threads", "24")
	o := opts(t)
	o.Drain = true
	ctx := context.Background()
	caught := 0
	for i := 0; i < 3; i++ {
		r := Apply(ctx, tg.pid(), f.v1, f.v2, o)
		mustStatus(t, fmt.Sprintf("apply %d", i), r, StatusOK)
		if r.Undrained != 0 {
			t.Errorf("apply %d: %d of %d thread(s) did not drain within %v", i, r.Undrained, r.Draining, o.BusyTimeout)
		}
		caught += r.Draining
		if got, want := tg.ask("report"), "vmin=2 vmax=2 sleeper=2 eintr=0 errors=0"; !strings.Contains(got, want) {
			t.Fatalf("after apply %d: %q, want %q", i, got, want)
		}
		mustStatus(t, fmt.Sprintf("revert %d", i), Revert(ctx, tg.pid(), f.v1, o), StatusOK)
		if got, want := tg.ask("report"), "vmin=1 vmax=1 sleeper=1 eintr=0 errors=0"; !strings.Contains(got, want) {
			t.Fatalf("after revert %d: %q, want %q", i, got, want)
		}
	}
	t.Logf("%d thread(s) caught inside OLD over 3 applies", caught)
}

// TestSettleRunsTheOthers: a thread found busy at the stop of the world
// may need another thread to run before it can leave (here it waits on a
// pipe that only another thread writes, once it reads a line the test
// sends with the world stopped). settle releases the world while it waits
// for the busy thread, instead of running the busy thread alone with the
// others stopped, so the thread leaves and the world is stopped again,
// consistent. The waiter's place in read is made the "bytes the upgrade
// replaces" (torn) of a pretend OLD, the C library's text.
func TestSettleRunsTheOthers(t *testing.T) {
	tg, waiter := startHandoff(t)
	var err error
	// Wait (generously) until the waiter blocks in read.
	var pt procThread
	for deadline := time.Now().Add(time.Minute); ; {
		if pt, err = readProcSyscall(tg.pid(), waiter); err == nil && !pt.running && pt.nr == unix.SYS_READ {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the waiter never blocked in read: %+v %v", pt, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	maps, err := readMaps(tg.pid())
	if err != nil {
		t.Fatal(err)
	}
	text, ok := findMapping(maps, pt.pc)
	if !ok {
		t.Fatalf("no mapping holds %#x", pt.pc)
	}
	old := loaded{maps: []mapping{text}}
	torn := newRanges([]addrRange{{pt.pc, pt.pc + 1}})
	p := startPtraceThread()
	defer p.stop()
	var (
		reason string
		rip    uint64
	)
	err = p.do(func() error {
		tr, err := newTracer(tg.pid())
		if err != nil {
			return err
		}
		defer tr.release()
		// The line reaches the poster only once it runs again.
		if err := tr.stopAll(time.Now().Add(time.Minute)); err != nil {
			return err
		}
		if _, err := io.WriteString(tg.stdin, "go\n"); err != nil {
			return err
		}
		if reason, _, err = tr.settle(nil, old, &torn, nil, time.Now().Add(time.Minute)); err != nil || reason != "" {
			return err
		}
		th := tr.threads[waiter]
		if th == nil || !th.stopped {
			return fmt.Errorf("the waiter is not stopped after settle")
		}
		r, err := tr.regsOf(th)
		if err != nil {
			return err
		}
		rip = r.Rip
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if reason != "" {
		t.Fatalf("settle: busy (%s); the waiter never left", reason)
	}
	if rip == pt.pc {
		t.Errorf("the world was stopped with the waiter still at %#x", rip)
	}
}

// TestUrgentWhileStopped: with the world stopped the ptrace thread runs in
// SCHED_FIFO (when permitted: as root), so that on a loaded machine it is
// neither preempted by the threads it releases nor left waiting for a time
// slice of every other runnable thread; it is an ordinary thread again
// once the process is released, and while the world is released to wait
// for a busy thread.
func TestUrgentWhileStopped(t *testing.T) {
	if err := ptraceAllowed(); err != nil {
		t.Skipf("ptrace is not permitted here: %v", err)
	}
	probe := startPtraceThread()
	permitted := probe.do(func() error {
		return unix.SchedSetAttr(0, &unix.SchedAttr{Policy: unix.SCHED_FIFO, Priority: 1}, 0)
	}) == nil
	probe.stop()
	if !permitted {
		t.Skip("SCHED_FIFO is not permitted here")
	}
	tg, _ := startHandoff(t)
	policy := func() uint32 {
		a, err := unix.SchedGetAttr(0, 0)
		if err != nil {
			return ^uint32(0)
		}
		return a.Policy
	}
	p := startPtraceThread()
	defer p.stop()
	var before, stopped, released, relaxed uint32
	err := p.do(func() error {
		tr, err := newTracer(tg.pid())
		if err != nil {
			return err
		}
		before = policy()
		if err := tr.stopAll(time.Now().Add(time.Minute)); err != nil {
			tr.release()
			return err
		}
		stopped = policy()
		if err := tr.detachOthers(nil, time.Now().Add(time.Minute)); err != nil {
			return err
		}
		relaxed = policy()
		if err := tr.stopAll(time.Now().Add(time.Minute)); err != nil {
			tr.release()
			return err
		}
		err = tr.detachAll()
		released = policy()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if before != unix.SCHED_NORMAL || stopped != unix.SCHED_FIFO || relaxed != unix.SCHED_NORMAL || released != unix.SCHED_NORMAL {
		t.Errorf("policy before %d, world stopped %d, released to wait %d, released %d; want %d, %d, %d, %d",
			before, stopped, relaxed, released, unix.SCHED_NORMAL, unix.SCHED_FIFO, unix.SCHED_NORMAL, unix.SCHED_NORMAL)
	}
}

// TestDrainSeesPastStaleReturns: a thread that called into OLD and left
// it, then blocked in a frame whose unwritten buffer still holds the
// return address OLD's call to read(2) pushed, is inside OLD for a scan of
// its stack; the drain watch walks its frames by their CFI and sees it
// out, while a thread really blocked inside OLD stays undrained.
func TestDrainSeesPastStaleReturns(t *testing.T) {
	f := setup(t)
	tg, tids := startStale(t, f)
	o := opts(t)
	o.Drain = true
	o.BusyTimeout = time.Second
	ctx := context.Background()
	r := Apply(ctx, tg.pid(), f.v1, f.v2, o)
	mustStatus(t, "apply", r, StatusOK)
	if r.Draining != 2 {
		t.Fatalf("draining %d at the switch, want 2: the stale return address is not where the test puts it", r.Draining)
	}
	if r.Undrained != 1 {
		t.Errorf("undrained %d, want 1: only thread %d is inside OLD (thread %d holds a stale return address)", r.Undrained, tids["inside"].tid, tids["stale"].tid)
	}
	if q := Query(tg.pid(), o); len(q.Applied) != 1 || q.Applied[0].Undrained != r.Undrained {
		t.Errorf("status: %+v", q)
	}
	mustStatus(t, "revert", Revert(ctx, tg.pid(), f.v1, o), StatusOK)
}

// startStale starts testdata/stale.c and waits (generously) until its
// threads block in read(2); it returns them by name: "stale", "inside"
// and "main".
func startStale(t *testing.T, f *fixture) (*target, map[string]procThread) {
	t.Helper()
	tg := startProgram(t, buildTarget(t, f, "testdata/stale.c").target)
	tids := readNamedTIDs(tg, 2)
	tids["main"] = tg.pid()
	return tg, waitBlockedInRead(t, tg.pid(), tids)
}

// readNamedTIDs reads n lines "NAME TID" from the output of tg and returns
// the thread ids by name.
func readNamedTIDs(tg *target, n int) map[string]int {
	tids := map[string]int{}
	for len(tids) < n {
		var name string
		var tid int
		if _, err := fmt.Sscanf(tg.expect(""), "%s %d", &name, &tid); err == nil {
			tids[name] = tid
		}
	}
	return tids
}

// waitBlockedInRead waits (generously) until the threads tids of process
// pid block in read(2), and returns them, by name, as /proc shows them.
func waitBlockedInRead(t *testing.T, pid int, tids map[string]int) map[string]procThread {
	t.Helper()
	blocked := map[string]procThread{}
	for name, tid := range tids {
		for deadline := time.Now().Add(time.Minute); ; {
			pt, err := readProcSyscall(pid, tid)
			if err == nil && !pt.running && pt.nr == unix.SYS_READ {
				blocked[name] = pt
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("thread %s (%d) never blocked in read", name, tid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return blocked
}
