package dwarfdec

// This file maps the DWARF sections a file stores as they are (neither
// SHF_COMPRESSED nor .zdebug_) from the file instead of reading them,
// where the platform allows (filemap_mmap.go; elsewhere they are read).
//
// A mapping's pages are the page cache's: the kernel loads them when they
// are touched, and the reader gives those of .debug_info back once it is
// past them (Sections.Evict); pages of a file mapping that were never
// written are read again from the page cache if touched after, as when the
// merge of types compares a later unit's DIEs with an earlier unit's. A
// read's peak memory then follows what it is using (the units being read
// and the DIEs they are compared with), not the size of .debug_info.
// Compressed sections are inflated into memory, as before.
//
// Lifetime: a mapping is unmapped when its Sections are released
// (File.Close), as the buffers sections are read into elsewhere are
// freed. Nothing decoded from the sections keeps a slice of them: names
// are copied into strings as they are decoded, so that what a reader
// returns (abi.DebugInfo, elfdiff.Corpus) never refers to a mapping.

import (
	"debug/elf"
	"io"
	"strings"
)

// A fileMap is bytes of a file, mapped read-only.
type fileMap struct {
	data  []byte
	unmap func()
	file  io.ReaderAt // the file, and where data starts in it
	off   uint64
	// evict gives the pages wholly inside data[start:end] back to the
	// kernel (they are read again from the file if touched), and
	// returns where the last one ends in data, or start when none.
	evict func(start, end uint64) uint64
}

// mapSection maps s from the file r reads, when s is stored as it is in
// a .debug_ section and r is a file; it returns false otherwise, and then
// the section is read.
func mapSection(s *elf.Section, r io.ReaderAt) (fileMap, bool) {
	if s.Flags&elf.SHF_COMPRESSED != 0 || s.Type == elf.SHT_NOBITS || s.Size == 0 || s.FileSize != s.Size ||
		!strings.HasPrefix(s.Name, ".debug_") || r == nil || s.Offset+s.Size < s.Offset {
		return fileMap{}, false
	}
	// Reading a mapping past the end of the file faults: the section's
	// last byte must be in the file (the read reports the error).
	var last [1]byte
	if _, err := r.ReadAt(last[:], int64(s.Offset+s.Size-1)); err != nil {
		return fileMap{}, false
	}
	m, ok := mapFile(r, s.Offset, s.Size)
	m.file, m.off = r, s.Offset
	return m, ok
}

// InfoAt returns the bytes of Info at off, as many as p holds (fewer at
// the end of Info). Where Info maps the file, they are read from the file
// into p, without touching the mapping: a reader of the unit headers
// alone would otherwise map most of the section (see EntryReader).
func (sec *Sections) InfoAt(p []byte, off uint64) []byte {
	if off >= uint64(len(sec.Info)) {
		return nil
	}
	n := min(uint64(len(p)), uint64(len(sec.Info))-off)
	if f := sec.infoFile; f != nil {
		if m, _ := f.ReadAt(p[:n], int64(sec.infoFileOff+off)); uint64(m) == n {
			return p[:n]
		}
	}
	return sec.Info[off : off+n]
}

// Evict says the units in Info[start:end] have been read and are not
// needed soon. Where Info maps the file, the pages wholly inside the
// range are given back to the kernel (they are read again from the file
// if touched); elsewhere Evict does nothing. It returns where the last
// page given back ends, or start when none was: the start of the next
// range, so that a reader moving forward leaves no page behind.
func (sec *Sections) Evict(start, end uint64) uint64 {
	if sec.infoEvict == nil || start >= end {
		return start
	}
	return sec.infoEvict(start, min(end, uint64(len(sec.Info))))
}
