package dwarfdec

// This file compiles, for the in-step comparison of two DIEs (encoding.go),
// the walk over the attributes of one abbreviation into a short list of
// steps: which bytes to skip, which to compare as they are, which values
// to hand to the judge. Two DIEs whose abbreviations have the same
// attributes in the same forms, in units of the same shape — as the
// copies of a header's types are in every unit that includes it — are
// compared by walking that list once, instead of asking, attribute by
// attribute and DIE by DIE, whether the comparison looks at it, how its
// form decodes, and which rule compares its value. The steps answer as
// sameValues does: TestSameEncodingAgreesWithDecoded compares both with
// the decoded comparison.

import (
	"bytes"
	"debug/dwarf"
	"encoding/binary"
	"fmt"
	"strings"
)

// A stepKind is what one step of a comparison plan does on both DIEs.
type stepKind uint8

const (
	stepSkip     stepKind = iota // skip n bytes
	stepSkipForm                 // skip a value of form (of variable size)
	stepSibling                  // read the DW_AT_sibling, of form
	stepEqual                    // compare n bytes: constants whose value is their bytes
	stepFlag                     // compare DW_FORM_flag values as Read decodes them (1 is true)
	stepLEB                      // compare the values of a DW_FORM_udata or DW_FORM_sdata
	stepRef                      // hand the references, of form, to the judge
	stepRef4                     // hand the DW_FORM_ref4 references to the judge
	stepStrp                     // compare the strings of two DW_FORM_strp
	stepStrp4                    // compare the strings of two 4-byte DW_FORM_strp
	stepString                   // compare two DW_FORM_string names
	stepDeclFile                 // hand the file numbers, of form, to the judge
	stepValue                    // compare attribute attr as sameValue does
)

// A planStep is one step of a comparison plan.
type planStep struct {
	kind stepKind
	form uint32
	slot Slot
	n    uint64 // stepSkip, stepEqual: the bytes; stepValue, stepDeclFile: the attribute's index
}

// A comparePlan compares the values of two DIEs of one abbreviation, or
// of two abbreviations with the same attributes in the same forms, for
// one set of compared slots in units of one shape. Plans are interned by
// the Decoder: two abbreviations have the same plan exactly when their
// DIEs can be compared by it.
type comparePlan struct {
	steps    []planStep
	compared SlotSet
	shape    unitShape
}

// planOf returns the plan of the DIEs of abbreviation ab of unit u, for
// the slots in compared (which include slotDeclaration).
func (dd *Decoder) planOf(u *dieUnit, ab *abbrev, compared SlotSet) *comparePlan {
	if p := ab.plan; p != nil && p.compared == compared && p.shape == u.shape() {
		return p
	}
	shape := u.shape()
	key := planKey(ab, compared, shape)
	p, ok := dd.plans[key]
	if !ok {
		p = compilePlan(ab, compared, shape)
		if dd.plans == nil {
			dd.plans = make(map[string]*comparePlan)
		}
		dd.plans[key] = p
	}
	ab.plan = p
	return p
}

// planKey identifies the plan of ab: its attributes and forms (and the
// implicit values, which the steps take as equal), the slots compared and
// the unit's shape.
func planKey(ab *abbrev, compared SlotSet, shape unitShape) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%x %d %d %d;", uint64(compared), shape.version, shape.addrSize, shape.offSize)
	for _, a := range ab.attrs {
		fmt.Fprintf(&b, "%x,%x", uint32(a.attr), a.form)
		if a.form == formImplicitConst {
			fmt.Fprintf(&b, "=%d", a.implicit)
		}
		b.WriteByte(';')
	}
	return b.String()
}

