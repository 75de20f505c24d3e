package dwarfdec

// This file lays the units of a file's .debug_info, of its DWARF 4
// .debug_types sections and of its supplementary file's .debug_info out in
// one offset space (Sections.Info), and reads their unit headers.

import (
	"debug/dwarf"
	"fmt"
	"sync"
)

// A segment is a run of units of Info that come from one section.
type segment struct {
	start, end uint64
	file       *Sections // the sections the units' other forms read
	infoBase   uint64    // where file's .debug_info starts in Info: the base of DW_FORM_ref_addr
	types      bool      // DWARF 4 .debug_types: headers carry a signature
}

// refAlt returns where the DIE at off in the supplementary file of seg's
// file lies in Info, and false when the file has none.
func (seg *segment) refAlt(off uint64) (uint64, bool) {
	if f := seg.file; f.sup != nil {
		return f.supBase + off, true
	}
	return 0, false
}

// altStrings returns the string section of the supplementary file of
// seg's file, or nil.
func (seg *segment) altStrings() []byte {
	if f := seg.file; f.sup != nil {
		return f.sup.Str
	}
	return nil
}

// layout lays out sec's units, with those of its supplementary file sup
// (nil if none), in sec.Info. Without .debug_types and sup, Info is the
// .debug_info section as read. Otherwise the sections go one after the
// other into buf (allocated here when nil; release frees it), where
// readDWARFSections may have read them already: those elsewhere are
// copied, and their buffers freed.
func (sec *Sections) layout(sup *Sections, buf []byte, release func()) {
	parts := append([][]byte{sec.Info}, sec.types...)
	if sup != nil {
		parts = append(parts, sup.Info)
	}
	var n uint64
	for _, p := range parts {
		n += uint64(len(p))
	}
	sec.langs = new(importLangs)
	if buf == nil && n == uint64(len(sec.Info)) {
		sec.segs = []segment{{start: 0, end: n, file: sec}}
		return
	}
	if uint64(len(buf)) != n {
		if release != nil {
			release()
		}
		buf, release = offHeap(n)
	}
	pos := uint64(0)
	for i, p := range parts {
		end := pos + uint64(len(p))
		if len(p) > 0 && &p[0] != &buf[pos] {
			copy(buf[pos:end], p)
		}
		seg := segment{start: pos, end: end, file: sec, types: i > 0}
		switch {
		case i == 0:
		case sup != nil && i == len(parts)-1:
			sec.sup, sec.supBase = sup, pos
			seg = segment{start: pos, end: end, file: sup, infoBase: pos}
		default:
			sec.types[i-1] = buf[pos:end:end]
		}
		sec.segs = append(sec.segs, seg)
		pos = end
	}
	if sup != nil {
		sup.dropInfo()
	}
	sec.dropInfo()
	sec.Info = buf
	sec.releases = append(sec.releases, release)
}

// dropInfo frees the buffers .debug_info and .debug_types were read
// into, once they are copied into a combined Info.
func (sec *Sections) dropInfo() {
	for _, f := range sec.infoReleases {
		f()
	}
	sec.infoReleases = nil
	sec.infoEvict, sec.infoFile = nil, nil
}

// ensureSegs makes Info one segment of the file's own units when it was
// not laid out.
func (sec *Sections) ensureSegs() {
	if sec.segs == nil {
		sec.segs = []segment{{start: 0, end: uint64(len(sec.Info)), file: sec}}
		sec.langs = new(importLangs)
	}
}

// segEnd returns where the units of seg end in Info: the end of Info for
// the last segment.
func (sec *Sections) segEnd(seg *segment) uint64 {
	if seg == &sec.segs[len(sec.segs)-1] {
		return uint64(len(sec.Info))
	}
	return min(seg.end, uint64(len(sec.Info)))
}

// segAt returns the segment holding the unit at off.
func (sec *Sections) segAt(off uint64) *segment {
	for i := range sec.segs {
		if off < sec.segs[i].end {
			return &sec.segs[i]
		}
	}
	return &sec.segs[len(sec.segs)-1]
}

