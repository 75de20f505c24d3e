//go:build linux && amd64

package inject

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Modes of dlopen.
const (
	rtldNow   = 0x2
	rtldLocal = 0x0
)

// stopOneTimeout bounds how long stopping one thread alone may take, the
// others running: longer than defaultStopTimeout, since only that thread
// waits (on a loaded machine a thread among a hundred busy ones may take
// seconds to be scheduled and stop).
const stopOneTimeout = 30 * time.Second

// safeSyscalls are blocking system calls in which glibc holds no loader or
// allocator lock, so a thread stopped in one may run dlopen.
var safeSyscalls = map[uint64]bool{
	unix.SYS_READ: true, unix.SYS_NANOSLEEP: true, unix.SYS_CLOCK_NANOSLEEP: true,
	unix.SYS_POLL: true, unix.SYS_PPOLL: true, unix.SYS_SELECT: true, unix.SYS_PSELECT6: true,
	unix.SYS_EPOLL_WAIT: true, unix.SYS_EPOLL_PWAIT: true, unix.SYS_ACCEPT: true,
	unix.SYS_ACCEPT4: true, unix.SYS_RECVFROM: true, unix.SYS_RECVMSG: true,
	unix.SYS_WAIT4: true, unix.SYS_PAUSE: true, unix.SYS_RT_SIGSUSPEND: true,
	unix.SYS_RT_SIGTIMEDWAIT: true,
}

const errRestartBlock = -516 // -ERESTART_RESTARTBLOCK

// procThread is what /proc/PID/task/TID/syscall tells of a thread without
// stopping it: running, or blocked (in system call nr, or -1 when blocked
// outside one) with its stack and instruction pointers.
type procThread struct {
	tid     int
	running bool
	nr      int64
	sp, pc  uint64
}

// inSyscall reports whether the thread was blocked in a system call.
func (pt procThread) inSyscall() bool { return !pt.running && pt.nr >= 0 }

// readProcSyscall reads /proc/PID/task/TID/syscall.
func readProcSyscall(pid, tid int) (procThread, error) {
	pt := procThread{tid: tid}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/syscall", pid, tid))
	if err != nil {
		return pt, fmt.Errorf("reading the system call of thread %d: %w", tid, err)
	}
	f := strings.Fields(string(data))
	if len(f) == 1 && f[0] == "running" {
		pt.running = true
		return pt, nil
	}
	if len(f) != 9 && len(f) != 3 {
		return pt, fmt.Errorf("thread %d: malformed syscall file %q", tid, data)
	}
	if pt.nr, err = strconv.ParseInt(f[0], 10, 64); err != nil {
		return pt, fmt.Errorf("thread %d: malformed syscall file %q", tid, data)
	}
	sp, err1 := strconv.ParseUint(strings.TrimPrefix(f[len(f)-2], "0x"), 16, 64)
	pc, err2 := strconv.ParseUint(strings.TrimPrefix(f[len(f)-1], "0x"), 16, 64)
	if err1 != nil || err2 != nil {
		return pt, fmt.Errorf("thread %d: malformed syscall file %q", tid, data)
	}
	pt.sp, pt.pc = sp, pc
	return pt, nil
}

// hijackScore rates a stopped thread with registers r for running dlopen:
// 0 for one running its own code outside libc and the dynamic linker, 1 for
// one blocked in a harmless system call, 2 for one whose call restarts
// through restart_syscall, 100 for one that must not be used.
func hijackScore(c libc, r *unix.PtraceRegs) int {
	switch inSys := int64(r.Orig_rax) >= 0; {
	case !inSys && !c.unsafeRIP(r.Rip):
		return 0
	case inSys && safeSyscalls[r.Orig_rax]:
		if int64(r.Rax) == errRestartBlock {
			return 2
		}
		return 1
	}
	return 100
}

