package dwarfdec

// This file walks .debug_info for the index pass without decoding every
// DIE. debug/dwarf's Reader decodes each attribute of each DIE into an
// interface value, which made the index pass most of the check on big
// libraries (13 s of 22 on libjvm). The scanner reads the abbreviation
// tables itself, skips the attributes it is not asked for by their form,
// jumps over subtrees by DW_AT_sibling, and allocates nothing per DIE.
// The declarations and types the index leads to are decoded by the DIE
// decoder (die.go), from the units and abbreviation tables the index
// read.

import (
	"debug/dwarf"
	"errors"
	"fmt"
)

// ScanUnit is the header of the unit being scanned.
type ScanUnit struct {
	off      uint64 // the unit header's offset in .debug_info
	first    uint64 // the offset of the unit DIE
	end      uint64 // the offset just past the unit
	version  uint16
	unitType uint8
	addrSize int
	offSize  int      // 4, or 8 in 64-bit DWARF
	seg      *segment // the section the unit is from
	// abbrevs is the abbreviation table, at abbrevOff in the
	// .debug_abbrev of seg.file.
	abbrevs   []abbrev
	abbrevOff uint64
	// From the unit DIE: bases of DW_FORM_strx and DW_FORM_addrx.
	strOffsetsBase, addrBase uint64
	hasStrBase, hasAddrBase  bool
}

// ScannedDIE is what the scanner decodes of a DIE. Names alias the
// section data; the struct is reused from one DIE to the next.
type ScannedDIE struct {
	Off         dwarf.Offset // where the DIE is in .debug_info
	Tag         dwarf.Tag    // 0 for the null entry that ends a list of children
	Children    bool         // the DIE has children
	Name        []byte       // DW_AT_name
	Linkage     []byte       // DW_AT_linkage_name
	LowPC       uint64       // DW_AT_low_pc, when HasLowPC
	HasLowPC    bool
	HasRanges   bool         // the DIE has DW_AT_ranges
	Location    []byte       // DW_AT_location as an expression (exprloc or block)
	Declaration bool         // DW_AT_declaration
	Spec        dwarf.Offset // DW_AT_specification, when HasSpec
	HasSpec     bool
	Language    int64  // DW_AT_language of a unit DIE; that of its first importer for a dwz partial unit
	sibling     uint64 // 0 when absent
	importOff   uint64 // DW_AT_import of an imported unit, when hasImport
	hasImport   bool
	// Indirect is set when a wanted attribute uses a form whose value the
	// scanner cannot resolve alone (an index with no base): the caller
	// must read the DIE with debug/dwarf.
	Indirect bool
}

// Scanner walks the DIEs of .debug_info in order.
type Scanner struct {
	sec     *Sections
	Pos     uint64 // the next DIE, or the next unit header at unit.end
	Limit   uint64 // where to stop: the end of .debug_info when 0
	unit    ScanUnit
	started bool
	die     ScannedDIE
	// The abbreviation table of the unit being read, and its key.
	table    []abbrev
	tableKey abbrevKey
	// tables keeps the abbreviation tables parsed, by offset, up to
	// maxCachedAbbrevs entries: for the units that share them (PETSc's
	// 7,708 units use 221 tables, in no order: 3,274 parses with only the
	// last one kept), and for the DIE decoder, which reads them again. The
	// tables of every unit of a big library take tens of megabytes
	// (libjvm's): those past the bound are parsed for their units only.
	tables map[abbrevKey][]abbrev
	cached int // the abbreviations and attribute specifications in tables
	// noImportLangs leaves the language of partial units as read: the
	// scanner reading the imports that give them one sets it.
	noImportLangs bool
	// Headers are the units read so far, in order, with their
	// abbreviation tables when they are kept.
	Headers []ScanUnit
}

