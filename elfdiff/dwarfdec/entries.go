package dwarfdec

// This file reads DIEs with debug/dwarf, for what the checker's own
// decoders leave to it: attributes of forms the scanner cannot resolve
// alone, and the address ranges of a subprogram.

import (
	"debug/dwarf"
	"errors"
	"fmt"
)

// An EntryReader reads DIEs with debug/dwarf one unit at a time: it makes
// a dwarf.Data of the unit of the DIE asked for, and keeps it for the
// next DIE of the same unit. A Data of the whole .debug_info would parse
// every unit's header when made, touching a page of every unit: with
// .debug_info mapped from the file, the kernel maps the pages around
// each page touched (fault-around), which for units of tens of KiB is the
// whole section, at once.
//
// The offsets in the entries it returns, and in the values debug/dwarf
// decodes in them, are from the start of their unit: an entry is for the
// Ranges of the same EntryReader only, before it reads a
// DIE of another unit.
type EntryReader struct {
	sec   *Sections
	start uint64 // the offset of the unit of data in Info
	data  *dwarf.Data
	r     *dwarf.Reader
}

// NewEntryReader returns a reader of the DIEs of sec's .debug_info.
func NewEntryReader(sec *Sections) *EntryReader {
	sec.ensureSegs()
	return &EntryReader{sec: sec}
}

// errOutOfRange is debug/dwarf's error for a DIE outside .debug_info: it
// reads neither .debug_types nor a supplementary file by offset.
var errOutOfRange = errors.New("offset out of range")

// Entry reads the DIE at off, in unit u (as the scanner or the decoder
// read its header).
func (er *EntryReader) Entry(u *ScanUnit, off dwarf.Offset) (*dwarf.Entry, error) {
	if u.seg != &er.sec.segs[0] || uint64(off) < u.off || uint64(off) >= u.end {
		return nil, fmt.Errorf("reading DIE at %#x: %w", off, errOutOfRange)
	}
	if er.data == nil || er.start != u.off {
		d, err := er.sec.dwarfData(er.sec.Info[u.off:u.end:u.end], false)
		if err != nil {
			er.data = nil
			return nil, fmt.Errorf("reading DIE at %#x: %w", off, err)
		}
		er.data, er.r, er.start = d, d.Reader(), u.off
	}
	rel := off - dwarf.Offset(er.start)
	er.r.Seek(rel)
	e, err := er.r.Next()
	if err != nil {
		return nil, fmt.Errorf("reading DIE at %#x: %w", off, err)
	}
	if e == nil || e.Offset != rel {
		return nil, fmt.Errorf("no DIE at %#x", off)
	}
	return e, nil
}

// Ranges returns the address ranges of e, an entry Entry returned for the
// unit read last.
func (er *EntryReader) Ranges(e *dwarf.Entry) ([][2]uint64, error) { return er.data.Ranges(e) }

// Unit returns the header of the unit being scanned: that of the last DIE
// Next returned.
func (s *Scanner) Unit() *ScanUnit { return &s.unit }

// Unit returns the header of the unit whose DIEs span off.
func (dd *Decoder) Unit(off dwarf.Offset) (*ScanUnit, error) {
	u, err := dd.unitAt(off)
	if err != nil {
		return nil, err
	}
	return &u.ScanUnit, nil
}
