//go:build linux && amd64

package inject

import (
	"fmt"
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
	read := func(addr uint64, buf []byte) error {
		n, err := unix.ProcessVMReadv(tg.pid(), []unix.Iovec{{Base: &buf[0], Len: uint64(len(buf))}},
			[]unix.RemoteIovec{{Base: uintptr(addr), Len: len(buf)}}, 0)
		if err == nil && n != len(buf) {
			err = fmt.Errorf("short read at %#x", addr)
		}
		return err
	}
	u := newUnwinder(tg.pid(), maps, read)
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