// maxCachedAbbrevs bounds the abbreviations and attribute specifications
// a Scanner keeps parsed (16 or 32 bytes each): 2 to 3 MiB, enough for
// the tables of libstdc++ (132,000) split among two scanners.
const maxCachedAbbrevs = 128 << 10

// NewScanner returns a Scanner of the units of sec.
func NewScanner(sec *Sections) *Scanner {
	sec.ensureSegs()
	return &Scanner{sec: sec}
}

// abbrevKey names an abbreviation table: its file's sections and its
// offset in their .debug_abbrev.
type abbrevKey struct {
	file *Sections
	off  uint64
}

var errScanTruncated = errors.New("truncated DIE")

// Next returns the next DIE, or nil at the end of .debug_info. The DIE is
// valid until the next call.
func (s *Scanner) Next() (*ScannedDIE, error) {
	info := s.sec.Info
	for !s.started || s.Pos >= s.unit.end {
		if s.started {
			s.Pos = s.unit.end
		}
		if s.Pos >= uint64(len(info)) || (s.Limit > 0 && s.Pos >= s.Limit) {
			return nil, nil
		}
		if err := s.readUnitHeader(); err != nil {
			return nil, err
		}
		s.started = true
	}
	d := &s.die
	*d = ScannedDIE{Off: dwarf.Offset(s.Pos)}
	b := ScanBuf{Data: info[:s.unit.end], Pos: s.Pos, Order: s.sec.Order}
	code := b.uleb()
	if b.Err != nil {
		return nil, fmt.Errorf("DIE at %#x: %w", s.Pos, b.Err)
	}
	if code == 0 {
		s.Pos = b.Pos
		return d, nil
	}
	if code >= uint64(len(s.unit.abbrevs)) || s.unit.abbrevs[code].tag == 0 {
		return nil, fmt.Errorf("DIE at %#x: unknown abbreviation code %d", s.Pos, code)
	}
	ab := &s.unit.abbrevs[code]
	d.Tag, d.Children = ab.tag, ab.children
	if s.Pos == s.unit.first {
		// The unit DIE: its string and address bases may follow the
		// attributes that need them.
		if err := s.readBases(b, ab); err != nil {
			return nil, fmt.Errorf("DIE at %#x: %w", s.Pos, err)
		}
	}
	for i := range ab.attrs {
		if err := s.attr(&b, d, &ab.attrs[i]); err != nil {
			return nil, fmt.Errorf("DIE at %#x: %w", s.Pos, err)
		}
	}
	if b.Err != nil {
		return nil, fmt.Errorf("DIE at %#x: %w", s.Pos, b.Err)
	}
	if d.Tag == dwarf.TagPartialUnit && d.Language == 0 && !s.noImportLangs && s.Pos == s.unit.first {
		d.Language = s.sec.importerLanguage(s.Pos)
	}
	s.Pos = b.Pos
	return d, nil
}

// readBases reads DW_AT_str_offsets_base and DW_AT_addr_base of a unit
// DIE, whose attributes start at b, into the unit.
func (s *Scanner) readBases(b ScanBuf, ab *abbrev) error {
	for i := range ab.attrs {
		a := &ab.attrs[i]
		form := uint32(a.form)
		if form == formIndirect {
			form = uint32(b.uleb())
		}
		if (a.attr == dwarf.AttrStrOffsetsBase || a.attr == dwarf.AttrAddrBase) && form == formSecOffset {
			v := b.offset(s.unit.offSize)
			if a.attr == dwarf.AttrStrOffsetsBase {
				s.unit.strOffsetsBase, s.unit.hasStrBase = v, true
			} else {
				s.unit.addrBase, s.unit.hasAddrBase = v, true
			}
			continue
		}
		if err := s.skip(&b, form); err != nil {
			return err
		}
	}
	return b.Err
}

