//go:build linux && amd64

package inject

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A remote operation changes a thread's registers; if the engine dies in
// the middle (SIGKILL, OOM), the thread must not run on with them. Before
// any change, the engine therefore writes on the thread's stack, below the
// red zone, a kernel signal frame (struct rt_sigframe) holding the thread's
// exact state, and arranges that every remote operation, left to itself,
// ends in rt_sigreturn on that frame: a remote system call runs at a
// `syscall; ret` sequence of libc whose ret goes to libc's __restore_rt
// (`mov $15, %rax; syscall`), and a remote function call returns into a
// landing pad that does the same. While the engine is alive it catches the
// thread before (single-step) or at (syscall-stop) that point; when it is
// gone, the kernel restores the thread from the frame — general registers,
// the whole XSAVE state and the signal mask — and it carries on as if
// nothing had happened.

// Layout of struct rt_sigframe on x86-64 (arch/x86/include/asm/sigframe.h).
const (
	frameUC      = 8            // struct ucontext, after pretcode
	frameMcontxt = frameUC + 40 // uc_mcontext (struct sigcontext)
	frameSigmask = frameUC + 296
	frameFP      = 440 // the XSAVE area, 64-byte aligned, after siginfo
	fpMagic1     = 0x46505853
	fpMagic2     = 0x46505845
	ucFPXState   = 0x1 // UC_FP_XSTATE
	ucSigcontSS  = 0x2 // UC_SIGCONTEXT_SS
	ucStrictSS   = 0x4 // UC_STRICT_RESTORE_SS
	sysRestart   = 219 // __NR_restart_syscall
)

// resumable returns r as it must be restored through a path that does not
// restart an interrupted system call (rt_sigreturn, or registers set with
// orig_rax = -1): the restart the kernel would have made on resuming the
// thread is applied here, as its signal code does when no handler runs.
// A call interrupted with ERESTART_RESTARTBLOCK (nanosleep, poll) resumes
// through restart_syscall when viaSigreturn is false; rt_sigreturn resets
// the restart block, so for a frame the call is made again from scratch
// (it may wait longer than asked, never fail with EINTR).
func resumable(r unix.PtraceRegs, viaSigreturn bool) unix.PtraceRegs {
	if int64(r.Orig_rax) >= 0 {
		switch int64(r.Rax) {
		case -512, -513, -514: // ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND
			r.Rax = r.Orig_rax
			r.Rip -= 2
		case errRestartBlock:
			r.Rax = sysRestart
			if viaSigreturn {
				r.Rax = r.Orig_rax
			}
			r.Rip -= 2
		}
	}
	r.Orig_rax = noSyscall
	return r
}

// sigMask returns the signal mask of stopped thread tid.
func sigMask(tid int) (uint64, error) {
	var m uint64
	if err := ptrace(unix.PTRACE_GETSIGMASK, tid, 8, uintptr(unsafe.Pointer(&m))); err != nil {
		return 0, fmt.Errorf("reading the signal mask of thread %d: %w", tid, err)
	}
	return m, nil
}

// frameSize is the room a frame for state s takes from its base up.
func frameSize(s regState) uint64 { return frameFP + uint64(len(s.xstate)) + 4 }

// frameBase returns where to put the frame for a thread whose stack pointer
// is rsp: below the red zone, with the XSAVE area 64-byte aligned (so the
// base, where the return address goes, is 8 mod 16 as at a function entry).
func frameBase(rsp uint64, s regState) uint64 {
	fp := (rsp - redZone - uint64(len(s.xstate)) - 4) &^ 63
	return fp - frameFP
}

// sigFrame encodes an rt_sigframe at base restoring r (already resumable),
// the XSAVE or FXSAVE area of s, and signal mask mask. pretcode is the
// return address stored in its first word.
func sigFrame(base, pretcode uint64, r unix.PtraceRegs, s regState, mask uint64) []byte {
	b := make([]byte, frameSize(s))
	le := binary.LittleEndian
	le.PutUint64(b[0:], pretcode)
	flags := uint64(ucSigcontSS | ucStrictSS)
	xs := append([]byte(nil), s.xstate...)
	if !s.fxOnly && len(xs) >= 512 && le.Uint32(xs[464:]) == fpMagic1 {
		flags |= ucFPXState
		size := le.Uint32(xs[480:]) // xstate_size in the software-reserved bytes
		if int(size) > len(xs) || size < 512 {
			size = uint32(len(xs))
			le.PutUint32(xs[480:], size)
		}
		le.PutUint32(xs[468:], size+4) // extended_size: with MAGIC2
		copy(b[frameFP:], xs)
		le.PutUint32(b[frameFP+uint64(size):], fpMagic2)
	} else {
		copy(b[frameFP:], xs[:min(512, len(xs))])
		for i := 464; i < 512 && frameFP+i < len(b); i++ {
			b[frameFP+i] = 0 // no software-reserved magic: a plain FXSAVE area
		}
	}
	le.PutUint64(b[frameUC:], flags)
	// uc_stack stays zero: rt_sigreturn then leaves the alternate signal
	// stack as it is (a zero size is rejected, and the error ignored).
	mc := b[frameMcontxt:]
	for i, v := range []uint64{r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15,
		r.Rdi, r.Rsi, r.Rbp, r.Rbx, r.Rdx, r.Rax, r.Rcx, r.Rsp, r.Rip, r.Eflags} {
		le.PutUint64(mc[8*i:], v)
	}
	le.PutUint16(mc[144:], uint16(r.Cs))
	le.PutUint16(mc[150:], uint16(r.Ss))
	le.PutUint64(mc[192:], base+frameFP) // fpstate
	le.PutUint64(b[frameSigmask:], mask)
	return b
}