// survey looks at every thread while the process runs, without stopping
// the world, before NEW is loaded: a thread blocked in a system call is
// read through /proc (its stack, from the stack pointer the kernel
// reports); a running thread is stopped alone for a moment. It returns
// the reason the process is busy (a thread with OLD code on its stack: a
// cheap early answer, so that a busy process is not made to load NEW; the
// authoritative check is made with the world stopped), and the thread to
// run dlopen in, found as chooseHijack would among stopped threads, left
// stopped; nil, and why, when none is fit.
//
// A busy or unfit thread is looked at again, alone, while budget lasts, so
// that threads calling OLD all the time are each caught once outside it.
func (t *tracer) survey(c libc, old loaded, budget time.Duration) (best *thread, busy, why string, err error) {
	deadline := time.Now().Add(budget)
	backoff := 100 * time.Microsecond
	pending := map[int]bool{} // threads to look at (again)
	tids, err := listTasks(t.pid)
	if err != nil {
		return nil, "", "", t.goneOr(err)
	}
	for _, tid := range tids {
		pending[tid] = true
	}
	type cand struct {
		tid   int
		score int
	}
	var blocked []cand
	for {
		if !t.alive() {
			return nil, "", "", errGone
		}
		maps, err := readMaps(t.pid)
		if err != nil {
			return nil, "", "", t.goneOr(err)
		}
		s := newScanner(t, old, maps)
		ls := &lockScan{t: t, c: c, maps: maps, rets: map[uint64]bool{}}
		busy = ""
		order := make([]int, 0, len(pending))
		for tid := range pending {
			order = append(order, tid)
		}
		sort.Ints(order)
		for _, tid := range order {
			pt, err := readProcSyscall(t.pid, tid)
			if err != nil {
				delete(pending, tid) // exited
				continue
			}
			var r unix.PtraceRegs
			var th *thread
			if pt.running {
				if th, err = t.stopOne(tid); err != nil {
					return nil, "", "", err
				}
				if th == nil {
					delete(pending, tid)
					continue
				}
				if err := unix.PtraceGetRegs(tid, &r); err != nil {
					return nil, "", "", t.goneOr(fmt.Errorf("reading registers of thread %d: %w", tid, err))
				}
			} else {
				r.Rip, r.Rsp, r.Orig_rax = pt.pc, pt.sp, uint64(pt.nr)
			}
			res, err := s.scanAt(tid, r.Rip, r.Rsp)
			if err != nil && th == nil {
				// A blocked thread woke and moved meanwhile: look again.
				continue
			}
			if err != nil {
				return nil, "", "", err
			}
			if res.busy && !taskAlive(t.pid, tid) {
				// Exiting (its memory may be gone already).
				if th != nil {
					t.detachOne(th)
				}
				delete(pending, tid)
				continue
			}
			if res.busy {
				if busy == "" {
					busy = res.reason
				}
				stopped := th == nil && groupStopped(t.pid, tid)
				if th != nil {
					stopped = th.groupStop && th.kind == stopEvent
					if err := t.detachOne(th); err != nil {
						return nil, "", "", err
					}
				}
				if stopped {
					// Stopped by its owner (SIGSTOP): the engine does not
					// run it, so it will not leave OLD within the budget.
					if best != nil {
						if err := t.detachOne(best); err != nil {
							return nil, "", "", err
						}
					}
					return nil, res.reason + stoppedNote, "", nil
				}
				continue
			}
			delete(pending, tid)
			if th == nil {
				if score := hijackScore(c, &r); score < 100 {
					if int64(r.Orig_rax) == unix.SYS_NANOSLEEP || int64(r.Orig_rax) == unix.SYS_CLOCK_NANOSLEEP {
						score = 2 // most likely through restart_syscall
					}
					blocked = append(blocked, cand{tid, score})
				} else if pt.nr == -1 {
					// Blocked outside a system call (a group-stop): it may
					// be about to restart one (see restarting); look at its
					// registers.
					blocked = append(blocked, cand{tid, 3})
					why = fmt.Sprintf("thread %d is inside the C library or the dynamic linker, not in a restartable wait", tid)
				} else {
					why = fmt.Sprintf("thread %d is inside the C library or the dynamic linker, not in a restartable wait", tid)
				}
				continue
			}
			keep := false
			if best == nil && th.kind == stopEvent {
				if hijackScore(c, &r) == 0 {
					reason, err := ls.holder(tid, &r)
					if err != nil {
						return nil, "", "", err
					}
					if reason == "" && len(old.maps) == 0 {
						// Nothing to watch for (the drain model, or a
						// revert's clean-up): the first fit thread will do,
						// the rest need not be looked at.
						return th, "", "", nil
					}
					if reason == "" {
						best, keep = th, true
					} else {
						why = reason
					}
				} else {
					why = fmt.Sprintf("thread %d is inside the C library or the dynamic linker, not in a restartable wait", tid)
				}
			}
			if !keep {
				if err := t.detachOne(th); err != nil {
					return nil, "", "", err
				}
			}
		}
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			if best != nil {
				if err := t.detachOne(best); err != nil {
					return nil, "", "", err
				}
			}
			if busy == "" {
				busy = fmt.Sprintf("%d thread(s) could not be examined", len(pending))
			}
			return nil, busy, why, nil
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 4*time.Millisecond)
	}
	if best != nil {
		return best, "", "", nil
	}
	// The blocked candidates, best first: each is stopped alone and
	// checked with its real registers.
	sort.SliceStable(blocked, func(i, j int) bool { return blocked[i].score < blocked[j].score })
	maps, err := readMaps(t.pid)
	if err != nil {
		return nil, "", "", t.goneOr(err)
	}
	ls := &lockScan{t: t, c: c, maps: maps, rets: map[uint64]bool{}}
	for _, cd := range blocked {
		th, err := t.stopOne(cd.tid)
		if err != nil {
			return nil, "", "", err
		}
		if th == nil {
			continue
		}
		var r unix.PtraceRegs
		if err := unix.PtraceGetRegs(cd.tid, &r); err != nil {
			return nil, "", "", t.goneOr(fmt.Errorf("reading registers of thread %d: %w", cd.tid, err))
		}
		score := hijackScore(c, &r)
		if score == 100 && t.restarting(&r) {
			score = 2
		}
		fit := th.kind == stopEvent && score < 100
		if fit {
			reason, err := ls.holder(cd.tid, &r)
			if err != nil {
				return nil, "", "", err
			}
			if reason != "" {
				why, fit = reason, false
			}
		}
		if fit {
			return th, "", "", nil
		}
		if err := t.detachOne(th); err != nil {
			return nil, "", "", err
		}
	}
	return nil, "", why, nil
}

