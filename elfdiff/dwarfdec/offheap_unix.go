//go:build unix

package dwarfdec

import "golang.org/x/sys/unix"

// offHeap returns n zeroed bytes outside the Go heap, in an anonymous
// private mapping, and the function that unmaps them. The DWARF sections
// live there while a library is read: hundreds of megabytes that the
// garbage collector would otherwise count, and double, in its heap goal.
// It falls back to the heap when the mapping fails.
func offHeap(n uint64) ([]byte, func()) {
	if n == 0 || n != uint64(int(n)) {
		return heapBuffer(n)
	}
	b, err := unix.Mmap(-1, 0, int(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return heapBuffer(n)
	}
	return b, func() { unix.Munmap(b) }
}
