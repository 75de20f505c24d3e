//go:build linux && amd64

package inject

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// read reads target memory through /proc/PID/mem.
func (t *tracer) read(addr uint64, buf []byte) error {
	if _, err := t.mem.ReadAt(buf, int64(addr)); err != nil {
		return t.goneOr(fmt.Errorf("reading %d bytes at %#x: %w", len(buf), addr, err))
	}
	return nil
}

// write writes target memory through /proc/PID/mem; the kernel writes
// through read-only mappings (FOLL_FORCE) as it does for debuggers. Used
// only for memory no thread executes yet (new trampoline and int3 pages).
func (t *tracer) write(addr uint64, buf []byte) error {
	if _, err := t.mem.WriteAt(buf, int64(addr)); err != nil {
		return t.goneOr(fmt.Errorf("writing %d bytes at %#x: %w", len(buf), addr, err))
	}
	return nil
}

// readWords reads the word at the address of each of ws, in one
// process_vm_readv per 1024 words where it can (a read of /proc/PID/mem
// costs microseconds, and the engine reads each word it writes twice with
// the world stopped), else one read each.
func (t *tracer) readWords(ws []wordWrite) ([]hexWord, error) {
	out := make([]hexWord, len(ws))
	local := make([]unix.Iovec, len(ws))
	remote := make([]unix.RemoteIovec, len(ws))
	for i, w := range ws {
		local[i] = unix.Iovec{Base: &out[i][0], Len: 8}
		remote[i] = unix.RemoteIovec{Base: uintptr(w.Addr), Len: 8}
	}
	done := 0
	for done < len(ws) {
		hi := min(done+1024, len(ws))
		if n, err := unix.ProcessVMReadv(t.memTID, local[done:hi], remote[done:hi], 0); err != nil || n != 8*(hi-done) {
			break
		}
		done = hi
	}
	for i := done; i < len(ws); i++ {
		if err := t.read(ws[i].Addr, out[i][:]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (t *tracer) readWord(addr uint64) (uint64, error) {
	var b [8]byte
	if err := t.read(addr, b[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// pokeWord writes one aligned 8-byte word with a single PTRACE_POKEDATA
// through stopped thread tid: one system call, so a crash of the engine
// leaves either the old word or the new one, never a mix.
func pokeWord(tid int, addr uint64, w [8]byte) error {
	if addr%8 != 0 {
		return fmt.Errorf("unaligned word write at %#x", addr)
	}
	v := binary.LittleEndian.Uint64(w[:])
	if err := ptrace(unix.PTRACE_POKEDATA, tid, uintptr(addr), uintptr(v)); err != nil {
		return fmt.Errorf("writing word at %#x: %w", addr, err)
	}
	return nil
}

// readCString reads a NUL-terminated string of at most max bytes.
func (t *tracer) readCString(addr uint64, max int) string {
	buf := make([]byte, max)
	n, _ := t.mem.ReadAt(buf, int64(addr))
	buf = buf[:n]
	for i, c := range buf {
		if c == 0 {
			return string(buf[:i])
		}
	}
	return string(buf)
}
