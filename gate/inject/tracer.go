//go:build linux && amd64

package inject

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// errGone reports that the target process exited during the operation.
var errGone = errors.New("process exited during the operation")

// stopKind is how a thread is stopped.
type stopKind int

const (
	stopNone    stopKind = iota
	stopEvent            // PTRACE_EVENT_STOP: our PTRACE_INTERRUPT or a group-stop
	stopClone            // PTRACE_EVENT_CLONE: inside clone(2)
	stopSignal           // signal-delivery-stop; sig holds the signal
	stopSyscall          // syscall-stop (PTRACE_SYSCALL with PTRACE_O_TRACESYSGOOD)
)

// thread is one traced thread of the target.
type thread struct {
	tid     int
	stopped bool
	kind    stopKind
	sig     int  // signal of a signal-delivery-stop, delivered on resume
	run     bool // the engine wants this thread running
	// groupStop is set when the thread's last stop was a group-stop
	// (SIGSTOP, SIGTSTP, ...): the process was stopped by someone else, and
	// the thread is never resumed by the engine from it, only listened to
	// (PTRACE_LISTEN), so that it stays stopped as its owner wants.
	groupStop bool
	listening bool   // restarted with PTRACE_LISTEN: stopped, not reporting
	seq       uint64 // order of the thread's last stop among all threads
	// pending is set when the thread was found stopped by a ptrace request
	// (see collectStops) before its stop was collected with wait4: kind,
	// sig and groupStop are not known yet; reap collects the stop.
	pending bool
	// regs holds the registers read when collectStops found the thread
	// stopped, nil otherwise; it is dropped whenever the thread stops
	// again, is resumed or has its registers written (see regsOf).
	regs *unix.PtraceRegs
	held []siginfo // signals held back during a remote call (see held.go)
	// raw is the register state the thread was stopped in before the
	// engine first borrowed it, for later signal frames (see session).
	raw *unix.PtraceRegs
}

// tracer holds the ptrace state of one target process. Its methods must run
// on the ptrace thread.
type tracer struct {
	pid      int
	memTID   int // the live thread mem was opened through (see liveTID)
	self     int // tid of the ptrace thread, as /proc shows it in TracerPid
	threads  map[int]*thread
	mem      *os.File
	runNew   bool // new threads start in run mode
	detached bool
	hijacked []int // threads borrowed for remote calls, in order
	// preMaps is the address ranges of the process's mappings read by the
	// last stopAll just before it interrupted the threads, and preStopped
	// the threads that were stopped already then (see settle).
	preMaps    []mapping
	preStopped map[int]bool
	stopStart  time.Time // when the last stopAll began interrupting threads
	releasedAt time.Time // when detachAll released the last thread
	seq        uint64    // stops seen so far (see thread.seq)
	// quiet is true while the world is not stopped (see background): the
	// engine then yields its CPUs to the process instead of spinning.
	quiet bool
	// scanBuf is the buffer the stacks are read into with the world
	// stopped (see scanAll), allocated and its pages faulted in before
	// apply stops it (see prepareScanBuf), so that the stop neither
	// allocates a few hundred KiB nor takes page faults in fresh memory.
	scanBuf []byte
	// reader reads the stacks on two CPUs with the world stopped (see
	// stackReader); nil when the operation does not check stacks.
	reader *stackReader
	// taskDir is /proc/PID/task, opened before the stop (see threadCount).
	taskDir *os.File
	// schedPrev is the ptrace thread's scheduling attributes while it is
	// in SCHED_FIFO (see urgent), nil otherwise.
	schedPrev *unix.SchedAttr
	// adopted is set when a thread was traced from a clone event rather
	// than from a listing of /proc/PID/task: it may be another process
	// (clone without CLONE_THREAD), so counting the traced threads proves
	// nothing until a listing proves the set complete again (see stopAll).
	adopted bool
}

func newTracer(pid int) (*tracer, error) {
	memTID := liveTID(pid)
	mem, err := os.OpenFile(fmt.Sprintf("/proc/%d/mem", memTID), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("opening memory of process %d: %w", pid, err)
	}
	return &tracer{pid: pid, memTID: memTID, self: unix.Gettid(), threads: map[int]*thread{}, mem: mem}, nil
}

func ptrace(req int, tid int, addr, data uintptr) error {
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, uintptr(req), uintptr(tid), addr, data, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// alive reports whether the process still has a live thread. (Its leader
// may be a zombie while other threads run, after pthread_exit in main.)
func (t *tracer) alive() bool {
	if taskAlive(t.pid, t.pid) {
		return true
	}
	tids, err := listTasks(t.pid)
	if err != nil {
		return false
	}
	for _, tid := range tids {
		if taskAlive(t.pid, tid) {
			return true
		}
	}
	return false
}

// taskAlive reports whether thread tid exists and is not a zombie.
func taskAlive(pid, tid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(data), ')')
	return i >= 0 && i+2 < len(data) && data[i+2] != 'Z' && data[i+2] != 'X'
}

// goneOr returns errGone when the process has exited, else err. A thread
// that vanished (ESRCH) or memory that cannot be read any more usually
// means the process is exiting: give it a moment to finish dying.
func (t *tracer) goneOr(err error) error {
	wait := errors.Is(err, unix.ESRCH) || errors.Is(err, io.EOF) || errors.Is(err, unix.EIO)
	for deadline := time.Now().Add(200 * time.Millisecond); ; {
		if !t.alive() {
			return errGone
		}
		if !wait || time.Now().After(deadline) {
			return err
		}
		time.Sleep(time.Millisecond)
	}
}

