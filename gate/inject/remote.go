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
	redZone   = 128
	flagTF    = 0x100
	flagDF    = 0x400
	noSyscall = ^uint64(0) // orig_rax = -1: not in a system call
)

// remoteSyscall makes thread th (stopped, registers saved by the caller) run
// one system call. It points RIP at a `syscall` instruction found in the
// target's libc text and single-steps it, so no code is written for it.
// orig_rax is set to -1 so the kernel does not treat the thread as being in
// an interrupted system call to restart. Signals arriving meanwhile are held
// and re-sent on detach.
func (t *tracer) remoteSyscall(th *thread, base unix.PtraceRegs, insn uint64, nr uint64, args ...uint64) (uint64, error) {
	r := base
	r.Rax, r.Orig_rax, r.Rip = nr, noSyscall, insn
	r.Eflags &^= flagTF
	regs := []*uint64{&r.Rdi, &r.Rsi, &r.Rdx, &r.R10, &r.R8, &r.R9}
	for i, a := range args {
		*regs[i] = a
	}
	if err := unix.PtraceSetRegs(th.tid, &r); err != nil {
		return 0, t.goneOr(fmt.Errorf("setting registers of thread %d: %w", th.tid, err))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		th.stopped, th.kind = false, stopNone
		if err := ptrace(unix.PTRACE_SINGLESTEP, th.tid, 0, 0); err != nil {
			return 0, t.goneOr(fmt.Errorf("single-stepping thread %d: %w", th.tid, err))
		}
		if err := t.waitStopped(th, deadline); err != nil {
			return 0, err
		}
		var cur unix.PtraceRegs
		if err := unix.PtraceGetRegs(th.tid, &cur); err != nil {
			return 0, t.goneOr(fmt.Errorf("reading registers of thread %d: %w", th.tid, err))
		}
		if th.kind == stopSignal && th.sig != int(unix.SIGTRAP) {
			th.held = append(th.held, th.sig)
		}
		th.sig = 0
		if cur.Rip == insn+2 {
			if e := int64(cur.Rax); e < 0 && e > -4096 {
				return 0, unix.Errno(-e)
			}
			return cur.Rax, nil
		}
		if cur.Rip != insn {
			return 0, fmt.Errorf("remote system call %d in thread %d: unexpected stop at %#x", nr, th.tid, cur.Rip)
		}
	}
}

// remoteCall calls the function at fn in thread th with up to six integer
// arguments, returning into the int3 at ret. The frame is put below the red
// zone, the stack is 16-byte aligned at the call (RSP+8 aligned at entry),
// RIP/RSP/orig_rax are set, the direction flag is cleared and the FP control
// state reset to the ABI's. The caller restores th's saved state afterwards.
// On timeout the thread is interrupted and errTimeout returned.
func (t *tracer) remoteCall(th *thread, saved regState, fn, ret uint64, timeout time.Duration, args ...uint64) (uint64, error) {
	r := saved.regs
	sp := (r.Rsp - redZone) &^ 15
	sp -= 8 // the return address: RSP+8 is 16-byte aligned at entry
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], ret)
	if err := t.write(sp, b[:]); err != nil {
		return 0, err
	}
	r.Rsp, r.Rip, r.Orig_rax, r.Rax = sp, fn, noSyscall, 0
	r.Eflags &^= flagDF | flagTF
	regs := []*uint64{&r.Rdi, &r.Rsi, &r.Rdx, &r.Rcx, &r.R8, &r.R9}
	for i, a := range args {
		*regs[i] = a
	}
	if err := setXState(th.tid, cleanFPState(saved), saved.fxOnly); err != nil {
		return 0, t.goneOr(err)
	}
	if err := unix.PtraceSetRegs(th.tid, &r); err != nil {
		return 0, t.goneOr(fmt.Errorf("setting registers of thread %d: %w", th.tid, err))
	}
	deadline := time.Now().Add(timeout)
	for {
		th.sig, th.stopped, th.kind = 0, false, stopNone
		if err := ptrace(unix.PTRACE_CONT, th.tid, 0, 0); err != nil {
			return 0, t.goneOr(fmt.Errorf("resuming thread %d: %w", th.tid, err))
		}
		err := t.waitStopped(th, deadline)
		if errors.Is(err, errTimeout) {
			if err := t.interruptAndWait(th, time.Now().Add(2*time.Second)); err != nil {
				return 0, err
			}
			return 0, fmt.Errorf("remote call did not return within %v: %w", timeout, errTimeout)
		}
		if err != nil {
			return 0, err
		}
		var cur unix.PtraceRegs
		if err := unix.PtraceGetRegs(th.tid, &cur); err != nil {
			return 0, t.goneOr(fmt.Errorf("reading registers of thread %d: %w", th.tid, err))
		}
		if th.kind == stopSignal && th.sig == int(unix.SIGTRAP) && cur.Rip == ret+1 {
			th.sig = 0
			return cur.Rax, nil
		}
		if th.kind == stopSignal {
			// Hold it: the thread is not running its own code now.
			th.held = append(th.held, th.sig)
			th.sig = 0
		}
	}
}

// hijack is a thread borrowed for remote calls, with an int3 page mapped in
// the target for the calls to return into.
type hijack struct {
	t       *tracer
	th      *thread
	saved   regState
	insn    uint64 // a syscall instruction in libc
	page    uint64 // int3 page; the page after it holds string arguments
	timeout time.Duration
}

const pageSize = 4096

// startHijack saves th's state and maps the int3 page (two pages: int3s, then
// data) with a remote mmap.
func (t *tracer) startHijack(th *thread, insn uint64, timeout time.Duration) (*hijack, error) {
	saved, err := saveRegs(th.tid)
	if err != nil {
		return nil, t.goneOr(err)
	}
	h := &hijack{t: t, th: th, saved: saved, insn: insn, timeout: timeout}
	addr, err := t.remoteSyscall(th, saved.regs, insn, unix.SYS_MMAP, 0, 2*pageSize,
		unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS, ^uint64(0), 0)
	if err != nil {
		h.restore()
		return nil, fmt.Errorf("mapping the int3 page: %w", err)
	}
	h.page = addr
	int3 := make([]byte, pageSize)
	for i := range int3 {
		int3[i] = 0xcc
	}
	if err := t.write(addr, int3); err != nil {
		h.end()
		return nil, err
	}
	return h, nil
}

// call calls fn with a string argument (placed in the data page) followed by
// integer arguments; str "" passes no string.
func (h *hijack) call(fn uint64, str string, args ...uint64) (uint64, error) {
	if str != "" {
		if len(str) >= pageSize {
			return 0, fmt.Errorf("path too long (%d bytes)", len(str))
		}
		if err := h.t.write(h.page+pageSize, append([]byte(str), 0)); err != nil {
			return 0, err
		}
		args = append([]uint64{h.page + pageSize}, args...)
	}
	return h.t.remoteCall(h.th, h.saved, fn, h.page, h.timeout, args...)
}

// end unmaps the int3 page and restores the thread exactly.
func (h *hijack) end() error {
	var first error
	if h.page != 0 {
		if _, err := h.t.remoteSyscall(h.th, h.saved.regs, h.insn, unix.SYS_MUNMAP, h.page, 2*pageSize); err != nil {
			first = fmt.Errorf("unmapping the int3 page: %w", err)
		}
		h.page = 0
	}
	if err := h.restore(); err != nil && first == nil {
		first = err
	}
	return first
}

func (h *hijack) restore() error {
	if err := restoreRegs(h.th.tid, h.saved); err != nil {
		return h.t.goneOr(err)
	}
	return nil
}
