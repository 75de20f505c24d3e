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
	sig     int   // signal of a signal-delivery-stop, delivered on resume
	run     bool  // the engine wants this thread running
	held    []int // signals held back during a remote call, re-sent on detach
	// raw is the register state the thread was stopped in before the
	// engine first borrowed it, for later signal frames (see session).
	raw *unix.PtraceRegs
}

// tracer holds the ptrace state of one target process. Its methods must run
// on the ptrace thread.
type tracer struct {
	pid      int
	self     int // tid of the ptrace thread, as /proc shows it in TracerPid
	threads  map[int]*thread
	mem      *os.File
	runNew   bool // new threads start in run mode
	detached bool
	hijacked []int // threads borrowed for remote calls, in order
}

func newTracer(pid int) (*tracer, error) {
	mem, err := os.OpenFile(fmt.Sprintf("/proc/%d/mem", pid), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("opening memory of process %d: %w", pid, err)
	}
	return &tracer{pid: pid, self: unix.Gettid(), threads: map[int]*thread{}, mem: mem}, nil
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

// stopAll seizes every thread not yet traced, interrupts every running
// thread and waits until all are stopped, rescanning /proc/PID/task until
// the set of threads is stable.
func (t *tracer) stopAll(deadline time.Time) error {
	t.runNew = false
	for round := 0; ; round++ {
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
		changed := false
		for _, tid := range tids {
			th, ok := t.threads[tid]
			if !ok {
				err := ptrace(unix.PTRACE_SEIZE, tid, 0, unix.PTRACE_O_TRACECLONE)
				switch {
				case err == unix.ESRCH || (err != nil && !taskAlive(t.pid, tid)):
					continue // exited meanwhile, or a zombie leader
				case err == unix.EPERM && tracerOf(t.pid, tid) == t.self:
					// Auto-attached through PTRACE_O_TRACECLONE; its
					// clone event has not been collected yet.
				case err != nil:
					if tp := tracerOf(t.pid, tid); tp > 0 && tp != t.self {
						return fmt.Errorf("seizing thread %d: already traced by process %d", tid, tp)
					}
					return fmt.Errorf("seizing thread %d: %w", tid, err)
				}
				th = &thread{tid: tid}
				t.threads[tid] = th
				changed = true
			}
			th.run = false
			if !th.stopped {
				if err := ptrace(unix.PTRACE_INTERRUPT, tid, 0, 0); err != nil && err != unix.ESRCH {
					return fmt.Errorf("interrupting thread %d: %w", tid, err)
				}
			}
		}
		if err := t.waitUntil(deadline, t.allStopped); err != nil {
			return err
		}
		live := tids[:0]
		for _, tid := range tids {
			if t.threads[tid] != nil || taskAlive(t.pid, tid) {
				live = append(live, tid)
			}
		}
		if !changed && round > 0 && sameTIDs(live, t.threads) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the set of threads does not settle (%d in /proc, %d traced): %w", len(tids), len(t.threads), errTimeout)
		}
	}
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
func (t *tracer) resume(th *thread) error {
	sig := 0
	if th.kind == stopSignal {
		sig = th.sig
	}
	th.sig, th.stopped, th.kind = 0, false, stopNone
	if err := ptrace(unix.PTRACE_CONT, th.tid, 0, uintptr(sig)); err != nil && err != unix.ESRCH {
		return fmt.Errorf("resuming thread %d: %w", th.tid, err)
	}
	return nil
}

// resumeOthers lets every thread but keep run.
func (t *tracer) resumeOthers(keep *thread) error {
	t.runNew = true
	for _, th := range t.threads {
		if th == keep {
			continue
		}
		th.run = true
		if th.stopped {
			if err := t.resume(th); err != nil {
				return err
			}
		}
	}
	return nil
}

// detachAll detaches every thread; they must all be stopped. Signals held
// back during remote calls are sent again.
func (t *tracer) detachAll() error {
	if t.detached {
		return nil
	}
	var first error
	for _, th := range t.threads {
		sig := 0
		if th.kind == stopSignal {
			sig = th.sig
		}
		if err := ptrace(unix.PTRACE_DETACH, th.tid, 0, uintptr(sig)); err != nil && err != unix.ESRCH && first == nil {
			first = fmt.Errorf("detaching thread %d: %w", th.tid, err)
		}
		for _, s := range th.held {
			unix.Tgkill(t.pid, th.tid, unix.Signal(s))
		}
	}
	t.detached = true
	t.mem.Close()
	return first
}

// waitUntil collects stop and exit events of every thread until cond holds.
// Threads the engine wants running are resumed as soon as they stop (their
// signals passed through); new threads are adopted.
func (t *tracer) waitUntil(deadline time.Time, cond func() bool) error {
	pause := 20 * time.Microsecond
	for {
		progress, err := t.pollOnce()
		if err != nil {
			return err
		}
		if cond() {
			return nil
		}
		if len(t.threads) == 0 {
			return errGone
		}
		if time.Now().After(deadline) {
			if !t.alive() {
				return errGone
			}
			return errTimeout
		}
		if progress {
			pause = 20 * time.Microsecond
			continue
		}
		time.Sleep(pause)
		if pause < time.Millisecond {
			pause *= 2
		}
	}
}

var errTimeout = errors.New("timed out waiting for the process")

// pollOnce collects at most one pending event per thread, without blocking.
func (t *tracer) pollOnce() (bool, error) {
	progress := false
	for tid, th := range t.threads {
		if th.stopped {
			continue
		}
		ws, got, err := t.waitTID(tid)
		if err != nil {
			return progress, err
		}
		if !got {
			continue
		}
		progress = true
		if err := t.event(th, ws); err != nil {
			return progress, err
		}
	}
	return progress, nil
}

// waitTID collects a pending event of tid. The thread-group leader may be a
// child of ours in the ordinary sense (tests start their targets): its exit
// status is never reaped here, only observed, so its parent still gets it.
func (t *tracer) waitTID(tid int) (unix.WaitStatus, bool, error) {
	var ws unix.WaitStatus
	if tid == t.pid {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, tid, &info, unix.WEXITED|unix.WSTOPPED|unix.WNOHANG|unix.WNOWAIT|unix.WALL, nil)
		if err == unix.ECHILD {
			return ws, true, nil // gone: treat as exited (zero status = exited)
		}
		if err != nil {
			return ws, false, fmt.Errorf("waiting for thread %d: %w", tid, err)
		}
		raw := (*[128]byte)(unsafe.Pointer(&info))
		spid := *(*int32)(unsafe.Pointer(&raw[16]))
		code := *(*int32)(unsafe.Pointer(&raw[8]))
		if spid == 0 {
			return ws, false, nil
		}
		switch code {
		case 1, 2, 3: // CLD_EXITED, CLD_KILLED, CLD_DUMPED
			return 0, true, nil // exited with status 0, as far as we care
		}
	}
	wpid, err := unix.Wait4(tid, &ws, unix.WNOHANG|unix.WALL, nil)
	if err == unix.ECHILD {
		return 0, true, nil
	}
	if err != nil {
		return ws, false, fmt.Errorf("waiting for thread %d: %w", tid, err)
	}
	return ws, wpid == tid, nil
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
	if !ws.Stopped() {
		return nil
	}
	th.stopped = true
	sig := int(ws.StopSignal())
	switch ev := int(ws>>16) & 0xff; ev {
	case unix.PTRACE_EVENT_CLONE:
		th.kind = stopClone
		msg, err := unix.PtraceGetEventMsg(th.tid)
		if err == nil {
			if _, ok := t.threads[int(msg)]; !ok {
				t.threads[int(msg)] = &thread{tid: int(msg), run: t.runNew}
			}
		}
	case unix.PTRACE_EVENT_STOP:
		th.kind = stopEvent
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
