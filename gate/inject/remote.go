//go:build linux && amd64

package inject

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

const (
	redZone    = 128
	flagTF     = 0x100
	flagDF     = 0x400
	noSyscall  = ^uint64(0)               // orig_rax = -1: not in a system call
	sigSysGood = int(unix.SIGTRAP) | 0x80 // a syscall-stop under PTRACE_O_TRACESYSGOOD
)

// landing is the code remote function calls return into, at the start of
// the engine's page: it stores the result in the frame's first word and
// executes rt_sigreturn on the frame (see sigframe.go). The engine catches
// the first rt_sigreturn at its syscall-entry and cancels it (it restores
// the thread itself, keeping the kernel's restart block); the second one is
// for an engine that dies right after.
var landing = []byte{
	0x48, 0x89, 0x44, 0x24, 0xf8, // mov %rax, -8(%rsp)
	0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, // mov $15, %rax (rt_sigreturn)
	0x0f, 0x05, // syscall
	0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, // mov $15, %rax
	0x0f, 0x05, // syscall
}

// landingFirst is the end of landing's first rt_sigreturn.
const landingFirst = 14

// hijack is a stopped thread borrowed for remote operations. From start to
// end its state is held in a signal frame on its own stack, so that it
// restores itself should the engine die (see sigframe.go).
type hijack struct {
	t       *tracer
	th      *thread
	c       libc
	saved   regState        // the state as stopped
	resume  unix.PtraceRegs // saved.regs, resumable
	frame   uint64          // base of the signal frame
	page    uint64          // the engine's page (landing pad), then a data page; 0 if none
	timeout time.Duration
	// late is how long after its timeout the last call returned (see
	// call); 0 when it returned in time.
	late time.Duration
	// abandoned is set when a call was left to finish on its own: the
	// thread is detached and restores itself (see call).
	abandoned bool
	// scratch is the state as the signal frame restores it: a system call
	// interrupted with ERESTART_RESTARTBLOCK made again from scratch. Used
	// by restore once a function has been called in the thread (called):
	// the function may have made system calls that reset the thread's
	// restart block (clock_nanosleep does on entry), and restart_syscall
	// would then fail with EINTR. Used too for a thread in a group-stop,
	// which keeps the state until continued: at a system call instruction
	// with the call's own number, it is recognisably in a harmless wait.
	scratch unix.PtraceRegs
	called  bool
}

const pageSize = 4096

// session saves th's state and writes its signal frame.
func (t *tracer) session(th *thread, c libc, timeout time.Duration) (*hijack, error) {
	if c.syscallInsn == 0 || c.restoreRT == 0 {
		return nil, errors.New("the C library has no `syscall; ret` or no __restore_rt sequence")
	}
	// A signal the thread was stopped to deliver must not be lost when
	// it is resumed for the remote operation: held.
	t.hold(th)
	saved, err := saveRegs(th.tid)
	if err != nil {
		return nil, t.goneOr(err)
	}
	mask, err := sigMask(th.tid)
	if err != nil {
		return nil, t.goneOr(err)
	}
	h := &hijack{t: t, th: th, c: c, saved: saved, resume: resumable(saved.regs, false), timeout: timeout}
	h.frame = frameBase(saved.regs.Rsp, saved)
	// A thread borrowed before in this operation holds the resumable form
	// of its state, which may restart its system call through
	// restart_syscall; rt_sigreturn would reset the restart block, so the
	// frame is built from the state it was first stopped in.
	frameRegs := resumable(saved.regs, true)
	if th.raw != nil && saved.regs == resumable(*th.raw, false) {
		frameRegs = resumable(*th.raw, true)
	} else {
		raw := saved.regs
		th.raw = &raw
	}
	maps, err := readMaps(t.pid)
	if err != nil {
		return nil, t.goneOr(err)
	}
	if m, ok := findMapping(maps, saved.regs.Rsp-1); !ok || h.frame < m.start+pageSize {
		return nil, fmt.Errorf("thread %d has no room on its stack below %#x for its saved state", th.tid, saved.regs.Rsp)
	}
	h.scratch = frameRegs
	if err := t.write(h.frame, sigFrame(h.frame, c.restoreRT, frameRegs, saved, mask)); err != nil {
		return nil, err
	}
	if err := ptrace(unix.PTRACE_SETOPTIONS, th.tid, 0, unix.PTRACE_O_TRACECLONE|unix.PTRACE_O_TRACESYSGOOD); err != nil {
		return nil, t.goneOr(fmt.Errorf("setting options of thread %d: %w", th.tid, err))
	}
	return h, nil
}

