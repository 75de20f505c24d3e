//go:build linux && amd64

package inject

import (
	"fmt"
	"os"
	"sort"
	"time"

	"golang.org/x/sys/unix"
)

// stopAll stops every thread of the process with a single round of
// interrupts: first, while the process runs, every thread not yet traced is
// seized (PTRACE_SEIZE does not stop it), rescanning /proc/PID/task until
// no new thread appears; then every running thread is interrupted, and the
// stops are collected as they come (see waitUntil). Threads created meanwhile
// are traced from birth through PTRACE_O_TRACECLONE; a final rescan of
// /proc/PID/task proves the set complete (another round is made only if it
// is not). The cost a thread sees is thus the interrupts, the waiting and
// whatever the caller does before detaching: no seizing, no rescans.
func (t *tracer) stopAll(deadline time.Time) error {
	t.background(false)
	t.runNew = false
	t.preMaps, t.preStopped = nil, nil
	for {
		if err := t.seizeAll(deadline); err != nil {
			return err
		}
		if t.preStopped == nil {
			t.preStopped = map[int]bool{}
			for tid, th := range t.threads {
				t.preStopped[tid] = th.stopped
			}
			maps, err := readStackMaps(t.pid)
			if err != nil {
				return t.goneOr(err)
			}
			t.preMaps = maps
			if t.taskDir == nil {
				if f, err := os.Open(fmt.Sprintf("/proc/%d/task", t.pid)); err == nil {
					t.taskDir = f
				}
			}
			// Threads that woke on this CPU while the engine was busy
			// run before the stop, not after it.
			yieldCPU()
			t.stopStart = time.Now()
		}
		for _, th := range t.byStopOrder() {
			th.run = false
			if th.stopped {
				continue
			}
			if err := interrupt(th); err != nil {
				return err
			}
		}
		t.reader.start()
		if err := t.collectStops(deadline); err != nil {
			return err
		}
		t.urgent() // until the release (see detachAll)
		// The cheap proof first: every traced thread was listed in
		// /proc/PID/task (none adopted since) and is stopped, so is a
		// live thread of the process; when the kernel counts as many
		// threads in the process, they are all of them. Otherwise (a
		// zombie leader, a thread exiting or being born, one adopted)
		// /proc/PID/task is listed and compared.
		if !t.adopted {
			if n, err := t.threadCount(); err == nil && n == len(t.threads) {
				return nil
			}
		}
		tids, err := listTasks(t.pid)
		if err != nil {
			return t.goneOr(err)
		}
		if t.complete(tids) {
			t.adopted = false
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the set of threads does not settle (%d in /proc, %d traced): %w", len(tids), len(t.threads), errTimeout)
		}
	}
}

// threadCount returns the number of threads of the process, the kernel's
// count (a zombie leader included, as in the Threads line of
// /proc/PID/status): the link count of the directory /proc/PID/task is 2
// plus that count. The directory is opened before the stop (see stopAll);
// an fstat of it costs a microsecond, where generating the status file
// costs tens.
func (t *tracer) threadCount() (int, error) {
	if t.taskDir == nil {
		f, err := os.Open(fmt.Sprintf("/proc/%d/task", t.pid))
		if err != nil {
			return 0, err
		}
		t.taskDir = f
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(t.taskDir.Fd()), &st); err != nil {
		return 0, fmt.Errorf("counting the threads of process %d: %w", t.pid, err)
	}
	if st.Nlink < 3 {
		return 0, fmt.Errorf("counting the threads of process %d: %d links to its task directory", t.pid, st.Nlink)
	}
	return int(st.Nlink) - 2, nil
}

// seizeAll seizes every thread of the process not traced yet, without
// stopping any, until a rescan of /proc/PID/task finds no new one.
func (t *tracer) seizeAll(deadline time.Time) error {
	for {
		if !t.alive() {
			return errGone
		}
		tids, err := listTasks(t.pid)
		if err != nil {
			return t.goneOr(err)
		}
		if len(tids) == 0 {
			return errGone
		}
		added := false
		for i, tid := range tids {
			if _, ok := t.threads[tid]; ok {
				continue
			}
			if i%16 == 15 {
				yieldCPU()
			}
			ok, err := t.seize(tid)
			if err != nil {
				return err
			}
			added = added || ok
		}
		if !added {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("threads keep appearing (%d in /proc, %d traced): %w", len(tids), len(t.threads), errTimeout)
		}
	}
}

// seize starts tracing thread tid (without stopping it) and records it;
// false when it exited meanwhile.
func (t *tracer) seize(tid int) (bool, error) {
	err := ptrace(unix.PTRACE_SEIZE, tid, 0, unix.PTRACE_O_TRACECLONE)
	switch {
	case err == unix.ESRCH || (err != nil && !taskAlive(t.pid, tid)):
		return false, nil // exited meanwhile, or a zombie leader
	case err == unix.EPERM && tracerOf(t.pid, tid) == t.self:
		// Auto-attached through PTRACE_O_TRACECLONE; its clone event
		// has not been collected yet.
	case err != nil:
		if tp := tracerOf(t.pid, tid); tp > 0 && tp != t.self {
			return false, fmt.Errorf("seizing thread %d: already traced by process %d", tid, tp)
		}
		return false, fmt.Errorf("seizing thread %d: %w", tid, err)
	}
	t.threads[tid] = &thread{tid: tid}
	return true, nil
}

