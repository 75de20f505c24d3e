package dwarfdec

// This file decodes single DIEs, and walks the children of one, for the
// declaration and type decoders. debug/dwarf's Reader builds an Entry, a
// slice of fields and an interface value for every attribute of every DIE
// it reads; reading the functions and classes of a C++ library with it
// was most of the check's time (70% of libstdc++'s, with the garbage
// collection that followed). A DIE holds only the attributes the
// decoders use, each with the value debug/dwarf would give it: the same
// Go type (int64, uint64, bool, Offset, []byte, string), so that every
// test the decoders make on a value gives the answer it gave on
// debug/dwarf's. TestTypeDIEMatchesDebugDWARF checks this DIE by DIE, and
// TestTypeDIEForms form by form. The decoder fails where debug/dwarf
// fails, and on a sibling reference out of its unit; a list of children
// that runs to the end of its unit ends there, where debug/dwarf would
// read on into the next unit.

import (
	"debug/dwarf"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// A ValueKind is the Go type debug/dwarf gives an attribute's value, which
// follows from its form.
type ValueKind uint8

// Value kinds.
const (
	ValNone   ValueKind = iota // the attribute is absent
	ValInt                     // int64: constants, section offsets
	ValUint                    // uint64: addresses, type signatures, list indexes
	valUint32                  // uint32: DW_FORM_ref_sup4, 32-bit DW_FORM_strp_sup
	valBool                    // bool: flags
	ValOffset                  // dwarf.Offset: references into .debug_info
	valBytes                   // []byte: blocks, expressions, DW_FORM_data16
	valString                  // string
)

// DIE is one DIE as the declaration and type decoders read it. The
// byte slices alias the DWARF sections, which are released once the
// library is read: what outlives the reading is copied into strings.
type DIE struct {
	Off      dwarf.Offset // where the DIE is in .debug_info
	Tag      dwarf.Tag    // 0 for the null entry that ends a list of children
	children bool
	unit     *dieUnit
	next     uint64 // the offset past the attributes: the first child or the next sibling
	// Kinds and Vals hold the value of each kept attribute by Slot:
	// integers, offsets, flags (1 for true).
	Kinds [numSlots]ValueKind
	Vals  [numSlots]uint64
	// The bytes of the string and block values of the attributes that
	// may hold them.
	name, linkage, memberLoc, vtableLoc, compDir []byte
}

// Has reports whether the DIE has the attribute of slot s.
func (d *DIE) Has(s Slot) bool { return d.Kinds[s] != ValNone }

// Str returns the attribute of slot s (slotName or slotLinkageName) when
// it is a string.
func (d *DIE) Str(s Slot) (string, bool) {
	b, ok := d.StrBytes(s)
	return string(b), ok
}

// StrBytes is Str without the copy: the bytes alias the sections.
func (d *DIE) StrBytes(s Slot) ([]byte, bool) {
	if d.Kinds[s] != valString {
		return nil, false
	}
	if s == SlotName {
		return d.name, true
	}
	return d.linkage, true
}

// Int returns the attribute of slot s when it is an int64 constant.
func (d *DIE) Int(s Slot) (int64, bool) {
	if d.Kinds[s] != ValInt {
		return 0, false
	}
	return int64(d.Vals[s]), true
}

// Flag returns the attribute of slot s when it is a flag, and false
// otherwise.
func (d *DIE) Flag(s Slot) bool { return d.Kinds[s] == valBool && d.Vals[s] != 0 }

// Ref returns the attribute of slot s when it is a reference into
// .debug_info.
func (d *DIE) Ref(s Slot) (dwarf.Offset, bool) {
	if d.Kinds[s] != ValOffset {
		return 0, false
	}
	return dwarf.Offset(d.Vals[s]), true
}

// Block returns the attribute of slot s (slotDataMemberLoc or
// slotVtableElemLoc) when it is a block or an expression.
func (d *DIE) Block(s Slot) ([]byte, bool) {
	if d.Kinds[s] != valBytes {
		return nil, false
	}
	if s == SlotDataMemberLoc {
		return d.memberLoc, true
	}
	return d.vtableLoc, true
}

// IsDeclaration reports whether the DIE declares what another DIE
// defines (DW_AT_declaration).
func (d *DIE) IsDeclaration() bool { return d.Flag(slotDeclaration) }

// dieUnit is a unit of .debug_info as the DIE decoder reads it.
type dieUnit struct {
	ScanUnit
	// ready says the abbreviation table and the bases are read.
	ready bool
	// The bases of DWARF 5 units, from their unit DIE, as debug/dwarf
	// reads them: zero when absent, and for older units.
	strBase, addrBase, rnglistsBase uint64
}

// Decoder decodes the DIEs of .debug_info.
type Decoder struct {
	sec   *Sections
	units []dieUnit // in offset order
	// last and prev are the units of the last DIEs read, from two units:
	// most often that of the next (a comparison of two copies of a type
	// goes back and forth between their units).
	last, prev *dieUnit
	// tables are the abbreviation tables the decoder parsed, by offset:
	// those of the units it reads whose tables the index did not keep.
	tables map[abbrevKey][]abbrev
	// sigs locates type units' types by signature, read at the first
	// DW_AT_signature; raw leaves DW_AT_signature unfollowed.
	sigs map[uint64]dwarf.Offset
	raw  bool
	// plans interns the comparison plans by planKey; unplanned makes
	// sameEncoding compare attribute by attribute (for its tests).
	plans     map[string]*comparePlan
	unplanned bool
	// littleEndian says the sections' byte order is little-endian.
	littleEndian bool
}

// NewDecoder returns a decoder of the units with the given headers, in
// offset order.
func NewDecoder(sec *Sections, headers []ScanUnit) *Decoder {
	sec.ensureSegs()
	d := &Decoder{sec: sec, units: make([]dieUnit, len(headers)), tables: make(map[abbrevKey][]abbrev),
		littleEndian: sec.Order == nil || sec.Order == binary.ByteOrder(binary.LittleEndian)}
	for i, h := range headers {
		d.units[i].ScanUnit = h
	}
	return d
}

// unitAt returns the unit whose DIEs span off.
func (dd *Decoder) unitAt(off dwarf.Offset) (*dieUnit, error) {
	if u := dd.last; u != nil && u.first <= uint64(off) && uint64(off) < u.end {
		return u, nil
	}
	if u := dd.prev; u != nil && u.first <= uint64(off) && uint64(off) < u.end {
		dd.last, dd.prev = u, dd.last
		return u, nil
	}
	i, _ := slices.BinarySearchFunc(dd.units, uint64(off)+1, func(u dieUnit, t uint64) int {
		switch {
		case u.first < t:
			return -1
		case u.first > t:
			return 1
		}
		return 0
	})
	if i == 0 || uint64(off) >= dd.units[i-1].end {
		return nil, fmt.Errorf("no DIE at %#x: offset out of range", off)
	}
	u := &dd.units[i-1]
	if !u.ready {
		if err := dd.prepare(u); err != nil {
			return nil, err
		}
	}
	dd.last, dd.prev = u, dd.last
	return u, nil
}

// prepare reads the abbreviation table of u, unless the index kept it,
// and, for DWARF 5, its bases.
func (dd *Decoder) prepare(u *dieUnit) error {
	key := abbrevKey{u.seg.file, u.abbrevOff}
	tab, ok := dd.tables[key]
	if u.abbrevs != nil {
		tab, ok = u.abbrevs, true
	}
	if !ok {
		var err error
		if tab, err = parseAbbrevs(key.file.abbrev, u.abbrevOff); err != nil {
			return fmt.Errorf("unit at %#x: %w", u.off, err)
		}
		dd.tables[key] = tab
	}
	u.abbrevs = tab
	if u.version >= 5 {
		if err := dd.readBases(u); err != nil {
			return err
		}
	}
	u.ready = true
	return nil
}

// readBases reads the string offsets, address and range list bases of a
// DWARF 5 unit from its unit DIE.
func (dd *Decoder) readBases(u *dieUnit) error {
	b := ScanBuf{Data: dd.sec.Info[:u.end], Pos: u.first, Order: dd.sec.Order}
	ab, err := dd.abbrevAt(u, &b)
	if err != nil || ab == nil {
		return err
	}
	for i := range ab.attrs {
		a := &ab.attrs[i]
		kind, v, _, err := dd.value(u, &b, uint32(a.form), a.implicit)
		if err != nil {
			return fmt.Errorf("unit DIE at %#x: %w", u.first, err)
		}
		if kind != ValInt {
			continue
		}
		switch a.attr {
		case dwarf.AttrStrOffsetsBase:
			u.strBase = v
		case dwarf.AttrAddrBase:
			u.addrBase = v
		case dwarf.AttrRnglistsBase:
			u.rnglistsBase = v
		}
	}
	return nil
}

// abbrevAt reads the abbreviation code at b and returns its abbreviation,
// or nil for the null entry.
func (dd *Decoder) abbrevAt(u *dieUnit, b *ScanBuf) (*abbrev, error) {
	var code uint64
	if p := b.Pos; b.Err == nil && p < uint64(len(b.Data)) && b.Data[p] < 0x80 {
		code, b.Pos = uint64(b.Data[p]), p+1 // most codes: one byte
	} else {
		code = uint64(uint32(b.uleb())) // as debug/dwarf truncates it
	}
	if b.Err != nil {
		return nil, b.Err
	}
	if code == 0 {
		return nil, nil
	}
	if code >= uint64(len(u.abbrevs)) || u.abbrevs[code].tag == 0 {
		return nil, fmt.Errorf("unknown abbreviation code %d", code)
	}
	return &u.abbrevs[code], nil
}

// Read decodes the DIE at off into d. The null entry is an error, as it
// is for readEntry. A type DIE that stands for the type of a type unit
// (DW_AT_signature, as -fdebug-types-section leaves them) reads as that
// type, when the type unit is there.
func (dd *Decoder) Read(off dwarf.Offset, d *DIE) error {
	if err := dd.read(off, d); err != nil {
		return err
	}
	if d.Kinds[slotSignature] != ValUint || dd.raw {
		return nil
	}
	if t, ok := dd.TypeOfSignature(d.Vals[slotSignature]); ok && t != off {
		return dd.read(t, d)
	}
	return nil
}

// TypeOfSignature returns where the type unit of signature sig puts its
// type (DWARF 5 type units, and DWARF 4 ones in .debug_types), and
// whether there is one: the target of a DW_FORM_ref_sig8 reference. The
// type units are indexed the first time.
func (dd *Decoder) TypeOfSignature(sig uint64) (dwarf.Offset, bool) {
	if dd.sigs == nil {
		dd.sigs = dd.sec.typeSignatures()
	}
	t, ok := dd.sigs[sig]
	return t, ok
}

// LineFiles returns the file names of the line table of the unit whose
// unit DIE is at off, unjoined to their directories, from the .debug_line
// of the file the unit is from; nil when it has none.
func (dd *Decoder) LineFiles(off dwarf.Offset) ([][]byte, error) {
	d, stmt, err := dd.lineTable(off)
	if err != nil || stmt < 0 {
		return nil, err
	}
	f := d.unit.seg.file
	return LineFileNames(f.Line, f.Str, f.LineStr, dd.sec.Order, stmt)
}

// JoinedLineFiles returns the file names of the line table of the unit
// whose unit DIE is at off both as LineFiles does and joined to their
// directories as debug/dwarf's LineReader joins them (relative to the
// unit's DW_AT_comp_dir); nil when it has none. As debug/dwarf, which
// reads only the file's own .debug_info, it fails for a DWARF 4 type unit
// or a unit of a supplementary file: their names stay as LineFiles reads
// them.
func (dd *Decoder) JoinedLineFiles(off dwarf.Offset) ([][]byte, []string, error) {
	d, stmt, err := dd.lineTable(off)
	if err != nil {
		return nil, nil, err
	}
	if d.unit.seg != &dd.sec.segs[0] {
		return nil, nil, fmt.Errorf("reading the line table of the unit at %#x: %w", off, errOutOfRange)
	}
	if stmt < 0 {
		return nil, nil, nil
	}
	compDir := ""
	if d.Kinds[slotCompDir] == valString {
		compDir = string(d.compDir)
	}
	f := d.unit.seg.file
	return JoinedLineFileNames(f.Line, f.Str, f.LineStr, dd.sec.Order, stmt, compDir)
}

// lineTable reads the unit DIE at off and returns it with the offset of
// its line table in its file's .debug_line: -1 when it has none.
func (dd *Decoder) lineTable(off dwarf.Offset) (DIE, int64, error) {
	var d DIE
	if err := dd.read(off, &d); err != nil {
		return d, -1, err
	}
	stmt, ok := d.Int(slotStmtList)
	if !ok || d.unit.seg.file.Line == nil {
		return d, -1, nil
	}
	return d, stmt, nil
}

// read decodes the DIE at off into d.
func (dd *Decoder) read(off dwarf.Offset, d *DIE) error {
	u, err := dd.unitAt(off)
	if err != nil {
		return err
	}
	if err := dd.decode(u, uint64(off), d); err != nil {
		return err
	}
	if d.Tag == 0 {
		return fmt.Errorf("no DIE at %#x", off)
	}
	return nil
}

// decode decodes the DIE at pos, in unit u, into d.
func (dd *Decoder) decode(u *dieUnit, pos uint64, d *DIE) error {
	// Only the kinds need clearing: a value is read after its kind.
	d.Off, d.Tag, d.children, d.unit = dwarf.Offset(pos), 0, false, u
	d.Kinds = [numSlots]ValueKind{}
	b := ScanBuf{Data: dd.sec.Info[:u.end], Pos: pos, Order: dd.sec.Order}
	ab, err := dd.abbrevAt(u, &b)
	if err != nil {
		return fmt.Errorf("reading DIE at %#x: %w", pos, err)
	}
	if ab == nil {
		d.next = b.Pos
		return nil
	}
	d.Tag, d.children = ab.tag, ab.children
	for i := range ab.attrs {
		a := &ab.attrs[i]
		kind, v, bytes, err := dd.value(u, &b, uint32(a.form), a.implicit)
		if err != nil {
			return fmt.Errorf("reading DIE at %#x: %w", pos, err)
		}
		s := a.slot
		if s == noSlot || d.Kinds[s] != ValNone { // debug/dwarf's Val returns the first
			continue
		}
		d.Kinds[s], d.Vals[s] = kind, v
		switch s {
		case SlotName:
			d.name = bytes
		case SlotLinkageName:
			d.linkage = bytes
		case SlotDataMemberLoc:
			d.memberLoc = bytes
		case SlotVtableElemLoc:
			d.vtableLoc = bytes
		case slotCompDir:
			d.compDir = bytes
		}
	}
	d.next = b.Pos
	return nil
}

// value decodes an attribute value of the given form at b as debug/dwarf
// does, and fails where it fails.
func (dd *Decoder) value(u *dieUnit, b *ScanBuf, form uint32, implicit int64) (kind ValueKind, v uint64, bytes []byte, err error) {
	if form == formIndirect {
		form = uint32(b.uleb())
	}
	f := u.seg.file
	switch form {
	case formAddr:
		kind, v = ValUint, b.addr(u.addrSize)
	case formAddrx, formAddrx1, formAddrx2, formAddrx3, formAddrx4:
		idx := b.index(form)
		if f.addr == nil {
			return 0, 0, nil, errors.New("DW_FORM_addrx with no .debug_addr section")
		}
		ab := ScanBuf{Data: f.addr, Order: dd.sec.Order}
		ab.advance(idx*uint64(u.addrSize) + u.addrBase)
		kind, v = ValUint, ab.addr(u.addrSize)
		if ab.Err != nil {
			return 0, 0, nil, fmt.Errorf("DW_FORM_addrx: %w", ab.Err)
		}
	case formBlock1:
		kind, bytes = valBytes, b.bytes(uint64(b.u8()))
	case formBlock2:
		kind, bytes = valBytes, b.bytes(uint64(b.u16()))
	case formBlock4:
		kind, bytes = valBytes, b.bytes(uint64(b.U32()))
	case formBlock, formExprloc:
		kind, bytes = valBytes, b.bytes(b.uleb())
	case formData16:
		kind, bytes = valBytes, b.bytes(16)
	case formData1:
		kind, v = ValInt, uint64(b.u8())
	case formData2:
		kind, v = ValInt, uint64(b.u16())
	case formData4:
		kind, v = ValInt, uint64(b.U32())
	case formData8:
		kind, v = ValInt, b.U64()
	case formSdata:
		kind, v = ValInt, uint64(b.sleb())
	case formUdata:
		kind, v = ValInt, b.uleb()
	case formImplicitConst:
		kind, v = ValInt, uint64(implicit)
	case formFlag:
		kind = valBool
		if b.u8() == 1 {
			v = 1
		}
	case formFlagPresent:
		kind, v = valBool, 1
	case formRefAddr, formRef1, formRef2, formRef4, formRef8, formRefUdata:
		off, _ := u.ref(b, form)
		// Offsets are 32 bits in debug/dwarf, and wrap as they do there.
		kind, v = ValOffset, uint64(dwarf.Offset(off))
	case formString:
		kind, bytes = valString, b.cstring()
	case formStrp:
		kind = valString
		bytes, err = stringAt(f.Str, b.offset(u.offSize))
	case formLineStrp:
		off := b.offset(u.offSize)
		if b.Err == nil && len(f.LineStr) == 0 {
			return 0, 0, nil, errors.New("DW_FORM_line_strp with no .debug_line_str section")
		}
		kind = valString
		bytes, err = stringAt(f.LineStr, off)
	case formStrx, formStrx1, formStrx2, formStrx3, formStrx4:
		idx := b.index(form)
		if b.Err == nil && len(f.strOffsets) == 0 {
			return 0, 0, nil, errors.New("DW_FORM_strx with no .debug_str_offsets section")
		}
		ob := ScanBuf{Data: f.strOffsets, Order: dd.sec.Order}
		ob.advance(idx*uint64(u.offSize) + u.strBase)
		off := ob.offset(u.offSize)
		if ob.Err != nil {
			return 0, 0, nil, fmt.Errorf("DW_FORM_strx: %w", ob.Err)
		}
		kind = valString
		bytes, err = stringAt(f.Str, off)
	case formStrpSup, formGNUStrpAlt:
		off := b.offset(u.offSize)
		switch alt := u.seg.altStrings(); {
		case alt != nil:
			kind = valString
			bytes, err = stringAt(alt, off)
		case form == formGNUStrpAlt:
			kind, v = ValInt, off
		case u.offSize == 8:
			kind, v = ValUint, off
		default:
			kind, v = valUint32, off
		}
	case formGNURefAlt, formRefSup4, formRefSup8:
		if off, ok := u.ref(b, form); ok {
			kind, v = ValOffset, uint64(dwarf.Offset(off))
			break
		}
		switch form {
		case formGNURefAlt:
			kind, v = ValInt, b.offset(u.offSize)
		case formRefSup4:
			kind, v = valUint32, uint64(b.U32())
		default:
			kind, v = ValUint, b.U64()
		}
	case formSecOffset:
		kind, v = ValInt, b.offset(u.offSize)
	case formRefSig8:
		kind, v = ValUint, b.U64()
	case formLoclistx:
		kind, v = ValUint, b.uleb()
	case formRnglistx:
		idx := b.uleb()
		rb := ScanBuf{Data: f.rnglists, Order: dd.sec.Order}
		rb.advance(idx*uint64(u.offSize) + u.rnglistsBase)
		off := rb.offset(u.offSize)
		if rb.Err != nil {
			return 0, 0, nil, fmt.Errorf("DW_FORM_rnglistx: %w", rb.Err)
		}
		kind, v = ValUint, u.rnglistsBase+off
	default:
		return 0, 0, nil, fmt.Errorf("unknown attribute form %#x", form)
	}
	if b.Err != nil {
		return 0, 0, nil, b.Err
	}
	if err != nil {
		return 0, 0, nil, err
	}
	return kind, v, bytes, nil
}

// stringAt returns the NUL-terminated string at off in data.
func stringAt(data []byte, off uint64) ([]byte, error) {
	b := ScanBuf{Data: data}
	b.advance(off)
	s := b.cstring()
	return s, b.Err
}