// syscall makes the thread run one system call: RIP at libc's `syscall;
// ret`, RSP at the frame (whose first word is __restore_rt), run under
// PTRACE_SYSCALL to the call's syscall-exit-stop. No single-step: the trap
// flag would outlive a dying engine and kill the thread. orig_rax is -1 so
// the kernel does not treat the thread as being in an interrupted system
// call to restart. Signals arriving meanwhile are held and delivered again
// on detach.
func (h *hijack) syscall(nr uint64, args ...uint64) (uint64, error) {
	t, th, insn := h.t, h.th, h.c.syscallInsn
	r := h.resume
	r.Rax, r.Rip, r.Rsp = nr, insn, h.frame
	r.Eflags &^= flagTF | flagDF
	regs := []*uint64{&r.Rdi, &r.Rsi, &r.Rdx, &r.R10, &r.R8, &r.R9}
	for i, a := range args {
		*regs[i] = a
	}
	th.regs = nil
	if err := unix.PtraceSetRegs(th.tid, &r); err != nil {
		return 0, t.goneOr(fmt.Errorf("setting registers of thread %d: %w", th.tid, err))
	}
	// The call's watchdog bounds it too: on a loaded machine the thread
	// may wait seconds for a CPU at each of its two stops.
	deadline := time.Now().Add(h.timeout)
	entered := false
	for {
		th.sig, th.stopped, th.kind, th.regs = 0, false, stopNone, nil
		if err := ptrace(unix.PTRACE_SYSCALL, th.tid, 0, 0); err != nil {
			return 0, t.goneOr(fmt.Errorf("resuming thread %d: %w", th.tid, err))
		}
		if err := t.waitStopped(th, deadline); err != nil {
			if errors.Is(err, errTimeout) {
				// Stopped where it is (a system call completes first),
				// so that the session can restore it.
				if ierr := t.interruptAndWait(th, time.Now().Add(stopOneTimeout)); ierr != nil {
					return 0, errors.Join(fmt.Errorf("remote system call %d in thread %d: %w", nr, th.tid, err), ierr)
				}
				t.hold(th)
			}
			return 0, fmt.Errorf("remote system call %d in thread %d: %w", nr, th.tid, err)
		}
		if th.kind == stopSignal {
			t.hold(th)
			continue
		}
		if th.kind != stopSyscall {
			continue
		}
		var cur unix.PtraceRegs
		if err := unix.PtraceGetRegs(th.tid, &cur); err != nil {
			return 0, t.goneOr(fmt.Errorf("reading registers of thread %d: %w", th.tid, err))
		}
		if cur.Rip != insn+2 || cur.Orig_rax != nr {
			return 0, fmt.Errorf("remote system call %d in thread %d: unexpected stop at %#x", nr, th.tid, cur.Rip)
		}
		if !entered {
			entered = true
			continue
		}
		if e := int64(cur.Rax); e < 0 && e > -4096 {
			return 0, unix.Errno(-e)
		}
		return cur.Rax, nil
	}
}

// startHijack opens a session on th and maps the engine's two pages: the
// landing pad, then a data page for string arguments.
func (t *tracer) startHijack(th *thread, c libc, timeout time.Duration) (*hijack, error) {
	h, err := t.session(th, c, timeout)
	if err != nil {
		return nil, err
	}
	addr, err := h.syscall(unix.SYS_MMAP, 0, 2*pageSize, unix.PROT_READ|unix.PROT_EXEC,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS, ^uint64(0), 0)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("mapping the landing page: %w", err), h.end())
	}
	h.page = addr
	code := make([]byte, pageSize)
	for i := range code {
		code[i] = 0xcc
	}
	copy(code, landing)
	if err := t.write(addr, code); err != nil {
		return nil, errors.Join(err, h.end())
	}
	return h, nil
}

