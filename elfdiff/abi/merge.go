package abi

// This file merges the copies of one type that compilation units repeat:
// every unit that includes a header describes each struct of it again,
// and decoding each copy made memory and time grow with units × types.
//
// Before a named (or tagged) type DIE is decoded, it is compared in place
// with the DIEs already decoded under the same key (tag, scoped name,
// size, declaring line, language), with dwarfdec.Decoder.SameDIEs: the
// two DIEs' attributes read in step, or decoded where that cannot decide.
// Two DIEs are the same type when they have the same tag, the same value
// of every attribute the decoders read (the declaring file by its name,
// strings by their bytes), the same children in the same order, and
// references to the same types: to the same decoded Type, or to DIEs
// that are the same by this very comparison, assumed while it runs, so
// that cycles compare equal. A merge is committed only when the whole
// comparison succeeds; then every pair of type DIEs it proved equal
// shares one Type. Nothing is merged on the strength of a name alone: of
// the classes libstdc++ defines in several units, some differ from unit
// to unit.
//
// The unnamed types built on others (pointers, qualifiers, arrays, base
// types) are shared after decoding when they are built the same way on
// the same types.

import (
	"bytes"
	"debug/dwarf"

	"github.com/compatgate/compatgate/elfdiff/dwarfdec"
)

// mergeKey buckets the type DIEs that may be copies of one type.
type mergeKey struct {
	tag         dwarf.Tag
	name        string // qualified by its scope
	size, line  int64  // -1 when absent
	cxx         bool
	declaration bool
}

// Bounds of the comparison: beyond them, DIEs are taken to differ (and
// are decoded on their own).
const (
	maxMergeCandidates = 8    // representatives compared per bucket
	maxCompareDepth    = 1024 // nested type comparisons
)

// mergedSlots are the attributes the comparison looks at: every one the
// decoders read.
var mergedSlots = [...]dwarfdec.Slot{
	dwarfdec.SlotName, dwarfdec.SlotLinkageName, dwarfdec.SlotType, dwarfdec.SlotAbstractOrigin,
	dwarfdec.SlotSpecification, dwarfdec.SlotInline, dwarfdec.SlotArtificial, dwarfdec.SlotExternal,
	dwarfdec.SlotAccessibility, dwarfdec.SlotVirtuality, dwarfdec.SlotDataMemberLoc,
	dwarfdec.SlotVtableElemLoc, dwarfdec.SlotDeleted, dwarfdec.SlotDefaulted,
	dwarfdec.SlotCallingConvention, dwarfdec.SlotByteSize, dwarfdec.SlotAlignment,
	dwarfdec.SlotEncoding, dwarfdec.SlotBitSize, dwarfdec.SlotDataBitOffset, dwarfdec.SlotBitOffset,
	dwarfdec.SlotConstValue, dwarfdec.SlotCount, dwarfdec.SlotUpperBound, dwarfdec.SlotLowerBound,
	dwarfdec.SlotGNUVector, dwarfdec.SlotDeclFile, dwarfdec.SlotDeclLine,
}

// merger holds the state of the merge for one reader.
type merger struct {
	buckets map[mergeKey][]dwarf.Offset
	// wrappers shares the unnamed types built on others.
	wrappers map[wrapKey]*Type
	// assumed holds the pairs of type DIEs the running comparison
	// compares or has proved equal, and proved the same pairs in order.
	assumed map[[2]dwarf.Offset]bool
	proved  [][2]dwarf.Offset
	depth   int
	// distinct counts the Types decoded that no other copy replaced.
	distinct int
	// current is the unit of the declaration being decoded; written
	// holds the DIEs given a Type since it was entered.
	current *unitInfo
	written []dwarf.Offset
	// lastFile and lastSame are mergeJudge.SameDeclFile's last question
	// and answer (the zero fileQuery, of one unit, is never asked).
	lastFile fileQuery
	lastSame bool
}

// mergeKeyOf returns the key of a type DIE whose copies are merged, and
// whether they are.
func (dr *dwarfReader) mergeKeyOf(e *dwarfdec.DIE) (mergeKey, bool) {
	if !mergedTag(e.Tag) {
		return mergeKey{}, false
	}
	k := mergeKey{tag: e.Tag, size: -1, line: -1, declaration: e.IsDeclaration()}
	if name, ok := e.StrBytes(dwarfdec.SlotName); ok {
		k.name = dr.scope.get(e.Off) + string(name)
	}
	if s, ok := e.Int(dwarfdec.SlotByteSize); ok {
		k.size = s
	}
	if l, ok := e.Int(dwarfdec.SlotDeclLine); ok {
		k.line = l
	}
	if u := dr.unitOf(e.Off); u != nil {
		k.cxx = u.cxx
	}
	return k, true
}

