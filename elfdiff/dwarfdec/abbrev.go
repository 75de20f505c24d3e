package dwarfdec

import (
	"debug/dwarf"
	"fmt"
)

// This file reads abbreviation tables (.debug_abbrev).

// abbrevAttr is one attribute specification of an abbreviation.
type abbrevAttr struct {
	attr     dwarf.Attr
	form     uint16 // formUnknown for a form beyond 16 bits, which no DWARF version defines
	slot     Slot   // where a DIE keeps the attribute; noSlot when it does not
	implicit int64  // the value of a DW_FORM_implicit_const
}

// formUnknown stands for the attribute forms that do not fit an
// abbrevAttr: none is known, and all fail to decode.
const formUnknown = 0xffff

// abbrev is one abbreviation: the shape of the DIEs that use its code.
type abbrev struct {
	tag      dwarf.Tag
	children bool
	attrs    []abbrevAttr
	// plan is the comparison plan of the abbreviation's DIEs the
	// decoder compiled last (see Decoder.planOf).
	plan *comparePlan
}

// maxAbbrevCode bounds the abbreviation codes the scanner accepts: they
// index a slice. Compilers number them densely from 1.
const maxAbbrevCode = 1 << 20

// parseAbbrevs reads the abbreviation table at off in .debug_abbrev into
// a slice indexed by code. The attribute specifications of all the
// abbreviations share one slice. A first pass sizes the slices.
func parseAbbrevs(data []byte, off uint64) ([]abbrev, error) {
	if off >= uint64(len(data)) {
		return nil, fmt.Errorf("abbreviation table offset %#x out of range", off)
	}
	maxCode, nattrs, err := countAbbrevs(data, off)
	if err != nil {
		return nil, err
	}
	tab := make([]abbrev, maxCode+1)
	attrs := make([]abbrevAttr, 0, nattrs)
	b := ScanBuf{Data: data, Pos: off}
	for {
		code := b.uleb()
		if code == 0 {
			return tab, nil
		}
		ab := abbrev{tag: dwarf.Tag(b.uleb()), children: b.u8() != 0}
		start := len(attrs)
		for {
			attr, form := b.uleb(), b.uleb()
			if attr == 0 && form == 0 {
				break
			}
			a := abbrevAttr{attr: dwarf.Attr(attr), form: uint16(min(form, formUnknown)), slot: slotOf(dwarf.Attr(attr))}
			if form == formImplicitConst {
				a.implicit = b.sleb()
			}
			attrs = append(attrs, a)
		}
		if len(attrs) > start {
			ab.attrs = attrs[start:len(attrs):len(attrs)]
		}
		tab[code] = ab
	}
}

// countAbbrevs checks the abbreviation table at off in .debug_abbrev and
// returns its largest code and how many attribute specifications it has.
func countAbbrevs(data []byte, off uint64) (maxCode uint64, nattrs int, err error) {
	b := ScanBuf{Data: data, Pos: off}
	for {
		code := b.uleb()
		if b.Err != nil {
			return 0, 0, fmt.Errorf("abbreviation table at %#x: %w", off, b.Err)
		}
		if code == 0 {
			return maxCode, nattrs, nil
		}
		if code >= maxAbbrevCode {
			return 0, 0, fmt.Errorf("abbreviation table at %#x: code %d too large", off, code)
		}
		maxCode = max(maxCode, code)
		tag := b.uleb()
		b.u8()
		for {
			attr, form := b.uleb(), b.uleb()
			if b.Err != nil {
				return 0, 0, fmt.Errorf("abbreviation table at %#x: %w", off, b.Err)
			}
			if attr == 0 && form == 0 {
				break
			}
			if form == formImplicitConst {
				b.sleb()
			}
			nattrs++
		}
		if tag == 0 {
			return 0, 0, fmt.Errorf("abbreviation table at %#x: code %d has no tag", off, code)
		}
	}
}