// SkipChildren moves past the children of the DIE next just returned.
func (s *Scanner) SkipChildren() error {
	d := &s.die
	if !d.Children {
		return nil
	}
	if d.sibling > s.Pos && d.sibling <= s.unit.end {
		s.Pos = d.sibling
		return nil
	}
	for depth := 1; depth > 0; {
		if s.Pos >= s.unit.end {
			return fmt.Errorf("children of DIE at %#x run past their unit", d.Off)
		}
		b := ScanBuf{Data: s.sec.Info[:s.unit.end], Pos: s.Pos, Order: s.sec.Order}
		code := b.uleb()
		if code == 0 {
			depth--
		} else {
			if code >= uint64(len(s.unit.abbrevs)) || s.unit.abbrevs[code].tag == 0 {
				return fmt.Errorf("DIE at %#x: unknown abbreviation code %d", s.Pos, code)
			}
			ab := &s.unit.abbrevs[code]
			for i := range ab.attrs {
				if err := s.skip(&b, uint32(ab.attrs[i].form)); err != nil {
					return fmt.Errorf("DIE at %#x: %w", s.Pos, err)
				}
			}
			if ab.children {
				depth++
			}
		}
		if b.Err != nil {
			return fmt.Errorf("DIE at %#x: %w", s.Pos, b.Err)
		}
		s.Pos = b.Pos
	}
	return nil
}

// readUnitHeader reads the unit header at s.pos and leaves s.pos at its
// first DIE.
func (s *Scanner) readUnitHeader() error {
	u, _, _, err := s.sec.unitHeader(s.Pos)
	if err != nil {
		return err
	}
	kept, err := s.useTable(abbrevKey{u.seg.file, u.abbrevOff})
	if err != nil {
		return fmt.Errorf("unit at %#x: %w", u.off, err)
	}
	if kept {
		u.abbrevs = s.table
	}
	s.Headers = append(s.Headers, u)
	u.abbrevs = s.table
	s.unit = u
	s.Pos = u.first
	return nil
}

// useTable makes the abbreviation table at off that of the unit being
// read. It reports whether the table is kept in tables.
func (s *Scanner) useTable(key abbrevKey) (kept bool, err error) {
	if tab, ok := s.tables[key]; ok {
		s.table, s.tableKey = tab, key
		return true, nil
	}
	if s.table != nil && s.tableKey == key {
		return false, nil
	}
	tab, err := parseAbbrevs(key.file.abbrev, key.off)
	if err != nil {
		return false, err
	}
	s.table, s.tableKey = tab, key
	n := len(tab)
	for i := range tab {
		n += len(tab[i].attrs)
	}
	if s.cached+n > maxCachedAbbrevs {
		return false, nil
	}
	if s.tables == nil {
		s.tables = make(map[abbrevKey][]abbrev)
	}
	s.tables[key], s.cached = tab, s.cached+n
	return true, nil
}

