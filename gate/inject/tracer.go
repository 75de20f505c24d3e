//go:build linux && amd64

package inject

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

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
	// stopTimeout bounds every wait for threads to stop
	// (Options.StopTimeout).
	stopTimeout time.Duration
}

func newTracer(pid int) (*tracer, error) {
	memTID := liveTID(pid)
	mem, err := os.OpenFile(fmt.Sprintf("/proc/%d/mem", memTID), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("opening memory of process %d: %w", pid, err)
	}
	return &tracer{pid: pid, memTID: memTID, self: unix.Gettid(), threads: map[int]*thread{}, mem: mem, stopTimeout: defaultStopTimeout}, nil
}

// stopDeadline is when a wait for threads to stop that begins now gives
// up (see stopTimeout).
func (t *tracer) stopDeadline() time.Time { return time.Now().Add(t.stopTimeout) }

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
		if err := interrupt(th); err != nil {
			return err
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

// release detaches every traced thread, stopping first those that run.
func (t *tracer) release() error {
	if t.detached {
		return nil
	}
	var err error
	if t.alive() {
		err = t.detachOthers(nil, t.stopDeadline())
	}
	t.relax()
	t.detached = true
	t.mem.Close()
	t.closeTaskDir()
	return err
}