// unitHeader reads the unit header at off in sec.Info. For a type unit it
// also returns the type's signature and offset (from the unit's start).
func (sec *Sections) unitHeader(off uint64) (u ScanUnit, sig, typeOff uint64, err error) {
	info := sec.Info
	seg := sec.segAt(off)
	b := ScanBuf{Data: info, Pos: off, Order: sec.Order}
	u = ScanUnit{off: off, offSize: 4, seg: seg}
	length := uint64(b.U32())
	if length == 0xffffffff {
		length, u.offSize = b.U64(), 8
	} else if length >= 0xfffffff0 {
		return u, 0, 0, fmt.Errorf("unit at %#x: reserved unit length %#x", u.off, length)
	}
	if end := sec.segEnd(seg); b.Err != nil || length > end-min(b.Pos, end) {
		return u, 0, 0, fmt.Errorf("unit at %#x: length %#x runs past its section", u.off, length)
	}
	u.end = b.Pos + length
	b.Data = info[:u.end]
	u.version = b.u16()
	switch {
	case u.version >= 2 && u.version <= 4:
		u.abbrevOff = b.offset(u.offSize)
		u.addrSize = int(b.u8())
		u.unitType = utCompile
		if seg.types {
			u.unitType = utType
			sig, typeOff = b.U64(), b.offset(u.offSize)
		}
	case u.version == 5:
		u.unitType = b.u8()
		u.addrSize = int(b.u8())
		u.abbrevOff = b.offset(u.offSize)
		switch u.unitType {
		case utSkeleton, utSplitCompile:
			b.U64() // dwo_id
		case utType, utSplitType:
			sig, typeOff = b.U64(), b.offset(u.offSize)
		}
	default:
		return u, 0, 0, fmt.Errorf("unit at %#x: unsupported DWARF version %d", u.off, u.version)
	}
	if b.Err != nil {
		return u, 0, 0, fmt.Errorf("unit at %#x: %w", u.off, b.Err)
	}
	if u.addrSize != 4 && u.addrSize != 8 {
		return u, 0, 0, fmt.Errorf("unit at %#x: unsupported address size %d", u.off, u.addrSize)
	}
	u.first = b.Pos
	return u, sig, typeOff, nil
}

// typeSignatures returns, for each type unit of sec.Info (DWARF 5 type
// units and DWARF 4 .debug_types), the offset of the type it defines, by
// signature. A malformed header ends the walk.
func (sec *Sections) typeSignatures() map[uint64]dwarf.Offset {
	sigs := make(map[uint64]dwarf.Offset)
	for off := uint64(0); off < uint64(len(sec.Info)); {
		u, sig, typeOff, err := sec.unitHeader(off)
		if err != nil {
			break
		}
		if u.unitType == utType || u.unitType == utSplitType {
			sigs[sig] = dwarf.Offset(u.off + typeOff)
		}
		off = u.end
	}
	return sigs
}

// importLangs gives each partial unit (dwz) the language of the first
// compilation unit that imports it, directly or through other partial
// units: dwz leaves DW_AT_language out of the partial units it makes.
type importLangs struct {
	once sync.Once
	lang map[uint64]int64 // by the offset of the partial unit's DIE
}

// importerLanguage returns the language of the first unit importing the
// partial unit whose DIE is at off, or 0.
func (sec *Sections) importerLanguage(off uint64) int64 {
	l := sec.langs
	l.once.Do(func() { l.lang = sec.readImports() })
	return l.lang[off]
}

// readImports reads the DW_TAG_imported_unit children of every unit DIE
// and returns the language each partial unit inherits.
func (sec *Sections) readImports() map[uint64]int64 {
	type unit struct {
		lang    int64
		imports []uint64
	}
	units := make(map[uint64]*unit) // by unit DIE offset
	var order []uint64
	s := NewScanner(sec)
	s.noImportLangs = true
	for {
		d, err := s.Next()
		if err != nil || d == nil {
			break
		}
		u := &unit{lang: d.Language}
		if d.Tag != dwarf.TagPartialUnit && d.Tag != dwarf.TagCompileUnit {
			u.lang = 0
		}
		units[uint64(d.Off)] = u
		order = append(order, uint64(d.Off))
		for d.Children {
			k, err := s.Next()
			if err != nil || k == nil || k.Tag != dwarf.TagImportedUnit || !k.hasImport {
				break
			}
			u.imports = append(u.imports, k.importOff)
		}
		s.Pos = s.unit.end
	}
	lang := make(map[uint64]int64)
	var visit func(off uint64, l int64, depth int)
	visit = func(off uint64, l int64, depth int) {
		u := units[off]
		if u == nil || depth > 64 {
			return
		}
		for _, t := range u.imports {
			if _, done := lang[t]; done || units[t] == nil || units[t].lang != 0 {
				continue
			}
			lang[t] = l
			visit(t, l, depth+1)
		}
	}
	for _, off := range order {
		if u := units[off]; u.lang != 0 {
			visit(off, u.lang, 0)
		}
	}
	return lang
}