// attr decodes one attribute of d when it is one the index uses (sibling,
// name, linkage name, low_pc, ranges, location, declaration,
// specification, language), and skips it otherwise.
func (s *Scanner) attr(b *ScanBuf, d *ScannedDIE, a *abbrevAttr) error {
	form := uint32(a.form)
	if form == formIndirect {
		form = uint32(b.uleb())
	}
	switch a.attr {
	case dwarf.AttrName, dwarf.AttrLinkageName:
		v, ok := s.str(b, d, form)
		if ok {
			if a.attr == dwarf.AttrName {
				d.Name = v
			} else {
				d.Linkage = v
			}
			return nil
		}
	case dwarf.AttrLowpc:
		switch form {
		case formAddr:
			d.LowPC, d.HasLowPC = b.addr(s.unit.addrSize), true
			return nil
		case formAddrx, formGNUAddrIndex, formAddrx1, formAddrx2, formAddrx3, formAddrx4:
			idx := b.index(form)
			if !s.unit.hasAddrBase {
				d.Indirect = true
				return nil
			}
			p := s.unit.addrBase + idx*uint64(s.unit.addrSize)
			ab := ScanBuf{Data: s.unit.seg.file.addr, Pos: p, Order: s.sec.Order}
			d.LowPC, d.HasLowPC = ab.addr(s.unit.addrSize), true
			if ab.Err != nil {
				d.Indirect, d.HasLowPC = true, false
			}
			return nil
		}
	case dwarf.AttrRanges:
		d.HasRanges = true
	case dwarf.AttrLocation:
		switch form {
		case formExprloc, formBlock:
			d.Location = b.bytes(b.uleb())
			return nil
		case formBlock1:
			d.Location = b.bytes(uint64(b.u8()))
			return nil
		case formBlock2:
			d.Location = b.bytes(uint64(b.u16()))
			return nil
		case formBlock4:
			d.Location = b.bytes(uint64(b.U32()))
			return nil
		}
	case dwarf.AttrDeclaration:
		switch form {
		case formFlagPresent:
			d.Declaration = true
			return nil
		case formFlag:
			d.Declaration = b.u8() != 0
			return nil
		}
	case dwarf.AttrImport:
		if off, ok := s.unit.ref(b, form); ok {
			d.importOff, d.hasImport = off, true
			return nil
		}
	case dwarf.AttrSpecification, dwarf.AttrSibling:
		if off, ok := s.unit.ref(b, form); ok {
			if a.attr == dwarf.AttrSibling {
				d.sibling = off
			} else {
				d.Spec, d.HasSpec = dwarf.Offset(off), true
			}
			return nil
		}
	case dwarf.AttrLanguage:
		if v, ok := s.constant(b, form, a.implicit); ok {
			d.Language = v
			return nil
		}
	}
	return s.skip(b, form)
}

// str decodes a string attribute; ok is false for forms that are not
// strings here (they are skipped by the caller).
func (s *Scanner) str(b *ScanBuf, d *ScannedDIE, form uint32) (v []byte, ok bool) {
	switch form {
	case formString:
		return b.cstring(), true
	case formStrp:
		return cstringAt(s.unit.seg.file.Str, b.offset(s.unit.offSize)), true
	case formLineStrp:
		return cstringAt(s.unit.seg.file.LineStr, b.offset(s.unit.offSize)), true
	case formGNUStrpAlt, formStrpSup:
		off := b.offset(s.unit.offSize)
		if alt := s.unit.seg.altStrings(); alt != nil {
			return cstringAt(alt, off), true
		}
		return nil, true
	case formStrx, formGNUStrIndex, formStrx1, formStrx2, formStrx3, formStrx4:
		idx := b.index(form)
		if !s.unit.hasStrBase {
			d.Indirect = true
			return nil, true
		}
		f := s.unit.seg.file
		ob := ScanBuf{Data: f.strOffsets, Pos: s.unit.strOffsetsBase + idx*uint64(s.unit.offSize), Order: s.sec.Order}
		off := ob.offset(s.unit.offSize)
		if ob.Err != nil {
			d.Indirect = true
			return nil, true
		}
		return cstringAt(f.Str, off), true
	}
	return nil, false
}

// index reads the operand of an strx or addrx form.
func (b *ScanBuf) index(form uint32) uint64 {
	switch form {
	case formStrx1, formAddrx1:
		return uint64(b.u8())
	case formStrx2, formAddrx2:
		return uint64(b.u16())
	case formStrx3, formAddrx3:
		return b.u24()
	case formStrx4, formAddrx4:
		return uint64(b.U32())
	default:
		return b.uleb()
	}
}

