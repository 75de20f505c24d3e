//go:build linux && amd64

package inject

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"golang.org/x/sys/unix"
)

// Modes of dlopen.
const (
	rtldNow   = 0x2
	rtldLocal = 0x0
)

// stopTimeout bounds how long stopping every thread may take.
const stopTimeout = 5 * time.Second

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

// chooseHijack picks the stopped thread in which to run dlopen: preferably
// one running its own code outside libc and the dynamic linker, else one
// blocked in a harmless system call (the call is restarted transparently
// afterwards). A thread that may hold the dynamic loader's or the
// allocator's lock (see lockScan) is never picked. Nil if there is none;
// why is then the reason the last candidate was passed over.
func (t *tracer) chooseHijack(c libc) (best *thread, why string, err error) {
	maps, err := readMaps(t.pid)
	if err != nil {
		return nil, "", t.goneOr(err)
	}
	ls := &lockScan{t: t, c: c, maps: maps, rets: map[uint64]bool{}}
	bestScore := 100
	tids := make([]int, 0, len(t.threads))
	for tid := range t.threads {
		tids = append(tids, tid)
	}
	sort.Ints(tids)
	for _, tid := range tids {
		th := t.threads[tid]
		if !th.stopped || th.kind != stopEvent {
			continue
		}
		var r unix.PtraceRegs
		if err := unix.PtraceGetRegs(tid, &r); err != nil {
			return nil, "", t.goneOr(fmt.Errorf("reading registers of thread %d: %w", tid, err))
		}
		score := 100
		switch inSys := int64(r.Orig_rax) >= 0; {
		case !inSys && !c.unsafeRIP(r.Rip):
			score = 0
		case inSys && safeSyscalls[r.Orig_rax]:
			score = 1
			if int64(r.Rax) == errRestartBlock {
				score = 2
			}
		}
		if score >= bestScore {
			continue
		}
		if score == 100 {
			why = fmt.Sprintf("thread %d is inside the C library or the dynamic linker, not in a restartable wait", tid)
			continue
		}
		reason, err := ls.holder(tid, &r)
		if err != nil {
			return nil, "", err
		}
		if reason != "" {
			why = reason
			continue
		}
		best, bestScore = th, score
	}
	return best, why, nil
}

// withHijack runs fn in a hijacked thread while every other thread runs,
// then stops the world again. The world must be stopped on entry.
// When no thread is in a suitable state, the process is let run for a
// while, with exponential backoff (1ms to 32ms), and looked at again,
// until budget has passed.
func (t *tracer) withHijack(c libc, timeout, budget time.Duration, fn func(h *hijack) error) error {
	var th *thread
	backoff := time.Millisecond
	for deadline := time.Now().Add(budget); ; {
		var (
			why string
			err error
		)
		if th, why, err = t.chooseHijack(c); err != nil {
			return err
		}
		if th != nil {
			break
		}
		if time.Now().After(deadline) {
			if why != "" {
				return fmt.Errorf("%w (%s)", errNoHijack, why)
			}
			return errNoHijack
		}
		if err := t.resumeOthers(nil); err != nil {
			return err
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 32*time.Millisecond)
		if err := t.waitUntil(time.Now(), func() bool { return false }); err != nil && !errors.Is(err, errTimeout) {
			return err
		}
		if err := t.stopAll(time.Now().Add(stopTimeout)); err != nil {
			return err
		}
	}
	t.hijacked = append(t.hijacked, th.tid)
	if err := t.resumeOthers(th); err != nil {
		return err
	}
	h, err := t.startHijack(th, c, timeout)
	if err != nil {
		return err
	}
	ferr := fn(h)
	eerr := h.end()
	serr := t.stopAll(time.Now().Add(stopTimeout))
	return errors.Join(ferr, eerr, serr)
}

var errNoHijack = errors.New("no thread is in a state where it can safely run dlopen")

// withSyscalls runs fn with a function making system calls in some stopped
// thread, whose state is restored afterwards. The world is stopped.
func (t *tracer) withSyscalls(c libc, fn func(sys func(nr uint64, args ...uint64) (uint64, error)) error) error {
	var th *thread
	for _, kind := range []stopKind{stopEvent, stopSyscall, stopSignal} {
		for _, x := range t.threads {
			if th == nil && x.stopped && x.kind == kind {
				th = x
			}
		}
	}
	if th == nil {
		return errors.New("no stopped thread to make system calls in")
	}
	if th.kind == stopSignal && th.sig != 0 {
		th.held = append(th.held, th.sig) // re-sent on detach
		th.sig = 0
	}
	h, err := t.session(th, c, stopTimeout)
	if err != nil {
		return err
	}
	return errors.Join(fn(h.syscall), h.end())
}