// compilePlan returns the steps that compare two DIEs of the attributes of
// ab as sameValues does, each attribute in its role (roleOf).
func compilePlan(ab *abbrev, compared SlotSet, shape unitShape) *comparePlan {
	p := &comparePlan{compared: compared, shape: shape}
	add := func(s planStep) {
		if s.kind == stepSkip && s.n == 0 {
			return
		}
		// Runs of bytes skipped, or compared, are one step.
		if n := len(p.steps); n > 0 && (s.kind == stepSkip || s.kind == stepEqual) && p.steps[n-1].kind == s.kind {
			p.steps[n-1].n += s.n
			return
		}
		p.steps = append(p.steps, s)
	}
	var seen SlotSet
	for i := range ab.attrs {
		a := &ab.attrs[i]
		form := uint32(a.form)
		size, fixed := fixedSize(form, shape)
		switch roleOf(a, &seen, compared) {
		case roleCompare:
			add(compareStep(a, i, size, fixed))
		case roleSibling:
			add(planStep{kind: stepSibling, form: form})
		case roleSkip:
			if fixed {
				add(planStep{kind: stepSkip, n: size})
			} else {
				add(planStep{kind: stepSkipForm, form: form})
			}
		}
	}
	return p
}

// compareStep returns the step that compares attribute a, the i-th of its
// abbreviation, of size bytes when fixed.
func compareStep(a *abbrevAttr, i int, size uint64, fixed bool) planStep {
	form, s := uint32(a.form), a.slot
	switch form {
	case formData1, formData2, formData4, formData8, formUdata, formSdata:
		switch {
		case s == SlotDeclFile:
			return planStep{kind: stepDeclFile, form: form, n: uint64(i)}
		case s == slotDeclaration: // not a flag: any value reads as not declared
			if fixed {
				return planStep{kind: stepSkip, n: size}
			}
			return planStep{kind: stepSkipForm, form: form}
		case form == formUdata || form == formSdata:
			return planStep{kind: stepLEB, form: form}
		}
		return planStep{kind: stepEqual, n: size}
	case formFlag:
		return planStep{kind: stepFlag}
	case formFlagPresent:
		return planStep{kind: stepSkip} // true in both
	case formRef4:
		return planStep{kind: stepRef4, slot: s}
	case formRef1, formRef2, formRef8, formRefUdata, formRefAddr:
		return planStep{kind: stepRef, form: form, slot: s}
	case formStrp:
		switch {
		case s != SlotName && s != SlotLinkageName:
		case size == 4:
			return planStep{kind: stepStrp4}
		default:
			return planStep{kind: stepStrp}
		}
	case formString:
		if s == SlotName || s == SlotLinkageName {
			return planStep{kind: stepString}
		}
	case formImplicitConst:
		if s == SlotDeclFile { // one number, in units that may number files otherwise
			return planStep{kind: stepDeclFile, form: form, n: uint64(i)}
		}
		// One value, the abbreviation's (and not a flag: a
		// DW_AT_declaration of this form reads as not declared).
		return planStep{kind: stepSkip}
	}
	return planStep{kind: stepValue, n: uint64(i)}
}