// complete reports whether every live thread listed in tids is traced and
// every traced thread is listed (a thread that exited is forgotten once
// its exit is collected).
func (t *tracer) complete(tids []int) bool {
	live := tids[:0]
	for _, tid := range tids {
		if t.threads[tid] != nil || taskAlive(t.pid, tid) {
			live = append(live, tid)
		}
	}
	return sameTIDs(live, t.threads)
}

// sameTIDs reports whether the threads listed in /proc are exactly the
// traced ones.
func sameTIDs(tids []int, threads map[int]*thread) bool {
	if len(tids) != len(threads) {
		return false
	}
	for _, tid := range tids {
		if threads[tid] == nil {
			return false
		}
	}
	return true
}

// byStopOrder returns the traced threads in the order of their last stop.
func (t *tracer) byStopOrder() []*thread {
	ths := make([]*thread, 0, len(t.threads))
	for _, th := range t.threads {
		ths = append(ths, th)
	}
	// Threads not stopped yet since they were traced (seq 0) in the order
	// of their tids, as /proc lists them.
	sort.Slice(ths, func(i, j int) bool {
		if ths[i].seq != ths[j].seq {
			return ths[i].seq < ths[j].seq
		}
		return ths[i].tid < ths[j].tid
	})
	return ths
}

// collectStops waits until every traced thread is stopped, after they were
// all interrupted. The threads are waited for one by one in the order they
// were interrupted. Each is first asked for its registers: PTRACE_GETREGS
// succeeds only on a thread in a ptrace stop, so one request both proves
// the thread stopped and reads the registers the stack check needs (kept
// in thread.regs); its stop is collected with wait4 only later, just before
// it is resumed or released (see reap), outside the time every thread is
// stopped for. A thread not stopped yet is waited for with wait4 on its
// own tid (the kernel finds it directly, where a wait for any tracee walks
// the list of all of them: quadratic at a thousand threads), spinning, as
// a blocking wait could not honour deadline. Events of other threads wait
// in the kernel meanwhile; threads appearing are waited for in a further
// pass.
func (t *tracer) collectStops(deadline time.Time) error {
	for {
		var order []*thread
		for _, th := range t.byStopOrder() {
			if !th.stopped {
				order = append(order, th)
			}
		}
		if len(order) == 0 {
			return nil
		}
		for _, th := range order {
			for spins := 0; !th.stopped && t.threads[th.tid] == th; spins++ {
				if t.probe(th) {
					break
				}
				got, err := t.waitOne(th)
				if err != nil {
					return err
				}
				if got {
					continue
				}
				if len(t.threads) == 0 {
					return errGone
				}
				if spins%64 == 63 && time.Now().After(deadline) {
					if !t.alive() {
						return errGone
					}
					return errTimeout
				}
				if spins < collectSpins {
					yieldCPU()
				} else {
					// A precise short sleep of this thread: the CPU goes
					// to the threads that are on their way to the stop.
					ts := unix.NsecToTimespec(int64(collectSleep))
					unix.Nanosleep(&ts, nil)
				}
			}
		}
	}
}

// probe reports whether th, not known to be stopped, is in a ptrace stop,
// reading its registers: PTRACE_GETREGS fails (ESRCH) on a thread that
// runs, is still on its way to the stop, or exited. A stopped thread is
// marked stopped, with its stop pending (see reap) and its registers kept.
// The thread-group leader is never probed: its exit must be observed
// without being reaped (see waitOne).
func (t *tracer) probe(th *thread) bool {
	if th.tid == t.pid {
		return false
	}
	var r unix.PtraceRegs
	if unix.PtraceGetRegs(th.tid, &r) != nil {
		return false
	}
	th.stopped, th.pending, th.regs = true, true, &r
	th.kind, th.sig = stopNone, 0 // known once reaped
	t.seq++
	th.seq = t.seq
	return true
}

// reap collects the stop of th found by probe, if not collected yet; th
// stays stopped, its registers and stop order kept. th is forgotten when
// it exited meanwhile (killed).
func (t *tracer) reap(th *thread) error {
	if !th.pending {
		return nil
	}
	seq, regs := th.seq, th.regs
	deadline := t.stopDeadline()
	for spins := 0; th.pending && t.threads[th.tid] == th; spins++ {
		got, err := t.waitOne(th)
		if err != nil {
			return err
		}
		if got {
			break
		}
		if spins%64 == 63 && time.Now().After(deadline) {
			return fmt.Errorf("collecting the stop of thread %d: %w", th.tid, errTimeout)
		}
		yieldCPU()
	}
	if t.threads[th.tid] == th && th.stopped {
		th.seq, th.regs = seq, regs
	}
	return nil
}

// collectSpins and collectSleep tune collectStops: how many times it
// yields its CPU while a thread has not stopped yet, before it sleeps
// collectSleep between checks.
var (
	collectSpins = 16
	collectSleep = 20 * time.Microsecond
)
