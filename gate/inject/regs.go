//go:build linux && amd64

package inject

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// regState is everything a remote call may change in a thread: the general
// registers and the whole XSAVE area (x87, SSE, AVX, AVX-512, ...).
type regState struct {
	regs   unix.PtraceRegs
	xstate []byte // NT_X86_XSTATE, or the 512-byte FXSAVE area as a fallback
	fxOnly bool
}

// saveRegs reads the register state of stopped thread tid.
func saveRegs(tid int) (regState, error) {
	var s regState
	if err := unix.PtraceGetRegs(tid, &s.regs); err != nil {
		return s, fmt.Errorf("reading registers of thread %d: %w", tid, err)
	}
	buf := make([]byte, 64<<10)
	iov := unix.Iovec{Base: &buf[0]}
	iov.SetLen(len(buf))
	err := ptrace(unix.PTRACE_GETREGSET, tid, uintptr(unix.NT_X86_XSTATE), uintptr(unsafe.Pointer(&iov)))
	if err == nil {
		s.xstate = buf[:iov.Len]
		return s, nil
	}
	fx := make([]byte, 512)
	if err2 := ptrace(unix.PTRACE_GETFPREGS, tid, 0, uintptr(unsafe.Pointer(&fx[0]))); err2 != nil {
		return s, fmt.Errorf("reading FP state of thread %d: %w (xstate: %v)", tid, err2, err)
	}
	s.xstate, s.fxOnly = fx, true
	return s, nil
}

// setXState writes an XSAVE (or FXSAVE) area to thread tid.
func setXState(tid int, x []byte, fxOnly bool) error {
	if fxOnly {
		if err := ptrace(unix.PTRACE_SETFPREGS, tid, 0, uintptr(unsafe.Pointer(&x[0]))); err != nil {
			return fmt.Errorf("writing FP state of thread %d: %w", tid, err)
		}
		return nil
	}
	iov := unix.Iovec{Base: &x[0]}
	iov.SetLen(len(x))
	if err := ptrace(unix.PTRACE_SETREGSET, tid, uintptr(unix.NT_X86_XSTATE), uintptr(unsafe.Pointer(&iov))); err != nil {
		return fmt.Errorf("writing extended state of thread %d: %w", tid, err)
	}
	return nil
}

// restoreRegs writes s back to thread tid exactly.
func restoreRegs(tid int, s regState) error {
	if err := setXState(tid, s.xstate, s.fxOnly); err != nil {
		return err
	}
	r := s.regs
	if err := unix.PtraceSetRegs(tid, &r); err != nil {
		return fmt.Errorf("restoring registers of thread %d: %w", tid, err)
	}
	return nil
}

// cleanFPState returns a copy of the saved state with the x87 and SSE
// control state the System V ABI guarantees at a call: empty x87 stack,
// default control word and MXCSR. The interrupted code may have been in the
// middle of an x87 computation.
func cleanFPState(s regState) []byte {
	x := append([]byte(nil), s.xstate...)
	binary.LittleEndian.PutUint16(x[0:], 0x037f)  // FCW
	binary.LittleEndian.PutUint16(x[2:], 0)       // FSW
	x[4] = 0                                      // abridged FTW: all empty
	binary.LittleEndian.PutUint32(x[24:], 0x1f80) // MXCSR
	return x
}
