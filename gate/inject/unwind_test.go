//go:build linux && amd64

package inject

import (
	"fmt"
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"
)

// TestUnwindWalksRealStacks walks, by their CFI, the stacks of the threads
// of a real program blocked in read(2): through the C library, the
// program, libver and the thread start of glibc (or __libc_start_main for
// the main thread), each walk reaches the outermost frame; the thread
// blocked inside libver has a frame there, the one that left libver has
// none, though its stack holds a return address into libver.
func TestUnwindWalksRealStacks(t *testing.T) {
	f := setup(t)
	tg, blocked := startStale(t, f)
	maps, err := readMaps(tg.pid())
	if err != nil {
		t.Fatal(err)
	}
	var lib []addrRange
	for _, m := range maps {
		if m.exec() && m.path == f.v1 {
			lib = append(lib, addrRange{m.start, m.end})
		}
	}
	text := newRanges(lib)
	u := newUnwinder(tg.pid(), maps, vmReader(tg.pid()))
	for _, c := range []struct {
		thread string
		inLib  bool
	}{{"main", false}, {"stale", false}, {"inside", true}} {
		pt := blocked[c.thread]
		var regs frameRegs
		regs.set(dwRSP, pt.sp)
		ras, err := u.returnAddresses(pt.pc, regs)
		if err != nil {
			t.Errorf("thread %s: %v", c.thread, err)
			continue
		}
		inLib := false
		for _, ra := range ras {
			inLib = inLib || text.contains(ra)
		}
		if inLib != c.inLib || len(ras) < 3 {
			t.Errorf("thread %s: %d frames, one in libver: %v, want %v", c.thread, len(ras), inLib, c.inLib)
		}
	}
}

// TestUnwindWalksPython walks the stacks of Debian's python3, a program
// nobody here built, with a thread blocked in os.read and the main thread
// in sys.stdin.read: through the interpreter's evaluation loop, glibc and
// the thread start, each walk reaches the outermost frame.
func TestUnwindWalksPython(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	if err := ptraceAllowed(); err != nil {
		t.Skipf("ptrace is not permitted here: %v", err)
	}
	tg := startProgram(t, python, "-c", `import os, sys, threading
r, w = os.pipe()
t = threading.Thread(target=os.read, args=(r, 1))
t.start()
print("main", threading.get_native_id(), flush=True)
print("reader", t.native_id, flush=True)
sys.stdin.read()`)
	blocked := waitBlockedInRead(t, tg.pid(), readNamedTIDs(tg, 2))
	maps, err := readMaps(tg.pid())
	if err != nil {
		t.Fatal(err)
	}
	u := newUnwinder(tg.pid(), maps, vmReader(tg.pid()))
	for name, pt := range blocked {
		var regs frameRegs
		regs.set(dwRSP, pt.sp)
		ras, err := u.returnAddresses(pt.pc, regs)
		if err != nil {
			t.Errorf("thread %s: %v", name, err)
		} else if len(ras) < 5 {
			t.Errorf("thread %s: %d frames, want the interpreter's", name, len(ras))
		}
	}
}

// vmReader reads the memory of process pid with process_vm_readv.
func vmReader(pid int) func(addr uint64, buf []byte) error {
	return func(addr uint64, buf []byte) error {
		n, err := unix.ProcessVMReadv(pid, []unix.Iovec{{Base: &buf[0], Len: uint64(len(buf))}},
			[]unix.RemoteIovec{{Base: uintptr(addr), Len: len(buf)}}, 0)
		if err == nil && n != len(buf) {
			err = fmt.Errorf("short read at %#x", addr)
		}
		return err
	}
}