// mergedTag reports whether the copies of the type DIEs of tag t are
// merged before decoding.
func mergedTag(t dwarf.Tag) bool {
	switch t {
	case dwarf.TagStructType, dwarf.TagClassType, dwarf.TagUnionType, dwarf.TagEnumerationType, dwarf.TagTypedef:
		return true
	}
	return false
}

// mergeInto looks for a decoded copy of the type DIE e, of key k, and
// returns its Type, or nil.
func (dr *dwarfReader) mergeInto(k mergeKey, e *dwarfdec.DIE) *Type {
	reps := dr.merge.buckets[k]
	for i := 0; i < len(reps) && i < maxMergeCandidates; i++ {
		if dr.sameTypeDIE(e.Off, reps[i]) {
			return dr.types[e.Off]
		}
	}
	return nil
}

// sameTypeDIE compares the type DIEs at a and b, and on success makes
// every pair it proved equal share one Type.
func (dr *dwarfReader) sameTypeDIE(a, b dwarf.Offset) bool {
	m := &dr.merge
	switch n := len(m.assumed); {
	case m.assumed == nil:
		m.assumed = make(map[[2]dwarf.Offset]bool)
	case n > 4096:
		// Not cleared: clearing costs what the map once held. A
		// comparison of thousands of pairs (a unit's copy of a
		// header's whole type graph) recurs in the next unit: the
		// map is made that size at once rather than grown to it.
		m.assumed = make(map[[2]dwarf.Offset]bool, n)
	default:
		clear(m.assumed)
	}
	m.proved, m.depth = m.proved[:0], 0
	if !dr.compareType(a, b) {
		return false
	}
	for _, p := range m.proved {
		ta, oka := dr.types[p[0]]
		tb, okb := dr.types[p[1]]
		switch {
		case okb:
			dr.setType(p[0], tb)
		case oka:
			dr.setType(p[1], ta)
		}
	}
	return true
}

// compareType reports whether the type DIEs at a and b are the same type.
func (dr *dwarfReader) compareType(a, b dwarf.Offset) bool {
	if a == b {
		return true
	}
	// Most pairs met are the ones this comparison is on or has proved.
	m := &dr.merge
	p := [2]dwarf.Offset{a, b}
	if m.assumed[p] {
		return true
	}
	if ta, ok := dr.types[a]; ok {
		if tb, ok := dr.types[b]; ok && ta == tb {
			return true
		}
	}
	if m.depth >= maxCompareDepth {
		return false
	}
	m.assumed[p] = true
	m.depth++
	same := dr.dies.SameDIEs(a, b, comparedSlots, (*mergeJudge)(dr))
	m.depth--
	return same
}

// comparedSlots are mergedSlots as a set.
var comparedSlots = dwarfdec.NewSlotSet(mergedSlots[:]...)

// mergeJudge is the reader as the judge of references and declaring files
// for dwarfdec's comparison of two DIEs.
type mergeJudge dwarfReader

// Enter begins the comparison of the type DIEs at a and b, of tag tag: it
// reports false when what the type decoder takes from around the DIEs
// differs, else records the pair as proved if it is merged.
func (j *mergeJudge) Enter(tag dwarf.Tag, a, b dwarf.Offset) bool {
	dr := (*dwarfReader)(j)
	if mergedTag(tag) {
		// Only the tagged types are shared on success: the others are
		// cheap to compare again, and most are never asked for.
		dr.merge.proved = append(dr.merge.proved, [2]dwarf.Offset{a, b})
	}
	// What the type decoder takes from around the DIE: its scope and
	// its unit's language.
	return dr.scope.get(a) == dr.scope.get(b) && dr.isCXX(a) == dr.isCXX(b)
}

// SameRef compares the type DIEs two compared DIEs refer to.
func (j *mergeJudge) SameRef(_ dwarfdec.Slot, a, b dwarf.Offset) bool {
	return (*dwarfReader)(j).compareType(a, b)
}

