package dwarfdec

// This file compares two DIEs, and their children, as a merge of the
// copies of one type needs: their attributes are read in step, one value
// of each at a time, without decoding them into DIE structs, and the
// comparison stops at the first difference; where that cannot decide,
// the decoded DIEs are compared. Comparing a unit's copy of a type with
// another's is most of the time of reading a library whose units repeat
// the types of its headers.

import (
	"bytes"
	"debug/dwarf"
)

// A SlotSet is a set of slots.
type SlotSet uint64

// NewSlotSet returns the set of the given slots.
func NewSlotSet(slots ...Slot) SlotSet {
	var s SlotSet
	for _, x := range slots {
		s |= 1 << x
	}
	return s
}

// Has reports whether s holds slot x.
func (s SlotSet) Has(x Slot) bool { return s&(1<<x) != 0 }

// A PairJudge answers, for SameDIEs, what two DIEs' values cannot tell.
type PairJudge interface {
	// Enter is called once the DIEs at a and b compared first are found
	// to have one tag, before their values are read; false decides them
	// different.
	Enter(tag dwarf.Tag, a, b dwarf.Offset) bool
	// SameRef reports whether the DIEs at a and b, which attributes of
	// slot s of two DIEs compared refer to, are the same.
	SameRef(s Slot, a, b dwarf.Offset) bool
	// SameDeclFile reports whether file number na of the unit whose
	// unit DIE is at unitA and file number nb of the unit whose unit DIE
	// is at unitB are the same file.
	SameDeclFile(unitA, unitB dwarf.Offset, na, nb int64) bool
}

// SameDIEs reports whether the DIEs at a and b, as Read reads them, and
// their children are the same: the same tag, the same DW_AT_declaration,
// the same value of each attribute of the slots in compared (the first of
// an attribute given twice), with references and declaring files judged by
// j, and children the same one by one. Strings compare by their bytes,
// blocks only in the slots that keep them (SlotDataMemberLoc,
// SlotVtableElemLoc), type-unit signatures by value when the type unit is
// there. j.Enter is called once for the DIEs at a and b, when found of one
// tag.
func (dd *Decoder) SameDIEs(a, b dwarf.Offset, compared SlotSet, j PairJudge) bool {
	same, decided, entered := dd.sameEncoding(a, b, compared, j)
	if decided {
		return same
	}
	var da, db DIE
	if dd.Read(a, &da) != nil || dd.Read(b, &db) != nil {
		return false
	}
	if !entered && !j.Enter(da.Tag, a, b) {
		return false
	}
	return dd.sameDecoded(&da, &db, compared, j)
}

// sameDecoded compares two decoded DIEs and their children as SameDIEs
// does.
func (dd *Decoder) sameDecoded(a, b *DIE, compared SlotSet, j PairJudge) bool {
	if a.Tag != b.Tag || a.IsDeclaration() != b.IsDeclaration() {
		return false
	}
	for s := range Slot(numSlots) {
		if !compared.Has(s) || s == slotDeclaration {
			continue
		}
		switch k := a.Kinds[s]; {
		case k != b.Kinds[s]:
			return false
		case k != ValNone && !dd.sameDecodedAttr(a, b, s, j):
			return false
		}
	}
	var ka, kb DIE
	ca, cb := ChildrenOf(a), ChildrenOf(b)
	for {
		oka, erra := dd.Next(&ca, &ka)
		okb, errb := dd.Next(&cb, &kb)
		switch {
		case erra != nil || errb != nil || oka != okb:
			return false
		case !oka:
			return true
		case !dd.sameDecoded(&ka, &kb, compared, j):
			return false
		}
	}
}

// sameDecodedAttr compares the attributes of slot s of two decoded DIEs,
// which both have one of the same kind (sameDecoded checks it).
func (dd *Decoder) sameDecodedAttr(a, b *DIE, s Slot, j PairJudge) bool {
	kind := a.Kinds[s]
	switch kind {
	case ValOffset:
		return j.SameRef(s, dwarf.Offset(a.Vals[s]), dwarf.Offset(b.Vals[s]))
	case ValUint:
		// A type unit's signature: the same type when the type unit is
		// there to read it.
		if a.Vals[s] != b.Vals[s] {
			return false
		}
		if s != SlotType {
			return true
		}
		_, ok := dd.TypeOfSignature(a.Vals[s])
		return ok
	}
	if sa, ok := a.StrBytes(s); ok {
		sb, _ := b.StrBytes(s)
		return bytes.Equal(sa, sb)
	}
	if ba, ok := a.Block(s); ok && (s == SlotDataMemberLoc || s == SlotVtableElemLoc) {
		bb, _ := b.Block(s)
		return bytes.Equal(ba, bb)
	}
	if s == SlotDeclFile && kind == ValInt {
		return j.SameDeclFile(dwarf.Offset(a.unit.first), dwarf.Offset(b.unit.first), int64(a.Vals[s]), int64(b.Vals[s]))
	}
	return a.Vals[s] == b.Vals[s]
}

