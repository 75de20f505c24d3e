//go:build linux && amd64

package inject

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// lockingFuncs are the C library's exported functions that take the
// allocator's locks or the dynamic loader's locks and, while holding them,
// may stop somewhere the engine could otherwise pick (a system call, a
// callback into the program, a constructor or destructor).
var lockingFuncs = []string{
	"malloc", "free", "calloc", "realloc", "reallocarray", "memalign",
	"posix_memalign", "aligned_alloc", "valloc", "pvalloc", "cfree",
	"malloc_trim", "malloc_stats", "malloc_info", "mallinfo", "mallinfo2",
	"mallopt", "__libc_malloc", "__libc_free", "__libc_calloc",
	"__libc_realloc", "__libc_memalign",
	"dl_iterate_phdr", "dlopen", "dlmopen", "dlclose", "dlsym", "dlvsym",
	"dladdr", "dladdr1", "dlinfo", "__libc_dlopen_mode", "__libc_dlclose",
	"__libc_dlsym", "__libc_dlvsym",
	"fork", "_Fork", "exit", "__cxa_finalize", "pthread_create", "pthread_exit",
}

// addrRange is a half-open range of addresses in the target.
type addrRange struct{ lo, hi uint64 }

// lockRanges returns where lockingFuncs are in a C library loaded at bias.
func lockRanges(img *image, bias uint64) []addrRange {
	want := make(map[string]bool, len(lockingFuncs))
	for _, name := range lockingFuncs {
		want[name] = true
	}
	var rs []addrRange
	seen := map[addrRange]bool{}
	for _, s := range img.funcs {
		r := addrRange{bias + s.value, bias + s.value + s.size}
		if want[s.name] && s.size > 0 && !seen[r] {
			seen[r] = true
			rs = append(rs, r)
		}
	}
	return rs
}

// inLdso reports whether a is inside the dynamic linker's text.
func (c libc) inLdso(a uint64) bool {
	for _, m := range c.ldso {
		if m.exec() && m.contains(a) {
			return true
		}
	}
	return false
}

// inLocking reports whether a is inside one of the C library's locking
// functions.
func (c libc) inLocking(a uint64) bool {
	for _, r := range c.locking {
		if a >= r.lo && a < r.hi {
			return true
		}
	}
	return false
}

// lockScan finds threads that may hold the dynamic loader's or the
// allocator's lock, so that dlopen is never run in one: its own dlopen
// would then deadlock or run on the loader's half-updated lists.
type lockScan struct {
	t    *tracer
	c    libc
	maps []mapping
	rets map[uint64]bool // cache: is the address a plausible return address
}

func (s *lockScan) isReturn(a uint64) bool {
	if v, ok := s.rets[a]; ok {
		return v
	}
	var b [8]byte
	ok := a >= 8 && s.t.read(a-8, b[:]) == nil && looksLikeReturn(b)
	s.rets[a] = ok
	return ok
}

// holder returns why the thread with registers r may hold a loader or
// allocator lock, or "" when nothing suggests it does: it is executing (or
// stopped in a system call made by) the dynamic linker or a locking
// function of the C library, or its live stack (RSP to the top of its
// mapping, scanned conservatively) holds a return address into a locking
// function of the C library — every way into the loader from a program goes
// through one (dlopen, dlclose, dl_iterate_phdr, ...). Return addresses into
// the dynamic linker itself are not looked for: stale ones from the
// program's start-up linger in the main thread's uninitialised locals.
func (s *lockScan) holder(tid int, r *unix.PtraceRegs) (string, error) {
	if s.c.inLdso(r.Rip) || s.c.inLocking(r.Rip) {
		return fmt.Sprintf("thread %d is executing the dynamic linker or a locking C library function at %#x", tid, r.Rip), nil
	}
	m, ok := findMapping(s.maps, r.Rsp)
	if !ok {
		return fmt.Sprintf("thread %d: stack pointer %#x outside any mapping", tid, r.Rsp), nil
	}
	start := r.Rsp &^ 7
	end := min(m.end, start+maxStackScan)
	buf := make([]byte, end-start)
	if err := s.t.read(start, buf); err != nil {
		return "", err
	}
	for off := 0; off+8 <= len(buf); off += 8 {
		w := binary.LittleEndian.Uint64(buf[off:])
		if s.c.inLocking(w) && s.isReturn(w) {
			return fmt.Sprintf("thread %d has a return address %#x into a locking C library function on its stack", tid, w), nil
		}
	}
	return "", nil
}
