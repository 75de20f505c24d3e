//go:build linux && amd64

package inject

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// waitOne collects a pending event of th, without blocking. The exit of
// the thread-group leader is only observed, never reaped (see waitAny).
func (t *tracer) waitOne(th *thread) (bool, error) {
	if th.tid == t.pid {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, th.tid, &info, unix.WEXITED|unix.WSTOPPED|unix.WNOHANG|unix.WNOWAIT|unix.WALL|unix.WNOTHREAD, nil)
		if err == unix.ECHILD {
			delete(t.threads, th.tid)
			return true, nil
		}
		if err != nil && err != unix.EINTR {
			return false, fmt.Errorf("waiting for thread %d: %w", th.tid, err)
		}
		raw := (*[128]byte)(unsafe.Pointer(&info))
		spid := *(*int32)(unsafe.Pointer(&raw[16]))
		code := *(*int32)(unsafe.Pointer(&raw[8]))
		if spid == 0 || err != nil {
			return false, nil
		}
		if code == 1 || code == 2 || code == 3 {
			t.threads = map[int]*thread{} // the whole group is gone
			return true, nil
		}
	}
	var ws unix.WaitStatus
	wpid, err := unix.Wait4(th.tid, &ws, unix.WNOHANG|unix.WALL|unix.WNOTHREAD, nil)
	switch {
	case err == unix.ECHILD:
		delete(t.threads, th.tid)
		return true, nil
	case err == unix.EINTR:
		return false, nil
	case err != nil:
		return false, fmt.Errorf("waiting for thread %d: %w", th.tid, err)
	case wpid != th.tid:
		return false, nil
	}
	return true, t.event(th, ws)
}

// waitUntil collects stop and exit events of every thread until cond holds.
// Threads the engine wants running are resumed as soon as they stop (their
// signals passed through); new threads are adopted.
//
// Events are collected with one non-blocking waitid over all of this OS
// thread's tracees (__WNOTHREAD: never the tracees of another operation
// running in parallel, never a child of the program), whatever the number
// of threads. While nothing is pending the ptrace thread first spins,
// yielding its CPU, for spinFor (stops requested by PTRACE_INTERRUPT
// arrive within microseconds, and a sleeping tracer would add its timer
// slack to every thread's pause), then sleeps with a backoff up to 1ms. A
// blocking wait could not honour deadline.
func (t *tracer) waitUntil(deadline time.Time, cond func() bool) error {
	spinFor := 3 * time.Millisecond
	if t.quiet {
		spinFor = quietSpin
	}
	idleSince := time.Time{}
	pause := 20 * time.Microsecond
	for {
		got, err := t.waitAny()
		if err != nil {
			return err
		}
		if got {
			idleSince = time.Time{}
			pause = 20 * time.Microsecond
			if cond() {
				return nil
			}
			if len(t.threads) == 0 {
				return errGone
			}
			continue
		}
		if cond() {
			return nil
		}
		if len(t.threads) == 0 {
			return errGone
		}
		now := time.Now()
		if now.After(deadline) {
			if !t.alive() {
				return errGone
			}
			return errTimeout
		}
		if idleSince.IsZero() {
			idleSince = now
		}
		if now.Sub(idleSince) < spinFor {
			yieldCPU()
			continue
		}
		if t.quiet {
			// A precise sleep of this OS thread (its timer slack is
			// 1ns, see startPtraceThread), not of the goroutine, whose
			// wake-up would take two threads.
			ts := unix.NsecToTimespec(int64(pause))
			unix.Nanosleep(&ts, nil)
		} else {
			time.Sleep(pause)
		}
		if pause < time.Millisecond {
			pause *= 2
		}
	}
}

var errTimeout = errors.New("timed out waiting for the process")

// yieldCPU gives the calling thread's CPU to any thread waiting for it; the
// engine's spin loops call it while they wait. The engine also yields
// while it seizes the threads, just before it stops them and just after it
// released them all at once: a thread of the process woken on the engine's
// CPU otherwise waits until the engine blocks or the scheduler's tick, up
// to milliseconds, and starts its pause late already, or ends it late. (Not
// more often: on a CPU shared with threads that compute, each yield can
// cost the engine a time slice of each of them.)
func yieldCPU() {
	unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
}