// hasSignature reports whether the DIEs of abbreviation ab have a
// DW_AT_signature.
func hasSignature(ab *abbrev) bool {
	for i := range ab.attrs {
		if ab.attrs[i].slot == slotSignature {
			return true
		}
	}
	return false
}

// sameEncoding compares the DIEs at a and b, and their children, as
// SameDIEs does, reading their values in step. It reports whether the
// comparison is decided, and whether it called j.Enter. It is not decided
// when the compared attributes of two DIEs met come in another order or
// in forms of other kinds, when one DIE has a list of children and the
// other none (the list may be empty), when a DIE cannot be read, or when a
// value is a type unit's signature or a DIE stands for one (Read follows
// it). A pair found different is decided at once, without reading
// further.
func (dd *Decoder) sameEncoding(a, b dwarf.Offset, compared SlotSet, j PairJudge) (same, decided, entered bool) {
	ua, err := dd.unitAt(a)
	if err != nil {
		return false, false, entered
	}
	ub, err := dd.unitAt(b)
	if err != nil {
		return false, false, entered
	}
	ba := ScanBuf{Data: dd.sec.Info[:ua.end], Pos: uint64(a), Order: dd.sec.Order}
	bb := ScanBuf{Data: dd.sec.Info[:ub.end], Pos: uint64(b), Order: dd.sec.Order}
	compared |= 1 << slotDeclaration
	// The DIEs whose children are being read, where each list ends as
	// Next finds its end: at the DIE's DW_AT_sibling when it has one.
	var open [maxEncodingDepth]siblings
	for depth := 0; ; {
		if ba.Pos >= ua.end || bb.Pos >= ub.end {
			return false, false, entered // the null entries that end a unit left out
		}
		aa, erra := dd.abbrevAt(ua, &ba)
		ab, errb := dd.abbrevAt(ub, &bb)
		switch {
		case erra != nil || errb != nil || (aa == nil) != (ab == nil):
			return false, false, entered
		case aa == nil && depth == 0: // no DIE at a and b
			return false, false, entered
		case aa == nil:
			depth--
			if o := open[depth]; o.a != 0 && o.a != ba.Pos || o.b != 0 && o.b != bb.Pos {
				return false, false, entered
			}
			if depth == 0 {
				return true, true, entered
			}
			continue
		case aa.tag != ab.tag:
			return false, true, entered
		case aa.children != ab.children: // one list may be empty
			return false, false, entered
		case depth == 0 && (hasSignature(aa) || hasSignature(ab)):
			return false, false, entered
		case depth == 0:
			if entered = true; !j.Enter(aa.tag, a, b) {
				return false, true, entered
			}
		}
		var (
			sib           siblings
			same, decided bool
		)
		if p := dd.planOf(ua, aa, compared); !dd.unplanned && p == dd.planOf(ub, ab, compared) {
			same, decided = dd.samePlanned(ua, ub, &ba, &bb, aa, ab, p, j, &sib)
		} else {
			same, decided = dd.sameValues(ua, ub, &ba, &bb, aa, ab, compared, j, &sib)
		}
		if !same || !decided {
			return same, decided, entered
		}
		switch {
		case aa.children && depth == len(open):
			return false, false, entered
		case aa.children:
			// Next skips a DIE's children to its sibling, when it has
			// one past its attributes (else it walks them); the DIEs
			// compared first are not skipped over.
			if sib.a < ba.Pos || depth == 0 {
				sib.a = 0
			}
			if sib.b < bb.Pos || depth == 0 {
				sib.b = 0
			}
			open[depth] = sib
			depth++
		case depth == 0:
			return true, true, entered
		}
	}
}

// maxEncodingDepth bounds the nesting of the DIEs sameEncoding compares.
const maxEncodingDepth = 32

// siblings holds the DW_AT_sibling of two DIEs compared (0 for none).
type siblings struct{ a, b uint64 }