// restarting reports whether a stopped thread with registers r is about to
// make again one of the harmless blocking system calls (safeSyscalls) it
// was interrupted in: at a `syscall` instruction, outside a system call,
// with the call's number in RAX. The engine leaves a thread it borrowed in
// this state (see hijack.restore); in a group-stop it stays so.
func (t *tracer) restarting(r *unix.PtraceRegs) bool {
	if int64(r.Orig_rax) >= 0 || !safeSyscalls[r.Rax] {
		return false
	}
	var b [2]byte
	return t.read(r.Rip, b[:]) == nil && b == [2]byte{0x0f, 0x05}
}

// stoppedNote is added to the reason of a busy thread in a group-stop.
const stoppedNote = ", and the process is stopped (SIGSTOP): its threads are not run by the engine until it is continued"

// groupStopped reports whether thread tid is in a group-stop (state T in
// /proc; a thread in a ptrace stop shows t).
func groupStopped(pid, tid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(data), ')')
	return i >= 0 && i+2 < len(data) && data[i+2] == 'T'
}

// allGroupStopped reports whether every thread of the process is in a
// group-stop.
func (t *tracer) allGroupStopped() bool {
	tids, err := listTasks(t.pid)
	if err != nil || len(tids) == 0 {
		return false
	}
	for _, tid := range tids {
		if !groupStopped(t.pid, tid) {
			return false
		}
	}
	return true
}

// stopOne seizes (if needed) and interrupts thread tid alone and waits for
// its stop; nil when it exited.
func (t *tracer) stopOne(tid int) (*thread, error) {
	th, err := t.traceOne(tid)
	if err != nil || th == nil {
		return nil, err
	}
	err = t.interruptAndWait(th, time.Now().Add(stopOneTimeout))
	if errors.Is(err, errGone) && t.alive() {
		return nil, nil
	}
	return th, err
}

// traceOne returns thread tid traced (seized if it was not), to be kept
// stopped once it stops; nil when it has exited.
func (t *tracer) traceOne(tid int) (*thread, error) {
	th := t.threads[tid]
	if th == nil {
		ok, err := t.seize(tid)
		if err != nil || !ok {
			return nil, err
		}
		if th = t.threads[tid]; th == nil {
			return nil, nil
		}
	}
	th.run = false
	return th, nil
}

// pickHijack finds, while the process runs, a thread fit to run dlopen and
// leaves it stopped alone; the rest of the process keeps running. When a
// thread has OLD code on its stack it reports busy; when no thread is fit
// it retries with backoff (1ms to 32ms) until budget has passed.
func (t *tracer) pickHijack(c libc, old loaded, budget time.Duration) (*thread, string, error) {
	deadline := time.Now().Add(budget)
	backoff := time.Millisecond
	t.runNew = true
	for {
		th, busy, why, err := t.survey(c, old, time.Until(deadline))
		if err != nil || th != nil || busy != "" {
			return th, busy, err
		}
		if why != "" && t.allGroupStopped() {
			// Stopped by its owner: no thread will move.
			return nil, "", fmt.Errorf("%w (%s%s)", errNoHijack, why, stoppedNote)
		}
		if time.Now().After(deadline) {
			if why != "" {
				return nil, "", fmt.Errorf("%w (%s)", errNoHijack, why)
			}
			return nil, "", errNoHijack
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 32*time.Millisecond)
	}
}

var errNoHijack = errors.New("no thread is in a state where it can safely run dlopen")