// ref decodes a reference of the unit's into Info; ok is false for
// references elsewhere (type signatures, a supplementary file that was not
// read), which the caller skips.
func (u *ScanUnit) ref(b *ScanBuf, form uint32) (uint64, bool) {
	var rel uint64
	switch form {
	case formRef1:
		rel = uint64(b.u8())
	case formRef2:
		rel = uint64(b.u16())
	case formRef4:
		rel = uint64(b.U32())
	case formRef8:
		rel = b.U64()
	case formRefUdata:
		rel = b.uleb()
	case formRefAddr:
		if u.version == 2 {
			return u.seg.infoBase + b.addr(u.addrSize), true
		}
		return u.seg.infoBase + b.offset(u.offSize), true
	case formGNURefAlt, formRefSup4, formRefSup8:
		if u.seg.file.sup == nil {
			return 0, false
		}
		var off uint64
		switch form {
		case formGNURefAlt:
			off = b.offset(u.offSize)
		case formRefSup4:
			off = uint64(b.U32())
		default:
			off = b.U64()
		}
		return u.seg.refAlt(off)
	default:
		return 0, false
	}
	return u.off + rel, true
}

// constant decodes a constant attribute as debug/dwarf does: the data
// forms zero-extended, sdata and implicit_const signed.
func (s *Scanner) constant(b *ScanBuf, form uint32, implicit int64) (int64, bool) {
	switch form {
	case formData1:
		return int64(b.u8()), true
	case formData2:
		return int64(b.u16()), true
	case formData4:
		return int64(b.U32()), true
	case formData8:
		return int64(b.U64()), true
	case formUdata:
		return int64(b.uleb()), true
	case formSdata:
		return b.sleb(), true
	case formImplicitConst:
		return implicit, true
	}
	return 0, false
}

// skip moves b past an attribute value of the given form.
func (s *Scanner) skip(b *ScanBuf, form uint32) error { return skipForm(b, &s.unit, form) }

// A unitShape is what the sizes of a unit's values depend on.
type unitShape struct {
	version           uint16
	addrSize, offSize int
}

func (u *ScanUnit) shape() unitShape {
	return unitShape{version: u.version, addrSize: u.addrSize, offSize: u.offSize}
}

// fixedSize returns the size of a value of form in a unit of shape, and
// whether the form has one.
func fixedSize(form uint32, shape unitShape) (uint64, bool) {
	switch form {
	case formFlagPresent, formImplicitConst:
		return 0, true
	case formData1, formRef1, formFlag, formStrx1, formAddrx1:
		return 1, true
	case formData2, formRef2, formStrx2, formAddrx2:
		return 2, true
	case formStrx3, formAddrx3:
		return 3, true
	case formData4, formRef4, formRefSup4, formStrx4, formAddrx4:
		return 4, true
	case formData8, formRef8, formRefSig8, formRefSup8:
		return 8, true
	case formData16:
		return 16, true
	case formAddr:
		return uint64(shape.addrSize), true
	case formStrp, formLineStrp, formSecOffset, formStrpSup, formGNURefAlt, formGNUStrpAlt:
		return uint64(shape.offSize), true
	case formRefAddr:
		if shape.version == 2 {
			return uint64(shape.addrSize), true
		}
		return uint64(shape.offSize), true
	}
	return 0, false
}

// skipForm moves b past an attribute value of the given form in unit u.
func skipForm(b *ScanBuf, u *ScanUnit, form uint32) error {
	if n, ok := fixedSize(form, u.shape()); ok {
		b.advance(n)
		return nil
	}
	switch form {
	case formSdata, formUdata, formRefUdata, formStrx, formAddrx, formLoclistx, formRnglistx,
		formGNUAddrIndex, formGNUStrIndex:
		b.uleb()
	case formString:
		b.cstring()
	case formBlock, formExprloc:
		b.advance(b.uleb())
	case formBlock1:
		b.advance(uint64(b.u8()))
	case formBlock2:
		b.advance(uint64(b.u16()))
	case formBlock4:
		b.advance(uint64(b.U32()))
	case formIndirect:
		return skipForm(b, u, uint32(b.uleb()))
	default:
		return fmt.Errorf("unknown attribute form %#x", form)
	}
	return nil
}