// call calls fn with a string argument (placed in the data page) followed by
// integer arguments; str "" passes no string. The frame's first word is the
// return address (the landing pad); RSP+8 is 16-byte aligned at entry, RIP,
// RSP and orig_rax are set, the direction flag cleared and the FP control
// state reset to the ABI's. The thread runs under PTRACE_SYSCALL until the
// landing pad's first rt_sigreturn, which is cancelled; the thread is then
// restored and left in its syscall-exit-stop.
//
// A call still running after the timeout may hold locks (dlopen holds the
// dynamic loader's while NEW's constructors run): stopping it there and
// restoring the thread would leave them held for ever. It is therefore
// let run for as long again: if it returns then, its result is returned
// with h.late set, the caller undoing what it did (dlclose); if not, the
// thread is detached as it runs and h.abandoned set: it finishes the call
// on its own, returns into the landing pad and restores itself from its
// signal frame, as after a crash of the engine (the engine's two pages
// and whatever the call did stay), and the error wraps errTimeout.
func (h *hijack) call(fn uint64, str string, args ...uint64) (uint64, error) {
	t, th := h.t, h.th
	if str != "" {
		if len(str) >= pageSize {
			return 0, fmt.Errorf("path too long (%d bytes)", len(str))
		}
		if err := t.write(h.page+pageSize, append([]byte(str), 0)); err != nil {
			return 0, err
		}
		args = append([]uint64{h.page + pageSize}, args...)
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], h.page)
	if err := t.write(h.frame, b[:]); err != nil {
		return 0, err
	}
	h.called = true
	r := h.resume
	r.Rsp, r.Rip, r.Rax = h.frame, fn, 0
	r.Eflags &^= flagDF | flagTF
	regs := []*uint64{&r.Rdi, &r.Rsi, &r.Rdx, &r.Rcx, &r.R8, &r.R9}
	for i, a := range args {
		*regs[i] = a
	}
	// Registers first: should the engine die in between, the thread runs
	// the call with its own FP state and still restores itself.
	th.regs = nil
	if err := unix.PtraceSetRegs(th.tid, &r); err != nil {
		return 0, t.goneOr(fmt.Errorf("setting registers of thread %d: %w", th.tid, err))
	}
	if err := setXState(th.tid, cleanFPState(h.saved), h.saved.fxOnly); err != nil {
		return 0, t.goneOr(err)
	}
	started := time.Now()
	deadline := started.Add(h.timeout)
	h.late = 0
	var result uint64
	returned := false
	for {
		th.sig, th.stopped, th.kind, th.regs = 0, false, stopNone, nil
		if err := ptrace(unix.PTRACE_SYSCALL, th.tid, 0, 0); err != nil {
			return 0, t.goneOr(fmt.Errorf("resuming thread %d: %w", th.tid, err))
		}
		err := t.waitStopped(th, deadline)
		if errors.Is(err, errTimeout) && h.late == 0 {
			// The watchdog: let it finish, for as long again.
			h.late = 1
			deadline = started.Add(2 * h.timeout)
			err = t.waitStopped(th, deadline)
		}
		if errors.Is(err, errTimeout) {
			// Leave it to finish on its own and restore itself.
			if err := t.interruptAndWait(th, time.Now().Add(stopOneTimeout)); err != nil {
				return 0, err
			}
			t.hold(th)
			sig := t.redeliver(th)
			delete(t.threads, th.tid)
			h.abandoned = true
			if err := ptrace(unix.PTRACE_DETACH, th.tid, 0, uintptr(sig)); err != nil {
				return 0, t.goneOr(fmt.Errorf("detaching thread %d: %w", th.tid, err))
			}
			return 0, fmt.Errorf("remote call did not return within %v, nor within %v more: left to finish in thread %d, which restores itself when it returns: %w", h.timeout, h.timeout, th.tid, errTimeout)
		}
		if err != nil {
			return 0, err
		}
		switch th.kind {
		case stopSyscall:
			if returned {
				// The exit of the cancelled rt_sigreturn.
				if h.late != 0 {
					h.late = max(time.Since(started)-h.timeout, 1)
				}
				binary.LittleEndian.PutUint64(b[:], h.c.restoreRT)
				if err := t.write(h.frame, b[:]); err != nil {
					return 0, err
				}
				return result, h.restore()
			}
			var cur unix.PtraceRegs
			if err := unix.PtraceGetRegs(th.tid, &cur); err != nil {
				return 0, t.goneOr(fmt.Errorf("reading registers of thread %d: %w", th.tid, err))
			}
			if cur.Orig_rax == unix.SYS_RT_SIGRETURN && cur.Rip == h.page+landingFirst && cur.Rsp == h.frame+8 {
				if result, err = t.readWord(h.frame); err != nil {
					return 0, err
				}
				cur.Orig_rax = noSyscall
				th.regs = nil
				if err := unix.PtraceSetRegs(th.tid, &cur); err != nil {
					return 0, t.goneOr(fmt.Errorf("cancelling rt_sigreturn in thread %d: %w", th.tid, err))
				}
				returned = true
			}
		case stopSignal:
			// Hold it: the thread is not running its own code now.
			t.hold(th)
		}
	}
}

// end unmaps the engine's pages and restores the thread exactly: the FP
// state first, then the general registers (resumable, so correct in any
// kind of stop), so that an engine dying in between still leaves a thread
// that restores itself from its frame.
func (h *hijack) end() error {
	if h.abandoned {
		return nil // the thread restores itself (see call)
	}
	var first error
	if h.page != 0 {
		if _, err := h.syscall(unix.SYS_MUNMAP, h.page, 2*pageSize); err != nil {
			first = fmt.Errorf("unmapping the landing page: %w", err)
		}
		h.page = 0
	}
	if err := h.restore(); err != nil && first == nil {
		first = err
	}
	if err := ptrace(unix.PTRACE_SETOPTIONS, h.th.tid, 0, unix.PTRACE_O_TRACECLONE); err != nil && first == nil {
		first = h.t.goneOr(fmt.Errorf("setting options of thread %d: %w", h.th.tid, err))
	}
	return first
}

func (h *hijack) restore() error {
	s := h.saved
	s.regs = h.resume
	if h.called || h.th.groupStop {
		// After a function call, or in a group-stop, where the thread
		// may wait long and be borrowed again (see tracer.restarting).
		s.regs = h.scratch
	}
	h.th.regs = nil
	if err := restoreRegs(h.th.tid, s); err != nil {
		return h.t.goneOr(err)
	}
	return nil
}
