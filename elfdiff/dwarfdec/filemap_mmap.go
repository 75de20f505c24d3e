//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package dwarfdec

import (
	"io"

	"golang.org/x/sys/unix"
)

// mapFile maps the n bytes at off of the file r reads, read-only, and
// returns them with the functions that unmap them and that evict a range
// of them (see fileMap). It returns false when r is not a file (an
// *os.File) or the mapping fails: the caller reads the bytes instead.
func mapFile(r io.ReaderAt, off, n uint64) (fileMap, bool) {
	f, ok := r.(interface{ Fd() uintptr })
	if !ok || n == 0 {
		return fileMap{}, false
	}
	page := uint64(unix.Getpagesize())
	start := off &^ (page - 1)
	length := off - start + n
	if length < n || length != uint64(int(length)) || int64(start) < 0 {
		return fileMap{}, false
	}
	whole, err := unix.Mmap(int(f.Fd()), int64(start), int(length), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return fileMap{}, false
	}
	skip := off - start
	data := whole[skip : skip+n : skip+n]
	evict := func(from, to uint64) uint64 {
		// The pages wholly inside data[from:to]: a page shared with
		// bytes outside stays.
		first := (skip + from + page - 1) &^ (page - 1)
		end := min(skip+to, length) &^ (page - 1)
		if first >= end {
			return from
		}
		unix.Madvise(whole[first:end], unix.MADV_DONTNEED)
		return end - skip
	}
	return fileMap{data: data, unmap: func() { unix.Munmap(whole) }, evict: evict}, true
}