// tracerOf returns the TracerPid of thread tid.
func tracerOf(pid, tid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/status", pid, tid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "TracerPid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return -1
}

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
			if err := ptrace(unix.PTRACE_INTERRUPT, th.tid, 0, 0); err != nil && err != unix.ESRCH {
				return fmt.Errorf("interrupting thread %d: %w", th.tid, err)
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

func (t *tracer) allStopped() bool {
	for _, th := range t.threads {
		if !th.stopped {
			return false
		}
	}
	return true
}

// resume continues th, delivering the signal of its signal-delivery-stop.
// A thread in a group-stop is not made to run (the process was stopped by
// its owner): it is restarted with PTRACE_LISTEN, which keeps it stopped
// and reports the end of the group-stop (SIGCONT) as a new stop.
func (t *tracer) resume(th *thread) error {
	if err := t.reap(th); err != nil {
		return err
	}
	sig := 0
	if th.kind == stopSignal {
		sig = th.sig
	}
	req := unix.PTRACE_CONT
	if th.groupStop && th.kind == stopEvent {
		req = unix.PTRACE_LISTEN
		th.listening = true
	}
	th.sig, th.stopped, th.kind, th.regs = 0, false, stopNone, nil
	err := ptrace(req, th.tid, 0, uintptr(sig))
	if err == unix.EIO && req == unix.PTRACE_LISTEN {
		// The group-stop ended meanwhile (SIGCONT): run.
		th.listening = false
		err = ptrace(unix.PTRACE_CONT, th.tid, 0, 0)
	}
	if err != nil && err != unix.ESRCH {
		return fmt.Errorf("resuming thread %d: %w", th.tid, err)
	}
	return nil
}

// detachOne detaches stopped thread th alone (delivering again the signals
// held back from it) and forgets it.
func (t *tracer) detachOne(th *thread) error {
	if err := t.reap(th); err != nil {
		return err
	}
	sig := t.redeliver(th)
	delete(t.threads, th.tid)
	err := ptrace(unix.PTRACE_DETACH, th.tid, 0, uintptr(sig))
	if err != nil && err != unix.ESRCH {
		return fmt.Errorf("detaching thread %d: %w", th.tid, err)
	}
	return nil
}

// detachOthers detaches every traced thread but keep, stopping first those
// that run (PTRACE_DETACH needs a stopped tracee).
func (t *tracer) detachOthers(keep *thread, deadline time.Time) error {
	t.relax() // it may wait for threads to stop
	t.runNew = false
	for _, th := range t.threads {
		if th == keep || th.stopped {
			continue
		}
		th.run = false
		if err := ptrace(unix.PTRACE_INTERRUPT, th.tid, 0, 0); err != nil && err != unix.ESRCH {
			return fmt.Errorf("interrupting thread %d: %w", th.tid, err)
		}
	}
	if err := t.waitUntil(deadline, t.allStopped); err != nil {
		return err
	}
	var first error
	for _, th := range t.threads {
		if th != keep {
			if err := t.detachOne(th); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// detachAll detaches every thread; they must all be stopped. Signals held
// back during remote calls are delivered again (see redeliver).
func (t *tracer) detachAll() error {
	if t.detached {
		return nil
	}
	var first error
	// First stopped, first released: every thread is stopped about as
	// long as the whole operation, not the sum of its phases plus skew.
	// A stop not collected yet (see collectStops) is collected just
	// before the thread is released.
	for _, th := range t.byStopOrder() {
		if err := t.reap(th); err != nil && first == nil {
			first = err // released all the same, with no signal
		}
		if t.threads[th.tid] != th {
			continue // exited
		}
		sig := t.redeliver(th)
		if err := ptrace(unix.PTRACE_DETACH, th.tid, 0, uintptr(sig)); err != nil && err != unix.ESRCH && first == nil {
			first = fmt.Errorf("detaching thread %d: %w", th.tid, err)
		}
	}
	t.releasedAt = time.Now()
	t.relax()
	t.detached = true
	t.mem.Close()
	t.closeTaskDir()
	return first
}

// closeTaskDir closes /proc/PID/task, if open (see threadCount).
func (t *tracer) closeTaskDir() {
	if t.taskDir != nil {
		t.taskDir.Close()
		t.taskDir = nil
	}
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
	deadline := time.Now().Add(stopTimeout)
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

// regsOf returns the registers of stopped thread th: those read when its
// stop was found (see probe), else read now.
func (t *tracer) regsOf(th *thread) (*unix.PtraceRegs, error) {
	if th.regs != nil {
		return th.regs, nil
	}
	var r unix.PtraceRegs
	if err := unix.PtraceGetRegs(th.tid, &r); err != nil {
		return nil, t.goneOr(fmt.Errorf("reading registers of thread %d: %w", th.tid, err))
	}
	th.regs = &r
	return &r, nil
}

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

// release detaches every traced thread, stopping first those that run.
func (t *tracer) release() error {
	if t.detached {
		return nil
	}
	var err error
	if t.alive() {
		err = t.detachOthers(nil, time.Now().Add(stopTimeout))
	}
	t.relax()
	t.detached = true
	t.mem.Close()
	t.closeTaskDir()
	return err
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

// collectSpins and collectSleep tune collectStops: how many times it
// yields its CPU while a thread has not stopped yet, before it sleeps
// collectSleep between checks.
var (
	collectSpins = 16
	collectSleep = 20 * time.Microsecond
)

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
	if err := ptrace(unix.PTRACE_INTERRUPT, th.tid, 0, 0); err != nil && err != unix.ESRCH {
		return fmt.Errorf("interrupting thread %d: %w", th.tid, err)
	}
	return t.waitStopped(th, deadline)
}