// sameValues compares the attribute values of two DIEs of abbreviations
// aa and ab, in units ua and ub, read from ba and bb, which it moves past
// them; sib receives their DW_AT_sibling. The attributes the comparison
// does not look at are skipped on each side (a DIE may have a
// DW_AT_sibling where its copy has none); the others must come in the
// same order, in forms that give values of one kind (a decl_file may be a
// constant in one and implicit in the other).
func (dd *Decoder) sameValues(ua, ub *dieUnit, ba, bb *ScanBuf, aa, ab *abbrev, compared SlotSet, j PairJudge, sib *siblings) (same, decided bool) {
	var seenA, seenB SlotSet // a DIE keeps the first of an attribute given twice
	for i, k := 0, 0; ; i, k = i+1, k+1 {
		var okA, okB bool
		i, okA = nextCompared(ua, ba, aa.attrs, i, &seenA, compared, &sib.a)
		k, okB = nextCompared(ub, bb, ab.attrs, k, &seenB, compared, &sib.b)
		switch endA, endB := i == len(aa.attrs), k == len(ab.attrs); {
		case !okA || !okB:
			return false, false
		case endA || endB:
			return endA && endB, endA && endB
		}
		if same, decided := dd.sameValue(ua, ub, ba, bb, &aa.attrs[i], &ab.attrs[k], j); !same || !decided {
			return same, decided
		}
	}
}

// nextCompared returns the index of the first attribute of attrs from i
// on that the comparison looks at, len(attrs) when none is left, and
// moves b past the others: they are skipped by their forms, not decoded,
// but for the DIE's DW_AT_sibling, kept in sib. It reports false when an
// attribute cannot be skipped. seen holds the slots met.
func nextCompared(u *dieUnit, b *ScanBuf, attrs []abbrevAttr, i int, seen *SlotSet, compared SlotSet, sib *uint64) (int, bool) {
	for ; i < len(attrs); i++ {
		a := &attrs[i]
		switch roleOf(a, seen, compared) {
		case roleCompare:
			return i, true
		case roleSibling:
			*sib, _ = u.ref(b, uint32(a.form))
		default:
			if skipForm(b, &u.ScanUnit, uint32(a.form)) != nil {
				return i, false
			}
		}
		if b.Err != nil {
			return i, false
		}
	}
	return i, true
}

// An attrRole is what the comparison of two DIEs does with one attribute.
type attrRole uint8

const (
	roleSkip    attrRole = iota // skipped by its form
	roleCompare                 // compared with the other DIE's
	roleSibling                 // read: where the DIE's children end
)

// roleOf returns what the comparison of the slots in compared does with
// attribute a, the next of its DIE, and adds a's slot to seen, the slots
// met: a DIE keeps the first of an attribute given twice.
func roleOf(a *abbrevAttr, seen *SlotSet, compared SlotSet) attrRole {
	first := !seen.Has(a.slot)
	*seen |= 1 << a.slot
	switch {
	case first && compared.Has(a.slot):
		return roleCompare
	case first && a.slot == slotSibling && isRefForm(a.form):
		return roleSibling
	}
	return roleSkip
}

// sameValue compares the values of attributes at and bt, one of each DIE,
// read from ba in unit ua and bb in unit ub.
func (dd *Decoder) sameValue(ua, ub *dieUnit, ba, bb *ScanBuf, at, bt *abbrevAttr, j PairJudge) (same, decided bool) {
	if at.attr != bt.attr {
		return false, false
	}
	if at.form == formStrp && bt.form == formStrp && (at.slot == SlotName || at.slot == SlotLinkageName) {
		oa, ob := ba.offset(ua.offSize), bb.offset(ub.offSize)
		return sameStrp(ua, ub, ba, bb, oa, ob)
	}
	ka, va, sa, erra := dd.value(ua, ba, uint32(at.form), at.implicit)
	kb, vb, sb, errb := dd.value(ub, bb, uint32(bt.form), bt.implicit)
	if erra != nil || errb != nil || ka != kb {
		return false, false
	}
	switch s := at.slot; {
	case s == slotDeclaration: // compared as DIE.IsDeclaration reads it
		return ka != valBool || (va != 0) == (vb != 0), true
	case ka == ValOffset:
		return j.SameRef(s, dwarf.Offset(va), dwarf.Offset(vb)), true
	case ka == ValUint && s == SlotType:
		return false, false // a type unit's signature
	case ka == valString:
		if s != SlotName && s != SlotLinkageName {
			return false, false
		}
		return bytes.Equal(sa, sb), true
	case ka == valBytes:
		return s != SlotDataMemberLoc && s != SlotVtableElemLoc || bytes.Equal(sa, sb), true
	case s == SlotDeclFile && ka == ValInt:
		return j.SameDeclFile(dwarf.Offset(ua.first), dwarf.Offset(ub.first), int64(va), int64(vb)), true
	}
	return va == vb, true
}

// isRefForm reports whether form is a reference into the unit or the
// section, as Next follows a DW_AT_sibling.
func isRefForm(form uint16) bool {
	switch form {
	case formRef1, formRef2, formRef4, formRef8, formRefUdata, formRefAddr:
		return true
	}
	return false
}