// SameDeclFile reports whether file number na of the unit whose unit DIE
// is at unitA and file number nb of the unit whose unit DIE is at unitB
// have the same name.
func (j *mergeJudge) SameDeclFile(unitA, unitB dwarf.Offset, na, nb int64) bool {
	if unitA == unitB {
		return na == nb
	}
	// The members of a type are most often declared in one file: the
	// answer for the last pair of file numbers is kept.
	m := &j.merge
	q := fileQuery{unitA, unitB, na, nb}
	if m.lastFile == q {
		return m.lastSame
	}
	m.lastFile, m.lastSame = q, (*dwarfReader)(j).sameFile(q)
	return m.lastSame
}

// isCXX reports whether the DIE at off is in a C++ unit.
func (dr *dwarfReader) isCXX(off dwarf.Offset) bool {
	u := dr.unitOf(off)
	return u != nil && u.cxx
}

// A fileQuery asks whether file number na of the unit whose unit DIE is
// at ua and file number nb of the unit whose unit DIE is at ub are the
// same file.
type fileQuery struct {
	ua, ub dwarf.Offset
	na, nb int64
}

// sameFile answers q: the files have the same name in the line tables,
// and the same path when the name's extension does not tell a source
// from a header.
func (dr *dwarfReader) sameFile(q fileQuery) bool {
	ua, ub := dr.unitOf(q.ua), dr.unitOf(q.ub)
	if ua == nil || ub == nil {
		return false
	}
	fa, fb := dr.unitFiles(ua), dr.unitFiles(ub)
	na, nb := q.na, q.nb
	if na < 0 || nb < 0 || na >= int64(len(fa)) || nb >= int64(len(fb)) || !bytes.Equal(fa[na], fb[nb]) {
		return false
	}
	if dwarfdec.ExtensionKnown(fa[na]) {
		return true
	}
	ja, jb := dr.unitJoined(ua), dr.unitJoined(ub)
	return na < int64(len(ja)) && nb < int64(len(jb)) && ja[na] == jb[nb]
}

// wrapKey identifies an unnamed type built on another.
type wrapKey struct {
	kind                    TypeKind
	name                    string
	size, align, enc, count int64
	elem                    *Type
	vector, declaration     bool
}

// shared returns the Type already decoded that t, just decoded, is the
// same as, or t. Only the types whose identity is their construction
// are shared: base types, pointers, references, qualifiers, arrays.
func (dr *dwarfReader) shared(t *Type) *Type {
	switch t.Kind {
	case BaseType, PointerType, ReferenceType, RvalueRefType, ConstType, VolatileType,
		RestrictType, AtomicType, PtrToMemberType, ArrayType:
	default:
		return t
	}
	k := wrapKey{kind: t.Kind, name: t.Name, size: t.Size, align: t.Align, enc: t.Encoding,
		count: t.Count, elem: t.Elem, vector: t.Vector, declaration: t.Declaration}
	if c, ok := dr.merge.wrappers[k]; ok {
		return c
	}
	if dr.merge.wrappers == nil {
		dr.merge.wrappers = make(map[wrapKey]*Type)
	}
	dr.merge.wrappers[k] = t
	return t
}

// setType records that the DIE at off decodes to t.
func (dr *dwarfReader) setType(off dwarf.Offset, t *Type) {
	dr.types[off] = t
	dr.merge.written = append(dr.merge.written, off)
}

// enterUnit is called before the declaration at off is decoded, in
// offset order. Leaving a unit whose types all merged into other units'
// forgets which Type each of its DIEs decoded to: its declarations are
// decoded, and the DIEs of another unit are merged, by comparison with
// the pinned units' DIEs. The cache then holds the pinned units' DIEs and
// one unit's, not every unit's; ev gives back the pages of the units
// before u. Entering another unit is where ReadOptions.Pace may hold the
// reading.
func (dr *dwarfReader) enterUnit(off dwarf.Offset, ev *evictor) {
	u := dr.unitOf(off)
	m := &dr.merge
	if u == m.current {
		return
	}
	m.current = u
	if dr.pace != nil {
		dr.pace()
	}
	if u != nil {
		ev.advance(uint64(u.off))
	}
	keep := m.written[:0]
	for _, o := range m.written {
		switch ou := dr.unitOf(o); {
		case ou == nil || ou.pinned:
		case ou == u:
			keep = append(keep, o) // for when the unit is left
		default:
			delete(dr.types, o)
		}
	}
	m.written = keep
}