// samePlanned compares the attribute values of two DIEs of abbreviations
// aa and ab, which have plan p, as sameValues does.
func (dd *Decoder) samePlanned(ua, ub *dieUnit, ba, bb *ScanBuf, aa, ab *abbrev, p *comparePlan, j PairJudge, sib *siblings) (same, decided bool) {
	for i := range p.steps {
		st := &p.steps[i]
		switch st.kind {
		case stepSkip:
			ba.advance(st.n)
			bb.advance(st.n)
		case stepSkipForm:
			if skipForm(ba, &ua.ScanUnit, st.form) != nil || skipForm(bb, &ub.ScanUnit, st.form) != nil {
				return false, false
			}
		case stepSibling:
			sib.a, _ = ua.ref(ba, st.form)
			sib.b, _ = ub.ref(bb, st.form)
		case stepEqual:
			va, vb := ba.bytes(st.n), bb.bytes(st.n)
			if ba.Err == nil && bb.Err == nil && !bytes.Equal(va, vb) {
				return false, true
			}
		case stepFlag:
			if va, vb := ba.u8() == 1, bb.u8() == 1; ba.Err == nil && bb.Err == nil && va != vb {
				return false, true
			}
		case stepLEB:
			var va, vb uint64
			if st.form == formSdata {
				va, vb = uint64(ba.sleb()), uint64(bb.sleb())
			} else {
				va, vb = ba.uleb(), bb.uleb()
			}
			if ba.Err == nil && bb.Err == nil && va != vb {
				return false, true
			}
		case stepRef:
			ra, _ := ua.ref(ba, st.form)
			rb, _ := ub.ref(bb, st.form)
			if ba.Err != nil || bb.Err != nil {
				return false, false
			}
			// Offsets are 32 bits in debug/dwarf, as Read decodes them.
			if !j.SameRef(st.slot, dwarf.Offset(ra), dwarf.Offset(rb)) {
				return false, true
			}
		case stepRef4:
			ra, rb, ok := dd.u32Pair(ba, bb)
			if !ok {
				return false, false
			}
			if !j.SameRef(st.slot, dwarf.Offset(ua.off+uint64(ra)), dwarf.Offset(ub.off+uint64(rb))) {
				return false, true
			}
		case stepStrp:
			oa, ob := ba.offset(ua.offSize), bb.offset(ub.offSize)
			if same, decided := sameStrp(ua, ub, ba, bb, oa, ob); !same || !decided {
				return same, decided
			}
		case stepStrp4:
			oa, ob, _ := dd.u32Pair(ba, bb)
			if same, decided := sameStrp(ua, ub, ba, bb, uint64(oa), uint64(ob)); !same || !decided {
				return same, decided
			}
		case stepString:
			if va, vb := ba.cstring(), bb.cstring(); ba.Err == nil && bb.Err == nil && !bytes.Equal(va, vb) {
				return false, true
			}
		case stepDeclFile:
			var na, nb uint64
			switch st.form {
			case formData1:
				na, nb = uint64(ba.u8()), uint64(bb.u8())
			case formData2:
				na, nb = uint64(ba.u16()), uint64(bb.u16())
			case formImplicitConst:
				na, nb = uint64(aa.attrs[st.n].implicit), uint64(ab.attrs[st.n].implicit)
			default:
				_, na, _, _ = dd.value(ua, ba, st.form, 0)
				_, nb, _, _ = dd.value(ub, bb, st.form, 0)
			}
			if ba.Err != nil || bb.Err != nil {
				return false, false
			}
			if !j.SameDeclFile(dwarf.Offset(ua.first), dwarf.Offset(ub.first), int64(na), int64(nb)) {
				return false, true
			}
		case stepValue:
			if same, decided := dd.sameValue(ua, ub, ba, bb, &aa.attrs[st.n], &ab.attrs[st.n], j); !same || !decided {
				return same, decided
			}
		}
		if ba.Err != nil || bb.Err != nil {
			return false, false
		}
	}
	return true, true
}

// u32Pair reads a 4-byte value from each of ba and bb (little-endian ones
// without a call through the byte order); false when either is short.
func (dd *Decoder) u32Pair(ba, bb *ScanBuf) (va, vb uint32, ok bool) {
	if !ba.need(4) || !bb.need(4) {
		return 0, 0, false
	}
	pa, pb := ba.Data[ba.Pos:ba.Pos+4], bb.Data[bb.Pos:bb.Pos+4]
	ba.Pos += 4
	bb.Pos += 4
	if dd.littleEndian {
		return binary.LittleEndian.Uint32(pa), binary.LittleEndian.Uint32(pb), true
	}
	return dd.sec.Order.Uint32(pa), dd.sec.Order.Uint32(pb), true
}

// sameStrp compares two names of form DW_FORM_strp, at offsets oa and ob
// read from ba and bb: by offset when both are in one .debug_str (most
// names are at one offset in both), else by their bytes.
func sameStrp(ua, ub *dieUnit, ba, bb *ScanBuf, oa, ob uint64) (same, decided bool) {
	sa, sb := ua.seg.file.Str, ub.seg.file.Str
	switch {
	case ba.Err != nil || bb.Err != nil || oa >= uint64(len(sa)) || ob >= uint64(len(sb)):
		return false, false
	case oa == ob && ua.seg.file == ub.seg.file:
		return true, true
	}
	na, erra := stringAt(sa, oa)
	nb, errb := stringAt(sb, ob)
	if erra != nil || errb != nil {
		return false, false
	}
	return bytes.Equal(na, nb), true
}