// waitAny collects one pending event of any thread traced from this OS
// thread, without blocking; false when none is pending. The event is first
// looked at without being consumed (WNOWAIT): the exit of the thread-group
// leader, reported once the whole process is gone, is never reaped here,
// only observed, so that the process's parent (the tests start their
// targets) still gets its status.
func (t *tracer) waitAny() (bool, error) {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WSTOPPED|unix.WNOHANG|unix.WNOWAIT|unix.WALL|unix.WNOTHREAD, nil)
	if err == unix.ECHILD {
		if len(t.threads) > 0 && !t.alive() {
			t.threads = map[int]*thread{}
			return true, nil
		}
		return false, nil
	}
	if err == unix.EINTR {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("waiting for the process: %w", err)
	}
	raw := (*[128]byte)(unsafe.Pointer(&info))
	spid := int(*(*int32)(unsafe.Pointer(&raw[16])))
	code := *(*int32)(unsafe.Pointer(&raw[8]))
	if spid == 0 {
		return false, nil
	}
	exited := code == 1 || code == 2 || code == 3 // CLD_EXITED, CLD_KILLED, CLD_DUMPED
	if spid == t.pid && exited {
		// The leader is reported last, once the whole group is gone.
		t.threads = map[int]*thread{}
		return true, nil
	}
	var ws unix.WaitStatus
	wpid, err := unix.Wait4(spid, &ws, unix.WNOHANG|unix.WALL|unix.WNOTHREAD, nil)
	if err == unix.ECHILD {
		delete(t.threads, spid)
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("waiting for thread %d: %w", spid, err)
	}
	if wpid != spid {
		return false, nil
	}
	th := t.threads[spid]
	if th == nil {
		if ws.Exited() || ws.Signaled() {
			return true, nil
		}
		// A thread auto-attached at its creation whose parent's clone
		// event has not been collected yet.
		th = &thread{tid: spid, run: t.runNew}
		t.threads[spid] = th
		t.adopted = true
	}
	return true, t.event(th, ws)
}

// event updates th for wait status ws.
func (t *tracer) event(th *thread, ws unix.WaitStatus) error {
	if ws.Exited() || ws.Signaled() {
		delete(t.threads, th.tid)
		if th.tid == t.pid {
			// The leader is reported last, once the whole group is gone.
			t.threads = map[int]*thread{}
		}
		return nil
	}
	th.pending, th.regs = false, nil
	if !ws.Stopped() {
		return nil
	}
	th.stopped = true
	th.listening = false
	t.seq++
	th.seq = t.seq
	sig := int(ws.StopSignal())
	switch ev := int(ws>>16) & 0xff; ev {
	case unix.PTRACE_EVENT_CLONE:
		th.kind = stopClone
		msg, err := unix.PtraceGetEventMsg(th.tid)
		if err == nil {
			if _, ok := t.threads[int(msg)]; !ok {
				t.adopted = true
				t.threads[int(msg)] = &thread{tid: int(msg), run: t.runNew}
			}
		}
	case unix.PTRACE_EVENT_STOP:
		th.kind = stopEvent
		th.groupStop = isStopSignal(sig)
	case 0:
		th.kind, th.sig = stopSignal, sig
		if sig == sigSysGood {
			th.kind, th.sig = stopSyscall, 0
		}
	default:
		th.kind = stopEvent
	}
	if th.run {
		return t.resume(th)
	}
	return nil
}

// isStopSignal reports whether sig is one of the signals that stop the
// process (a PTRACE_EVENT_STOP with one of them is a group-stop; one caused
// by PTRACE_INTERRUPT carries SIGTRAP).
func isStopSignal(sig int) bool {
	switch unix.Signal(sig) {
	case unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
		return true
	}
	return false
}

// waitStopped waits until th stops (or exits: errGone).
func (t *tracer) waitStopped(th *thread, deadline time.Time) error {
	err := t.waitUntil(deadline, func() bool { return th.stopped || t.threads[th.tid] == nil })
	if err != nil {
		return err
	}
	if t.threads[th.tid] == nil {
		return fmt.Errorf("thread %d: %w", th.tid, errGone)
	}
	return nil
}

// interruptAndWait stops a running th.
func (t *tracer) interruptAndWait(th *thread, deadline time.Time) error {
	if th.stopped {
		return nil
	}
	if err := interrupt(th); err != nil {
		return err
	}
	return t.waitStopped(th, deadline)
}

// interrupt asks running thread th to stop (PTRACE_INTERRUPT), without
// waiting for it to.
func interrupt(th *thread) error {
	if err := ptrace(unix.PTRACE_INTERRUPT, th.tid, 0, 0); err != nil && err != unix.ESRCH {
		return fmt.Errorf("interrupting thread %d: %w", th.tid, err)
	}
	return nil
}
